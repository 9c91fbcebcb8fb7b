#include "k8s/names.h"

#include <algorithm>

namespace heteroaccel::k8s {

std::string ResourceSuffix(DeviceKind kind, bool emulated) {
  return (emulated ? std::string(kEmulatedPrefix) : std::string()) + std::string(KindName(kind));
}

std::optional<std::string> ResourceName(DeviceKind kind, bool emulated) {
  if (kind == DeviceKind::kCpu) return std::nullopt;
  return std::string(kResourceDomain) + ResourceSuffix(kind, emulated);
}

std::optional<ManagedResource> ParseResourceName(std::string_view name) {
  if (name.substr(0, kResourceDomain.size()) != kResourceDomain) return std::nullopt;
  name.remove_prefix(kResourceDomain.size());
  ManagedResource r;
  if (name.substr(0, kEmulatedPrefix.size()) == kEmulatedPrefix) {
    r.emulated = true;
    name.remove_prefix(kEmulatedPrefix.size());
  }
  for (DeviceKind kind : kAdvertisedKinds) {
    if (KindName(kind) == name) {
      r.kind = kind;
      return r;
    }
  }
  return std::nullopt;
}

std::vector<std::string> ManagedResourceNames() {
  std::vector<std::string> names;
  for (DeviceKind kind : kAdvertisedKinds) {
    for (bool emulated : {false, true}) names.push_back(*ResourceName(kind, emulated));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace heteroaccel::k8s
