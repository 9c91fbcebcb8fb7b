#include "devices/probe.h"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "devices/internal/absl_view.h"

namespace heteroaccel::devices {
namespace {

struct Found {
  Device device;
  size_t probe = 0;  // position of the probe that reported it
  bool dropped = false;
};

// Which report of one PCI address survives a merge: NVML knows the most about NVIDIA GPUs,
// OpenCL is what most backends open, and bus/PCI entries are placeholders.
int SourceRank(std::string_view source) {
  if (source == "nvml") return 0;
  if (source == "opencl") return 1;
  return 2;
}

bool Preferred(const Found& a, const Found& b) {
  const auto key = [](const Found& f) {
    return std::make_tuple(f.device.state != DeviceState::kReady, SourceRank(f.device.source),
                           f.probe);
  };
  return key(a) < key(b);
}

void MergeInto(Device& primary, const Device& other) {
  for (const auto& [key, value] : other.attributes) {
    if (!primary.HasAttribute(key)) primary.SetAttribute(key, value);
  }
}

// Folds devices that different probes reported at the same PCI address into one.
void MergeByPciBusId(std::vector<Found>& found) {
  std::map<std::string, std::vector<size_t>> by_bus_id;
  for (size_t i = 0; i < found.size(); ++i) {
    const std::string bus_id = found[i].device.Attribute("pci_bus_id");
    if (bus_id.empty()) continue;
    absl::StatusOr<std::string> canonical = NormalizePciBusId(bus_id);
    by_bus_id[canonical.ok() ? *canonical : bus_id].push_back(i);
  }
  for (const auto& [bus_id, members] : by_bus_id) {
    if (members.size() < 2) continue;
    size_t primary = members.front();
    for (size_t i : members) {
      if (Preferred(found[i], found[primary])) primary = i;
    }
    for (size_t i : members) {
      if (i == primary || found[i].probe == found[primary].probe) continue;
      MergeInto(found[primary].device, found[i].device);
      found[i].dropped = true;
    }
  }
}

void DropDuplicateIds(std::vector<Found>& found, std::vector<std::string>& warnings) {
  std::map<std::string, std::string> seen;  // id -> source of the kept device
  for (Found& f : found) {
    if (f.dropped) continue;
    const auto [it, inserted] = seen.emplace(f.device.id, f.device.source);
    if (!inserted) {
      warnings.push_back(absl::StrCat("device id \"", f.device.id, "\" reported by ",
                                      f.device.source, " was already reported by ", it->second,
                                      "; keeping the first"));
      f.dropped = true;
    }
  }
}

// Orders "cpu2" before "cpu10": runs of digits compare by value, the rest byte-wise.
bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(a[i])) &&
        absl::ascii_isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && absl::ascii_isdigit(static_cast<unsigned char>(a[i_end]))) ++i_end;
      while (j_end < b.size() && absl::ascii_isdigit(static_cast<unsigned char>(b[j_end]))) ++j_end;
      std::string_view x = a.substr(i, i_end - i), y = b.substr(j, j_end - j);
      x.remove_prefix(std::min(x.find_first_not_of('0'), x.size()));
      y.remove_prefix(std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i_end;
      j = j_end;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;  // equal by value ("cpu01" vs "cpu1"): fall back to bytes for a strict order
}

}  // namespace

ProbeReport ProbeWith(std::span<const std::unique_ptr<DeviceProbe>> probes) {
  ProbeReport report;
  std::vector<Found> found;
  for (size_t p = 0; p < probes.size(); ++p) {
    if (probes[p] == nullptr) continue;
    absl::StatusOr<std::vector<Device>> devices = probes[p]->Probe();
    if (!devices.ok()) {
      report.warnings.push_back(absl::StrCat(internal::AbslView(probes[p]->Name()),
                                             " probe: ", devices.status().ToString()));
      continue;
    }
    for (Device& device : *devices) found.push_back(Found{std::move(device), p});
  }
  MergeByPciBusId(found);
  DropDuplicateIds(found, report.warnings);
  for (Found& f : found) {
    if (!f.dropped) report.devices.push_back(std::move(f.device));
  }
  std::sort(report.devices.begin(), report.devices.end(), [](const Device& a, const Device& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return NaturalLess(a.id, b.id);
  });
  return report;
}

ProbeReport ProbeAll(const ProbeOptions& options) {
  std::vector<std::unique_ptr<DeviceProbe>> probes;
  probes.push_back(MakeHwlocCpuProbe());
  if (options.opencl) probes.push_back(MakeOpenClProbe());
  if (options.nvml) probes.push_back(MakeNvmlProbe(options.nvml_library));
  probes.push_back(MakeBusProbe(options.sysfs_root));
  probes.push_back(MakePciGpuProbe(options.sysfs_root));
  return ProbeWith(probes);
}

}  // namespace heteroaccel::devices
