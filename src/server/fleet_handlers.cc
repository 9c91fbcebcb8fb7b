// POST /v1/fleet/{action}: a fleet action on a node, a group or all
// (docs/fleet.md), its per-node results streamed back as newline-delimited
// JSON as they arrive, and an audit entry when the run ends.
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "repository/model_store.h"
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
        node.groups = fleet[node.name].value("groups", std::vector<std::string>{});
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

// A run's answer: the sink's lines as they come, newline-delimited JSON.
http::Response NdjsonResponse(std::shared_ptr<LineSink> sink) {
  http::Response response;
  response.content_type = "application/x-ndjson";
  response.stream = [sink](std::shared_ptr<http::StreamWriter> writer) {
    sink->Attach(std::move(writer));
  };
  response.stream_max_unsent = size_t{8} << 20;
  return response;
}

struct FleetRoutes {
  explicit FleetRoutes(ServerContext& server)
      : context(server),
        directory(server.dispatcher),
        http_transport(server.cluster_token),
        fleet(Options(server),
              server.fleet_transport != nullptr ? *server.fleet_transport : http_transport,
              server.registry) {}

  static FleetOptions Options(const ServerContext& server) {
    FleetOptions options;
    options.clock_offset_alert_seconds = server.clock_offset_alert_seconds;
    return options;
  }

  ServerContext& context;
  DispatcherDirectory directory;
  HttpFleetTransport http_transport;  // unless the context names another
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
  respond(NdjsonResponse(sink));
}

// The deploy or rollback body: {"target": "group/G" | "node/N", "version": REF (deploy
// only; default latest), "base": VARIANT, "replaces": FILE, "serial": bool,
// "timeout_seconds": n}.
struct DeployRequest {
  repository::DeploymentTarget target;
  std::string ref = "latest";
  std::string base;
  std::string replaces;
  bool serial = false;
  std::chrono::milliseconds node_timeout{0};
};

absl::StatusOr<DeployRequest> ParseDeployBody(std::string_view body, bool rollback) {
  const Json j = Json::parse(body.empty() ? std::string_view("{}") : body, nullptr, false);
  const char* const shape =
      rollback ? "{\"target\": \"group/NAME\" | \"node/NAME\", \"serial\": false}"
               : "{\"target\": \"group/NAME\" | \"node/NAME\", \"version\": \"latest\", "
                 "\"base\": VARIANT, \"replaces\": FILE, \"serial\": false}";
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat("the body must be ", shape));
  DeployRequest r;
  for (const auto& [key, value] : j.items()) {
    const bool known = key == "target" || key == "serial" || key == "timeout_seconds" ||
                       (!rollback && (key == "version" || key == "base" || key == "replaces"));
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", key.substr(0, 64), "'; the body is ", shape));
    }
  }
  if (!j.contains("target") || !j["target"].is_string()) {
    return absl::InvalidArgumentError("target is required: \"group/NAME\" or \"node/NAME\"");
  }
  ASSIGN_OR_RETURN(r.target, repository::DeploymentTarget::Parse(j["target"].get<std::string>()));
  for (auto [key, field] : {std::pair{"base", &r.base}, std::pair{"replaces", &r.replaces}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(key, " must be a string"));
    }
    *field = j[key].get<std::string>();
  }
  if (!r.base.empty()) RETURN_IF_ERROR(repository::ValidateName("base variant", r.base));
  if (r.replaces.size() > 256) return absl::InvalidArgumentError("replaces is too long");
  if (j.contains("version")) {
    if (j["version"].is_number_integer()) {
      r.ref = std::to_string(j["version"].get<int64_t>());
    } else if (j["version"].is_string()) {
      r.ref = j["version"].get<std::string>();
    } else {
      return absl::InvalidArgumentError("version must be a number, a label or \"latest\"");
    }
  }
  RETURN_IF_ERROR(ReadRunOptions(j, r.serial, r.node_timeout));
  return r;
}

