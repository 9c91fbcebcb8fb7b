// Server internals: the per-thread event loop, the state shared by a Server's
// loops, and one HTTP/1.1 server connection: a socket, its timer and its
// response slots around a RequestPipeline (request_pipeline.h), which parses
// what the socket reads and calls the handlers.
//
// Threading: a Connection's read side (buffer, parser, timer) and its IoLoop's
// registry are touched only on that loop's thread. The write side (the response
// slots, the write in progress, the socket's open state and the idle deadline)
// is guarded by the connection's mutex, because a Responder called on another
// thread (a compute slot) writes its response to the socket itself: the loop
// thread, asleep in epoll while the request computed, is not woken for it.
// Only what the socket does not take at once, and the rare follow-ups (closing
// after "Connection: close", resuming a paused read), go through the loop.
// Responders hold a weak reference to the connection and a strong one to the
// loop (so the io_context outlives any post, even after the Server is gone).
// A Connection is kept alive only by its pending asynchronous operations: the
// timer is always armed while it is open.
//
// Streaming (Response::stream): the response's head takes its turn in the
// slots like any other; once it is written the connection turns into a stream
// (stream_): no further request is read or answered, the slots after it are
// dropped, and a read stays in flight only to notice the peer leaving. Bytes
// written to the stream's ResponseStream (response_stream.h) are framed into
// stream_queue_ and sent by the same write path as responses (BeginWrite,
// WriteNow off the loop, AsyncWrite on it). The stream has no deadline save a
// write stalled for idle_timeout. Closing the connection marks the stream
// closed; its OnClose callbacks run soon after on the loop
// (IoLoop::RunClosedStreams), outside every lock.
//
// Limits (server.h lists them): one timer per connection enforces every
// deadline (header, body rate, idle, keep-alive, lingering close); activity
// only moves the deadlines and the timer catches up lazily, re-armed at once
// only when a deadline moves earlier than the expiry already armed. A
// connection publishes how it may be shed (rank_, rank_since_, atomics) for the
// acceptor, which scans ServerCore::registry from loop 0's thread; the shed
// itself runs on the connection's own loop, which re-checks under mu_.
// Lock order: a Connection's mu_, then ServerCore::registry_mu.
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
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "http/internal/request_pipeline.h"
#include "http/internal/response_stream.h"
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

  // Closes every open connection, runs the OnClose callbacks of their streams
  // and stops the loop. Loop thread only.
  void CloseAllAndStop();
  // Queues the OnClose callbacks of a stream whose connection just closed, to
  // run soon on this loop with no lock held. Loop thread only.
  void AddClosedStream(std::shared_ptr<ResponseStream> stream);
  void RunClosedStreams();

  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  // Open connections; loop thread only.
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;
  // Streams whose callbacks are still to run; loop thread only.
  std::vector<std::shared_ptr<ResponseStream>> closed_streams;
};

// Read-only configuration plus counters, shared by all loops of one Server.
// Owned by the Server; outlives every loop thread.
struct ServerCore {
  ServerCore(ServerOptions opts, Router r, size_t max_open);

  // MakeErrorResponse with this server's options.
  Response MakeError(int status, std::string message) const;
  // Accepts the next connection for the next loop, round robin. Loop 0 thread.
  void Accept();
  void OnAccept(beast::error_code ec, asio::ip::tcp::socket socket, IoLoop& target);
  // Closes up to `wanted` connections that hold no request (closing, then idle
  // between requests, then still sending a header; oldest first) on their own
  // loops. Returns how many were chosen. Loop 0 thread.
  size_t ShedIdle(size_t wanted);
  // Answers 503 to a connection accepted at the bound, best effort, and closes it.
  void Refuse(asio::ip::tcp::socket& socket);
  // Counts `bytes` of request body against max_inflight_body_bytes; false (and
  // nothing counted) when they would pass it. Any thread.
  bool ReserveBody(size_t bytes);
  void ReleaseBody(size_t bytes);

