// Test helpers: a blocking raw TCP connection for sending hand-written HTTP
// bytes and reading responses back, and a deadline-bounded condition wait.
// Header-only; used by the http tests only. Not thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace heteroaccel::http::testing {

// Polls `condition` until it holds or `timeout` passes; returns the last value.
inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;
};

class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{10, 0};  // a broken server fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection() { Close(); }

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void ShutdownSend() { ::shutdown(fd_, SHUT_WR); }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads one response with a Content-Length (or none, meaning empty body).
  std::optional<RawResponse> ReadResponse() {
    std::optional<RawResponse> response = ReadHead();
    if (!response) return std::nullopt;
    size_t length = 0;
    if (const size_t at = response->head.find("content-length:"); at != std::string::npos) {
      length = std::strtoul(response->head.c_str() + at + 15, nullptr, 10);
    }
    std::optional<std::string> body = ReadBytes(length);
    if (!body) return std::nullopt;
    response->body = std::move(*body);
    return response;
  }

  // Reads a response's status line and headers; its body is left to read.
  std::optional<RawResponse> ReadHead() {
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    RawResponse response;
    response.head = absl::AsciiStrToLower(buffer_.substr(0, header_end));
    buffer_.erase(0, header_end + 4);
    if (response.head.size() < 12) return std::nullopt;
    response.status = std::atoi(response.head.c_str() + 9);
    return response;
  }

  // Reads exactly `n` bytes as they came; nullopt when the connection ends first.
  std::optional<std::string> ReadBytes(size_t n) {
    while (buffer_.size() < n) {
      if (!Fill()) return std::nullopt;
    }
    std::string bytes = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return bytes;
  }

  // Reads one chunk of a chunked body and returns its data: "" for the last
  // chunk (read through its final CRLF; trailers are not expected), nullopt
  // when the bytes are not a well-framed chunk or the connection ends first.
  std::optional<std::string> ReadChunk() {
    size_t line_end;
    while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    const std::string size_line = buffer_.substr(0, line_end);
    char* end = nullptr;
    const size_t size = std::strtoul(size_line.c_str(), &end, 16);
    if (size_line.empty() || end != size_line.c_str() + size_line.size()) return std::nullopt;
    buffer_.erase(0, line_end + 2);
    std::optional<std::string> data = ReadBytes(size + 2);
    if (!data || data->compare(size, 2, "\r\n") != 0) return std::nullopt;
    data->resize(size);
    return data;
  }

  // Everything the server sends until it closes the connection (or the
  // receive timeout passes).
  std::string ReadToEof() {
    while (Fill()) {
    }
    return std::exchange(buffer_, {});
  }

  // True when the server closed the connection with nothing more to read.
  bool ReadsEof() {
    if (!buffer_.empty()) return false;
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

 private:
  bool Fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace heteroaccel::http::testing
