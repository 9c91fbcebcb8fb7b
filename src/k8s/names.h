// The names HeteroAccel uses in Kubernetes, in one place: the extended
// resources the agent's device plugin advertises, the scheduler extender
// manages and `heteroaccel k8s render` requests, and the pod annotations.
//
//   heteroaccel.io/<kind>            a real accelerator: gpu, npu, fpga, other
//   heteroaccel.io/emulated-<kind>   an emulated one, so that a real workload
//                                    never lands on it by mistake
// CPUs are not advertised: a pod asks for them with its cpu request.
//
// Pure functions and constants; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/device_kind.h"

namespace heteroaccel::k8s {

inline constexpr std::string_view kResourceDomain = "heteroaccel.io/";
inline constexpr std::string_view kEmulatedPrefix = "emulated-";
// Pod annotation: "<type>" or "<type>/<variant>", the model the pod serves.
inline constexpr std::string_view kModelAnnotation = "heteroaccel.io/model";
// Pod annotation written for topology-aware services.
inline constexpr std::string_view kNumaAlignmentAnnotation = "heteroaccel.io/numa-alignment";

// The kinds that get an extended resource, in a fixed order.
inline constexpr DeviceKind kAdvertisedKinds[] = {DeviceKind::kGpu, DeviceKind::kNpu,
                                                  DeviceKind::kFpga, DeviceKind::kOther};

// What an extended resource name stands for.
struct ManagedResource {
  DeviceKind kind = DeviceKind::kOther;
  bool emulated = false;
  friend auto operator<=>(const ManagedResource&, const ManagedResource&) = default;
};

// "gpu", "emulated-npu": the part after the domain.
std::string ResourceSuffix(DeviceKind kind, bool emulated);
// "heteroaccel.io/gpu", "heteroaccel.io/emulated-npu"; nullopt for CPU.
std::optional<std::string> ResourceName(DeviceKind kind, bool emulated);
// The inverse; nullopt for a name that is not one of ours.
std::optional<ManagedResource> ParseResourceName(std::string_view name);
// Every name ResourceName gives, sorted: what the scheduler configuration's
// managedResources lists.
std::vector<std::string> ManagedResourceNames();

}  // namespace heteroaccel::k8s
