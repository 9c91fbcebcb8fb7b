// SyntheticFleet: the heartbeats of a made-up cluster, for load-testing the
// server's cluster view and the dashboard's stream without real agents.
//
// Every node, device and variant it describes is synthetic and says so in its
// name ("synthetic-node-007", "Synthetic GPU (synthetic)", group
// "synthetic-line-2"); every device is `emulated`. The figures change the way a
// busy cluster's do: each device's utilisation drifts (a bounded random walk),
// its `busy_seconds` grows by utilisation × slots × elapsed time, `allocated`
// and `queue_depth` follow the utilisation, the measured service times wobble
// around a per-device mean, and each node's CPU, memory and temperature move
// with its devices. Device kinds are mixed: every node has a CPU, the other
// devices are drawn from GPU, NPU, FPGA and CPU.
//
// Deterministic for a seed. Beat() on different nodes may run on different
// threads at once (each node has its own random source and state); one node
// must not be beaten from two threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cluster/contract.h"

namespace heteroaccel::bench {

struct FleetOptions {
  int nodes = 100;
  int devices_per_node = 4;
  uint64_t seed = 1;
  // What each node announces as its URL. Nothing need listen there: the
  // synthetic nodes serve no inference, so the bench sends the server none.
  std::string url = "http://127.0.0.1:1";
};

class SyntheticFleet {
 public:
  explicit SyntheticFleet(const FleetOptions& options);

  int size() const { return static_cast<int>(nodes_.size()); }
  const std::string& name(int node) const { return nodes_[node].name; }
  static std::string NodeName(int node);  // "synthetic-node-007"

  // The node's heartbeat at `now_s` seconds since the fleet started: its
  // figures advance by the time since its previous beat. `with_model_info`
  // adds the static description the server asks for on a node's first beat.
  cluster::NodeReport Beat(int node, double now_s, bool with_model_info);

 private:
  struct Device {
    cluster::DeviceReport report;
    std::map<cluster::VariantKey, double> mean_service_ms;
    double utilisation = 0;
  };
  struct Node {
    std::string name;
    std::string group;
    std::vector<Device> devices;
    double memory_total = 0;
    double memory_used_ratio = 0;
    double temperature = 0;
    double last_beat_s = -1;
    std::mt19937_64 rng;
  };

  static Device MakeDevice(DeviceKind kind, int index_of_kind, std::mt19937_64& rng);
  static void Advance(Device& device, double elapsed_s, std::mt19937_64& rng);

  const FleetOptions options_;
  std::vector<Node> nodes_;
};

// The static model description a synthetic node sends (labels, keypoints,
// variants), every text marked synthetic.
std::map<std::string, cluster::TypeInfo> SyntheticModelInfo();

}  // namespace heteroaccel::bench
