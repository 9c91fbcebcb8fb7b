// Readers and parsers for the procfs and sysfs files the node component uses.
//
// Parsers take file text and are pure; readers take paths. All thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "node/node_collector.h"

namespace heteroaccel::node::internal {

// The whole file; kNotFound when absent, otherwise the code of the errno.
absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path);

// The file with surrounding whitespace removed, or nullopt if it cannot be read.
std::optional<std::string> ReadTrimmed(const std::filesystem::path& path);

// Aggregate jiffies from the "cpu" line of /proc/stat. `idle` includes iowait;
// `total` excludes guest time, which the kernel already counts in user/nice.
struct CpuTimes {
  uint64_t total = 0;
  uint64_t idle = 0;
};
absl::StatusOr<CpuTimes> ParseProcStat(absl::string_view text);

// Busy share of the interval between two readings, clamped to 0..1; nullopt
// when no time passed (or the counters went back).
std::optional<double> CpuUtilisation(const CpuTimes& previous, const CpuTimes& current);

// Number of "cpuN" lines in /proc/stat (online CPUs).
int CountCpus(absl::string_view proc_stat);

struct MemInfo {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
};
// MemTotal is required. MemAvailable falls back to MemFree + Buffers + Cached
// on kernels that predate it.
absl::StatusOr<MemInfo> ParseMeminfo(absl::string_view text);

// Interfaces in file order, without "lo".
absl::StatusOr<std::vector<Interface>> ParseNetDev(absl::string_view text);

// PRETTY_NAME (else NAME) of an os-release file, unquoted; nullopt if neither.
std::optional<std::string> ParseOsReleasePrettyName(absl::string_view text);

// The value of `key` in an os-release file, unquoted; nullopt when absent.
std::optional<std::string> ParseOsReleaseField(absl::string_view text, absl::string_view key);

// Seconds since boot: the first field of /proc/uptime.
std::optional<double> ParseUptime(absl::string_view text);

// What /proc/cpuinfo says about the processor. `model` is "model name" (x86,
// most arm64 kernels since 6.x), else "Model" (Raspberry Pi), else
// "Hardware"; `processors` counts "processor" entries. The topology fields
// come from "physical id" / "core id", 0 where the file has none (arm64).
struct CpuInfo {
  std::string model;
  int processors = 0;
  int sockets = 0;
  int cores = 0;
};
CpuInfo ParseCpuInfo(absl::string_view text);

// Sockets, physical cores and hardware threads from
// <cpu_dir>/cpuN/topology/{physical_package_id,core_id}; all 0 when no CPU
// there has a topology directory.
struct CpuTopology {
  int sockets = 0;
  int cores = 0;
  int threads = 0;
};
CpuTopology ReadCpuTopology(const std::filesystem::path& cpu_dir);

// Temperatures from <sys>/class/hwmon/hwmon*/temp*_input and
// <sys>/class/thermal/thermal_zone*/temp, sorted by (chip, sensor). Missing
// directories and unreadable sensors are skipped. A chip name shared by several
// hwmon devices gets the device's directory appended ("nvme_hwmon2"), and a
// repeated label within a chip falls back to "tempN", so series stay distinct.
std::vector<Temperature> ReadTemperatures(const std::filesystem::path& sys_root);

}  // namespace heteroaccel::node::internal
