// Registration: keeps this agent known to the server. A background thread sends
// the node's state (devices, slots, loaded variants with their measured service
// times, queue depths, busy time; the node's group and CPU, memory and
// temperature figures) every `interval` over one keep-alive connection,
// authenticated with the cluster token. The static description of its models
// (labels, keypoint names, variants) goes with the first heartbeat and again
// only when the server asks for it (its reply says "send_model_info") or the
// connection was lost. The server marks a node down when these
// stop, and up again when they resume, so an agent that restarts or reconnects
// rejoins by itself.
//
// Owns its thread; Stop() (or destruction) ends it. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "agent/context.h"
#include "cluster/contract.h"

namespace heteroaccel::agent {

// The heartbeat (cluster/contract.h): what the server's cluster view is built
// from, with the models' static description when `with_model_info`.
cluster::NodeReport NodeState(const AgentContext& context, const std::string& advertise_url,
                              bool with_model_info = true);

class Registration {
 public:
  struct Options {
    std::string server;         // "http://host:port"
    std::string token;          // sent as "Authorization: Bearer <token>"
    std::string advertise_url;  // where the server reaches this agent
    std::chrono::milliseconds interval{200};
  };
  Registration(Options options, const AgentContext& context);
  ~Registration();
  void Stop();

 private:
  void Run();

  const Options options_;
  const AgentContext& context_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace heteroaccel::agent
