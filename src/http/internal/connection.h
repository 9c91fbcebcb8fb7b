// Server internals: the per-thread event loop, the state shared by a Server's
// loops, and one HTTP/1.1 server connection.
//
// Threading: a Connection and its IoLoop's registry are touched only on that
// loop's thread. Responders reach a connection from other threads by posting to
// the loop, holding a weak reference to the connection and a strong one to the
// loop (so the io_context outlives any post, even after the Server is gone).
// A Connection is kept alive only by its pending asynchronous operations: the
// idle timer is always armed while it is open.
#pragma once

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/message.h"
#include "http/router.h"
#include "http/server.h"

namespace heteroaccel::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;

class Connection;

// One io_context run by one thread.
struct IoLoop : std::enable_shared_from_this<IoLoop> {
  IoLoop() : work(asio::make_work_guard(ioc)) {}

  // Closes every open connection and stops the loop. Loop thread only.
  void CloseAllAndStop();

  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  // Open connections; loop thread only.
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
};

// Read-only configuration plus counters, shared by all loops of one Server.
// Owned by the Server; outlives every loop thread.
struct ServerCore {
  ServerCore(ServerOptions opts, Router r);

  // The response for an error the server raises itself, with `status` kept.
  Response MakeError(int status, std::string message) const;
  // Accepts the next connection for the next loop, round robin. Loop 0 thread.
  void Accept();
  void OnAccept(beast::error_code ec, asio::ip::tcp::socket socket, IoLoop& target);

  ServerOptions options;
  Router router;
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> open{0};
  // Declared before the acceptor: the acceptor is registered with loops[0].
  std::vector<std::shared_ptr<IoLoop>> loops;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  size_t next_loop = 0;  // loop 0 thread only
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::ip::tcp::socket socket, IoLoop& loop, ServerCore& core);

  void Start();
  // Closes the socket now; pending responses are dropped.
  void Close();
  // Completes request `seq`; ignored when already completed or closed.
  void Complete(uint64_t seq, Response response);

 private:
  struct Slot {
    bool ready = false;
    bool close_after = false;  // close the connection once this is written
    bool http10 = false;
    std::string head;
    std::string body;
  };
  using Parser = beast::http::request_parser<beast::http::string_body>;
  using Message = beast::http::request<beast::http::string_body>;

  void Read();
  void OnRead(beast::error_code ec, size_t n);
  void ParseAvailable();
  void OnParseError(beast::error_code ec);
  void Dispatch(Message&& message);
  Slot& PushSlot(bool close_after, bool http10);
  void PushError(int status, std::string message, bool close_after, bool http10,
                 std::string_view allow = {});
  void Serialize(Slot& slot, Response&& response);
  void Write();
  void OnWrite(beast::error_code ec);
  void BeginLingeringClose();
  void ArmTimer();
  void OnTimer(beast::error_code ec);
  void Touch();
  Responder MakeResponder(uint64_t seq);

  asio::ip::tcp::socket socket_;
  IoLoop& loop_;
  ServerCore& core_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  bool header_seen_ = false;  // the current parser's header was inspected
  // Responses in request order; the front one has sequence number
  // next_seq_ - slots_.size().
  std::deque<Slot> slots_;
  uint64_t next_seq_ = 0;
  std::vector<asio::const_buffer> write_buffers_;
  size_t writing_ = 0;  // slots at the front that the current write covers
  bool reading_ = false;
  bool read_eof_ = false;
  bool accepting_requests_ = true;
  bool lingering_ = false;
  bool closed_ = false;
};

}  // namespace heteroaccel::http::internal
