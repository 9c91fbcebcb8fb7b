#include "http/client.h"

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <system_error>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "http/internal/text.h"

namespace heteroaccel::http {
namespace {

namespace beast = boost::beast;
using internal::Append;
using internal::Cat;
using internal::EqualsIgnoreCase;
using internal::ToLower;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64u << 10;
constexpr uint32_t kMaxResponseHeaderBytes = 1u << 20;

std::string ErrnoMessage(int error) { return std::system_category().message(error); }

bool IsSafeHeader(std::string_view name, std::string_view value) {
  return !name.empty() && name.find_first_of("\r\n: ") == std::string_view::npos &&
         value.find_first_of("\r\n") == std::string_view::npos;
}

// Splits "http://host:port/prefix" into the authority and the path ("" if none).
absl::StatusOr<std::pair<std::string_view, std::string_view>> SplitUrl(std::string_view url) {
  std::string_view rest = url;
  if (const size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    if (!EqualsIgnoreCase(rest.substr(0, scheme), "http")) {
      return absl::InvalidArgumentError(
          Cat("unsupported URL scheme in '", url, "': only http:// is supported"));
    }
    rest.remove_prefix(scheme + 3);
  }
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::make_pair(rest, std::string_view());
  return std::make_pair(rest.substr(0, slash), rest.substr(slash));
}

}  // namespace

struct Client::Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

std::string_view ClientResponse::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view url_or_hostport) {
  auto invalid = [url_or_hostport](std::string_view why) {
    return absl::InvalidArgumentError(Cat("invalid address '", url_or_hostport, "': ", why));
  };
  absl::StatusOr<std::pair<std::string_view, std::string_view>> parts = SplitUrl(url_or_hostport);
  if (!parts.ok()) return parts.status();
  const bool has_scheme = url_or_hostport.find("://") != std::string_view::npos;
  std::string_view authority = parts->first;
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unterminated '[' in IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("expected ':' after ']'");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return invalid("IPv6 hosts need [brackets]");
  }
  if (host.empty()) return invalid("missing host");
  if (port_text.empty()) {
    if (!has_scheme) return invalid("missing port (expected host:port)");
    return std::make_pair(std::string(host), uint16_t{80});
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return invalid("port must be a number in [1, 65535]");
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(std::string base_url,
                                                       std::chrono::milliseconds timeout) {
  absl::StatusOr<std::pair<std::string, uint16_t>> host_port = ParseHostPort(base_url);
  if (!host_port.ok()) return host_port.status();
  absl::StatusOr<std::pair<std::string_view, std::string_view>> parts = SplitUrl(base_url);
  if (!parts.ok()) return parts.status();
  std::string prefix(parts->second);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (timeout.count() <= 0) return absl::InvalidArgumentError("client timeout must be positive");

  const auto& [host, port] = *host_port;
  const std::string port_text = std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(Cat("cannot resolve host '", host, "': ", gai_strerror(rc)));
  }
  std::vector<Address> addresses;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Address address;
    std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    address.family = ai->ai_family;
    addresses.push_back(address);
  }
  freeaddrinfo(found);
  const bool v6 = host.find(':') != std::string::npos;
  std::string authority = v6 ? Cat("[", host, "]:", port) : Cat(host, ":", port);
  return std::unique_ptr<Client>(
      new Client(std::move(authority), std::move(prefix), std::move(addresses), timeout));
}

Client::Client(std::string host_port, std::string path_prefix, std::vector<Address> addresses,
               std::chrono::milliseconds timeout)
    : host_port_(std::move(host_port)),
      path_prefix_(std::move(path_prefix)),
      addresses_(std::move(addresses)),
      timeout_(timeout) {}

Client::~Client() { Disconnect(); }

uint16_t Client::local_port() const {
  if (fd_ < 0) return 0;
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &length) != 0) return 0;
  if (local.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
}

