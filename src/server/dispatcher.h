// Dispatcher: the server's core, and a thin one. It joins four parts that each
// do one job and are tested alone:
//   - ClusterView     membership, heartbeats, the registry (cluster_view.h);
//   - Scheduler       queues and late binding to (node, device, variant)
//                     (scheduler/scheduler.h);
//   - RequestTracker  each request's attempts, retries, pins and give-up
//                     (request_tracker.h);
//   - AgentChannel    the path to the agents (agent_channel.h; HTTP in
//                     production, a fake in tests).
//
// Lifecycle of a request:
//   Step 1  Submit: tracked and queued (429 when the type's queue is full, 404
//           for a type no device runs, 503 before any agent registered).
//   Step 2  Pump: the scheduler binds what can run now; each binding is an
//           AgentCall sent on the channel.
//   Step 3  OnReply: an answer (or the request's own error) ends it; a busy
//           device or a failure on that device re-queues the same request
//           (pins, priority and deadline kept) until max_attempts, then it ends
//           with the last error; a re-queue the queue cannot take ends it at
//           once (429 + Retry-After). Only an unreachable agent or missed
//           heartbeats mark a node down; the requests it held are re-queued.
//   Step 4  Tick (the watchdog, or a test): nodes silent past node_timeout go
//           down; requests past their deadline end with 504.
//   Step 5  Every request ends exactly once, through RequestTracker::Finish.
//
// Time comes from the injected Clock. Thread-safe: one mutex guards the four
// parts and is never held while calling the channel or answering.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/contract.h"
#include "common/clock.h"
#include "k8s/extender/extender.h"
#include "server/node_settings.h"
#include "metrics/metrics.h"
#include "server/agent_channel.h"
#include "server/config.h"
#include "server/live_stats.h"
#include "server/placement.h"
#include "server/request.h"

namespace heteroaccel::server {

class Dispatcher {
 public:
  // `channel` is not owned and must outlive the dispatcher; the dispatcher
  // sets its reply callback and stops it in Stop().
  // `observer`, when given, is told of every arrival, binding, attempt and
  // answer (live_stats.h); not owned, must outlive the dispatcher.
  Dispatcher(const ServerConfig& config, metrics::Registry& registry, Clock& clock,
             AgentChannel& channel, DispatchObserver* observer = nullptr);
  ~Dispatcher();

  // Starts the watchdog thread that calls Tick. Without it (tests), call Tick.
  void Start();
  // Stops the watchdog and the channel; every request still open is answered
  // 503. Idempotent.
  void Stop();

  void Submit(InferWork work, InferDone done);
  // An agent's heartbeat. The reply asks for the models' description while the
  // server holds none for the node (after its own restart, or a new agent).
  absl::StatusOr<cluster::HeartbeatReply> Heartbeat(cluster::NodeReport report);
  void Tick();

  bool Ready() const;  // some node is up
  bool CanRun(const std::string& model) const;
  std::vector<std::string> Models() const;
  nlohmann::json ClusterJson() const;
  nlohmann::json VariantsJson() const;
  nlohmann::json ModelJson(const std::string& model) const;  // devices and variants serving it
  nlohmann::json RegistryJson() const;
  absl::Status SetRegistry(std::map<std::string, InferenceType> registry);
  // Groups and labels assigned to a node (cluster_view.h); its devices are
  // re-derived at once, so the next request bound sees its groups.
  void SetNodeSettings(const std::string& node, NodeSettings settings);
  std::optional<NodeSettings> NodeSettingsOf(const std::string& node) const;
  nlohmann::json NodesJson() const;  // GET /v1/nodes

  // --- The execution interface (placement.h) and the live dashboard ---------
  nlohmann::json PlacementJson() const;
  PlacementState placement() const;
  struct PlacementApplied {
    PlacementState before, after;
    nlohmann::json before_view, after_view;  // the matrices, for the audit log
    int64_t version = 0;                     // after the change
  };
  // Applies a change for the next requests bound. Aborted (409) when the
  // change names a version that is not the current one.
  absl::StatusOr<PlacementApplied> ApplyPlacement(const PlacementChange& change);
  // Replaces the placement as a whole (a revert); Aborted unless
  // `expected_version` is the current one.
  absl::StatusOr<PlacementApplied> SetPlacement(const PlacementState& state,
                                                int64_t expected_version);
  // At start: the placement the audit log last recorded, unchecked (no agent
  // has reported yet).
  void RestorePlacement(const PlacementState& state, int64_t version);
  // {"mix", "current_rps", "proposed_rps", "served": {type: bool}}.
  absl::StatusOr<nlohmann::json> WhatIf(const PlacementChange& change,
                                        std::map<std::string, double> mix) const;
  nlohmann::json FleetJson() const;
  size_t QueuedOf(const std::string& type) const;
  nlohmann::json SdTargets(const std::string& server_target) const;
  double IdealThroughput(const std::map<std::string, double>& mix) const;
  size_t open_requests() const;  // accepted and not yet answered
  // The scheduler extender's view of `nodes`, consistent under one lock.
  k8s::ClusterSnapshot ExtenderSnapshot(const std::vector<std::string>& nodes) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace heteroaccel::server
