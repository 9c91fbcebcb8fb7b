// The dashboard's routes (docs/dashboard-api.md): the embedded web app, the
// live stream, the execution interface with its what-if, capacity plan
// (docs/planner.md) and audit log, the decisions log, Prometheus service
// discovery and the history proxy; and who may use them.
#include <charconv>
#include <thread>

#include "absl/strings/str_cat.h"
#include "plan/capacity_question.h"
#include "server/audit_log.h"
#include "server/handlers.h"
#include "server/history_proxy.h"
#include "server/live_stats.h"
#include "server/placement.h"
#include "server/stream_hub.h"
#include "server/web_assets.h"

namespace heteroaccel::server {
namespace {

std::optional<uint64_t> ParseId(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// ?limit=N (at most `max`; `fallback` when absent); InvalidArgument otherwise.
absl::StatusOr<size_t> Limit(const http::Request& request, size_t fallback, size_t max) {
  const std::string text = httpapi::QueryValue(request.query, "limit");
  if (text.empty()) return fallback;
  const std::optional<uint64_t> n = ParseId(text);
  if (!n) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be a whole number from 0 to ", max, ", not '", text, "'"));
  }
  return std::min<size_t>(*n, max);
}


http::Response Asset(const WebAsset& asset) {
  http::Response r{200, std::string(asset.content_type), {}, std::string(asset.body)};
  // Vite names assets by content hash: cache them for good; never index.html.
  r.headers.emplace_back("Cache-Control", asset.path.rfind("/assets/", 0) == 0
                                              ? "public, max-age=31536000, immutable"
                                              : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

// Applies a placement change (or a revert) and records it; one at a time.
absl::StatusOr<AuditEntry> Record(ServerContext& context, const std::string& who,
                                  const std::string& action, const std::string& comment,
                                  const Dispatcher::PlacementApplied& applied,
                                  std::optional<int64_t> reverts) {
  AuditEntry entry;
  entry.who = who;
  entry.action = action;
  entry.comment = comment;
  entry.before = applied.before_view;
  entry.after = applied.after_view;
  entry.state_before = ToJson(applied.before);
  entry.state_after = ToJson(applied.after);
  entry.version_after = applied.version;
  entry.reverts = reverts;
  auto stored = context.audit->Append(std::move(entry));
  if (context.placement_changes != nullptr) context.placement_changes->Increment();
  if (stored.ok() && context.hub != nullptr) {
    context.hub->Publish("audit", {{"audit", nlohmann::json::array({AuditLog::ToJson(*stored)})}});
  }
  return stored;
}

// Runs one capacity plan at a time on its own thread, off the io threads; joined
// when the routes go (the plan's own time limit bounds the wait).
class PlanRunner {
 public:
  ~PlanRunner() {
    std::thread running;
    {
      std::lock_guard<std::mutex> lock(mu_);
      running = std::move(thread_);
    }
    if (running.joinable()) running.join();
  }
  // Runs `work` and answers with its response; false (nothing run) while
  // another plan runs. The runner is free again before the answer goes out.
  bool TryRun(std::function<http::Response()> work, http::Responder respond) {
    std::lock_guard<std::mutex> lock(mu_);
    if (busy_) return false;
    if (thread_.joinable()) thread_.join();  // the previous one, finished
    busy_ = true;
    thread_ = std::thread([this, work = std::move(work), respond = std::move(respond)] {
      http::Response response = work();
      {
        std::lock_guard<std::mutex> done(mu_);
        busy_ = false;
      }
      respond(std::move(response));
    });
    return true;
  }

 private:
  std::mutex mu_;
  bool busy_ = false;
  std::thread thread_;
};

// The facts a capacity question is answered from: the up devices with the
// service times the scheduler estimates for each type they serve, and the
// request rate per type over the live window.
plan::CapacityQuestion QuestionFromCluster(ServerContext& context) {
  plan::CapacityQuestion q;
  const nlohmann::json services = context.stats->ServicesJson();
  for (const auto& [type, s] : services.items()) {
    q.rates[type] = s.value("rate", 0.0);
  }
  std::map<std::pair<std::string, std::string>, plan::FleetDevice> fleet;
  const nlohmann::json cluster = context.dispatcher.ClusterJson();
  for (const nlohmann::json& node : cluster.value("nodes", nlohmann::json::array())) {
    if (!node.value("up", false)) continue;
    for (const nlohmann::json& d : node.value("devices", nlohmann::json::array())) {
      plan::FleetDevice device{.node = node.value("node", ""),
                               .device = d.value("id", ""),
                               .kind = d.value("kind", ""),
                               .slots = d.value("slots", 1)};
      fleet[{device.node, device.device}] = std::move(device);
    }
  }
  for (const auto& [type, rate] : q.rates) {
    const nlohmann::json model = context.dispatcher.ModelJson(type);
    for (const nlohmann::json& d : model.value("devices", nlohmann::json::array())) {
      auto it = fleet.find({d.value("node", ""), d.value("device", "")});
      const double ms = d.value("service_ms", 0.0);
      if (it != fleet.end() && ms > 0) it->second.service_ms[type] = ms;
    }
  }
  for (auto& [key, device] : fleet) q.fleet.push_back(std::move(device));
  return q;
}

}  // namespace

void AddDashboardRoutes(http::Router& router, ServerContext& context) {
  context.placement_changes =
      &context.registry
           .AddCounter("heteroaccel_server_placement_changes_total",
                       "Changes operators made to the placement (reverts included)", {})
           .WithLabels({});
  // --- The web app ------------------------------------------------------------
  for (const WebAsset& asset : WebAssets()) {
    auto serve = [&asset](http::Request&&, const http::PathParams&, http::Responder r) {
      r(Asset(asset));
    };
    router.Add("GET", std::string(asset.path), serve);
    if (asset.path == "/index.html") router.Add("GET", "/", serve);
  }

  // --- Live data --------------------------------------------------------------
  router.Add("GET", "/v1/stream",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               std::optional<uint64_t> last = ParseId(request.Header("last-event-id"));
               http::Response response;
               response.content_type = "text/event-stream";
               response.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
               StreamHub* hub = context.hub;
               response.stream = [hub, last](std::shared_ptr<http::StreamWriter> writer) {
                 hub->Attach(std::move(writer), last);
               };
               r(std::move(response));
             });
  router.Add("GET", "/v1/state",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               r(httpapi::JsonResponse(context.hub->StateJson()));
             });
  router.Add("GET", "/v1/decisions",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               const absl::StatusOr<size_t> limit = Limit(request, 100, 1000);
               if (!limit.ok()) return r(httpapi::ErrorResponse(limit.status()));
               r(httpapi::JsonResponse({{"decisions", context.stats->RecentDecisions(*limit)}}));
             });

