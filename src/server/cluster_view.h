// ClusterView: the server's picture of the cluster, built from the agents'
// heartbeats (cluster/contract.h): which nodes exist and are up, their
// devices, which variant serves each inference type on each device (the
// registry's choice for the device's kind), and the models' descriptions.
//
// It decides nothing about requests. ApplyHeartbeat returns what changed, and
// the dispatcher applies that to the scheduler and the agent channel; the JSON
// views read the scheduler for live figures (in flight, estimates).
//
// Thread-safety: none; the dispatcher serialises calls.
#pragma once

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cluster/contract.h"
#include "common/clock.h"
#include "k8s/extender/extender.h"
#include "scheduler/scheduler.h"
#include "server/config.h"
#include "server/node_settings.h"
#include "server/placement.h"

namespace heteroaccel::server {

class ClusterView {
 public:
  explicit ClusterView(std::map<std::string, InferenceType> registry);

  struct HeartbeatChanges {
    std::string url;
    bool url_changed = false;  // a new agent at this node (restart): reset its paths
    bool came_up = false;      // the node was down or unknown
    std::vector<scheduler::DeviceInfo> devices;  // every device it reports, to upsert
    std::vector<scheduler::DeviceKey> removed;   // devices it no longer reports
    bool need_model_info = false;                // the reply asks for the descriptions
  };
  HeartbeatChanges ApplyHeartbeat(cluster::NodeReport report, Clock::TimePoint now);

  // Up nodes silent for longer than `timeout`.
  std::vector<std::string> Silent(Clock::TimePoint now, std::chrono::milliseconds timeout) const;
  // Marks a node down; false if it was not up.
  bool MarkDown(const std::string& node);

  bool AnyUp() const;
  bool empty() const { return nodes_.empty(); }
  bool CanRun(const std::string& model) const;
  // Some device (up or down) has a variant of the type.
  bool Serves(const std::string& model) const;
  std::vector<std::string> Models() const;
  const scheduler::DeviceInfo* device(const scheduler::DeviceKey& key) const;
  std::pair<int, int> UpDownCounts() const;
  struct NodeStatus {
    std::string name, group;  // the reported group
    bool up = false;
    double silent_seconds = 0;
  };
  std::vector<NodeStatus> NodeStatuses(Clock::TimePoint now) const;

  // GET /v1/cluster.
  nlohmann::json ClusterJson(const scheduler::Scheduler& scheduler, Clock::TimePoint now) const;
  // The devices and variants serving a model, and its description.
  nlohmann::json ModelJson(const std::string& model, const scheduler::Scheduler& scheduler) const;
  // GET /v1/registry/variants: each loaded variant's description, tested
  // accuracy and measured service time per device kind (median over devices;
  // emulated devices counted apart as "KIND (emulated)").
  nlohmann::json VariantsJson() const;

  // Replaces what is assigned to `node` (known or not yet seen; empty clears it).
  // Takes effect for the scheduler once the caller upserts what Rederive returns.
  void SetNodeSettings(const std::string& node, NodeSettings settings);
  const NodeSettings* node_settings(const std::string& node) const;
  // GET /v1/nodes: every node that reports or has settings, with its reported
  // group and labels, what is assigned, and the result ("groups", "labels").
  nlohmann::json NodesJson(Clock::TimePoint now) const;

  const Registry& registry() const { return registry_; }
  // Takes effect for the scheduler once the caller upserts what Rederive returns.
  void SetRegistry(Registry registry);
  // Every device derived afresh under the current registry, with its up flag.
  std::vector<scheduler::DeviceInfo> Rederive();
  // Every device as it would be under `registry` (the what-if), with its up flag.
  std::vector<scheduler::DeviceInfo> DevicesUnder(const Registry& registry) const;
  // What the cluster has loaded, by type and kind (placement.h).
  Inventory inventory() const;
  // The live dashboard's "nodes" (docs/dashboard-api.md): figures rounded so
  // that unchanged ones stream nothing.
  nlohmann::json FleetJson(const scheduler::Scheduler& scheduler, Clock::TimePoint now) const;
  // Prometheus HTTP service discovery: every agent (down ones too), then the
  // server at `server_target` ("host:port"; none if empty).
  nlohmann::json SdTargets(const std::string& server_target) const;
  // What the scheduler extender needs of `nodes` (k8s/extender/extender.h):
  // each device as last reported, its work ahead and service times made live
  // from the scheduler. Names the view does not know are left out.
  k8s::ClusterSnapshot ExtenderSnapshot(const std::vector<std::string>& nodes,
                                        const scheduler::Scheduler& scheduler) const;

 private:
  struct Node {
    std::string url;
    Clock::TimePoint last_seen;
    bool up = false;
    std::vector<cluster::DeviceReport> devices;  // as last reported
    std::optional<std::map<std::string, cluster::TypeInfo>> model_info;
    std::string group;                          // as reported
    std::map<std::string, std::string> labels;  // as reported
    cluster::NodeStats stats;
    // Per device: (time, busy_seconds) of recent heartbeats, oldest first.
    std::map<std::string, std::deque<std::pair<Clock::TimePoint, double>>> busy;
  };

  // `groups`: the node's (GroupsOf), what requests' group hint restricts to.
  static scheduler::DeviceInfo DeviceFromReport(const std::string& node,
                                                const std::vector<std::string>& groups,
                                                const cluster::DeviceReport& d,
                                                const Registry& registry);
  // The reported group and the assigned ones, sorted, without repeats.
  std::vector<std::string> GroupsOf(const std::string& name, const std::string& reported) const;
  // The reported labels with the assigned ones over them.
  std::map<std::string, std::string> LabelsOf(const std::string& name, const Node& n) const;

  std::map<std::string, InferenceType> registry_;
  std::map<std::string, Node> nodes_;
  std::map<std::string, NodeSettings> assigned_;
  std::map<scheduler::DeviceKey, scheduler::DeviceInfo> devices_;
};

}  // namespace heteroaccel::server
