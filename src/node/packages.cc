#include "node/packages.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace heteroaccel::node {
namespace {

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view AV(std::string_view text) { return absl::string_view(text.data(), text.size()); }

constexpr char kNameRule[] =
    "a package name is 2 to 128 of a-z, 0-9, '+', '-' and '.', starting with a letter or digit "
    "(Debian Policy 5.6.1)";

bool NameChar(char c) {
  return absl::ascii_islower(static_cast<unsigned char>(c)) ||
         absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

// Keeps the first and the last `max_output / 2` bytes of what a process writes.
class BoundedOutput {
 public:
  explicit BoundedOutput(size_t max_output) : half_(max_output / 2) {}

  void Append(std::string_view bytes) {
    total_ += static_cast<int64_t>(bytes.size());
    const size_t to_head = std::min(bytes.size(), half_ - std::min(half_, head_.size()));
    head_.append(bytes.substr(0, to_head));
    bytes.remove_prefix(to_head);
    if (bytes.empty()) return;
    tail_.append(bytes);
    if (tail_.size() > 2 * half_ + 4096) tail_.erase(0, tail_.size() - half_);
  }

  void Finish(CommandResult& result) {
    if (tail_.size() > half_) tail_.erase(0, tail_.size() - half_);
    result.output_bytes = total_;
    // Counted, not inferred from the tail's length: Append may already have cut
    // the tail to exactly half.
    const int64_t omitted = total_ - static_cast<int64_t>(head_.size() + tail_.size());
    result.truncated = omitted > 0;
    if (result.truncated) {
      result.output = absl::StrCat(head_, "\n[... ", omitted, " bytes omitted ...]\n", tail_);
    } else {
      result.output = head_ + tail_;
    }
  }

 private:
  const size_t half_;
  std::string head_, tail_;
  int64_t total_ = 0;
};

absl::Status ErrnoStatus(int error, std::string_view what) {
  const absl::StatusCode code = error == ENOENT   ? absl::StatusCode::kNotFound
                                : error == EACCES ? absl::StatusCode::kPermissionDenied
                                                  : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrCat(AV(what), ": ", std::strerror(error)));
}

// Spawns argv with stdout and stderr on `out_fd`, in its own process group.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  static char kPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  static char kLang[] = "LC_ALL=C";
  static char kFrontend[] = "DEBIAN_FRONTEND=noninteractive";
  char* env[] = {kPath, kLang, kFrontend, nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own group (killed as one on timeout), no signal blocked (the agent
  // blocks SIGTERM in every thread), default dispositions.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int error = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), env);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (error != 0) return ErrnoStatus(error, absl::StrCat("cannot run ", argv[0]));
  return pid;
}

}  // namespace

absl::Status ValidatePackageName(std::string_view name) {
  const bool ok = name.size() >= 2 && name.size() <= kMaxPackageNameLength &&
                  (absl::ascii_islower(static_cast<unsigned char>(name[0])) ||
                   absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) &&
                  std::all_of(name.begin(), name.end(), NameChar);
  if (ok) return absl::OkStatus();
  std::string shown(name.substr(0, 64));
  for (char& c : shown) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '?';
  }
  return absl::InvalidArgumentError(
      absl::StrCat("package name '", shown, name.size() > 64 ? "...'" : "'", " is not valid: ",
                   kNameRule));
}

absl::StatusOr<PackageOp> ParsePackageOp(std::string_view op) {
  if (op == "update") return PackageOp::kUpdate;
  if (op == "list" || op == "list-upgradable") return PackageOp::kListUpgradable;
  if (op == "upgrade") return PackageOp::kUpgrade;
  return absl::InvalidArgumentError(absl::StrCat(
      "package op '", AV(op.substr(0, 64)), "' is not one of update, list, upgrade"));
}

std::string_view PackageOpName(PackageOp op) {
  switch (op) {
    case PackageOp::kUpdate:
      return "update";
    case PackageOp::kListUpgradable:
      return "list";
    case PackageOp::kUpgrade:
      return "upgrade";
  }
  return "unknown";
}

