#include "http/server.h"

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "http/internal/connection.h"

namespace heteroaccel::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const std::string host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) return absl::StrCat("[", host, "]:", endpoint.port());
  return absl::StrCat(host, ":", endpoint.port());
}

// Descriptors left to the rest of the process (model files, outgoing sockets,
// event loops) at the least, and the default bound on connections.
constexpr size_t kMinDescriptorReserve = 32;
constexpr size_t kDefaultMaxConnectionsCap = 4096;

// ServerOptions::max_connections resolved against RLIMIT_NOFILE; see server.h.
size_t ResolveMaxConnections(size_t requested) {
  rlimit limit{};
  size_t soft = SIZE_MAX;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    soft = static_cast<size_t>(limit.rlim_cur);
  }
  const size_t allowed = soft > 2 * kMinDescriptorReserve ? soft - kMinDescriptorReserve : soft / 2;
  if (requested > 0) return std::max<size_t>(1, std::min(requested, allowed));
  if (soft == SIZE_MAX) return kDefaultMaxConnectionsCap;
  const size_t reserve = std::clamp<size_t>(soft / 4, 64, 1024);
  const size_t derived = soft > 2 * reserve ? soft - reserve : soft / 2;
  return std::max<size_t>(1, std::min({derived, allowed, kDefaultMaxConnectionsCap}));
}

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.io_threads < 1 || options.io_threads > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("io_threads must be in [1, 256], got ", options.io_threads));
  }
  if (options.max_header_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_header_bytes must be at least 1024, got ", options.max_header_bytes));
  }
  if (options.idle_timeout.count() <= 0 || options.header_timeout.count() <= 0 ||
      options.keepalive_timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        "idle_timeout, header_timeout and keepalive_timeout must be positive");
  }
  if (options.max_inflight_body_bytes < options.max_body_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_inflight_body_bytes (", options.max_inflight_body_bytes,
                     ") must be at least max_body_bytes (", options.max_body_bytes, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<tcp::endpoint> ResolveListenEndpoint(asio::io_context& ioc, const std::string& host,
                                                    uint16_t port) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(
      host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve listen host '", host, "': ", ec.message()));
  }
  return results.begin()->endpoint();
}

absl::Status Listen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  auto failed = [&endpoint](const boost::system::error_code& error) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", FormatEndpoint(endpoint), ": ", error.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return failed(ec);
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return failed(ec);
  if (acceptor.bind(endpoint, ec); ec) return failed(ec);
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return failed(ec);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view listen) {
  const auto invalid = [&] {
    return absl::InvalidArgumentError(
        "listen address '" + std::string(listen) +
        "' is not HOST:PORT (e.g. 127.0.0.1:8000, 0.0.0.0:0, [::1]:8000)");
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return invalid();
  std::string_view host = listen.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return invalid();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return invalid();  // IPv6 needs brackets
  }
  unsigned port = 0;
  const char* begin = listen.data() + colon + 1;
  const char* end = listen.data() + listen.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (begin == end || ec != std::errc() || ptr != end || port > 65535) return invalid();
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options, Router router) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  const size_t max_connections = ResolveMaxConnections(options.max_connections);
  auto core = std::make_unique<internal::ServerCore>(std::move(options), std::move(router),
                                                     max_connections);
  absl::StatusOr<tcp::endpoint> endpoint =
      ResolveListenEndpoint(core->loops.front()->ioc, core->options.host, core->options.port);
  if (!endpoint.ok()) return endpoint.status();
  if (absl::Status status = Listen(core->acceptor, *endpoint); !status.ok()) return status;
  boost::system::error_code ec;
  const tcp::endpoint bound = core->acceptor.local_endpoint(ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot read the listening port of ",
                                               FormatEndpoint(*endpoint), ": ", ec.message()));
  }
  return std::unique_ptr<Server>(new Server(std::move(core), bound.port(), FormatEndpoint(bound)));
}

Server::Server(std::unique_ptr<internal::ServerCore> core, uint16_t port, std::string address)
    : core_(std::move(core)), port_(port), address_(std::move(address)) {}

Server::~Server() { Stop(); }

void Server::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) return;
  started_ = true;
  internal::ServerCore* core = core_.get();
  asio::post(core->loops.front()->ioc, [core] { core->Accept(); });
  threads_.reserve(core->loops.size());
  for (size_t i = 0; i < core->loops.size(); ++i) {
    threads_.emplace_back([io = core->loops[i].get()] { io->ioc.run(); });
    // "http-io:N" in top -H, perf and gdb (the kernel keeps 15 bytes).
    const std::string name = "http-io:" + std::to_string(i);
    pthread_setname_np(threads_.back().native_handle(), name.substr(0, 15).c_str());
  }
}

void Server::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (stopped_) return;
    stopped_ = true;
    threads = std::move(threads_);
    internal::ServerCore* core = core_.get();
    if (!started_) {
      boost::system::error_code ignored;
      core->acceptor.close(ignored);
      return;
    }
    asio::post(core->loops.front()->ioc, [core] {
      boost::system::error_code ignored;
      core->acceptor.close(ignored);
      core->accept_retry.cancel();
    });
    // Each loop closes its own connections; posted after the acceptor closes
    // on loop 0, so loop 0 accepts nothing more once it stops.
    for (const auto& loop : core->loops) {
      asio::post(loop->ioc, [io = loop.get()] { io->CloseAllAndStop(); });
    }
  }
  for (std::thread& thread : threads) thread.join();
}

uint64_t Server::accepted_connections() const {
  return core_->accepted.load(std::memory_order_relaxed);
}

uint64_t Server::open_connections() const { return core_->open.load(std::memory_order_relaxed); }

size_t Server::max_connections() const { return core_->max_connections; }

uint64_t Server::shed_connections() const { return core_->shed.load(std::memory_order_relaxed); }

uint64_t Server::refused_connections() const {
  return core_->refused.load(std::memory_order_relaxed);
}

uint64_t Server::header_timeouts() const {
  return core_->header_timeouts.load(std::memory_order_relaxed);
}

uint64_t Server::body_timeouts() const {
  return core_->body_timeouts.load(std::memory_order_relaxed);
}

uint64_t Server::refused_bodies() const {
  return core_->refused_bodies.load(std::memory_order_relaxed);
}

uint64_t Server::inflight_body_bytes() const {
  return core_->inflight_body_bytes.load(std::memory_order_relaxed);
}

}  // namespace heteroaccel::http
