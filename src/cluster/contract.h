// The agent<->server contract: what an agent reports in its heartbeat
// (POST /v1/cluster/heartbeat) and what the server answers. The agent builds a
// NodeReport and writes it with ToJson; the server reads it with
// ParseNodeReport, the one place heartbeat JSON is unpacked. Every field is
// checked there; a malformed report is InvalidArgument naming the field.
//
// Wire format (JSON object):
//   {"node": str, "url": str, "ready": bool,
//    "devices": [{"id": str, "kind": "cpu|gpu|npu|fpga|other", "name": str,
//                 "emulated": bool, "slots": int>=1, "warm": bool,
//                 "models": ["type/variant", ...],     // a type's first is its default
//                 "service_ms": {"type/variant": ms},   // measured mean per variant
//                 "queue_depth": int, "allocated": int,
//                 "busy_seconds": number,           // slot-seconds spent computing, since start
//                 "healthy"?: bool, "pod_assigned"?: bool,   // default true, false
//                 "numa_node"?: int}],
//    "group"?: str,                                 // the node group it belongs to
//    "labels"?: {key: value},                       // the node's labels (ValidateLabel)
//    "stats"?: {"cpu_utilisation": ratio, "memory_total_bytes": n,
//               "memory_available_bytes": n, "temperature_celsius": c},  // each optional
//    "model_info"?: {type: {"keypoint_names": [str], "skeleton": [[a, b]],
//                           "labels": [str],
//                           "variants": {variant: {"description", "precision",
//                                                  "accuracy": str, "opencl": bool}}}}}
// model_info is static: sent with the first heartbeat and whenever the server's
// reply asks for it ({"ok": true, "send_model_info": bool}).
//
// Value types; pure functions, thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/device_kind.h"

namespace heteroaccel::cluster {

// A model build of an inference type: "face/blazeface-front-128".
struct VariantKey {
  std::string type;
  std::string variant;

  std::string ToString() const;  // "type/variant"
  // InvalidArgument unless the text is "type/variant" with both parts non-empty.
  static absl::StatusOr<VariantKey> Parse(std::string_view text);
  friend auto operator<=>(const VariantKey&, const VariantKey&) = default;
};

struct DeviceReport {
  std::string id;
  DeviceKind kind = DeviceKind::kOther;
  std::string name;
  bool emulated = false;
  int slots = 1;
  bool warm = false;
  std::vector<VariantKey> models;  // loaded, in the agent's catalog order
  std::map<VariantKey, double> service_ms;
  int queue_depth = 0;
  int allocated = 0;
  // Seconds its slots spent computing since the agent started, summed over
  // slots: the busy ratio over an interval is its growth / (interval × slots).
  // Measured by the agent itself, since vendor utilisation figures are missing
  // or misleading for NPUs and FPGAs.
  double busy_seconds = 0;
  // False while the device cannot serve (lost, failed to load, or its slots
  // stopped); what the Kubernetes device plugin reports as Unhealthy.
  bool healthy = true;
  // The NUMA node the device is attached to; absent where unknown.
  std::optional<int> numa_node;
  // Handed to a pod by the kubelet through the agent's device plugin
  // (k8s/device_plugin.h); the scheduler extender counts the others as free.
  bool pod_assigned = false;
};

// The node's own figures; each is absent where the node cannot measure it.
struct NodeStats {
  std::optional<double> cpu_utilisation;  // ratio over the last interval, [0, 1]
  std::optional<double> memory_total_bytes;
  std::optional<double> memory_available_bytes;
  std::optional<double> temperature_celsius;  // hottest sensor
};

struct VariantInfo {
  std::string description;
  std::string precision;
  std::string accuracy;
  bool opencl = true;
};

// What clients need to read one inference type's outputs.
struct TypeInfo {
  std::vector<std::string> keypoint_names;
  std::vector<std::pair<int, int>> skeleton;
  std::vector<std::string> labels;
  std::map<std::string, VariantInfo> variants;
};

// Node groups and labels: what a node reports (agent config or flags) and what the
// server's admin API assigns (server/node_settings.h).
inline constexpr size_t kMaxLabels = 32;
inline constexpr size_t kMaxGroupsPerNode = 8;
// At most 63 of A-Za-z0-9._- ("" passes: no group); `what` names the field in the message.
absl::Status ValidateGroupName(std::string_view group, std::string_view what = "group");
// Key: 1 to 63 of A-Za-z0-9._/- starting with a letter or digit; value: at most 253
// printable ASCII characters.
absl::Status ValidateLabel(std::string_view key, std::string_view value);

struct NodeReport {
  std::string node;
  std::string url;  // how the server reaches the agent: "http://host:port"
  bool ready = false;
  std::string group;  // "" when the node belongs to no group
  std::map<std::string, std::string> labels;  // at most kMaxLabels
  std::vector<DeviceReport> devices;
  NodeStats stats;
  std::optional<std::map<std::string, TypeInfo>> model_info;
};

// Headers of the forwarded request path. The server names the device the
// request was bound to and what it knows of the request so far; the agent
// writes the last two into the answer's parameters (v2) or served_by (v1) as
// "server_queue_ms" and "attempts" (and "degraded_from" when the server ran a
// faster variant than the device's primary one under load), so the server
// never rewrites an answer,
// and reports the device's own compute time in a response header, which the
// server learns service times from.
inline constexpr std::string_view kDeviceHeader = "X-HeteroAccel-Device";
inline constexpr std::string_view kServerQueueMsHeader = "X-HeteroAccel-Server-Queue-Ms";
inline constexpr std::string_view kAttemptHeader = "X-HeteroAccel-Attempt";
inline constexpr std::string_view kDegradedFromHeader = "X-HeteroAccel-Degraded-From";
inline constexpr std::string_view kComputeMsHeader = "X-HeteroAccel-Compute-Ms";

struct HeartbeatReply {
  bool send_model_info = false;
};

nlohmann::json ToJson(const NodeReport& report);
nlohmann::json ToJson(const TypeInfo& info);
nlohmann::json ToJson(const VariantInfo& info);
absl::StatusOr<NodeReport> ParseNodeReport(const nlohmann::json& json);
// The body as sent; InvalidArgument for text that is not JSON.
absl::StatusOr<NodeReport> ParseNodeReportBody(std::string_view body);

nlohmann::json ToJson(const HeartbeatReply& reply);
// A reply that is not the expected object asks for the model info (safe default).
HeartbeatReply ParseHeartbeatReply(std::string_view body);

}  // namespace heteroaccel::cluster
