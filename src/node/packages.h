// Package actions on a Debian-family node: apt update, the list of upgradable
// packages, and upgrade (all, or named packages), as fixed argument vectors run
// without a shell.
//
// Nothing from a request reaches the command line except package names, which
// must match Debian's package-name grammar (Debian Policy 5.6.1:
// [a-z0-9][a-z0-9+.-]+), so a name can never be read as an option or by a
// shell. Upgrades are simulations (apt-get --simulate) unless the caller asks
// for a real run; update is not run at all in a dry run, because apt has no
// simulated update.
//
// CommandRunner is the seam in front of process creation: SpawnRunner runs the
// argv with posix_spawn(3), stdin from /dev/null, stdout and stderr captured
// together and bounded, a fixed environment, and a time limit after which the
// process group is killed. Tests substitute a fake. Pure functions and
// SpawnRunner are thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace heteroaccel::node {

inline constexpr size_t kMaxPackageNames = 64;
inline constexpr size_t kMaxPackageNameLength = 128;

// InvalidArgument saying what a package name may contain.
absl::Status ValidatePackageName(std::string_view name);

enum class PackageOp { kUpdate, kListUpgradable, kUpgrade };
// "update", "list" ("list-upgradable"), "upgrade"; InvalidArgument naming these.
absl::StatusOr<PackageOp> ParsePackageOp(std::string_view op);
std::string_view PackageOpName(PackageOp op);

struct PackageRequest {
  PackageOp op = PackageOp::kListUpgradable;
  std::vector<std::string> packages;  // upgrade only; empty = everything upgradable
  bool dry_run = true;
};

// Names valid, at most kMaxPackageNames, and packages only with upgrade.
absl::Status ValidatePackageRequest(const PackageRequest& request);

// The argv for a valid request, or empty for a dry-run update (nothing runs).
std::vector<std::string> AptArgv(const PackageRequest& request,
                                 const std::string& apt_get = "/usr/bin/apt-get");

// The "Inst NAME [OLD] (NEW ...)" lines of apt-get's simulation output.
struct Upgradable {
  std::string name;
  std::string from;  // "" for a package new to the node
  std::string to;
};
std::vector<Upgradable> ParseSimulatedUpgrade(std::string_view output);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string output;         // stdout and stderr interleaved, bounded (see truncated)
  bool truncated = false;     // output is the head and tail of what was written
  int64_t output_bytes = 0;   // everything written
  double seconds = 0;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv[0] (an absolute path) with argv; kills it (its process group)
  // after `timeout`. `max_output` bounds CommandResult::output. Errors only
  // when it cannot start (the errno's code, naming the program).
  virtual absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                            std::chrono::milliseconds timeout,
                                            size_t max_output) = 0;
};

// posix_spawn with env PATH=/usr/sbin:/usr/bin:/sbin:/bin, LC_ALL=C,
// DEBIAN_FRONTEND=noninteractive, and nothing else of the agent's.
class SpawnRunner final : public CommandRunner {
 public:
  absl::StatusOr<CommandResult> Run(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout,
                                    size_t max_output) override;
};

}  // namespace heteroaccel::node