bool Client::IdleConnectionUsable() {
  // Between requests nothing may arrive: readable means the server closed the
  // connection (or sent stray bytes), so do not send on it.
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Client::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  read_begin_ = read_end_ = 0;
}

absl::Status Client::Timeout(std::string_view what) const {
  return absl::DeadlineExceededError(
      Cat("timed out after ", timeout_.count(), " ms ", what, " ", host_port_));
}

absl::Status Client::Wait(short events, Clock::time_point deadline, short* revents) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return absl::DeadlineExceededError("deadline");
    pollfd pfd{fd_, events, 0};
    const int rc = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, INT32_MAX)));
    if (rc > 0) {
      if (revents != nullptr) *revents = pfd.revents;
      return absl::OkStatus();
    }
    if (rc < 0 && errno != EINTR) return absl::InternalError(ErrnoMessage(errno));
  }
}

absl::Status Client::Connect(Clock::time_point deadline) {
  std::string last_error = "no address";
  for (const Address& address : addresses_) {
    fd_ = ::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      last_error = ErrnoMessage(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int error = 0;
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        if (absl::Status waited = Wait(POLLOUT, deadline); !waited.ok()) {
          Disconnect();
          if (absl::IsDeadlineExceeded(waited)) return Timeout("connecting to");
          return absl::UnavailableError(
              Cat("cannot connect to ", host_port_, ": ", std::string(waited.message())));
        }
        socklen_t length = sizeof(error);
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
      }
    }
    if (error == 0) {
      ++connections_opened_;
      read_begin_ = read_end_ = 0;
      return absl::OkStatus();
    }
    last_error = ErrnoMessage(error);
    Disconnect();
  }
  return absl::UnavailableError(Cat("cannot connect to ", host_port_, ": ", last_error));
}

absl::StatusOr<ClientResponse> Client::Get(std::string_view path) {
  return Send("GET", path, {}, {});
}

absl::StatusOr<ClientResponse> Client::Post(std::string_view path, std::string_view content_type,
                                            std::string body, const HeaderList& extra_headers) {
  return Send("POST", path, content_type, body, extra_headers);
}

absl::StatusOr<ClientResponse> Client::Send(std::string_view method, std::string_view path,
                                            std::string_view content_type, std::string_view body,
                                            const HeaderList& extra_headers) {
  const Clock::time_point deadline = Clock::now() + timeout_;
  std::string head;
  head.reserve(128 + path_prefix_.size() + path.size());
  Append(head, method, " ", path_prefix_, path.empty() || path.front() != '/' ? "/" : "", path,
         " HTTP/1.1\r\nHost: ", host_port_, "\r\n");
  if (!content_type.empty()) Append(head, "Content-Type: ", content_type, "\r\n");
  if (method != "GET" || !body.empty()) {
    Append(head, "Content-Length: ", body.size(), "\r\n");
  }
  for (const auto& [name, value] : extra_headers) {
    if (IsSafeHeader(name, value)) Append(head, name, ": ", value, "\r\n");
  }
  head += "\r\n";

  if (fd_ >= 0 && !IdleConnectionUsable()) Disconnect();
  const bool reused = fd_ >= 0;
  if (!reused) RETURN_IF_ERROR(Connect(deadline));
  bool stale = false;
  absl::StatusOr<ClientResponse> response = Exchange(head, body, deadline, stale);
  if (response.ok() || !stale || !reused) return response;
  // The server closed the idle connection before seeing this request.
  Disconnect();
  RETURN_IF_ERROR(Connect(deadline));
  return Exchange(head, body, deadline, stale);
}

absl::StatusOr<ClientResponse> Client::Exchange(const std::string& head, std::string_view body,
                                                Clock::time_point deadline, bool& stale) {
  bool response_early = false;
  if (absl::Status written = WriteRequest(head, body, deadline, response_early); !written.ok()) {
    // A reset while writing on a reused connection means the server had closed it.
    stale = absl::IsUnavailable(written);
    Disconnect();
    return written;
  }
  absl::StatusOr<ClientResponse> response = ReadResponse(deadline, stale);
  // The server answered before taking the whole body: the stream is out of sync.
  if (response_early) Disconnect();
  return response;
}

