#include "video/testing/mjpeg_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "absl/strings/str_cat.h"

namespace heteroaccel::video::testing {
namespace {

constexpr int kMaxClients = 16;
constexpr char kBoundary[] = "heteroaccelframe";

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads the request head (bounded); false when the client went away first.
bool ReadRequestHead(int fd) {
  std::string head;
  char buf[1024];
  while (head.size() < 16384 && head.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return false;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    head.append(buf, static_cast<size_t>(n));
  }
  return head.find("\r\n\r\n") != std::string::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MjpegServer>> MjpegServer::Start(const Options& options) {
  if (!(options.fps > 0 && options.fps <= 1000)) {
    return absl::InvalidArgumentError("MjpegServer: fps must be in (0, 1000]");
  }
  auto server = std::unique_ptr<MjpegServer>(new MjpegServer(options));
  cv::VideoCapture capture;
  try {
    capture.open(options.file, cv::CAP_FFMPEG);
    cv::Mat frame, scaled;
    while (static_cast<int>(server->jpegs_.size()) < std::max(1, options.max_frames) &&
           capture.read(frame)) {
      if (options.width > 0 && frame.cols != options.width) {
        cv::resize(frame, scaled,
                   cv::Size(options.width, frame.rows * options.width / std::max(1, frame.cols)), 0,
                   0, cv::INTER_AREA);
      } else {
        scaled = frame;
      }
      std::vector<uchar> jpeg;
      cv::imencode(".jpg", scaled, jpeg, {cv::IMWRITE_JPEG_QUALITY, 80});
      server->jpegs_.emplace_back(jpeg.begin(), jpeg.end());
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("MjpegServer: ", e.what()));
  }
  if (server->jpegs_.empty()) {
    return absl::NotFoundError(absl::StrCat("MjpegServer: no frames read from ", options.file));
  }
  server->port_ = options.port;
  absl::MutexLock lock(&server->mu_);
  if (absl::Status s = server->Listen(); !s.ok()) return s;
  return server;
}

MjpegServer::~MjpegServer() { Stop(); }

std::string MjpegServer::Url() const {
  return absl::StrCat("http://127.0.0.1:", port_.load(), "/stream.mjpg");
}

void MjpegServer::Stop() {
  absl::MutexLock lock(&mu_);
  StopLocked();
}

absl::Status MjpegServer::Restart() {
  absl::MutexLock lock(&mu_);
  StopLocked();
  return Listen();
}

absl::Status MjpegServer::Listen() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_.load()));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0) {
    absl::Status s = absl::UnavailableError(absl::StrCat(
        "MjpegServer: cannot listen on 127.0.0.1:", port_.load(), ": ", std::strerror(errno)));
    ::close(fd);
    return s;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  stopping_ = false;
  listen_fd_ = fd;
  acceptor_ = std::thread([this, fd] { AcceptLoop(fd); });
  return absl::OkStatus();
}

void MjpegServer::StopLocked() {
  if (listen_fd_ < 0) return;
  stopping_ = true;
  acceptor_.join();  // polls stopping_ every 50 ms
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&clients_mu_);
    for (int fd : client_fds_) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
    threads.swap(client_threads_);
  }
  for (auto& t : threads) t.join();
  absl::MutexLock lock(&clients_mu_);
  client_fds_.clear();
}

void MjpegServer::AcceptLoop(int listen_fd) {
  while (!stopping_) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&clients_mu_);
    if (std::count_if(client_fds_.begin(), client_fds_.end(), [](int c) { return c >= 0; }) >=
        kMaxClients) {
      ::close(fd);
      continue;
    }
    ++clients_;
    client_fds_.push_back(fd);
    client_threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void MjpegServer::Serve(int fd) {
  if (ReadRequestHead(fd)) {
    std::string head = absl::StrCat(
        "HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n"
        "Content-Type: multipart/x-mixed-replace; boundary=",
        kBoundary, "\r\n\r\n");
    bool ok = SendAll(fd, head);
    const auto period = std::chrono::duration<double>(1.0 / options_.fps);
    auto next = std::chrono::steady_clock::now();
    for (size_t i = 0; ok && !stopping_; ++i) {
      const std::string& jpeg = jpegs_[i % jpegs_.size()];
      ok = SendAll(fd, absl::StrCat("--", kBoundary,
                                    "\r\nContent-Type: image/jpeg\r\nContent-Length: ", jpeg.size(),
                                    "\r\n\r\n")) &&
           SendAll(fd, jpeg) && SendAll(fd, "\r\n");
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
      while (ok && !stopping_ && std::chrono::steady_clock::now() < next) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            next - std::chrono::steady_clock::now(), std::chrono::milliseconds(20)));
      }
    }
  }
  absl::MutexLock lock(&clients_mu_);
  auto it = std::find(client_fds_.begin(), client_fds_.end(), fd);
  if (it != client_fds_.end()) *it = -1;
  ::close(fd);
}

}  // namespace heteroaccel::video::testing
