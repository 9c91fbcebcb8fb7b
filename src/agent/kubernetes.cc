#include "agent/kubernetes.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/context.h"

namespace heteroaccel::agent {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(path.c_str()); d != nullptr) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<int> ParseInt(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

// True when a CDI spec in `dirs` declares devices of `kind` ("nvidia.com/gpu").
bool CdiKindExists(const std::vector<std::string>& dirs, const std::string& kind) {
  for (const std::string& dir : dirs) {
    for (const std::string& name : ListDir(dir)) {
      if (!absl::EndsWith(name, ".yaml") && !absl::EndsWith(name, ".json")) continue;
      std::ifstream in(dir + "/" + name);
      std::string head(64 << 10, '\0');  // the kind is declared at the top
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<size_t>(in.gcount()));
      if (absl::StrContains(head, kind)) return true;
    }
  }
  return false;
}

}  // namespace

void AnnotateForKubernetes(std::vector<runtime::RuntimeDevice>& devices,
                           const std::string& sysfs_root, const std::string& dev_root,
                           const std::vector<std::string>& cdi_dirs) {
  std::optional<bool> nvidia_cdi;  // looked up once, when an NVIDIA GPU is there
  for (runtime::RuntimeDevice& r : devices) {
    devices::Device& d = r.device;
    if (d.emulated || d.kind == devices::DeviceKind::kCpu) continue;
    std::vector<std::string> nodes;
    const std::string bus = d.Attribute("pci_bus_id");
    if (!bus.empty() && !d.HasAttribute("numa_node")) {
      std::ifstream in(absl::StrCat(sysfs_root, "/bus/pci/devices/", bus, "/numa_node"));
      int numa = -1;
      if (in >> numa && numa >= 0) d.SetAttribute("numa_node", absl::StrCat(numa));
    }
    if (!bus.empty()) {
      for (const std::string& name : ListDir(absl::StrCat(sysfs_root, "/bus/pci/devices/", bus, "/drm"))) {
        if (absl::StartsWith(name, "renderD") || absl::StartsWith(name, "card")) {
          nodes.push_back(absl::StrCat(dev_root, "/dri/", name));
        }
      }
    }
    if (const std::string index = d.Attribute("nvml_index"); !index.empty()) {
      nodes.push_back(absl::StrCat(dev_root, "/nvidia", index));
      nodes.push_back(absl::StrCat(dev_root, "/nvidiactl"));
      nodes.push_back(absl::StrCat(dev_root, "/nvidia-uvm"));
      if (!nvidia_cdi.has_value()) nvidia_cdi = CdiKindExists(cdi_dirs, "nvidia.com/gpu");
      if (*nvidia_cdi && d.HasAttribute("uuid")) {
        d.SetAttribute("cdi_name", absl::StrCat("nvidia.com/gpu=", d.Attribute("uuid")));
      }
    }
    std::vector<std::string> present;
    for (const std::string& n : nodes) {
      if (Exists(n)) present.push_back(n);
    }
    if (!present.empty()) d.SetAttribute("device_nodes", absl::StrJoin(present, ","));
  }
}

bool DeviceHealthy(const runtime::DeviceState& state) {
  if (state.slots.empty() || !state.warm || state.variants.empty()) return false;
  // Unhealthy while every slot keeps failing; one success makes it healthy.
  return std::any_of(state.slots.begin(), state.slots.end(), [](const runtime::SlotState& s) {
    return s.failure_streak < kUnhealthyFailureStreak;
  });
}

std::optional<int> NumaNode(const devices::Device& device) {
  std::optional<int> numa = ParseInt(device.Attribute("numa_node"));
  if (numa.has_value() && *numa < 0) return std::nullopt;
  return numa;
}

std::vector<k8s::PluginDevice> PluginDevices(const std::vector<runtime::DeviceState>& snapshot) {
  std::vector<k8s::PluginDevice> out;
  for (const runtime::DeviceState& s : snapshot) {
    const devices::Device& d = s.device.device;
    if (d.kind == devices::DeviceKind::kCpu) continue;
    k8s::PluginDevice p;
    p.id = d.id;
    p.kind = d.kind;
    p.emulated = d.emulated;
    p.healthy = DeviceHealthy(s);
    p.numa_node = NumaNode(d);
    if (const std::string nodes = d.Attribute("device_nodes"); !nodes.empty()) {
      p.device_nodes = absl::StrSplit(nodes, ',', absl::SkipEmpty());
    }
    p.cdi_name = d.Attribute("cdi_name");
    out.push_back(std::move(p));
  }
  return out;
}

void FillKubernetesFields(const AgentContext& context, const runtime::DeviceState& state,
                          cluster::DeviceReport& report) {
  report.healthy = DeviceHealthy(state);
  report.numa_node = NumaNode(state.device.device);
  report.pod_assigned =
      context.device_plugin != nullptr && context.device_plugin->IsAssigned(state.device.device.id);
}

}  // namespace heteroaccel::agent
