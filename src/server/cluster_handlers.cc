// Cluster management: POST /v1/cluster/heartbeat (agents), GET /v1/cluster,
// GET /v1/registry, PUT /v1/registry. Writes need the cluster token.
#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "server/handlers.h"

namespace heteroaccel::server {
namespace {

bool Authorized(const ServerContext& context, const http::Request& request) {
  if (context.cluster_token.empty()) return true;
  const std::string expected = "Bearer " + context.cluster_token;
  const std::string_view got = request.Header("authorization");
  return got.size() == expected.size() &&
         CRYPTO_memcmp(got.data(), expected.data(), expected.size()) == 0;
}

http::Response Unauthorized() {
  return ServerErrorResponse(absl::UnauthenticatedError(
      "missing or wrong cluster token (send 'Authorization: Bearer <token>')"));
}

http::Response Json(const nlohmann::json& body) {
  http::Response r;
  r.body = body.dump();
  return r;
}

}  // namespace

void AddClusterRoutes(http::Router& router, ServerContext& context) {
  router.Add("POST", "/v1/cluster/heartbeat",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (!Authorized(context, request)) return r(Unauthorized());
               auto json = nlohmann::json::parse(request.body, nullptr, false);
               if (absl::Status s = context.dispatcher.Heartbeat(json); !s.ok()) {
                 return r(ServerErrorResponse(s));
               }
               r(Json({{"ok", true}}));
             });
  router.Add("GET", "/v1/cluster",
             [&context](http::Request&&, const http::PathParams&, http::Responder r) {
               r(Json(context.dispatcher.ClusterJson()));
             });
  router.Add("GET", "/v1/registry",
             [&context](http::Request&&, const http::PathParams&, http::Responder r) {
               r(Json(context.dispatcher.RegistryJson()));
             });
  router.Add("PUT", "/v1/registry",
             [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (!Authorized(context, request)) return r(Unauthorized());
               auto json = nlohmann::json::parse(request.body, nullptr, false);
               auto registry = RegistryFromJson(json);
               if (!registry.ok()) return r(ServerErrorResponse(registry.status()));
               if (absl::Status s = context.dispatcher.SetRegistry(*registry); !s.ok()) {
                 return r(ServerErrorResponse(s));
               }
               r(Json(context.dispatcher.RegistryJson()));
             });
}

}  // namespace heteroaccel::server
