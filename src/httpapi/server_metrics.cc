#include "httpapi/server_metrics.h"

namespace heteroaccel::httpapi {

void ExportHttpServerMetrics(metrics::Registry& registry, const http::Server& server) {
  auto& connections = registry.AddGauge("heteroaccel_http_connections",
                                        "HTTP connections open now, and the bound", {"state"});
  auto& events = registry.AddCounter(
      "heteroaccel_http_connection_events_total",
      "HTTP connections accepted; shed (idle, closed for a newcomer at the bound); refused "
      "(a newcomer closed when none could be shed); closed by the header timeout (408) or the "
      "minimum body rate (408)",
      {"event"});
  auto& refused_bodies = registry.AddCounter(
      "heteroaccel_http_refused_bodies_total",
      "Requests answered 503 because their body would pass the bound on body bytes in flight", {});
  auto& body_bytes = registry.AddGauge("heteroaccel_http_inflight_body_bytes",
                                       "Request body bytes held now, all connections", {});
  registry.AddCollectHook([&, server_ptr = &server] {
    const http::Server& s = *server_ptr;
    connections.WithLabels({"open"}).Set(static_cast<double>(s.open_connections()));
    connections.WithLabels({"max"}).Set(static_cast<double>(s.max_connections()));
    events.WithLabels({"accepted"}).SetTotal(static_cast<double>(s.accepted_connections()));
    events.WithLabels({"shed"}).SetTotal(static_cast<double>(s.shed_connections()));
    events.WithLabels({"refused"}).SetTotal(static_cast<double>(s.refused_connections()));
    events.WithLabels({"header_timeout"}).SetTotal(static_cast<double>(s.header_timeouts()));
    events.WithLabels({"body_timeout"}).SetTotal(static_cast<double>(s.body_timeouts()));
    refused_bodies.WithLabels({}).SetTotal(static_cast<double>(s.refused_bodies()));
    body_bytes.WithLabels({}).Set(static_cast<double>(s.inflight_body_bytes()));
  });
}

}  // namespace heteroaccel::httpapi