  const ServerOptions options;
  const Router router;
  const size_t max_connections;  // options.max_connections resolved
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> pending{0};  // accepted, not yet started on their loop
  std::atomic<uint64_t> shed{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> header_timeouts{0};
  std::atomic<uint64_t> body_timeouts{0};
  std::atomic<uint64_t> refused_bodies{0};
  std::atomic<uint64_t> inflight_body_bytes{0};
  // Every open connection of every loop. Connections add themselves when they
  // start and remove themselves when they close (under their mu_).
  std::mutex registry_mu;
  std::unordered_set<Connection*> registry ABSL_GUARDED_BY(registry_mu);
  // Declared before the acceptor: the acceptor is registered with loops[0].
  std::vector<std::shared_ptr<IoLoop>> loops;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  size_t next_loop = 0;  // loop 0 thread only
};

class Connection : public std::enable_shared_from_this<Connection>, private PipelineHost {
 public:
  Connection(asio::ip::tcp::socket socket, IoLoop& loop, ServerCore& core);

  // How a connection may be shed for a newcomer, most sheddable first.
  enum class Rank : uint8_t { kClosing, kKeepAlive, kHeader, kBusy, kClosed };

  void Start();
  // Closes the socket now; pending responses are dropped. Loop thread only.
  void Close();
  // The rank last published and since when (steady_clock ticks). Any thread.
  Rank PublishedRank() const { return rank_.load(std::memory_order_relaxed); }
  int64_t PublishedRankSince() const { return rank_since_.load(std::memory_order_relaxed); }
  // Closes the connection on its loop unless it has taken up a request since
  // it was chosen. Any thread.
  void ShedSoon();
  // Completes request `seq`; ignored when already completed or closed. Any
  // thread: on the loop thread the response is written asynchronously, on any
  // other thread straight from that thread when the socket takes it.
  void Complete(uint64_t seq, Response response) override;
  // The ResponseStream's Write and Close (message.h), written like Complete.
  // Any thread.
  bool WriteStream(std::string_view bytes);
  void EndStream();

 private:
  using StreamStart = std::function<void(std::shared_ptr<StreamWriter>)>;
  struct Slot {
    bool ready = false;
    bool close_after = false;  // close the connection once this is written
    bool http10 = false;
    std::string head;
    std::string body;
    size_t body_bytes = 0;  // counted against max_inflight_body_bytes until written
    StreamStart stream;     // set: a streamed response, whose head is all the slot holds
    size_t stream_max_unsent = 0;
  };
  // What the read side is doing; the deadline in force depends on it.
  enum class Phase : uint8_t {
    kAwaiting,  // no byte of the next request yet
    kHeader,    // its header is arriving (a new connection starts here)
    kBody,      // its header is complete, its body is arriving
  };
  // What happens when the timer reaches a deadline.
  enum class Expiry : uint8_t { kClose, kHeaderTimeout, kBodyTimeout };
  using TimePoint = std::chrono::steady_clock::time_point;

  using Lock = std::unique_lock<std::mutex>;

  void Read();
  void OnRead(beast::error_code ec, size_t n);
  // Parses what was read and dispatches complete requests; an exception (out
  // of memory, say) ends this connection only.
  void ParseAvailable();
  void ParseAvailableUnguarded();
  void SetPhase(Phase phase);
  Slot& PushSlot(const Lock& lock, bool close_after, bool http10);

  // PipelineHost, called by pipeline_ on the loop thread (Complete and the
  // Responders: any thread).
  bool HasRoom() const override;
  void OnRequestBegun() override;
  void OnBodyBegun() override;
  void OnBodyBytes(size_t n) override;
  void OnRequestEnded() override;
  bool ReserveBody(size_t bytes) override;
  void ReleaseBody(size_t bytes) override;
  void SendContinue() override;
  uint64_t PushSlot(bool close_after, bool http10, size_t body_bytes) override;
  Responder MakeResponder(uint64_t seq) override;