// POST /v1/models/{name}/deploy and /rollback: the version installed on every node of
// the target (agent/model_install.h), each node's result streamed back and recorded
// as a node/<name> deployment, the target's deployment recorded at the end.
void HandleDeploy(FleetRoutes& routes, http::Request&& request, const http::PathParams& params,
                  http::Responder respond, bool rollback) {
  ServerContext& context = routes.context;
  if (auto denied = Deny(context, request, Access::kAdmin)) return respond(*std::move(denied));
  repository::ModelStore* store = context.models;
  if (store == nullptr) {
    return respond(ServerErrorResponse(absl::UnavailableError(
        "this server keeps no model repository: start it with --state-dir")));
  }
  const std::string name = httpapi::PathParam(params, "name");
  absl::StatusOr<DeployRequest> parsed = ParseDeployBody(request.body, rollback);
  if (!parsed.ok()) return respond(ServerErrorResponse(parsed.status()));
  if (absl::Status s = repository::ValidateName("model name", name); !s.ok()) {
    return respond(ServerErrorResponse(s));
  }
  absl::StatusOr<repository::ModelVersion> version =
      rollback ? [&]() -> absl::StatusOr<repository::ModelVersion> {
        ASSIGN_OR_RETURN(int64_t previous, store->PreviousVersion(parsed->target, name));
        return store->Get(name, previous);
      }()
               : store->Resolve(name, parsed->ref);
  if (!version.ok()) return respond(ServerErrorResponse(version.status()));
  absl::StatusOr<FleetTarget> fleet_target = ParseFleetTarget(parsed->target.ToString());
  if (!fleet_target.ok()) return respond(ServerErrorResponse(fleet_target.status()));
  absl::StatusOr<std::vector<FleetNode>> nodes =
      SelectNodes(*fleet_target, routes.directory.Nodes());
  if (!nodes.ok()) return respond(ServerErrorResponse(nodes.status()));

  FleetRequest run;
  run.action = FleetAction::kModelInstall;
  run.target = *fleet_target;
  run.serial = parsed->serial;
  run.node_timeout = parsed->node_timeout;
  run.params = {{"name", version->name},
                {"version", version->version},
                {"sha256", version->sha256},
                {"size", version->size},
                {"format", version->metadata.format == "other" ? "bin" : version->metadata.format},
                {"type", version->metadata.type},
                {"variant", version->metadata.variant}};
  if (!parsed->base.empty()) run.params["base"] = parsed->base;
  if (!parsed->replaces.empty()) run.params["replaces"] = parsed->replaces;
  const std::string what = rollback ? "rollback" : "deploy";
  if (absl::Status s = store->SetDeployment(parsed->target, name, version->version,
                                            repository::DeploymentState::kPending, what);
      !s.ok()) {
    return respond(ServerErrorResponse(s));
  }

  auto sink = std::make_shared<LineSink>();
  Json names = Json::array();
  for (const FleetNode& n : *nodes) names.push_back(n.name);
  sink->Write({{"event", "start"},
               {"action", what},
               {"model", name},
               {"version", version->version},
               {"variant", version->metadata.type + "/" + version->metadata.variant},
               {"target", parsed->target.ToString()},
               {"serial", run.serial},
               {"nodes", std::move(names)}});
  const repository::DeploymentTarget target = parsed->target;
  const int64_t number = version->version;
  auto record = [store, name, number](const repository::DeploymentTarget& t, bool ok,
                                      const std::string& detail) {
    absl::Status s = store->SetDeployment(
        t, name, number,
        ok ? repository::DeploymentState::kDeployed : repository::DeploymentState::kFailed,
        detail);
    if (!s.ok()) spdlog::warn("deployment of {} not recorded: {}", name, s.ToString());
  };
  const FleetRequest audited = run;
  absl::Status started = routes.fleet.Start(
      std::move(run), *std::move(nodes),
      [sink, record](const FleetNodeResult& r) {
        record({repository::TargetKind::kNode, r.node}, r.ok(), r.error);
        sink->Write(ResultJson(r));
      },
      [sink, record, target, &context, who = AuditWho(request), audited](const FleetSummary& summary) {
        const bool ok = summary.not_ok == 0 && summary.ok > 0;
        record(target, ok,
               absl::StrCat(summary.ok, " node(s) ok, ", summary.not_ok, " not ok"));
        Audit(context, who, audited, summary, *sink);
        sink->Finish();
      });
  if (!started.ok()) {
    record(target, false, std::string(started.message()));
    return respond(ServerErrorResponse(started));
  }
  respond(NdjsonResponse(sink));
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
  for (const bool rollback : {false, true}) {
    router.Add("POST", rollback ? "/v1/models/{name}/rollback" : "/v1/models/{name}/deploy",
               [routes, rollback](http::Request&& request, const http::PathParams& params,
                                  http::Responder respond) {
                 HandleDeploy(*routes, std::move(request), params, std::move(respond), rollback);
               });
  }
}

}  // namespace heteroaccel::server
