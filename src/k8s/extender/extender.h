// The server as a kube-scheduler extender (HTTP JSON webhook, the types of
// k8s.io/kube-scheduler/extender/v1): Filter drops the candidate nodes that
// cannot give the pod what it asks for, with a reason per node; Prioritize
// scores the rest 0..10 by the expected finish of the pod's work there.
//
// Pure logic: the caller parses the body (ParseExtenderArgs), takes a
// ClusterSnapshot of the live view for the candidate nodes (the server's
// Dispatcher builds it under its lock) and turns the typed answer into JSON
// (FilterResultJson, HostPriorityListJson). No I/O, no threads, no clock.
//
// What a pod asks for:
//   - resources: `heteroaccel.io/<kind>` (real devices; kind gpu, npu, fpga,
//     other; CPU is not advertised) or `heteroaccel.io/emulated-<kind>`, in
//     spec.containers[*].resources (requests, else limits) and initContainers:
//     per resource, max(sum over containers, max over init containers), as the
//     kubelet counts.
//   - annotation `heteroaccel.io/model`: "<type>" or "<type>/<variant>", the
//     model its devices must have loaded.
// A pod that requests no heteroaccel.io resource is not the extender's
// business (its work, if any, goes through the server, which routes it): every
// node passes and scores 0.
//
// Eligible device on a node: of a requested kind (emulated or not, as named),
// healthy, not handed to a pod by the kubelet (pod_assigned), with the
// annotated model loaded. Filter keeps a node when it has at least the
// requested count of eligible devices for every requested resource; otherwise
// the reason goes to FailedNodes when evicting a pod could free devices (some
// are pod-assigned), else to FailedAndUnresolvableNodes.
//
// Prioritize (see ExpectedFinishMs):
//   finish(device, model) = service_ms × (1 + floor(work_ahead / slots))
//   node measure = with the annotation: min over eligible devices of
//                  finish(device, annotated model);
//                  without: mean over eligible devices of the mean over the
//                  types the device has loaded of finish(device, type).
//   score = max(1, round(10 × best / measure)), best the smallest measure
//           among the candidates: the fastest node 10; 0 for a node without
//           an eligible device (or unknown to the server).
//
// Errors: a malformed body is InvalidArgument naming the field
// ("ExtenderArgs.Pod is missing"); the HTTP layer answers it 400 with
// {"Error": message} on both verbs (k8s_handlers.cc).
//
// Thread-safety: values and pure functions; safe from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/contract.h"
#include "common/device_kind.h"
#include "k8s/names.h"

namespace heteroaccel::k8s {

// --- Names --------------------------------------------------------------------
// Resource names and the model annotation are in k8s/names.h.

// The extender's routes on the server; the verbs are the last segment.
inline constexpr std::string_view kExtenderPrefix = "/k8s/extender";
inline constexpr std::string_view kFilterVerb = "filter";
inline constexpr std::string_view kPrioritizeVerb = "prioritize";

// --- The request -----------------------------------------------------------------

// The annotation's model: a type, and a variant when it names one.
struct ModelRequest {
  std::string type;
  std::string variant;  // "" = any variant of the type
  std::string ToString() const;
};
// InvalidArgument unless "<type>" or "<type>/<variant>", both non-empty.
absl::StatusOr<ModelRequest> ParseModelAnnotation(std::string_view value);

// ExtenderArgs with what the extender needs of the Pod.
struct ExtenderArgs {
  std::string pod;                              // "namespace/name", for messages
  std::map<ManagedResource, int64_t> requests;  // only ours, only counts > 0
  std::optional<ModelRequest> model;
  // The candidates in the order given. node_cache_capable: the scheduler sent
  // NodeNames (and expects NodeNames back); otherwise it sent Nodes, whose
  // items are kept as given to be echoed back.
  bool node_cache_capable = true;
  std::vector<std::string> node_names;
  nlohmann::json node_list;  // the NodeList as sent (!node_cache_capable)
};

// The body as sent; InvalidArgument naming the field for anything malformed
// (not JSON, Pod missing or not an object, a quantity that is not a whole
// number, NodeNames not strings, a Nodes item without metadata.name, a bad
// annotation).
absl::StatusOr<ExtenderArgs> ParseExtenderArgs(std::string_view body);

// --- The cluster, as the server sees it -------------------------------------------

struct DeviceSnapshot {
  std::string id;
  DeviceKind kind = DeviceKind::kOther;
  bool emulated = false;
  bool healthy = true;
  bool pod_assigned = false;
  int slots = 1;
  // Requests on the device or waiting for it: the larger of what the agent
  // last reported (running + queued) and what the server has in flight there.
  int work_ahead = 0;
  std::vector<cluster::VariantKey> models;  // loaded
  // Per loaded variant, the best estimate of one request's service time: the
  // server's live estimate for the variant it routes to, else the agent's
  // measured mean. A variant without a figure is absent.
  std::map<cluster::VariantKey, double> service_ms;
};

// A device as its agent last reported it: work_ahead = allocated + queued,
// service_ms the agent's measured means. The server then makes both live.
DeviceSnapshot DeviceSnapshotFromReport(const cluster::DeviceReport& report);

struct NodeSnapshot {
  bool up = false;  // heartbeats arriving
  std::vector<DeviceSnapshot> devices;
};

// Only the nodes asked for; a candidate absent here is unknown to the server.
struct ClusterSnapshot {
  std::map<std::string, NodeSnapshot> nodes;
};

// --- The answers -------------------------------------------------------------------

struct FilterResult {
  std::vector<std::string> passed;                         // in the order given
  std::map<std::string, std::string> failed;               // evicting could help
  std::map<std::string, std::string> failed_unresolvable;  // it could not
};

FilterResult Filter(const ExtenderArgs& args, const ClusterSnapshot& cluster);

struct HostPriority {
  std::string host;
  int64_t score = 0;  // 0..10
};
std::vector<HostPriority> Prioritize(const ExtenderArgs& args, const ClusterSnapshot& cluster);

// Service time assumed for a device with no figure for the model (the
// scheduler's own default, scheduler::Options::default_service).
inline constexpr double kDefaultServiceMs = 10;
// One request's expected finish on a device from now, in ms: service_ms ×
// (1 + floor(work_ahead / slots)), with the figure of the named variant, or
// for a type alone of the fastest variant of it the device has loaded.
// nullopt when the device has not loaded the model; kDefaultServiceMs stands
// in for a loaded model without a figure.
std::optional<double> ExpectedFinishMs(const DeviceSnapshot& device, const ModelRequest& model);

// ExtenderFilterResult: NodeNames or Nodes (the mode of `args`), FailedNodes,
// FailedAndUnresolvableNodes, Error "".
nlohmann::json FilterResultJson(const ExtenderArgs& args, const FilterResult& result);
// HostPriorityList: [{"Host", "Score"}].
nlohmann::json HostPriorityListJson(const std::vector<HostPriority>& priorities);
// The error answer's body for both verbs: {"Error": message}.
nlohmann::json ErrorJson(const absl::Status& status);

// A whole call, as the HTTP layer answers it: parse, snapshot the candidates
// (called only for a pod that asks for devices), answer. 200 with the verb's
// answer, 400 with ErrorJson for a malformed body, 404 for an unknown verb.
struct ExtenderAnswer {
  int status = 200;
  nlohmann::json body;
};
using SnapshotFn = std::function<ClusterSnapshot(const std::vector<std::string>& nodes)>;
ExtenderAnswer Answer(std::string_view verb, std::string_view body, const SnapshotFn& snapshot);

}  // namespace heteroaccel::k8s
