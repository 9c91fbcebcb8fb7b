// Hostile clients against the real binaries: a real agent (face model, CPU)
// registered with a real server, each started with a 256-descriptor limit.
//  - Slowloris: 600 connections that send half a request line and stay open
//    must not keep a camera's inference request from being answered.
//  - Body flood: 150 connections each sending a 15 MiB body must not make the
//    process hold more than --max-inflight-body-bytes (plus a margin); the
//    excess gets 503 with Retry-After, and a camera is still served.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cluster_wait.h"
#include "http/client.h"
#include "nlohmann/json.hpp"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;

constexpr int kDescriptorLimit = 256;
constexpr size_t kInflightBound = size_t{64} << 20;  // --max-inflight-body-bytes
constexpr size_t kFloodBody = size_t{15} << 20;
// What the bodies' bound leaves out: read buffers of 150 connections, a request
// copied on its way from the server to the agent, allocator slack.
constexpr size_t kRssMargin = size_t{96} << 20;

// Runs `argv` under `ulimit -n kDescriptorLimit` (the shell execs the binary,
// so the pid is the binary's).
std::vector<std::string> WithDescriptorLimit(std::vector<std::string> argv) {
  std::vector<std::string> wrapped = {
      "/bin/sh", "-c", absl::StrCat("ulimit -n ", kDescriptorLimit, " && exec \"$@\""), "sh"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::atoi(url.substr(url.rfind(':') + 1).c_str()));
}

