// Fleet: runs one typed fleet action (docs/fleet.md) on the nodes of a target
// (one node, the nodes reporting a group, or all) and reports each node's
// result as it arrives.
//
// Every action is a fixed request to the agent's /v1/fleet/... routes
// (agent/fleet.h), authenticated with the cluster token; nothing an operator
// sends becomes a command line (package names are checked against Debian's
// grammar here and again on the agent).
//
// A run (Start) resolves nothing itself: the caller passes the nodes
// (SelectNodes over a FleetDirectory, which reads the cluster view). Up to
// `parallelism` nodes run at once (one when the request is serial), each under
// its own time limit; a node that cannot be reached, refuses, fails or runs
// out of time gets a result saying so and the others go on. A serial real
// upgrade stops at the first node that does not succeed (the rest are
// "skipped"), so a bad upgrade does not spread through a group.
//
// Ownership and threads: each run has its own threads, owned by the Fleet;
// Stop() (or the destructor) lets the nodes in progress finish (each within
// its time limit), skips the rest and joins. Callbacks run on the run's
// threads, one at a time per run. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "http/client.h"
#include "metrics/metrics.h"
#include "node/time_sync.h"

namespace heteroaccel::server {

// kModelInstall is not run through POST /v1/fleet/{action}: the model repository's
// deploy and rollback routes start it with the version's parameters and record the
// deployment.
enum class FleetAction { kConnectivity, kFacts, kTime, kSpeed, kPackages, kMonitor, kModelInstall };
// NotFound naming the actions.
absl::StatusOr<FleetAction> ParseFleetAction(std::string_view name);
std::string_view FleetActionName(FleetAction action);

// "node/NAME", "group/NAME" or "all".
struct FleetTarget {
  enum class Kind { kNode, kGroup, kAll };
  Kind kind = Kind::kAll;
  std::string name;
  std::string ToString() const;
};
absl::StatusOr<FleetTarget> ParseFleetTarget(std::string_view target);

// A node as the cluster view knows it.
struct FleetNode {
  std::string name;
  std::string group;  // as the node reports it ("" for none)
  std::string url;  // the agent's advertised URL
  bool up = false;
  double heartbeat_age_seconds = 0;
  std::vector<std::string> groups;  // every group it belongs to (reported and assigned)
};

// The nodes the server knows. Thread-safe.
class FleetDirectory {
 public:
  virtual ~FleetDirectory() = default;
  virtual std::vector<FleetNode> Nodes() const = 0;
};

// The nodes `target` names, by name. NotFound says which nodes or groups exist.
absl::StatusOr<std::vector<FleetNode>> SelectNodes(const FleetTarget& target,
                                                   std::vector<FleetNode> nodes);

// One conversation with one agent (requests on one keep-alive connection)
// under a deadline. Not thread-safe: one per node.
class FleetSession {
 public:
  virtual ~FleetSession() = default;
  // DeadlineExceeded once the deadline has passed; Unavailable when the agent
  // cannot be reached; HTTP error statuses come back as responses.
  virtual absl::StatusOr<http::ClientResponse> Send(std::string_view method, std::string_view path,
                                                    std::string_view body = "") = 0;
};

class FleetTransport {
 public:
  virtual ~FleetTransport() = default;
  virtual std::unique_ptr<FleetSession> Open(const std::string& url,
                                             std::chrono::steady_clock::time_point deadline) = 0;
};

// http::Client with "Authorization: Bearer <cluster token>". A request never
// runs past the deadline by more than a tenth of the node's time limit.
class HttpFleetTransport final : public FleetTransport {
 public:
  explicit HttpFleetTransport(std::string cluster_token) : token_(std::move(cluster_token)) {}
  std::unique_ptr<FleetSession> Open(const std::string& url,
                                     std::chrono::steady_clock::time_point deadline) override;

 private:
  const std::string token_;
};

struct FleetRequest {
  FleetAction action = FleetAction::kConnectivity;
  FleetTarget target;
  nlohmann::json params = nlohmann::json::object();  // checked by ParseFleetRequest
  bool serial = false;
  std::chrono::milliseconds node_timeout{0};  // 0: the Fleet's default for the action
};

// POST /v1/fleet/{action} with {"target": ..., "params": {...}, "serial": bool,
// "timeout_seconds": n}. InvalidArgument saying what to fix; NotFound for an
// unknown action. Packages default to serial.
absl::StatusOr<FleetRequest> ParseFleetRequest(std::string_view action, std::string_view body);
// A run body's "serial" (bool) and "timeout_seconds" (1..3600) when present; also
// read by the model repository's deploy and rollback routes.
absl::Status ReadRunOptions(const nlohmann::json& body, bool& serial,
                            std::chrono::milliseconds& node_timeout);

struct FleetNodeResult {
  std::string node;
  std::string group;
  // "ok", "failed" (the action ran and did not succeed), "unreachable",
  // "refused" (401/403 from the agent), "timeout", "skipped".
  std::string status;
  std::string error;  // why, when not ok
  double seconds = 0;
  nlohmann::json data = nlohmann::json::object();
  bool ok() const { return status == "ok"; }
};

struct FleetSummary {
  int ok = 0;
  int not_ok = 0;
  double seconds = 0;
  std::vector<FleetNodeResult> results;  // in completion order
};

struct FleetOptions {
  int parallelism = 8;
  std::chrono::milliseconds node_timeout{15'000};
  std::chrono::milliseconds package_timeout{std::chrono::minutes(11)};
  double clock_offset_alert_seconds = 0.5;
  int max_runs = 4;  // runs at once; more are ResourceExhausted
};

class Fleet {
 public:
  using ResultFn = std::function<void(const FleetNodeResult&)>;
  using DoneFn = std::function<void(const FleetSummary&)>;

  // Registers heteroaccel_server_node_clock_offset_seconds{node} and
  // heteroaccel_server_fleet_results_total{action,status} on `registry`.
  Fleet(FleetOptions options, FleetTransport& transport, metrics::Registry& registry,
        const node::WallClock& wall_clock = node::SystemWallClock());
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Starts the run; `on_result` for each node as it ends, then `on_done` once.
  // ResourceExhausted when max_runs are in progress; Unavailable after Stop().
  absl::Status Start(FleetRequest request, std::vector<FleetNode> nodes, ResultFn on_result,
                     DoneFn on_done);
  void Stop();

  // One node, on the caller's thread (the runs' workers, and tests).
  FleetNodeResult RunOnNode(const FleetRequest& request, const FleetNode& node);

 private:
  struct Run;
  void Execute(Run& run);

  const FleetOptions options_;
  FleetTransport& transport_;
  const node::WallClock& wall_clock_;
  metrics::Family<metrics::Gauge>& clock_offset_;
  metrics::Family<metrics::Counter>& results_;
  std::mutex mu_;
  bool stopped_ = false;             // guarded by mu_
  std::list<std::shared_ptr<Run>> runs_;  // guarded by mu_
};

}  // namespace heteroaccel::server
