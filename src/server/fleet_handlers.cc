// POST /v1/fleet/{action}: a fleet action on a node, a group or all
// (docs/fleet.md), its per-node results streamed back as newline-delimited
// JSON as they arrive, and an audit entry when the run ends.
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "server/audit_log.h"
#include "server/fleet.h"
#include "server/handlers.h"
#include "server/stream_hub.h"

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

// The cluster view's nodes, through the dispatcher's JSON views (its one lock).
class DispatcherDirectory final : public FleetDirectory {
 public:
  explicit DispatcherDirectory(const Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

  std::vector<FleetNode> Nodes() const override {
    const Json cluster = dispatcher_.ClusterJson();
    const Json fleet = dispatcher_.FleetJson();
    std::vector<FleetNode> nodes;
    for (const Json& n : cluster.value("nodes", Json::array())) {
      FleetNode node;
      node.name = n.value("node", "");
      node.url = n.value("url", "");
      node.up = n.value("up", false);
      node.heartbeat_age_seconds = n.value("last_heartbeat_seconds_ago", 0.0);
      if (fleet.contains(node.name) && fleet[node.name].is_object()) {
        node.group = fleet[node.name].value("group", "");
      }
      nodes.push_back(std::move(node));
    }
    return nodes;
  }

 private:
  const Dispatcher& dispatcher_;
};

Json ResultJson(const FleetNodeResult& r) {
  Json j = {{"event", "result"}, {"node", r.node},       {"group", r.group},
            {"status", r.status}, {"seconds", r.seconds}, {"data", r.data}};
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

std::string Line(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

// Lines written before the client's stream opens wait here; after it, they go
// straight to it. Thread-safe.
class LineSink {
 public:
  void Write(const Json& j) {
    std::lock_guard<std::mutex> lock(mu_);
    if (writer_ != nullptr) {
      writer_->Write(Line(j));
    } else {
      pending_ += Line(j);
    }
  }
  void Attach(std::shared_ptr<http::StreamWriter> writer) {
    std::lock_guard<std::mutex> lock(mu_);
    writer_ = std::move(writer);
    writer_->Write(pending_);
    pending_.clear();
    if (done_) writer_->Close();
  }
  void Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    if (writer_ != nullptr) writer_->Close();
  }

 private:
  std::mutex mu_;
  std::shared_ptr<http::StreamWriter> writer_;
  std::string pending_;
  bool done_ = false;
};

struct FleetRoutes {
  explicit FleetRoutes(ServerContext& server)
      : context(server),
        directory(server.dispatcher),
        transport(server.cluster_token),
        fleet(FleetOptions{}, transport, server.registry) {}

  ServerContext& context;
  DispatcherDirectory directory;
  HttpFleetTransport transport;
  Fleet fleet;  // last: its runs use the members above
};

void Audit(ServerContext& context, const std::string& who, const FleetRequest& request,
           const FleetSummary& summary, LineSink& sink) {
  Json done = {{"event", "done"},
               {"ok", summary.ok},
               {"not_ok", summary.not_ok},
               {"seconds", summary.seconds}};
  if (context.audit != nullptr) {
    AuditEntry entry;
    entry.who = who;
    entry.action = "fleet";
    const std::string_view action = FleetActionName(request.action);
    entry.comment = absl::StrCat(absl::string_view(action.data(), action.size()), " on ",
                                 request.target.ToString(), ": ", summary.ok, " ok, ",
                                 summary.not_ok, " not ok");
    entry.before = {{"action", FleetActionName(request.action)},
                    {"target", request.target.ToString()},
                    {"params", request.params},
                    {"serial", request.serial}};
    Json results = Json::array();
    for (const FleetNodeResult& r : summary.results) {
      Json one = {{"node", r.node}, {"status", r.status}};
      if (!r.error.empty()) one["error"] = r.error;
      results.push_back(std::move(one));
    }
    entry.after = {{"results", std::move(results)}};
    entry.state_before = Json::object();
    entry.state_after = Json::object();
    absl::StatusOr<AuditEntry> stored = context.audit->Append(std::move(entry));
    if (stored.ok()) {
      done["audit_id"] = stored->id;
      if (context.hub != nullptr) {
        context.hub->Publish("audit", {{"audit", Json::array({AuditLog::ToJson(*stored)})}});
      }
    } else {
      spdlog::warn("fleet: audit entry not stored: {}", stored.status().ToString());
    }
  }
  sink.Write(done);
}

void HandleFleet(FleetRoutes& routes, http::Request&& request, const http::PathParams& params,
                 http::Responder respond) {
  ServerContext& context = routes.context;
  if (auto denied = Deny(context, request, Access::kAdmin)) return respond(*std::move(denied));
  absl::StatusOr<FleetRequest> parsed = ParseFleetRequest(httpapi::PathParam(params, "action"), request.body);
  if (!parsed.ok()) return respond(ServerErrorResponse(parsed.status()));
  absl::StatusOr<std::vector<FleetNode>> nodes =
      SelectNodes(parsed->target, routes.directory.Nodes());
  if (!nodes.ok()) return respond(ServerErrorResponse(nodes.status()));

  auto sink = std::make_shared<LineSink>();
  Json names = Json::array();
  for (const FleetNode& n : *nodes) names.push_back(n.name);
  sink->Write({{"event", "start"},
               {"action", FleetActionName(parsed->action)},
               {"target", parsed->target.ToString()},
               {"serial", parsed->serial},
               {"nodes", std::move(names)}});
  const FleetRequest run_request = *parsed;
  absl::Status started = routes.fleet.Start(
      *std::move(parsed), *std::move(nodes),
      [sink](const FleetNodeResult& r) { sink->Write(ResultJson(r)); },
      [sink, &context, who = AuditWho(request), run_request](const FleetSummary& summary) {
        Audit(context, who, run_request, summary, *sink);
        sink->Finish();
      });
  if (!started.ok()) return respond(ServerErrorResponse(started));
  http::Response response;
  response.content_type = "application/x-ndjson";
  response.stream = [sink](std::shared_ptr<http::StreamWriter> writer) {
    sink->Attach(std::move(writer));
  };
  response.stream_max_unsent = size_t{8} << 20;
  respond(std::move(response));
}

}  // namespace

void AddFleetRoutes(http::Router& router, ServerContext& context) {
  // Owned by the routes, so it lives as long as the HTTP server that calls them.
  auto routes = std::make_shared<FleetRoutes>(context);
  router.Add("POST", "/v1/fleet/{action}",
             [routes](http::Request&& request, const http::PathParams& params,
                      http::Responder respond) {
               HandleFleet(*routes, std::move(request), params, std::move(respond));
             });
}

}  // namespace heteroaccel::server