// A /proc/PID/status field in bytes ("VmHWM", "VmRSS").
size_t StatusBytes(int pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// Makes VmHWM start again from the current RSS (Linux >= 4.0).
bool ResetPeakRss(int pid) {
  std::ofstream clear("/proc/" + std::to_string(pid) + "/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good();
}

int ConnectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Holds sockets open and closes them at the end.
struct Sockets {
  ~Sockets() {
    for (int fd : fds) ::close(fd);
  }
  std::vector<int> fds;
};

class FloodE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The flood needs more descriptors than the usual soft limit of 1024 leaves.
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
      setrlimit(RLIMIT_NOFILE, &limit);
    }
    const std::string inflight = std::to_string(kInflightBound);
    auto server = Subprocess::Start(
        WithDescriptorLimit({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                             "--cluster-token", "s3cret", "--max-inflight-body-bytes", inflight}));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    server_url_ = new std::string(WaitForListeningUrl(*server_));
    ASSERT_FALSE(server_url_->empty()) << server_->Output();

    auto agent = Subprocess::Start(WithDescriptorLimit(
        {HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0", "--models-dir", ModelsDir(),
         "--models", "face", "--no-opencl", "--cpu-slots", "1", "--server", *server_url_,
         "--cluster-token", "s3cret", "--max-inflight-body-bytes", inflight}));
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = agent->release();
    agent_url_ = new std::string(WaitForListeningUrl(*agent_));
    ASSERT_FALSE(agent_url_->empty()) << agent_->Output();
    ASSERT_TRUE(agent_->WaitForLine("ready", std::chrono::minutes(2)).has_value())
        << agent_->Output();
    ASSERT_TRUE(e2e::WaitForServingAgent(*server_url_, std::chrono::seconds(20)))
        << server_->Output();
    ready_ = true;
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "the agent and server did not start"; }

  static void TearDownTestSuite() {
    delete agent_;
    delete server_;
    delete agent_url_;
    delete server_url_;
    agent_ = server_ = nullptr;
    agent_url_ = server_url_ = nullptr;
  }

  // A camera: one face inference on a fresh connection. Returns the status
  // (0 when the request failed) and sets `took`.
  static int Camera(const std::string& url, std::chrono::milliseconds& took) {
    static const std::string image = ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
    const auto start = std::chrono::steady_clock::now();
    auto http = http::Client::Create(url, std::chrono::seconds(20));
    if (!http.ok()) return 0;
    auto r = (*http)->Post("/v1/infer/face", "image/png", image);
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
    if (!r.ok()) ADD_FAILURE() << r.status();
    return r.ok() ? r->status : 0;
  }

  // 600 connections that each send half a request line and stay open, then a
  // camera request while they are.
  static void SlowlorisDoesNotStarve(Subprocess& process, const std::string& url) {
    Sockets flood;
    for (int i = 0; i < 600; ++i) {
      const int fd = ConnectTo(PortOf(url));
      ASSERT_GE(fd, 0) << "connection " << i << ": " << std::strerror(errno);
      flood.fds.push_back(fd);
      ASSERT_EQ(::send(fd, "POST /v1/inf", 12, MSG_NOSIGNAL), 12);
    }
    std::chrono::milliseconds took{0};
    EXPECT_EQ(Camera(url, took), 200) << process.Output();
    EXPECT_LT(took, std::chrono::seconds(5));
    // And again, still under the flood.
    EXPECT_EQ(Camera(url, took), 200);
    EXPECT_LT(took, std::chrono::seconds(5));
  }

  // 150 connections announce and send 15 MiB bodies at once.
  static void BodyFloodIsBounded(Subprocess& process, const std::string& url) {
    ASSERT_TRUE(ResetPeakRss(process.pid()));
    const size_t baseline = StatusBytes(process.pid(), "VmRSS");
    const std::string head = absl::StrCat("POST /v1/infer/face HTTP/1.1\r\nHost: x\r\n",
                                          "Content-Type: image/png\r\nContent-Length: ", kFloodBody,
                                          "\r\nConnection: close\r\n\r\n");
    const std::string piece(64u << 10, 'x');
    struct Upload {
      int fd = -1;
      size_t sent = 0;  // of head + body
      std::string answer;
      bool done = false;
    };
    std::vector<Upload> uploads(150);
    for (Upload& upload : uploads) {
      upload.fd = ConnectTo(PortOf(url));
      ASSERT_GE(upload.fd, 0) << std::strerror(errno);
      ::fcntl(upload.fd, F_SETFL, ::fcntl(upload.fd, F_GETFL) | O_NONBLOCK);
    }
    const size_t total = head.size() + kFloodBody;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    size_t open = uploads.size();
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
      std::vector<pollfd> fds;
      std::vector<Upload*> owners;
      for (Upload& upload : uploads) {
        if (upload.done) continue;
        const short events = upload.sent < total ? POLLIN | POLLOUT : POLLIN;
        fds.push_back({upload.fd, events, 0});
        owners.push_back(&upload);
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        Upload& upload = *owners[i];
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
          char chunk[4096];
          const ssize_t n = ::recv(upload.fd, chunk, sizeof(chunk), 0);
          if (n > 0) {
            upload.answer.append(chunk, static_cast<size_t>(n));
          } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            upload.done = true;  // answered (or dropped); stop sending either way
            --open;
          }
        } else if (fds[i].revents & POLLOUT) {
          const std::string_view part =
              upload.sent < head.size()
                  ? std::string_view(head).substr(upload.sent)
                  : std::string_view(piece).substr(0, std::min(piece.size(), total - upload.sent));
          const ssize_t n = ::send(upload.fd, part.data(), part.size(), MSG_NOSIGNAL);
          if (n > 0) upload.sent += static_cast<size_t>(n);
        }
      }
    }
    const size_t peak = StatusBytes(process.pid(), "VmHWM");
    int refused = 0;
    int other = 0;
    for (Upload& upload : uploads) {
      ::close(upload.fd);
      const std::string answer = absl::AsciiStrToLower(upload.answer);
      if (answer.rfind("http/1.1 503", 0) == 0) {
        ++refused;
        EXPECT_NE(answer.find("\r\nretry-after: 1\r\n"), std::string::npos) << upload.answer;
        EXPECT_NE(answer.find("{\"error\":"), std::string::npos) << upload.answer;
      } else {
        ++other;  // admitted: a 15 MiB body of 'x' is not an image (4xx)
        EXPECT_EQ(answer.rfind("http/1.1 4", 0), 0u) << upload.answer.substr(0, 200);
      }
    }
    EXPECT_EQ(open, 0u) << "uploads still running at the deadline";
    // At most 4 bodies of 15 MiB fit in 64 MiB at once; the rest were refused
    // when their header arrived, unless one finished before theirs was read.
    EXPECT_GE(refused, 100) << other << " admitted";
    EXPECT_GE(other, 1);
    const size_t bound = baseline + kInflightBound + kRssMargin;
    EXPECT_LT(peak, bound) << "peak RSS " << (peak >> 20) << " MiB, baseline " << (baseline >> 20)
                           << " MiB";
    std::printf("%s: baseline %zu MiB, peak %zu MiB (bound %zu MiB), %d refused, %d admitted\n",
                url.c_str(), baseline >> 20, peak >> 20, bound >> 20, refused, other);
    std::chrono::milliseconds took{0};
    EXPECT_EQ(Camera(url, took), 200) << process.Output();
    EXPECT_LT(took, std::chrono::seconds(5));
  }

  static bool ready_;
  static Subprocess* server_;
  static Subprocess* agent_;
  static std::string* server_url_;
  static std::string* agent_url_;
};

bool FloodE2ETest::ready_ = false;
Subprocess* FloodE2ETest::server_ = nullptr;
Subprocess* FloodE2ETest::agent_ = nullptr;
std::string* FloodE2ETest::server_url_ = nullptr;
std::string* FloodE2ETest::agent_url_ = nullptr;

TEST_F(FloodE2ETest, AgentAnswersACameraDuringASlowlorisFlood) {
  SlowlorisDoesNotStarve(*agent_, *agent_url_);
}

TEST_F(FloodE2ETest, ServerAnswersACameraDuringASlowlorisFlood) {
  SlowlorisDoesNotStarve(*server_, *server_url_);
}

TEST_F(FloodE2ETest, AgentHoldsBoundedBodiesDuringABodyFlood) {
  BodyFloodIsBounded(*agent_, *agent_url_);
}

TEST_F(FloodE2ETest, ServerHoldsBoundedBodiesDuringABodyFlood) {
  BodyFloodIsBounded(*server_, *server_url_);
}

}  // namespace
}  // namespace heteroaccel
