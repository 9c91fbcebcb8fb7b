#include "testing/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace heteroaccel::testing {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  int output[2];
  if (pipe(output) != 0) return absl::InternalError("pipe failed");
  // Closed by a successful exec; carries errno when exec fails.
  int exec_status[2];
  if (pipe2(exec_status, O_CLOEXEC) != 0) {
    close(output[0]);
    close(output[1]);
    return absl::InternalError("pipe failed");
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Die with the thread that started us, so that a test or benchmark that
    // crashes (or is killed on a timeout) leaves no agent or server running.
    // Start() returns only after this is set (the exec status pipe), and the
    // check after it covers a parent that died before it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(126);
    dup2(output[1], STDOUT_FILENO);
    dup2(output[1], STDERR_FILENO);
    close(output[0]);
    close(output[1]);
    close(exec_status[0]);
    execv(args[0], args.data());
    const int error = errno;
    (void)!write(exec_status[1], &error, sizeof(error));
    _exit(127);
  }
  close(output[1]);
  close(exec_status[1]);
  if (pid < 0) {
    close(output[0]);
    close(exec_status[0]);
    return absl::InternalError("fork failed");
  }
  int error = 0;
  ssize_t n;
  while ((n = read(exec_status[0], &error, sizeof(error))) < 0 && errno == EINTR) {
  }
  close(exec_status[0]);
  if (n == static_cast<ssize_t>(sizeof(error))) {
    close(output[0]);
    waitpid(pid, nullptr, 0);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", argv[0], ": ", std::strerror(error)));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid, output[0]));
}

Subprocess::Subprocess(int pid, int fd) : pid_(pid), fd_(fd) {
  reader_ = std::thread([this] { ReadLoop(); });
}

Subprocess::~Subprocess() {
  Stop(SIGTERM, std::chrono::seconds(10));
  if (reader_.joinable()) reader_.join();
  close(fd_);
}

void Subprocess::ReadLoop() {
  std::string partial;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n <= 0) break;
    partial.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = partial.find('\n')) != std::string::npos) {
      absl::MutexLock lock(&mu_);
      lines_.push_back(partial.substr(0, newline));
      partial.erase(0, newline + 1);
    }
  }
  absl::MutexLock lock(&mu_);
  if (!partial.empty()) lines_.push_back(partial);
  eof_ = true;
}

std::optional<std::string> Subprocess::WaitForLine(const std::string& needle,
                                                   std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> found;
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::string& line : lines_) {
      if (line.find(needle) != std::string::npos) {
        found = line;
        return true;
      }
    }
    return eof_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), absl::FromChrono(timeout));
  return found;
}

std::string Subprocess::Output() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const std::string& line : lines_) absl::StrAppend(&out, line, "\n");
  return out;
}

int Subprocess::Stop(int signal, std::chrono::milliseconds timeout) {
  if (exit_status_) return *exit_status_;
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return *exit_status_;
}

std::string HeteroaccelBinary() {
  if (const char* binary = std::getenv("HETEROACCEL_BINARY")) return binary;
  // Tests, benchmarks and examples are built next to the binary (build/bin).
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) return (self.parent_path() / "heteroaccel").string();
  return "./build/bin/heteroaccel";
}

std::string ModelsDir() {
  if (const char* dir = std::getenv("HETEROACCEL_MODELS_DIR")) return dir;
  const char* source = std::getenv("HETEROACCEL_SOURCE_DIR");
  return std::string(source ? source : ".") + "/models";
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s (run `make setup`)\n", path.c_str());
    std::abort();
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string WriteTempFileOrDie(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            absl::StrCat("heteroaccel_", getpid(), "_", name))
                               .string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

std::string WaitForListeningUrl(Subprocess& process, std::chrono::milliseconds timeout) {
  auto line = process.WaitForLine("listening on http://", timeout);
  if (!line) return "";
  std::string url = line->substr(line->find("http://"));
  return url.substr(0, url.find(' '));
}

int UnusedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace heteroaccel::testing