absl::Status ValidatePackageRequest(const PackageRequest& request) {
  if (!request.packages.empty() && request.op != PackageOp::kUpgrade) {
    return absl::InvalidArgumentError(
        absl::StrCat("packages are named only with op upgrade, not ", AV(PackageOpName(request.op))));
  }
  if (request.packages.size() > kMaxPackageNames) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxPackageNames,
                                                   " packages per request, not ",
                                                   request.packages.size()));
  }
  for (const std::string& name : request.packages) {
    if (absl::Status s = ValidatePackageName(name); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> AptArgv(const PackageRequest& request, const std::string& apt_get) {
  std::vector<std::string> argv = {apt_get};
  switch (request.op) {
    case PackageOp::kUpdate:
      if (request.dry_run) return {};
      argv.insert(argv.end(), {"-q", "update"});
      return argv;
    case PackageOp::kListUpgradable:
      argv.insert(argv.end(), {"--simulate", "upgrade"});
      return argv;
    case PackageOp::kUpgrade:
      break;
  }
  if (request.dry_run) argv.push_back("--simulate");
  // Keep changed configuration files as they are instead of asking.
  argv.insert(argv.end(), {"-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o",
                           "Dpkg::Options::=--force-confold"});
  if (request.packages.empty()) {
    argv.push_back("upgrade");
  } else {
    argv.insert(argv.end(), {"install", "--only-upgrade", "--"});
    argv.insert(argv.end(), request.packages.begin(), request.packages.end());
  }
  return argv;
}

std::vector<Upgradable> ParseSimulatedUpgrade(std::string_view output) {
  std::vector<Upgradable> list;
  for (absl::string_view line : absl::StrSplit(AV(output), '\n')) {
    if (!absl::ConsumePrefix(&line, "Inst ")) continue;
    Upgradable u;
    const size_t space = line.find(' ');
    u.name = std::string(line.substr(0, space));
    line = space == absl::string_view::npos ? "" : line.substr(space + 1);
    if (absl::ConsumePrefix(&line, "[")) {
      const size_t close = line.find(']');
      u.from = std::string(line.substr(0, close));
      line = close == absl::string_view::npos ? "" : absl::StripLeadingAsciiWhitespace(
                                                          line.substr(close + 1));
    }
    if (absl::ConsumePrefix(&line, "(")) u.to = std::string(line.substr(0, line.find(' ')));
    list.push_back(std::move(u));
  }
  return list;
}

absl::StatusOr<CommandResult> SpawnRunner::Run(const std::vector<std::string>& argv,
                                               std::chrono::milliseconds timeout,
                                               size_t max_output) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("the program must be an absolute path");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<pid_t> pid = Spawn(argv, fds[1]);
  ::close(fds[1]);
  if (!pid.ok()) {
    ::close(fds[0]);
    return pid.status();
  }
  CommandResult result;
  BoundedOutput output(max_output);
  const auto deadline = start + timeout;
  auto kill_at = deadline;  // SIGTERM first, SIGKILL 2 s later
  int kill_signal = SIGTERM;
  char buffer[16384];
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= kill_at) {
      result.timed_out = true;
      ::kill(-*pid, kill_signal);
      if (kill_signal == SIGKILL) break;
      kill_signal = SIGKILL;
      kill_at = now + std::chrono::seconds(2);
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - now);
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, wait.count() + 1)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n > 0) {
      output.Append(std::string_view(buffer, static_cast<size_t>(n)));
    } else if (n == 0 || errno != EINTR) {
      break;  // every writer closed: the process (and what it started) is done
    }
  }
  ::close(fds[0]);
  // A process that closed its output may still run: it gets the rest of its time.
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(*pid, &status, WNOHANG);
    if (done == *pid || (done < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(-*pid, SIGKILL);
      while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    ::usleep(10'000);
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  output.Finish(result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace heteroaccel::node
