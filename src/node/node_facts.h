// NodeFacts: what this node is (host, OS, kernel, uptime, CPU model and
// topology, memory size).
//
// Read at start-up for registration and the dashboard, and again for each
// fleet "facts" action (uptime changes). Files are read under a configurable
// root so tests use fake trees; fields with no file there fall back to
// uname(2) of the running host. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace heteroaccel::node {

struct CpuFacts {
  std::string model;  // "model name" / "Model" / "Hardware" of <root>/proc/cpuinfo, "" if none
  // From <root>/sys/devices/system/cpu/cpuN/topology, else the "physical id" /
  // "core id" lines of cpuinfo; 0 when neither says (e.g. arm64 cpuinfo).
  int sockets = 0;
  int cores = 0;    // physical cores
  int threads = 0;  // hardware threads (logical CPUs)
};

struct NodeFacts {
  std::string hostname;            // <root>/proc/sys/kernel/hostname, else uname
  std::string os_pretty_name;      // PRETTY_NAME of <root>/etc/os-release (or usr/lib/os-release)
  std::string os_id;               // ID= of the same file ("debian", "raspbian"), "" if none
  std::string os_version_id;       // VERSION_ID= ("12"), "" if none
  std::string kernel_release;      // <root>/proc/sys/kernel/osrelease, else uname
  std::string machine;             // <root>/proc/sys/kernel/arch, else uname ("x86_64", "aarch64")
  int64_t memory_total_bytes = 0;  // MemTotal of <root>/proc/meminfo
  int cpu_count = 0;               // cpuN lines of <root>/proc/stat, else online CPUs
  double uptime_seconds = 0;       // <root>/proc/uptime; 0 when unreadable
  CpuFacts cpu;
};

// Fails only on <root>/proc/meminfo: kNotFound (or the errno's code) when it
// cannot be read, kInternal when it has no MemTotal. os_pretty_name is "Linux"
// without an os-release file, as os-release(5) specifies.
absl::StatusOr<NodeFacts> ReadNodeFacts(const std::string& root = "/");

}  // namespace heteroaccel::node