absl::Status Client::WriteRequest(const std::string& head, std::string_view body,
                                  Clock::time_point deadline, bool& response_early) {
  size_t offset = 0;
  const size_t total = head.size() + body.size();
  while (offset < total) {
    iovec parts[2];
    int count = 0;
    if (offset < head.size()) {
      parts[count++] = {const_cast<char*>(head.data() + offset), head.size() - offset};
    }
    const size_t body_offset = offset > head.size() ? offset - head.size() : 0;
    if (body_offset < body.size()) {
      parts[count++] = {const_cast<char*>(body.data() + body_offset), body.size() - body_offset};
    }
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (n >= 0) {
      offset += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return absl::UnavailableError(
          Cat("connection to ", host_port_, " lost while sending: ", ErrnoMessage(errno)));
    }
    short revents = 0;
    if (absl::Status waited = Wait(POLLOUT | POLLIN, deadline, &revents); !waited.ok()) {
      return absl::IsDeadlineExceeded(waited) ? Timeout("sending to") : waited;
    }
    if ((revents & POLLIN) != 0 && offset > 0) {
      // An early answer (e.g. 413 to a large body): stop sending and read it.
      response_early = true;
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ClientResponse> Client::ReadResponse(Clock::time_point deadline, bool& stale) {
  using Parser = beast::http::response_parser<beast::http::string_body>;
  std::optional<Parser> parser(std::in_place);
  auto configure = [](Parser& p) {
    p.eager(true);
    p.body_limit(boost::none);
    p.header_limit(kMaxResponseHeaderBytes);
  };
  configure(*parser);
  bool received_any = false;
  auto lost = [&](std::string_view why) {
    stale = !received_any;
    Disconnect();
    return absl::UnavailableError(Cat("connection to ", host_port_, " lost: ", why));
  };
  while (true) {
    if (read_end_ > read_begin_) {
      beast::error_code ec;
      const size_t used = parser->put(
          boost::asio::const_buffer(read_buffer_.data() + read_begin_, read_end_ - read_begin_),
          ec);
      read_begin_ += used;
      if (ec && ec != beast::http::error::need_more) {
        Disconnect();
        return absl::InternalError(
            Cat("malformed HTTP response from ", host_port_, ": ", ec.message()));
      }
      if (parser->is_done()) {
        if (parser->get().result_int() / 100 == 1) {  // interim response: the final one follows
          parser.emplace();
          configure(*parser);
          continue;
        }
        break;
      }
    }
    if (read_begin_ == read_end_) read_begin_ = read_end_ = 0;
    if (read_buffer_.size() - read_end_ < kReadChunk / 4) {
      read_buffer_.erase(0, read_begin_);
      read_end_ -= read_begin_;
      read_begin_ = 0;
      read_buffer_.resize(std::max(read_buffer_.size(), read_end_ + kReadChunk));
    }
    const ssize_t n =
        ::recv(fd_, read_buffer_.data() + read_end_, read_buffer_.size() - read_end_, 0);
    if (n > 0) {
      received_any = true;
      read_end_ += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      beast::error_code ec;
      if (received_any) parser->put_eof(ec);
      if (received_any && !ec && parser->is_done()) break;
      return lost("closed by the server");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return lost(ErrnoMessage(errno));
    if (absl::Status waited = Wait(POLLIN, deadline); !waited.ok()) {
      Disconnect();
      return absl::IsDeadlineExceeded(waited) ? Timeout("waiting for a response from") : waited;
    }
  }

  auto message = parser->release();
  ClientResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(ToLower(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  if (!message.keep_alive()) Disconnect();
  return response;
}

}  // namespace heteroaccel::http
