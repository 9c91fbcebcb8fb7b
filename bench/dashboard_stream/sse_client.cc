#include "sse_client.h"

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
#include <utility>
//
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "http/client.h"

namespace heteroaccel::bench {

void SseParser::Feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      partial_line_.append(bytes);
      return;
    }
    std::string_view line = bytes.substr(0, newline);
    bytes.remove_prefix(newline + 1);
    if (!partial_line_.empty()) {
      partial_line_.append(line);
      const std::string whole = std::move(partial_line_);
      partial_line_.clear();
      Line(whole, on_event);
    } else {
      Line(line, on_event);
    }
  }
}

void SseParser::Line(std::string_view line, const std::function<void(const SseEvent&)>& on_event) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    // A blank line ends the event; one without data is not dispatched.
    if (has_data_) on_event(event_);
    event_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "event") {
    event_.type = value;
  } else if (field == "id") {
    event_.id = value;
  } else if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data.append(value);
    has_data_ = true;
  }
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// What one event says, worked out on the I/O thread before the stats lock.
struct EventFacts {
  std::string type;
  size_t data_bytes = 0;
  bool bad_json = false;
  std::optional<int64_t> seq;
  int snapshot_nodes = -1;
};

EventFacts Examine(const SseEvent& e) {
  EventFacts f;
  f.type = e.type;
  f.data_bytes = e.data.size();
  const nlohmann::json json = nlohmann::json::parse(e.data, nullptr, false);
  if (json.is_discarded()) {
    f.bad_json = true;
    return f;
  }
  if (!json.is_object()) return f;
  if (auto seq = json.find("seq"); seq != json.end() && seq->is_number_integer()) {
    f.seq = seq->get<int64_t>();
  }
  if (e.type == "snapshot") {
    auto state = json.find("state");
    if (state != json.end() && state->is_object()) {
      auto nodes = state->find("nodes");
      if (nodes != state->end() && nodes->is_object()) {
        f.snapshot_nodes = static_cast<int>(nodes->size());
      }
    }
  }
  return f;
}

// One stream connection. Runs on the pool's I/O thread; `stats` is guarded by
// the pool's mutex.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, std::mutex& mu) : socket_(io), mu_(mu), chunk_(64 * 1024) {
    // Unlimited; not boost::none, which Boost 1.74 compares as smaller than
    // any Content-Length (every such response fails with body_limit).
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  }

  void Start(const tcp::resolver::results_type& endpoints, std::string request) {
    request_ = std::move(request);
    asio::async_connect(socket_, endpoints,
                        [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                          self->OnConnect(ec);
                        });
  }

  void Close() {
    closing_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  SseClientStats stats;  // guarded by mu_

 private:
  void OnConnect(beast::error_code ec) {
    if (ec) return Fail("cannot connect", ec);
    asio::async_write(socket_, asio::buffer(request_),
                      [self = shared_from_this()](beast::error_code e, size_t) {
                        if (e) return self->Fail("cannot send the request", e);
                        self->ReadHeader();
                      });
  }

  void ReadHeader() {
    bhttp::async_read_header(
        socket_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnHeader(ec, n); });
  }

  void OnHeader(beast::error_code ec, size_t n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats.wire_bytes += n;
      if (!ec) {
        stats.status = parser_.get().result_int();
        stats.content_type = std::string(parser_.get()[bhttp::field::content_type]);
      }
    }
    if (ec) return Fail("reading the response's headers", ec);
    ReadSome();
  }

  void ReadSome() {
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    bhttp::async_read_some(
        socket_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnBody(ec, n); });
  }

  void OnBody(beast::error_code ec, size_t n) {
    if (ec == bhttp::error::need_buffer) ec = {};
    const size_t got = chunk_.size() - parser_.get().body().size;
    const std::string_view bytes(chunk_.data(), got);
    std::vector<EventFacts> events;
    bool streaming;
    {
      std::lock_guard<std::mutex> lock(mu_);
      streaming = stats.status == 200;
    }
    if (streaming) {
      sse_.Feed(bytes, [&events](const SseEvent& e) { events.push_back(Examine(e)); });
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats.wire_bytes += n;
      if (!streaming && stats.error_body.size() < 512) {
        stats.error_body.append(bytes.substr(0, 512 - stats.error_body.size()));
      }
      stats.comments = sse_.comments();
      for (const EventFacts& e : events) Count(e);
    }
    if (ec) return Fail("reading the stream", ec);
    if (parser_.is_done()) {
      std::lock_guard<std::mutex> lock(mu_);
      stats.ended = true;
      stats.error = "the server ended the response";
      return;
    }
    ReadSome();
  }

  void Count(const EventFacts& e) {
    if (stats.events == 0) stats.first_event_is_snapshot = e.type == "snapshot";
    ++stats.events;
    SseTypeCount& c = stats.by_type[e.type];
    ++c.events;
    c.data_bytes += e.data_bytes;
    if (e.bad_json) ++stats.bad_json;
    if (e.seq) {
      if (*e.seq < stats.last_seq) ++stats.seq_regressions;
      stats.last_seq = *e.seq;
    }
    if (e.snapshot_nodes >= 0) stats.snapshot_nodes = e.snapshot_nodes;
  }

  void Fail(const char* what, beast::error_code ec) {
    if (closing_) return;
    std::lock_guard<std::mutex> lock(mu_);
    stats.ended = true;
    const bool closed = ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                        ec == bhttp::error::partial_message;
    stats.error = closed ? absl::StrCat(what, ": the server closed the connection")
                         : absl::StrCat(what, ": ", ec.message());
  }

  tcp::socket socket_;
  std::mutex& mu_;
  std::string request_;
  beast::flat_buffer buffer_;
  bhttp::response_parser<bhttp::buffer_body> parser_;
  std::vector<char> chunk_;
  SseParser sse_;  // I/O thread only
  bool closing_ = false;
};

}  // namespace

