// Cluster management: POST /v1/cluster/heartbeat (agents), GET /v1/cluster,
// GET /v1/registry, PUT /v1/registry, GET /v1/registry/variants. Writes need the
// cluster token.
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "cluster/contract.h"
#include "server/handlers.h"
#include "server/node_settings.h"

namespace heteroaccel::server {

namespace {

// PUT (replace) or DELETE (clear) /v1/nodes/{node}: the node's assigned groups and labels,
// persisted, applied to the scheduler at once and audited.
void ChangeNode(ServerContext& context, http::Request&& request, const http::PathParams& params,
                http::Responder respond, bool clear) {
  if (auto denied = Deny(context, request, Access::kAdmin)) return respond(*std::move(denied));
  const std::string node = httpapi::PathParam(params, "node");
  if (absl::Status s = ValidateNodeName(node); !s.ok()) return respond(ServerErrorResponse(s));
  absl::StatusOr<NodeSettings> settings =
      clear ? absl::StatusOr<NodeSettings>(NodeSettings{}) : ParseNodeSettings(request.body);
  if (!settings.ok()) return respond(ServerErrorResponse(settings.status()));
  if (context.node_settings == nullptr) {
    return respond(ServerErrorResponse(absl::UnavailableError("node settings are not kept here")));
  }
  std::lock_guard<std::mutex> lock(context.change_mu);
  const NodeSettings before = context.dispatcher.NodeSettingsOf(node).value_or(NodeSettings{});
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (absl::Status s = context.node_settings->Put(node, *settings, AuditWho(request), now_ms);
      !s.ok()) {
    return respond(ServerErrorResponse(s));
  }
  context.dispatcher.SetNodeSettings(node, *settings);
  AuditChange(context, request, "node",
              absl::StrCat(clear ? "cleared the groups and labels of node " : "set node ", node,
                           clear ? "" : "'s groups and labels"),
              {{"node", node}, {"settings", ToJson(before)}},
              {{"node", node}, {"settings", ToJson(*settings)}});
  const nlohmann::json nodes = context.dispatcher.NodesJson();
  for (const nlohmann::json& n : nodes["nodes"]) {
    if (n.value("node", "") == node) return respond(httpapi::JsonResponse(n));
  }
  respond(httpapi::JsonResponse({{"node", node}, {"assigned", ToJson(*settings)}}));
}

}  // namespace

void AddClusterRoutes(http::Router& router, ServerContext& context) {
  router.Add("GET", "/v1/nodes",
             [&context](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(context, request, Access::kRead)) return respond(*denied);
               respond(httpapi::JsonResponse(context.dispatcher.NodesJson()));
             });
  for (const bool clear : {false, true}) {
    router.Add(clear ? "DELETE" : "PUT", "/v1/nodes/{node}",
               [&context, clear](http::Request&& request, const http::PathParams& params,
                                 http::Responder respond) {
                 ChangeNode(context, std::move(request), params, std::move(respond), clear);
               });
  }
  router.Add("POST", "/v1/cluster/heartbeat",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kCluster)) return r(*denied);
               auto report = cluster::ParseNodeReportBody(request.body);
               if (!report.ok()) return r(ServerErrorResponse(report.status()));
               auto reply = context.dispatcher.Heartbeat(*std::move(report));
               if (!reply.ok()) return r(ServerErrorResponse(reply.status()));
               r(httpapi::JsonResponse(cluster::ToJson(*reply)));
             });
  router.Add("GET", "/v1/cluster",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               r(httpapi::JsonResponse(context.dispatcher.ClusterJson()));
             });
  // Ideal throughput for a mix ("face:1,object:1"; shares need not sum to 1):
  // the sum over devices of what each could serve alone at the measured
  // service times.
  router.Add("GET", "/v1/cluster/capacity",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               std::map<std::string, double> mix;
               std::string_view q = request.query;
               if (q.rfind("mix=", 0) == 0) q.remove_prefix(4);
               while (!q.empty()) {
                 const size_t comma = q.find(',');
                 const std::string_view item = q.substr(0, comma);
                 const size_t colon = item.find(':');
                 const std::string type(item.substr(0, colon));
                 double share = 1;
                 if (colon != std::string_view::npos) {
                   share = std::atof(std::string(item.substr(colon + 1)).c_str());
                 }
                 if (!type.empty() && share > 0) mix[type] += share;
                 q = comma == std::string_view::npos ? std::string_view() : q.substr(comma + 1);
               }
               if (mix.empty()) {
                 return r(ServerErrorResponse(
                     absl::InvalidArgumentError("give the mix as ?mix=face:1,object:1")));
               }
               double total = 0;
               for (const auto& [type, share] : mix) total += share;
               for (auto& [type, share] : mix) share /= total;
               r(httpapi::JsonResponse(
                   {{"mix", mix}, {"ideal_rps", context.dispatcher.IdealThroughput(mix)}}));
             });
  router.Add("GET", "/v1/registry/variants",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               r(httpapi::JsonResponse({{"types", context.dispatcher.VariantsJson()}}));
             });
  router.Add("GET", "/v1/registry",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kRead)) return r(*denied);
               r(httpapi::JsonResponse(context.dispatcher.RegistryJson()));
             });
  router.Add("PUT", "/v1/registry",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = Deny(context, request, Access::kCluster)) return r(*denied);
               auto json = nlohmann::json::parse(request.body, nullptr, false);
               auto registry = RegistryFromJson(json);
               if (!registry.ok()) return r(ServerErrorResponse(registry.status()));
               if (absl::Status s = context.dispatcher.SetRegistry(*registry); !s.ok()) {
                 return r(ServerErrorResponse(s));
               }
               r(httpapi::JsonResponse(context.dispatcher.RegistryJson()));
             });
}

}  // namespace heteroaccel::server