  // Unless a write is in progress, takes the ready slots at the front (writing_
  // of them) into write_buffers_; false when there is nothing to write.
  bool BeginWrite(const Lock& lock);
  // Writes write_buffers_ asynchronously; OnWrite follows. Loop thread.
  void AsyncWrite(const Lock& lock);
  // Starts an asynchronous write of the ready front slots. Loop thread.
  void Write(const Lock& lock);
  // Writes the ready front slots with a non-blocking send; what the socket
  // does not take continues asynchronously on the loop. Not the loop thread.
  void WriteNow(Lock& lock);
  // Drops the `writing_` slots (or stream bytes) just written; true when the
  // connection is to close now. A streamed response's head turns the
  // connection into its stream (stream_start_ is then set for the loop).
  bool PopWritten(const Lock& lock);
  void BeginStream(const Lock& lock, Slot& slot);
  void OnWrite(beast::error_code ec);
  // After a write: close, start a stream, or write the next slots and resume
  // reading. Loop thread.
  void AfterWrite(Lock lock, bool close_after);
  // Stops reading requests and calls the stream's callback. Loop thread.
  void StartStream(Lock lock);
  // Writes what is ready: asynchronously on the loop, else WriteNow.
  void WriteFrom(Lock& lock, bool on_loop);
  void CloseLocked(const Lock& lock);
  void BeginLingeringClose(const Lock& lock);
  // The earliest deadline in force and what happens then.
  std::pair<TimePoint, Expiry> Deadline(const Lock& lock) const;
  void ArmTimer(const Lock& lock, TimePoint at);
  // Re-arms the timer when the deadline moved before the expiry armed. Loop thread.
  void RearmIfEarlier(const Lock& lock);
  void OnTimer(beast::error_code ec);
  // A header or body too slow: 408 (or a silent close when nothing of the
  // request arrived) and a close bounded by the lingering time. Loop thread.
  void TimeOut(Expiry why);
  void Touch(const Lock& lock);
  std::pair<Rank, TimePoint> CurrentRank(const Lock& lock) const;
  void PublishRank(const Lock& lock);
  void Shed();

  asio::ip::tcp::socket socket_;  // closed under mu_; sent to under mu_ off the loop
  IoLoop& loop_;
  ServerCore& core_;
  asio::steady_timer timer_;
  // Loop thread only.
  RequestPipeline pipeline_;  // the read buffer, the parser and the handler calls
  bool reading_ = false;
  bool streaming_ = false;  // StartStream ran: reads are only watched for the peer leaving

  std::atomic<Rank> rank_{Rank::kHeader};
  std::atomic<int64_t> rank_since_{0};

  // Guarded by mu_; the loop thread, their only writer apart from the write
  // state, may read closed_, read_eof_, lingering_ and the read phase without it.
  mutable std::mutex mu_;
  TimePoint last_activity_;                     // the last read or write completed
  TimePoint hard_deadline_ = TimePoint::max();  // closing: lingering or timed out
  TimePoint armed_ = TimePoint::max();          // the timer's expiry
  Phase phase_ = Phase::kHeader;
  TimePoint phase_since_;
  size_t body_received_ = 0;  // bytes of the current body (kBody)
  // Responses in request order; the front one has sequence number
  // next_seq_ - slots_.size().
  std::deque<Slot> slots_;
  uint64_t next_seq_ = 0;
  std::vector<asio::const_buffer> write_buffers_;
  size_t writing_ = 0;  // slots at the front that the current write covers
  bool read_eof_ = false;
  bool lingering_ = false;
  bool closed_ = false;
  // Streaming. stream_owed_: a slot holds a streamed response, so no further
  // request is taken. stream_: its head is written; the stream lasts until the
  // connection closes, which hands it to the loop (IoLoop::AddClosedStream).
  // The queue holds framed bytes not yet in a write, stream_out_ those of the
  // write in progress (write_buffers_ point into it).
  bool stream_owed_ = false;
  std::shared_ptr<ResponseStream> stream_;
  StreamStart stream_start_;  // the callback, until the loop calls it
  bool stream_chunked_ = false;
  bool stream_ending_ = false;  // EndStream: close once the queue is sent
  size_t stream_max_unsent_ = 0;
  std::string stream_queue_;
  std::string stream_out_;
  uint64_t stream_queue_payload_ = 0;  // bytes of Write()s in stream_queue_
  uint64_t stream_out_payload_ = 0;    // ... and in stream_out_
};

// A strong reference taken from a weak one by a thread that holds only that
// (a Responder, a StreamWriter). Dropped off the loop as the last owner of a
// connection closed meanwhile, it hands the connection to the loop to be
// destroyed there: its socket and timer belong to the loop.
class ConnectionRef {
 public:
  ConnectionRef(const std::weak_ptr<Connection>& weak, IoLoop& loop)
      : connection_(weak.lock()), loop_(loop) {}
  ConnectionRef(const ConnectionRef&) = delete;
  ConnectionRef& operator=(const ConnectionRef&) = delete;
  ~ConnectionRef();

  explicit operator bool() const { return connection_ != nullptr; }
  Connection* operator->() const { return connection_.get(); }

 private:
  std::shared_ptr<Connection> connection_;
  IoLoop& loop_;
};

}  // namespace heteroaccel::http::internal