class SseClientPool::Impl {
 public:
  Impl(std::string host, std::string port, std::string path, std::string token)
      : host_(std::move(host)),
        port_(std::move(port)),
        path_(std::move(path)),
        token_(std::move(token)),
        work_(asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    CloseAll();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void Connect(int clients) {
    tcp::resolver resolver(io_);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(host_, port_, ec);
    std::string request =
        absl::StrCat("GET ", path_, " HTTP/1.1\r\nHost: ", host_, ":", port_,
                     "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n");
    if (!token_.empty()) absl::StrAppend(&request, "Authorization: Bearer ", token_, "\r\n");
    request += "\r\n";
    for (int i = 0; i < clients; ++i) {
      auto c = std::make_shared<Connection>(io_, mu_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        connections_.push_back(c);
        if (ec) {
          c->stats.ended = true;
          c->stats.error = absl::StrCat("cannot resolve ", host_, ": ", ec.message());
          continue;
        }
      }
      asio::post(io_, [c, endpoints, request] { c->Start(endpoints, request); });
    }
  }

  void CloseAll() {
    std::vector<std::shared_ptr<Connection>> closing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing.swap(connections_);
    }
    if (closing.empty()) return;
    std::promise<void> done;
    asio::post(io_, [&closing, &done] {
      for (auto& c : closing) c->Close();
      done.set_value();
    });
    done.get_future().wait();
  }

  std::vector<SseClientStats> Stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SseClientStats> out;
    for (const auto& c : connections_) out.push_back(c->stats);
    return out;
  }

 private:
  const std::string host_, port_, path_, token_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Connection>> connections_;  // guarded by mu_
};

absl::StatusOr<std::unique_ptr<SseClientPool>> SseClientPool::Create(const std::string& base_url,
                                                                     std::string path,
                                                                     std::string token) {
  auto host_port = http::ParseHostPort(base_url);
  if (!host_port.ok()) return host_port.status();
  return std::unique_ptr<SseClientPool>(new SseClientPool(std::make_unique<Impl>(
      host_port->first, std::to_string(host_port->second), std::move(path), std::move(token))));
}

SseClientPool::SseClientPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SseClientPool::~SseClientPool() = default;

void SseClientPool::Connect(int clients) { impl_->Connect(clients); }
void SseClientPool::CloseAll() { impl_->CloseAll(); }
std::vector<SseClientStats> SseClientPool::Stats() const { return impl_->Stats(); }

bool SseClientPool::WaitAllStreaming(std::chrono::steady_clock::time_point deadline) const {
  while (true) {
    bool all = true;
    for (const SseClientStats& s : Stats()) {
      if (s.ended || (s.status != 0 && s.status != 200)) return false;
      if (s.status != 200 || s.events == 0) all = false;
    }
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace heteroaccel::bench
