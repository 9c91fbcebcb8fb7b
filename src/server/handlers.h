// The server's HTTP routes; one Add* per resource.
#pragma once

#include <string>

#include "http/router.h"
#include "httpapi/responses.h"
#include "metrics/metrics.h"
#include "server/dispatcher.h"

namespace heteroaccel::server {

struct ServerContext {
  Dispatcher& dispatcher;
  metrics::Registry& registry;
  std::string cluster_token;  // "" = heartbeats and registry edits need no token
};

void AddFrontRoutes(http::Router& router, ServerContext& context);  // health, models, infer
void AddClusterRoutes(http::Router& router,
                      ServerContext& context);  // heartbeat, cluster, registry

inline http::Response ServerErrorResponse(const absl::Status& status) {
  return httpapi::ErrorResponse(status);
}

}  // namespace heteroaccel::server
