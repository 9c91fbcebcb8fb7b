// DevicePlugin: the agent as a kubelet device plugin (API v1beta1).
//
// One extended resource per accelerator kind the node has: "heteroaccel.io/<kind>"
// for real devices and "heteroaccel.io/emulated-<kind>" for emulated ones (so a
// workload asking for a real GPU never lands on an emulated one). CPUs are not
// advertised. Each resource gets its own gRPC server on its own Unix socket in
// the plugin directory ("heteroaccel-gpu.sock", "heteroaccel-emulated-gpu.sock")
// and its own Register call on the kubelet's socket, made only once that
// socket serves.
//
// Lifecycle, run by one background thread:
//  1. Start() refuses a socket a live plugin already answers on (a second agent),
//     removes a stale one (nobody answering), serves every socket, then returns.
//  2. The thread registers each resource with kubelet.sock, retrying every
//     `retry_interval` while the kubelet is absent or refuses.
//  3. Every `watch_interval` it stats the directory: a deleted plugin socket is
//     served again and re-registered; a kubelet.sock that is new (another
//     inode: the kubelet restarted) re-registers every resource. So a restart
//     is noticed within watch_interval (100 ms by default).
//  4. Every `poll_interval`, or at once on Refresh(), it reads the device
//     source; when a resource's list changes (health, NUMA node, devices), each
//     open ListAndWatch stream of that resource sends the whole list.
//  5. A ListAndWatch stream that ends while it is the resource's current one
//     (opened after the latest Register) makes it register again, since the
//     kubelet never reopens a stream by itself.
// The set of resources is fixed by the device list Start() sees; devices of a
// kind that appears later are ignored (logged once).
//
// Allocate answers one response per container request, in order: env
// HETEROACCEL_DEVICES=<ids> and HETEROACCEL_<RESOURCE>_DEVICES=<ids> (RESOURCE
// like GPU or EMULATED_GPU), a DeviceSpec for each device node that exists, and
// the CDI name of a real device that has one. Unknown IDs are INVALID_ARGUMENT,
// unhealthy ones FAILED_PRECONDITION; nothing is allocated then.
//
// AssignedIds (the agent's heartbeat reports them as taken) follows the
// kubelet's PodResources API (v1, podresources.proto) when it answers: a second
// thread calls List every `pod_resources_interval` (each call bounded by
// `pod_resources_timeout`) on `pod_resources_socket`, by default
// <plugin_dir>/../pod-resources/kubelet.sock. After a successful List the set
// is exactly the IDs listed for our resource names, plus those allocated since
// the previous List call started: the kubelet lists a device once Allocate has
// returned, so an allocation is trusted until a List that began at least one
// interval after it leaves it out. A device whose pod ended is thus freed
// within two intervals (plus call time), and a device the kubelet lists that
// this process never allocated (the agent restarted) is assigned too. While
// the socket is absent or List fails, the set only grows with Allocate calls
// and keeps what the last successful List left; this is logged at warn level
// once per outage, and at info level when List answers again.
//
// Ownership: the plugin owns its servers, sockets and threads; the device source
// is called from the plugin's thread and must stay valid until Stop().
// Thread-safe: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/device_kind.h"
#include "k8s/names.h"

namespace heteroaccel::k8s {

inline constexpr char kDevicePluginVersion[] = "v1beta1";
inline constexpr char kKubeletSocket[] = "kubelet.sock";
// The PodResources socket, relative to the kubelet's root directory.
inline constexpr char kPodResourcesSocket[] = "pod-resources/kubelet.sock";
inline constexpr char kDefaultDevicePluginDir[] = "/var/lib/kubelet/device-plugins";
inline constexpr char kHealthy[] = "Healthy";
inline constexpr char kUnhealthy[] = "Unhealthy";

// One device as the plugin advertises it.
struct PluginDevice {
  std::string id;  // unique on the node; the kubelet allows 63 characters
  DeviceKind kind = DeviceKind::kOther;
  bool emulated = false;
  bool healthy = true;
  std::optional<int> numa_node;           // topology hint; absent where unknown
  std::vector<std::string> device_nodes;  // host paths, e.g. /dev/dri/renderD128
  std::string cdi_name;                   // "vendor.com/class=name", "" = none

  friend bool operator==(const PluginDevice&, const PluginDevice&) = default;
};

// The resource names are k8s/names.h's ("heteroaccel.io/gpu", "heteroaccel.io/emulated-npu").
// The socket file name for a resource: "heteroaccel-gpu.sock", ...
std::string SocketName(DeviceKind kind, bool emulated);

// The preferred allocation for one container request (GetPreferredAllocation):
// exactly `size` IDs from `available`, every one of `must_include` among them,
// the rest taken from one NUMA node where one can hold them (the must-include
// devices' node first, then the node with the fewest free devices that fits).
// `devices` gives the NUMA nodes. InvalidArgument when it cannot be done.
absl::StatusOr<std::vector<std::string>> PreferredAllocation(
    const std::vector<PluginDevice>& devices, const std::vector<std::string>& available,
    const std::vector<std::string>& must_include, int size);

struct DevicePluginOptions {
  std::string plugin_dir = kDefaultDevicePluginDir;
  // The node's devices, called from the plugin's thread; CPUs are skipped.
  std::function<std::vector<PluginDevice>()> devices;
  std::chrono::milliseconds poll_interval{1000};    // device health poll
  std::chrono::milliseconds watch_interval{100};    // socket directory poll
  std::chrono::milliseconds retry_interval{500};    // between failed Register calls
  std::chrono::milliseconds register_timeout{5000};  // one Register call
  std::string kubelet_socket = kKubeletSocket;      // file name in plugin_dir
  // The kubelet's PodResources socket (a path); "" = the default,
  // <plugin_dir>/../pod-resources/kubelet.sock.
  std::string pod_resources_socket;
  std::chrono::milliseconds pod_resources_interval{5000};  // between List calls
  std::chrono::milliseconds pod_resources_timeout{2000};   // one List call
};

class DevicePlugin {
 public:
  // InvalidArgument when the directory or device source is missing.
  static absl::StatusOr<std::unique_ptr<DevicePlugin>> Create(DevicePluginOptions options);
  ~DevicePlugin();  // Stop()

  // Serves every resource's socket and starts the background thread (which
  // registers). FailedPrecondition when a live plugin answers on one of our
  // sockets; Unavailable when a socket cannot be served. Call once.
  [[nodiscard]] absl::Status Start();
  // Stops the thread and the servers and removes our sockets. Idempotent.
  void Stop();
  // Reads the device source now and pushes any change to the open streams.
  void Refresh();

  // Device IDs held by containers: the kubelet's PodResources list plus recent
  // allocations, or every allocation while that list is unavailable.
  std::set<std::string> AssignedIds() const;
  bool IsAssigned(const std::string& id) const;
  // Resource names served, e.g. {"heteroaccel.io/emulated-gpu"}.
  std::vector<std::string> Resources() const;
  // Successful Register calls so far, over every resource.
  int registrations() const;

  class Impl;

 private:
  explicit DevicePlugin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace heteroaccel::k8s
