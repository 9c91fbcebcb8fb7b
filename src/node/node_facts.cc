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

std::string OsPrettyName(const fs::path& root) {
  for (const char* file : {"etc/os-release", "usr/lib/os-release"}) {
    absl::StatusOr<std::string> text = internal::ReadFileToString(root / file);
    if (!text.ok()) continue;
    if (std::optional<std::string> name = internal::ParseOsReleasePrettyName(*text)) {
      return *std::move(name);
    }
  }
  return "Linux";
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
  facts.os_pretty_name = OsPrettyName(base);
  facts.memory_total_bytes = meminfo.total_bytes;
  facts.cpu_count = CpuCount(base);
  return facts;
}

}  // namespace heteroaccel::node
