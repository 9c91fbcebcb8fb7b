// Cluster management: POST /v1/cluster/heartbeat (agents), GET /v1/cluster,
// GET /v1/registry, PUT /v1/registry, GET /v1/registry/variants. Writes need the
// cluster token.
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "cluster/contract.h"
#include "server/handlers.h"

namespace heteroaccel::server {

void AddClusterRoutes(http::Router& router, ServerContext& context) {
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