  // --- The execution interface -------------------------------------------------
  router.Add("GET", "/v1/placement",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               r(httpapi::JsonResponse(context.dispatcher.PlacementJson()));
             });
  router.Add("POST", "/v1/placement/whatif",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               auto change = ParsePlacementChange(request.body);
               if (!change.ok()) return r(httpapi::ErrorResponse(change.status()));
               auto what_if = context.dispatcher.WhatIf(*change, context.stats->Mix());
               if (!what_if.ok()) return r(httpapi::ErrorResponse(what_if.status()));
               r(httpapi::JsonResponse(*what_if));
             });
  // The capacity what-if: how many devices of which profile the current mix
  // scaled by `growth` needs, and the margin now (plan/capacity_question.h).
  auto planner = std::make_shared<PlanRunner>();
  router.Add("POST", "/v1/plan",
             [&context, planner](http::Request&& request, const http::PathParams&,
                                 http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               plan::CapacityQuestion question = QuestionFromCluster(context);
               if (absl::Status s = plan::ParseCapacityRequest(request.body, question); !s.ok()) {
                 return r(httpapi::ErrorResponse(s));
               }
               auto work = [question = std::move(question)]() {
                 absl::StatusOr<nlohmann::json> answer = plan::Answer(question);
                 return answer.ok() ? httpapi::JsonResponse(*answer)
                                    : httpapi::ErrorResponse(answer.status());
               };
               if (!planner->TryRun(std::move(work), r)) {
                 r(httpapi::ErrorResponse(absl::UnavailableError(
                     "a capacity plan is already running; try again in a few seconds")));
               }
             });
  router.Add("PUT", "/v1/placement",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kAdmin)) return r(*denied);
               auto change = ParsePlacementChange(request.body);
               if (!change.ok()) return r(httpapi::ErrorResponse(change.status()));
               std::lock_guard<std::mutex> lock(context.change_mu);
               auto applied = context.dispatcher.ApplyPlacement(*change);
               if (!applied.ok()) return r(httpapi::ErrorResponse(applied.status()));
               auto stored =
                   Record(context, AuditWho(request), "placement", change->comment, *applied, {});
               if (!stored.ok()) return r(httpapi::ErrorResponse(stored.status()));
               r(httpapi::JsonResponse({{"placement", context.dispatcher.PlacementJson()},
                                        {"audit", AuditLog::ToJson(*stored)}}));
             });
  router.Add("GET", "/v1/audit",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               const absl::StatusOr<size_t> limit = Limit(request, 100, 1000);
               if (!limit.ok()) return r(httpapi::ErrorResponse(limit.status()));
               nlohmann::json entries = nlohmann::json::array();
               for (const AuditEntry& e : context.audit->Recent(*limit)) {
                 entries.push_back(AuditLog::ToJson(e));
               }
               r(httpapi::JsonResponse({{"audit", std::move(entries)}}));
             });
  router.Add(
      "POST", "/v1/audit/{id}/revert",
      [&context](http::Request&& request, const http::PathParams& p, http::Responder r) {
        if (auto denied = Deny(context, request, Access::kAdmin)) return r(*denied);
        const std::string id_text = httpapi::PathParam(p, "id");
        const std::optional<uint64_t> id = ParseId(id_text);
        if (!id) {
          return r(httpapi::ErrorResponse(absl::InvalidArgumentError(
              absl::StrCat("'", id_text, "' is not an audit entry id (a number)"))));
        }
        std::lock_guard<std::mutex> lock(context.change_mu);
        const std::optional<AuditEntry> entry = context.audit->Get(static_cast<int64_t>(*id));
        if (!entry) {
          return r(
              httpapi::ErrorResponse(absl::NotFoundError(absl::StrCat("no audit entry ", *id))));
        }
        if (entry->reverted_by) {
          return r(httpapi::ErrorResponse(absl::AbortedError(absl::StrCat(
              "entry ", *id, " was already reverted by entry ", *entry->reverted_by))));
        }
        if (entry->action != "placement" && entry->action != "revert") {
          return r(httpapi::ErrorResponse(absl::FailedPreconditionError(absl::StrCat(
              "entry ", *id, " records a ", entry->action,
              " change; only placement changes are reverted here (its before/after hold "
              "what to send back to the resource it changed)"))));
        }
        auto state = ParsePlacementState(entry->state_before);
        if (!state.ok()) return r(httpapi::ErrorResponse(state.status()));
        auto applied = context.dispatcher.SetPlacement(*state, entry->version_after);
        if (!applied.ok()) {
          return r(httpapi::ErrorResponse(absl::Status(
              applied.status().code(),
              absl::StrCat("cannot revert entry ", *id, ": ", applied.status().message(),
                           " (revert the later changes first)"))));
        }
        auto stored = Record(context, AuditWho(request), "revert", absl::StrCat("revert of entry ", *id),
                             *applied, entry->id);
        if (!stored.ok()) return r(httpapi::ErrorResponse(stored.status()));
        (void)context.audit->MarkReverted(entry->id, stored->id);
        // The reverted entry again, now with reverted_by, for pages that show it.
        if (std::optional<AuditEntry> marked = context.audit->Get(entry->id); marked) {
          context.hub->Publish("audit",
                               {{"audit", nlohmann::json::array({AuditLog::ToJson(*marked)})}});
        }
        r(httpapi::JsonResponse({{"placement", context.dispatcher.PlacementJson()},
                                 {"audit", AuditLog::ToJson(*stored)}}));
      });

  // --- Monitoring ---------------------------------------------------------------
  router.Add(
      "GET", "/v1/sd/targets",
      [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
        if (auto denied = Deny(context, request, Access::kMetrics)) return r(*denied);
        // The server is reached as Prometheus reached it for discovery.
        r(httpapi::JsonResponse(context.dispatcher.SdTargets(std::string(request.Header("host")))));
      });
  for (const char* api : {"query_range", "query"}) {
    router.Add("GET", absl::StrCat("/v1/history/", api),
               [&context, api = std::string(api)](http::Request&& request, const http::PathParams&,
                                                  http::Responder r) {
                 if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
                 context.history->Forward(api, request.query, std::move(r));
               });
  }
}

}  // namespace heteroaccel::server
