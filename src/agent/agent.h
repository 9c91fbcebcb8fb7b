// Agent: the process on every edge node. It finds the node's compute devices,
// runs real inference on them through the runtime executor, and serves the Open
// Inference Protocol (KServe v2) over HTTP, /v1 convenience endpoints, node
// facts and Prometheus metrics.
//
// Owns everything it creates (registry, executor, collector, HTTP server).
// Create() probes and binds; Start() begins serving (and, with a device plugin
// directory, advertises the accelerators to the kubelet); Stop() is idempotent
// and is also called by the destructor. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "devices/device.h"

namespace heteroaccel::agent {

struct AgentOptions {
  std::string listen = "127.0.0.1:8001";  // HOST:PORT; port 0 picks a free port
  std::string config_path;                // YAML (agent/config.h); flags below win where set
  std::string node_name;                  // "" = config's node, else the hostname
  std::string group;                      // node group reported to the server ("" = none)
  // Labels reported to the server; merged over the config's (a flag's value wins).
  std::map<std::string, std::string> labels;
  std::string server;                     // URL of the server to register with ("" = standalone)
  std::string cluster_token;              // shared secret for the server
  std::string advertise_url;  // how the server reaches this agent ("" = http://<listen address>)
  std::chrono::milliseconds heartbeat_interval{200};
  std::string models_dir = "models";
  // Where model versions deployed from the server's repository are kept
  // (agent/model_install.h); "" = <models_dir>/deployed.
  std::string deployed_models_dir;
  int cpu_slots = 0;                // 0: one per physical core
  int queue_capacity = 8;           // per slot
  bool use_opencl = true;           // run models on the OpenCL device OpenCV selects
  std::string opencl_device;        // OPENCV_OPENCL_DEVICE selector, "" = GPU first, then CPU
  std::vector<std::string> models;  // inference types to serve; empty = all
  size_t max_body_bytes = 16u << 20;
  int io_threads = 1;
  // HTTP protection against slow and abusive clients (http/server.h).
  size_t max_connections = 0;  // 0: derived from the descriptor limit
  int header_timeout_ms = 10'000;
  int keepalive_timeout_ms = 30'000;
  size_t max_inflight_body_bytes = size_t{512} << 20;
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  bool warm_up = true;
  // The kubelet's device plugin directory (/var/lib/kubelet/device-plugins on a
  // node): the agent advertises its accelerators there (k8s/device_plugin.h).
  // "" = no device plugin.
  std::string device_plugin_dir;
  // An emulated error of this node's clock as the fleet's time action sees it
  // (node::OffsetWallClock); 0 = the real clock. Logged as emulated at start.
  int64_t emulate_clock_offset_ms = 0;
  // Lets the server ask the node's time service to sync now (agent/fleet.h); off by default.
  bool allow_time_sync = false;
  // Lets the server run apt actions on this node (agent/fleet.h); off by default.
  bool allow_package_actions = false;
};

// Why a probed device that is ready gets no slots on this agent, phrased as what the
// operator can change ("OpenCL is turned off on this agent (--no-opencl)", ...).
std::string UnservedDeviceReason(const devices::Device& device, bool use_opencl);

class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Create(const AgentOptions& options);
  ~Agent();

  // FailedPrecondition when another agent's device plugin serves the same
  // sockets; the agent is then stopped.
  [[nodiscard]] absl::Status Start();
  void Stop();
  std::string address() const;  // "127.0.0.1:PORT"
  // Waits for the executor's models to load and warm up.
  bool WaitReady(std::chrono::milliseconds timeout) const;
  // One line per device: what serves where, for the start-up log.
  std::vector<std::string> DeviceSummary() const;

  struct State;

 private:
  explicit Agent(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace heteroaccel::agent
