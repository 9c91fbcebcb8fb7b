// /v2/health/live, /v2/health/ready, /v2 (server metadata), /metrics.
#include "agent/context.h"
#include "protocol/errors.h"
#include "protocol/metadata.h"

namespace heteroaccel::agent {

void AddHealthRoutes(http::Router& router, AgentContext& context) {
  router.Add("GET", "/v2/health/live",
             [](http::Request&&, const http::PathParams&, http::Responder respond) {
               respond(http::Response{200, "application/json", {}, ""});
             });
  router.Add("GET", "/v2/health/ready",
             [&context](http::Request&&, const http::PathParams&, http::Responder respond) {
               http::Response r{context.executor.Ready() ? 200 : 503, "application/json", {}, ""};
               if (r.status != 200) r.headers.emplace_back("Retry-After", "1");
               respond(std::move(r));
             });
  router.Add("GET", "/v2", [](http::Request&&, const http::PathParams&, http::Responder respond) {
    respond(JsonResponse(protocol::ServerMetadataJson("heteroaccel-agent", HETEROACCEL_VERSION,
                                                      {"binary_tensor_data"})));
  });
  router.Add("GET", "/metrics",
             [&context](http::Request&&, const http::PathParams&, http::Responder respond) {
               respond(http::Response{
                   200, std::string(metrics::kContentType), {}, context.registry.Render()});
             });
}

}  // namespace heteroaccel::agent
