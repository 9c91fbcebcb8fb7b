// Subprocess: runs one of our binaries for end-to-end tests, captures its
// stdout+stderr line by line, and stops it (SIGTERM, then SIGKILL) when
// destroyed. The child is also killed when the thread that started it exits
// (PR_SET_PDEATHSIG), so a test that crashes or is killed leaves nothing
// running: start it from a thread that outlives it. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace heteroaccel::testing {

class Subprocess {
 public:
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv);
  ~Subprocess();

  // The first output line containing `needle`, waiting up to `timeout`;
  // nullopt on timeout or if the process exited first.
  std::optional<std::string> WaitForLine(const std::string& needle,
                                         std::chrono::milliseconds timeout);
  std::string Output() const;
  int pid() const { return pid_; }
  // Sends `signal` and waits for exit; returns the exit status (or -signal).
  int Stop(int signal, std::chrono::milliseconds timeout);

 private:
  Subprocess(int pid, int fd);
  void ReadLoop();

  const int pid_;
  const int fd_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int> exit_status_;
};

// The built heteroaccel binary: $HETEROACCEL_BINARY, else the one beside the
// running executable.
std::string HeteroaccelBinary();
// The models folder: $HETEROACCEL_MODELS_DIR, else $HETEROACCEL_SOURCE_DIR/models.
std::string ModelsDir();
std::string ReadFileOrDie(const std::string& path);
// Writes `text` to <temp dir>/heteroaccel_<pid>_<name> (the pid keeps tests run
// in parallel apart) and returns the path; aborts if it cannot.
std::string WriteTempFileOrDie(const std::string& name, const std::string& text);
// The URL a heteroaccel agent or server announces on its "... listening on
// http://HOST:PORT ..." line; "" if none comes within `timeout`.
std::string WaitForListeningUrl(Subprocess& process,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));
// A loopback TCP port nothing listens on (bound, then released), for a
// program that takes no port 0 (Prometheus) or a port to find closed; 0 if
// none could be had.
int UnusedLoopbackPort();

}  // namespace heteroaccel::testing
