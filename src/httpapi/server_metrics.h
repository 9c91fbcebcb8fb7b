// The HTTP server's own protection counters as Prometheus metrics, for both
// the agent and the server: connections open, accepted, shed and refused,
// header and body timeouts, bodies refused for the in-flight bound, and the
// body bytes held now. Read from http::Server when the registry renders.
//
// The Server must outlive every Render of the registry (the agent and the
// server stop serving /metrics before they destroy it).
#pragma once

#include "http/server.h"
#include "metrics/metrics.h"

namespace heteroaccel::httpapi {

void ExportHttpServerMetrics(metrics::Registry& registry, const http::Server& server);

}  // namespace heteroaccel::httpapi
