// Dispatcher: the server's core. Requests wait here, in the scheduler's bounded
// per-type queues, and are bound late to the (node, device, variant) the policy
// picks; a Forwarder per device sends them to that device's agent. Agents'
// heartbeats build the cluster view; a node whose heartbeats stop for
// node_timeout is marked down, and requests it held are retried on other devices.
// Every request ends in exactly one answer: the agent's result, or an error
// (429 queues full, 404 unknown type, 503 when no device could serve it after
// max_attempts, 504 past its deadline).
//
// Owns the scheduler, forwarders and the watchdog thread. Thread-safe; one mutex
// guards the scheduler and the cluster view, and is never held during I/O or
// while answering.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "http/message.h"
#include "metrics/metrics.h"
#include "nlohmann/json.hpp"
#include "scheduler/scheduler.h"
#include "server/config.h"

namespace heteroaccel::server {

struct InferWork {
  std::string model;
  bool v1 = false;
  std::shared_ptr<const std::string> body;
  std::optional<size_t> header_length;
  std::string content_type;
  int priority = 0;
  std::optional<std::chrono::milliseconds> timeout;
  std::string pinned_device;  // "node/device"
  std::string pinned_kind;
};

class Dispatcher {
 public:
  using Done = std::function<void(http::Response)>;

  Dispatcher(const ServerConfig& config, metrics::Registry& registry, Clock& clock);
  ~Dispatcher();

  void Start();
  void Stop();

  void Submit(InferWork work, Done done);
  // An agent's state (agent/registration.h); InvalidArgument for a malformed
  // one. The static "model_info" may be left out once the server has it:
  // returns true while the server holds none for this node (after its own
  // restart, or a new agent address), asking the agent to send it again.
  absl::StatusOr<bool> Heartbeat(nlohmann::json state);

  bool Ready() const;  // some node is up
  bool CanRun(const std::string& model) const;
  nlohmann::json ClusterJson() const;
  // GET /v1/registry/variants: each loaded variant's description, tested
  // accuracy and measured service time per device kind.
  nlohmann::json VariantsJson() const;
  nlohmann::json ModelJson(const std::string& model) const;  // devices and variants serving it
  std::vector<std::string> Models() const;
  nlohmann::json RegistryJson() const;
  absl::Status SetRegistry(std::map<std::string, InferenceType> registry);
  double IdealThroughput(const std::map<std::string, double>& mix) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace heteroaccel::server
