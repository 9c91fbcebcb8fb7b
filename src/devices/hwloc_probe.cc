// The node's CPUs as one schedulable device, read through hwloc.
//
// hwloc restricts the topology to the cgroup's allowed CPUs and memory by default, so in a
// container the counts describe what this process may use, not the whole host.

#include <hwloc.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "devices/probe.h"

namespace heteroaccel::devices {
namespace {

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

absl::StatusOr<TopologyPtr> LoadTopology() {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    return absl::InternalError("hwloc_topology_init failed (out of memory?)");
  }
  TopologyPtr topology(raw);
  if (hwloc_topology_load(topology.get()) != 0) {
    return absl::InternalError(
        "hwloc_topology_load failed; check that /sys and /proc are mounted and readable");
  }
  return topology;
}

int Count(hwloc_topology_t topology, hwloc_obj_type_t type) {
  const int n = hwloc_get_nbobjs_by_type(topology, type);
  return n < 0 ? 0 : n;
}

// The first non-empty value of info `key` on a package, else on the root object.
std::string PackageInfo(hwloc_topology_t topology, const char* key) {
  for (hwloc_obj_t package = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_PACKAGE, nullptr);
       package != nullptr;
       package = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_PACKAGE, package)) {
    if (const char* value = hwloc_obj_get_info_by_name(package, key); value && *value) {
      return value;
    }
  }
  const char* value = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topology), key);
  return value ? value : "";
}

std::string CpusetList(hwloc_const_bitmap_t cpuset) {
  char* text = nullptr;
  if (cpuset == nullptr || hwloc_bitmap_list_asprintf(&text, cpuset) < 0) return "";
  std::string result(text);
  std::free(text);
  return result;
}

void AddNumaAttributes(hwloc_topology_t topology, Device& device) {
  for (hwloc_obj_t node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, nullptr);
       node != nullptr; node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, node)) {
    const std::string prefix = absl::StrCat("numa", node->os_index);
    device.SetAttribute(absl::StrCat(prefix, "_cpuset"), CpusetList(node->cpuset));
    if (node->attr != nullptr) {
      device.SetAttribute(absl::StrCat(prefix, "_memory_bytes"),
                          absl::StrCat(node->attr->numanode.local_memory));
    }
  }
}

class HwlocCpuProbe final : public DeviceProbe {
 public:
  [[nodiscard]] std::string_view Name() const override { return "hwloc"; }

  absl::StatusOr<std::vector<Device>> Probe() override {
    absl::StatusOr<TopologyPtr> loaded = LoadTopology();
    if (!loaded.ok()) return loaded.status();
    hwloc_topology_t topology = loaded->get();

    const int pus = Count(topology, HWLOC_OBJ_PU);
    // Some platforms expose no Core objects; each PU is then its own core.
    const int cores = Count(topology, HWLOC_OBJ_CORE) > 0 ? Count(topology, HWLOC_OBJ_CORE) : pus;
    const int packages = Count(topology, HWLOC_OBJ_PACKAGE);
    const int numa_nodes = Count(topology, HWLOC_OBJ_NUMANODE);

    Device device;
    device.id = "cpu0";
    device.kind = DeviceKind::kCpu;
    // Some hypervisors pad the model string with blanks.
    device.name = std::string(absl::StripAsciiWhitespace(PackageInfo(topology, "CPUModel")));
    if (device.name.empty()) device.name = "CPU";
    device.vendor = PackageInfo(topology, "CPUVendor");
    device.source = "hwloc";
    device.SetAttribute("packages", absl::StrCat(packages > 0 ? packages : 1));
    device.SetAttribute("numa_nodes", absl::StrCat(numa_nodes > 0 ? numa_nodes : 1));
    device.SetAttribute("cores", absl::StrCat(cores));
    device.SetAttribute("pus", absl::StrCat(pus));
    device.SetAttribute("memory_bytes", absl::StrCat(hwloc_get_root_obj(topology)->total_memory));
    device.SetAttribute("cpuset", CpusetList(hwloc_topology_get_topology_cpuset(topology)));
    AddNumaAttributes(topology, device);
    return std::vector<Device>{std::move(device)};
  }
};

}  // namespace

std::unique_ptr<DeviceProbe> MakeHwlocCpuProbe() { return std::make_unique<HwlocCpuProbe>(); }

}  // namespace heteroaccel::devices
