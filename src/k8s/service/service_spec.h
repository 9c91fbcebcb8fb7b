// ServiceSpec: a HeteroAccel service definition (the GS-Engine's "service that
// asks for acceleration") and its rendering into Kubernetes manifests, the core
// of `heteroaccel k8s render`.
//
//   ParseServiceSpec(yaml)  one parser for the format: YAML text -> a validated
//                           ServiceSpec, or InvalidArgument naming the field
//                           ("acceleration.compute[0]: ...") and what is allowed.
//   Render(spec)            ServiceSpec -> multi-document YAML: a Deployment and,
//                           when the service has ports, a Service. Deterministic
//                           (same spec, same bytes), so it is golden-file tested.
//
// What a spec turns into (docs/kubernetes.md has the worked example):
//   - acceleration.compute [{gpu: 1}] -> limits and requests `heteroaccel.io/gpu: 1`
//     (`heteroaccel.io/emulated-gpu` for `emulated-gpu`, or every kind when
//     `acceleration.emulated: true`); kinds are case-insensitive; cpu is not an
//     extended resource (it is resources.cpu).
//   - topologyAware -> Guaranteed QoS (cpu/memory limits == requests, whole CPUs)
//     and the pod annotation `heteroaccel.io/numa-alignment: single-numa-node`;
//     the alignment itself needs the kubelet's Topology Manager policy
//     single-numa-node (and the static CPU manager).
//   - communication sriov -> Multus annotation `k8s.v1.cni.cncf.io/networks:
//     <network>` (default network "sriov-net"), plus `<sriovResource>: 1` in
//     limits/requests only when the spec names sriovResource.
//   - model -> pod annotation `heteroaccel.io/model: <type>[/<variant>]`, which
//     the scheduler extender reads.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/device_kind.h"
#include "k8s/names.h"

namespace heteroaccel::k8s {

// Bounds on what a spec may ask for.
inline constexpr size_t kMaxSpecBytes = 1 << 20;
inline constexpr int kMaxDevicesPerPod = 16;
inline constexpr int kMaxReplicas = 1000;
inline constexpr size_t kMaxPorts = 64;
inline constexpr size_t kMaxEnv = 256;

// The extended resource a service asks for: `heteroaccel.io/<kind>` or,
// emulated, `heteroaccel.io/emulated-<kind>`. kind is never kCpu.
struct ComputeRequest {
  DeviceKind kind = DeviceKind::kGpu;
  bool emulated = false;
  int count = 1;
};
// "heteroaccel.io/gpu", "heteroaccel.io/emulated-npu", ...
std::string ResourceName(const ComputeRequest& request);

enum class Communication { kNone, kSriov };

struct Port {
  std::string name;         // IANA service name; may be empty with a single port
  int port = 0;             // containerPort (GS-Engine: containerPort)
  int service_port = 0;     // the Service's port (GS-Engine: externalPort); default port
  std::string protocol;     // TCP, UDP or SCTP
};

struct ServiceSpec {
  std::string name;                   // DNS-1035 label (the Service's name rule)
  std::string namespace_name;         // empty: the namespace kubectl applies to
  std::string image;
  int replicas = 1;
  std::vector<Port> ports;
  std::string cpu;                    // a Kubernetes quantity, or empty
  std::string memory;                 // a Kubernetes quantity, or empty
  std::vector<ComputeRequest> compute;  // in the spec's order, kinds distinct
  bool topology_aware = false;
  Communication communication = Communication::kNone;
  std::string network;                // NetworkAttachmentDefinition ([ns/]name), sriov only
  std::string sriov_resource;         // e.g. intel.com/intel_sriov_netdevice; may be empty
  std::string model;                  // "<type>[/<variant>]", or empty
  std::vector<std::pair<std::string, std::string>> env;  // in the spec's order
};

// Parses and validates a service definition. Every error is InvalidArgument
// and starts with the field's path. Never throws.
absl::StatusOr<ServiceSpec> ParseServiceSpec(std::string_view yaml);

// The manifests for a valid spec (one that ParseServiceSpec returned).
std::string Render(const ServiceSpec& spec);

// A Kubernetes resource quantity ("500m", "2", "4Gi", "1e3") in its base unit
// (cores, bytes); InvalidArgument for anything Kubernetes would reject.
absl::StatusOr<double> ParseQuantity(std::string_view text);

}  // namespace heteroaccel::k8s
