#include "node/node_facts.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>

#include "common/status_macros.h"
#include "node/internal/procfs.h"

namespace heteroaccel::node {
namespace {

namespace fs = std::filesystem;

std::string ReadOr(const fs::path& path, const char* fallback) {
  std::optional<std::string> value = internal::ReadTrimmed(path);
  return value.has_value() && !value->empty() ? *std::move(value) : std::string(fallback);
}

// The first os-release file that exists, as os-release(5) orders them.
std::string OsRelease(const fs::path& root) {
  for (const char* file : {"etc/os-release", "usr/lib/os-release"}) {
    absl::StatusOr<std::string> text = internal::ReadFileToString(root / file);
    if (text.ok()) return *std::move(text);
  }
  return "";
}

CpuFacts ReadCpu(const fs::path& root) {
  CpuFacts cpu;
  absl::StatusOr<std::string> text = internal::ReadFileToString(root / "proc/cpuinfo");
  const internal::CpuInfo info = text.ok() ? internal::ParseCpuInfo(*text) : internal::CpuInfo{};
  cpu.model = info.model;
  const internal::CpuTopology topology =
      internal::ReadCpuTopology(root / "sys/devices/system/cpu");
  if (topology.threads > 0) {
    cpu.sockets = topology.sockets;
    cpu.cores = topology.cores;
    cpu.threads = topology.threads;
  } else {
    cpu.sockets = info.sockets;
    cpu.cores = info.cores;
    cpu.threads = info.processors;
  }
  return cpu;
}

int CpuCount(const fs::path& root) {
  absl::StatusOr<std::string> stat = internal::ReadFileToString(root / "proc/stat");
  const int counted = stat.ok() ? internal::CountCpus(*stat) : 0;
  if (counted > 0) return counted;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

}  // namespace

absl::StatusOr<NodeFacts> ReadNodeFacts(const std::string& root) {
  const fs::path base(root);
  ASSIGN_OR_RETURN(const std::string meminfo_text,
                   internal::ReadFileToString(base / "proc/meminfo"));
  ASSIGN_OR_RETURN(const internal::MemInfo meminfo, internal::ParseMeminfo(meminfo_text));

  struct utsname uts = {};
  const bool have_uts = ::uname(&uts) == 0;
  NodeFacts facts;
  facts.hostname = ReadOr(base / "proc/sys/kernel/hostname", have_uts ? uts.nodename : "");
  facts.kernel_release = ReadOr(base / "proc/sys/kernel/osrelease", have_uts ? uts.release : "");
  facts.machine = ReadOr(base / "proc/sys/kernel/arch", have_uts ? uts.machine : "");
  const std::string os_release = OsRelease(base);
  facts.os_pretty_name = internal::ParseOsReleasePrettyName(os_release).value_or("Linux");
  facts.os_id = internal::ParseOsReleaseField(os_release, "ID").value_or("");
  facts.os_version_id = internal::ParseOsReleaseField(os_release, "VERSION_ID").value_or("");
  facts.memory_total_bytes = meminfo.total_bytes;
  facts.cpu_count = CpuCount(base);
  absl::StatusOr<std::string> uptime = internal::ReadFileToString(base / "proc/uptime");
  if (uptime.ok()) facts.uptime_seconds = internal::ParseUptime(*uptime).value_or(0);
  facts.cpu = ReadCpu(base);
  if (facts.cpu.threads == 0) facts.cpu.threads = facts.cpu_count;
  return facts;
}

}  // namespace heteroaccel::node
