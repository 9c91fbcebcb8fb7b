// The server's HTTP routes; one Add* per resource.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/router.h"
#include "httpapi/responses.h"
#include "metrics/metrics.h"
#include "server/dispatcher.h"

namespace heteroaccel::cameras {
class CameraManager;
class InferenceBackend;
}  // namespace heteroaccel::cameras
namespace heteroaccel::events {
class EventStore;
}  // namespace heteroaccel::events
namespace heteroaccel::repository {
class ModelStore;
}  // namespace heteroaccel::repository

namespace heteroaccel::server {

class AuditLog;
class LiveStats;
class StreamHub;
class HistoryProxy;
class NodeSettingsStore;
class FleetTransport;

struct ServerContext {
  Dispatcher& dispatcher;
  metrics::Registry& registry;
  std::string cluster_token;  // "" = heartbeats and registry edits need no token
  // The dashboard's parts (null in a server without them).
  LiveStats* stats = nullptr;
  StreamHub* hub = nullptr;
  AuditLog* audit = nullptr;
  HistoryProxy* history = nullptr;
  std::string admin_token;    // "" = changes are refused
  std::string viewer_token;   // "" = reading is open
  std::string metrics_token;  // "" = /metrics and service discovery are open
  std::mutex change_mu;       // a change and its audit entry, one at a time
  metrics::Counter* placement_changes = nullptr;
  // Camera pipelines (null in a server without them).
  cameras::CameraManager* cameras = nullptr;
  events::EventStore* events = nullptr;
  // The model repository (null in a server without --state-dir).
  repository::ModelStore* models = nullptr;
  // Groups and labels assigned to nodes (null: PUT /v1/nodes is 503).
  NodeSettingsStore* node_settings = nullptr;
  // Fleet runs: the time action's default alert threshold (config.h), and how they
  // reach the agents (null: HTTP with the cluster token; the fuzzer's is in memory).
  double clock_offset_alert_seconds = 0.5;
  FleetTransport* fleet_transport = nullptr;
};

// Who may do what (docs/dashboard-api.md). The admin token grants reading too;
// kCluster (heartbeats, registry edits) takes only the cluster token.
enum class Access { kRead, kAdmin, kMetrics, kCluster };
// nullopt when allowed; else the 401/403 answer.
std::optional<http::Response> Deny(const ServerContext& context, const http::Request& request,
                                   Access access);
// Who made a change, for the audit log: "admin", with the name the page sends
// (X-HeteroAccel-User) cleaned to what a log can show: "admin (alice)".
std::string AuditWho(const http::Request& request);
// Records a change that is not to the placement (a camera, a model) in the audit
// log and publishes it on the stream. The entry carries the current placement
// as its state, so the placement restored from the newest entry at start (and a
// revert of this entry) keeps the placement as it is. No-op without a log.
void AuditChange(ServerContext& context, const http::Request& request, const std::string& action,
                 const std::string& comment, nlohmann::json before, nlohmann::json after);

void AddFrontRoutes(http::Router& router, ServerContext& context);  // health, models, infer
void AddClusterRoutes(http::Router& router,
                      ServerContext& context);  // heartbeat, cluster, registry, nodes
// The dashboard: /, /v1/stream, /v1/state, /v1/placement, /v1/audit,
// /v1/decisions, /v1/sd/targets, /v1/history.
void AddDashboardRoutes(http::Router& router, ServerContext& context);
// kube-scheduler's extender: POST /k8s/extender/filter and /prioritize (no
// token: kube-scheduler cannot send one; read-only).
void AddK8sRoutes(http::Router& router, ServerContext& context);
// Cameras and their events (docs/cameras.md): /v1/cameras[/{id}[/...]],
// /v1/events[/{id}[/snapshot.jpg]].
void AddCameraRoutes(http::Router& router, ServerContext& context);
// The model repository (docs/model-repository.md): /v1/models[/{name}[/...]],
// /v1/deployments.
void AddRepositoryRoutes(http::Router& router, ServerContext& context);
// Fleet operations (docs/fleet.md): POST /v1/fleet/{action}, results streamed.
void AddFleetRoutes(http::Router& router, ServerContext& context);
// Camera frames go through the scheduler like a client's POST /v1/infer.
std::unique_ptr<cameras::InferenceBackend> MakeDispatcherBackend(Dispatcher& dispatcher);

inline http::Response ServerErrorResponse(const absl::Status& status) {
  return httpapi::ErrorResponse(status);
}

}  // namespace heteroaccel::server
