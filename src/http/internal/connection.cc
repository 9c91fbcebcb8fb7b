#include "http/internal/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>

#include "http/internal/text.h"

namespace heteroaccel::http::internal {
namespace {

// Reads this large keep bodies from trickling in 512-byte pieces.
constexpr size_t kReadChunk = 64u << 10;
// Slots one write may cover: pipelined responses go out in one syscall.
constexpr size_t kMaxSlotsPerWrite = 64;
// How long a closing connection keeps draining what the peer still sends, so
// the peer reads our final response instead of a reset.
constexpr std::chrono::seconds kLingerTime{2};

// How long `bytes` take at `per_second`.
std::chrono::steady_clock::duration TimeAtRate(size_t bytes, size_t per_second) {
  const auto micros = static_cast<unsigned __int128>(bytes) * 1'000'000 / per_second;
  return std::chrono::microseconds(
      static_cast<int64_t>(std::min<unsigned __int128>(micros, INT64_MAX / 1000)));
}

bool IsOutOfDescriptors(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory ||
         (ec.category() == boost::system::system_category() && ec.value() == ENFILE);
}

// Drops the first `n` bytes of `buffers`.
void ConsumeBuffers(std::vector<asio::const_buffer>& buffers, size_t n) {
  size_t whole = 0;
  while (whole < buffers.size() && n >= buffers[whole].size()) n -= buffers[whole++].size();
  buffers.erase(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(whole));
  if (n > 0) buffers.front() += n;
}

}  // namespace

void IoLoop::CloseAllAndStop() {
  std::vector<std::shared_ptr<Connection>> open;
  open.reserve(connections.size());
  for (auto& [ptr, weak] : connections) {
    if (auto connection = weak.lock()) open.push_back(std::move(connection));
  }
  for (auto& connection : open) connection->Close();
  connections.clear();
  // Before the loop stops: callbacks queued by these closes (or earlier ones
  // still waiting for their turn) would not run after it.
  while (!closed_streams.empty()) RunClosedStreams();
  work.reset();
  ioc.stop();
}

void IoLoop::AddClosedStream(std::shared_ptr<ResponseStream> stream) {
  if (closed_streams.empty()) asio::post(ioc, [this] { RunClosedStreams(); });
  closed_streams.push_back(std::move(stream));
}

void IoLoop::RunClosedStreams() {
  // Callbacks may close further streams of this loop; they queue afresh.
  std::vector<std::shared_ptr<ResponseStream>> streams = std::exchange(closed_streams, {});
  for (const auto& stream : streams) stream->RunCloseCallbacks();
}

ConnectionRef::~ConnectionRef() {
  if (connection_ && connection_.use_count() == 1 &&
      !loop_.ioc.get_executor().running_in_this_thread()) {
    asio::post(loop_.ioc, [last = std::move(connection_)] {});
  }
}

ServerCore::ServerCore(ServerOptions opts, Router r, size_t max_open)
    : options(std::move(opts)),
      router(std::move(r)),
      max_connections(max_open),
      loops([n = std::max(1, options.io_threads)] {
        std::vector<std::shared_ptr<IoLoop>> v;
        for (int i = 0; i < n; ++i) v.push_back(std::make_shared<IoLoop>());
        return v;
      }()),
      acceptor(loops.front()->ioc),
      accept_retry(loops.front()->ioc) {}

Response ServerCore::MakeError(int status, std::string message) const {
  return MakeErrorResponse(options, status, std::move(message));
}

void ServerCore::Accept() {
  IoLoop& target = *loops[next_loop++ % loops.size()];
  acceptor.async_accept(target.ioc,
                        [this, &target](beast::error_code ec, asio::ip::tcp::socket socket) {
                          OnAccept(ec, std::move(socket), target);
                        });
}

void ServerCore::OnAccept(beast::error_code ec, asio::ip::tcp::socket socket, IoLoop& target) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors (or another transient failure): the pending
    // connection stays in the backlog, so retrying at once would spin. Free a
    // descriptor if an idle connection holds one, and retry shortly.
    const size_t freed = IsOutOfDescriptors(ec) ? ShedIdle(1) : 0;
    accept_retry.expires_after(std::chrono::milliseconds(freed > 0 ? 10 : 50));
    accept_retry.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) Accept();
    });
    return;
  }
  accepted.fetch_add(1, std::memory_order_relaxed);
  const uint64_t count =
      open.load(std::memory_order_relaxed) + pending.load(std::memory_order_relaxed);
  if (count >= max_connections && ShedIdle(count + 1 - max_connections) == 0) {
    Refuse(socket);
    Accept();
    return;
  }
  pending.fetch_add(1, std::memory_order_relaxed);
  beast::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  // The connection registers with its loop, so it starts on that loop's thread.
  asio::post(target.ioc, [this, &target, s = std::move(socket)]() mutable {
    pending.fetch_sub(1, std::memory_order_relaxed);
    std::make_shared<Connection>(std::move(s), target, *this)->Start();
  });
  Accept();
}

size_t ServerCore::ShedIdle(size_t wanted) {
  using Rank = Connection::Rank;
  struct Candidate {
    Rank rank;
    int64_t since;
    Connection* connection;
  };
  std::vector<std::shared_ptr<Connection>> victims;
  {
    std::lock_guard<std::mutex> lock(registry_mu);
    std::vector<Candidate> candidates;
    for (Connection* connection : registry) {
      const Rank rank = connection->PublishedRank();
      if (rank < Rank::kBusy) {
        candidates.push_back({rank, connection->PublishedRankSince(), connection});
      }
    }
    const size_t n = std::min(wanted, candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n),
                      candidates.end(), [](const Candidate& a, const Candidate& b) {
                        return a.rank != b.rank ? a.rank < b.rank : a.since < b.since;
                      });
    // Registered connections are open, hence alive: their timer holds them.
    for (size_t i = 0; i < n; ++i) {
      if (auto victim = candidates[i].connection->weak_from_this().lock()) {
        victims.push_back(std::move(victim));
      }
    }
  }
  for (const auto& victim : victims) victim->ShedSoon();
  return victims.size();
}

void ServerCore::Refuse(asio::ip::tcp::socket& socket) {
  refused.fetch_add(1, std::memory_order_relaxed);
  Response response = MakeError(
      503, Cat("too many connections (max_connections ", max_connections, "); retry later"));
  response.headers.emplace_back("Retry-After", "1");
  std::string head;
  std::string body;
  SerializeResponse(std::move(response), /*close_after=*/true, /*http10=*/false, head, body);
  head.append(body);
  // Best effort: a fresh socket takes a small response at once.
  (void)!::send(socket.native_handle(), head.data(), head.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  beast::error_code ignored;
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

bool ServerCore::ReserveBody(size_t bytes) {
  const uint64_t bound = options.max_inflight_body_bytes;
  uint64_t held = inflight_body_bytes.load(std::memory_order_relaxed);
  do {
    if (held > bound || bytes > bound - held) return false;
  } while (
      !inflight_body_bytes.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
  return true;
}

void ServerCore::ReleaseBody(size_t bytes) {
  if (bytes > 0) inflight_body_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

Connection::Connection(asio::ip::tcp::socket socket, IoLoop& loop, ServerCore& core)
    : socket_(std::move(socket)),
      loop_(loop),
      core_(core),
      timer_(loop.ioc),
      pipeline_(core.options, core.router, *this) {}

void Connection::Start() {
  loop_.connections.emplace(this, weak_from_this());
  core_.open.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> registry_lock(core_.registry_mu);
    core_.registry.insert(this);
  }
  {
    Lock lock(mu_);
    Touch(lock);
    phase_since_ = last_activity_;  // the first header's clock starts now
    PublishRank(lock);
    ArmTimer(lock, Deadline(lock).first);
  }
  ParseAvailable();
}

void Connection::Close() {
  Lock lock(mu_);
  CloseLocked(lock);
}

void Connection::ShedSoon() {
  asio::post(loop_.ioc, [self = shared_from_this()] { self->Shed(); });
}

void Connection::Shed() {
  Lock lock(mu_);
  if (CurrentRank(lock).first >= Rank::kBusy) return;  // took up a request meanwhile
  core_.shed.fetch_add(1, std::memory_order_relaxed);
  CloseLocked(lock);
}

void Connection::CloseLocked(const Lock& lock) {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
  pipeline_.Reset();
  for (Slot& slot : slots_) core_.ReleaseBody(std::exchange(slot.body_bytes, 0));
  if (stream_) {
    // Handed over, not kept: the writer holds the loop, whose queued handlers
    // may hold this connection after the loop stops.
    stream_->MarkClosed();
    loop_.AddClosedStream(std::move(stream_));
  }
  loop_.connections.erase(this);
  {
    std::lock_guard<std::mutex> registry_lock(core_.registry_mu);
    core_.registry.erase(this);
  }
  core_.open.fetch_sub(1, std::memory_order_relaxed);
  PublishRank(lock);
  // Slots stay until destruction: an aborted write may still refer to them.
}

void Connection::Touch(const Lock& lock) {
  last_activity_ = std::chrono::steady_clock::now();
  if (phase_ == Phase::kAwaiting) PublishRank(lock);  // idle since now
}

std::pair<Connection::Rank, Connection::TimePoint> Connection::CurrentRank(const Lock&) const {
  if (closed_) return {Rank::kClosed, last_activity_};
  if (lingering_ || hard_deadline_ != TimePoint::max()) return {Rank::kClosing, last_activity_};
  if (!slots_.empty() || writing_ > 0 || phase_ == Phase::kBody || stream_owed_) {
    return {Rank::kBusy, last_activity_};
  }
  if (phase_ == Phase::kAwaiting) return {Rank::kKeepAlive, last_activity_};
  return {Rank::kHeader, phase_since_};
}

void Connection::PublishRank(const Lock& lock) {
  const auto [rank, since] = CurrentRank(lock);
  rank_since_.store(since.time_since_epoch().count(), std::memory_order_relaxed);
  rank_.store(rank, std::memory_order_relaxed);
}

std::pair<Connection::TimePoint, Connection::Expiry> Connection::Deadline(const Lock&) const {
  const ServerOptions& options = core_.options;
  if (hard_deadline_ != TimePoint::max()) return {hard_deadline_, Expiry::kClose};
  if (stream_) {
    // A stream may stay silent for as long as the application likes; only a
    // write the client has stopped reading is bounded.
    return {writing_ > 0 ? last_activity_ + options.idle_timeout : TimePoint::max(),
            Expiry::kClose};
  }
  const bool busy = !slots_.empty() || writing_ > 0;
  std::pair<TimePoint, Expiry> earliest{last_activity_ + options.idle_timeout, Expiry::kClose};
  // A stream is owed: requests after it are not served, so their clocks do not matter.
  if (stream_owed_) return earliest;
  auto consider = [&earliest](TimePoint at, Expiry why) {
    if (at < earliest.first) earliest = {at, why};
  };
  switch (phase_) {
    case Phase::kAwaiting:
      if (!busy) earliest = {last_activity_ + options.keepalive_timeout, Expiry::kClose};
      break;
    case Phase::kHeader:
      consider(phase_since_ + options.header_timeout, Expiry::kHeaderTimeout);
      break;
    case Phase::kBody:
      if (options.min_body_bytes_per_second > 0) {
        consider(phase_since_ + options.header_timeout +
                     TimeAtRate(body_received_, options.min_body_bytes_per_second),
                 Expiry::kBodyTimeout);
      }
      break;
  }
  return earliest;
}

void Connection::ArmTimer(const Lock&, TimePoint at) {
  armed_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
}

void Connection::RearmIfEarlier(const Lock& lock) {
  if (closed_) return;
  if (const TimePoint at = Deadline(lock).first; at < armed_) ArmTimer(lock, at);
}

void Connection::OnTimer(beast::error_code ec) {
  if (ec == asio::error::operation_aborted) return;
  Expiry why;
  {
    Lock lock(mu_);
    if (closed_) return;
    // Activity only moves the deadlines; the timer catches up lazily, which
    // keeps timer syscalls off the per-request path.
    const auto [at, expiry] = Deadline(lock);
    if (std::chrono::steady_clock::now() < at) {
      ArmTimer(lock, at);
      return;
    }
    if (expiry == Expiry::kClose) {
      CloseLocked(lock);
      return;
    }
    why = expiry;
  }
  TimeOut(why);
}

void Connection::TimeOut(Expiry why) {
  const bool header = why == Expiry::kHeaderTimeout;
  (header ? core_.header_timeouts : core_.body_timeouts).fetch_add(1, std::memory_order_relaxed);
  // A connection that sent nothing of its request is closed silently (a
  // client may open one ahead of need); otherwise the client learns why.
  const bool sent_some = !header || pipeline_.got_some();
  pipeline_.StopReading();
  {
    Lock lock(mu_);
    hard_deadline_ = std::chrono::steady_clock::now() + kLingerTime;
    PublishRank(lock);
    if (!sent_some) {
      CloseLocked(lock);
      return;
    }
    ArmTimer(lock, hard_deadline_);
  }
  pipeline_.PushTimeout(header);
}

void Connection::Read() {
  reading_ = true;
  socket_.async_read_some(
      pipeline_.buffer().prepare(kReadChunk),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(beast::error_code ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    Lock lock(mu_);
    read_eof_ = true;
    // A half-closed peer still gets the responses it is owed; a stream's
    // client that closes its side is taken to be gone (EventSource never
    // half-closes), so the application hears of it at once.
    if (ec != asio::error::eof || lingering_ || streaming_ || (slots_.empty() && writing_ == 0)) {
      CloseLocked(lock);
    }
    return;
  }
  pipeline_.buffer().commit(n);
  {
    Lock lock(mu_);
    Touch(lock);
  }
  if (lingering_ || streaming_) {
    pipeline_.buffer().consume(pipeline_.buffer().size());
    Read();
    return;
  }
  ParseAvailable();
}

bool Connection::HasRoom() const {
  Lock lock(mu_);
  return !closed_ && !stream_owed_ && slots_.size() < Server::kMaxPipelinedRequests;
}

void Connection::SetPhase(Phase phase) {
  Lock lock(mu_);
  phase_ = phase;
  phase_since_ = std::chrono::steady_clock::now();
  body_received_ = 0;
  PublishRank(lock);
}

void Connection::ParseAvailable() {
  try {
    ParseAvailableUnguarded();
  } catch (...) {
    // Out of memory or the like while serving this client: it alone ends.
    pipeline_.StopReading();
    Close();
  }
}

void Connection::ParseAvailableUnguarded() {
  pipeline_.Parse();
  if (phase_ != Phase::kAwaiting) {
    Lock lock(mu_);
    RearmIfEarlier(lock);  // a header or body clock may have started
  }
  if (!reading_ && !read_eof_ && pipeline_.accepting() && HasRoom()) Read();
}

void Connection::OnRequestBegun() {
  // The first byte of this request: its header clock starts. (A new
  // connection's first request is timed from the connection's start.)
  if (phase_ == Phase::kAwaiting) SetPhase(Phase::kHeader);
}

void Connection::OnBodyBegun() { SetPhase(Phase::kBody); }

void Connection::OnBodyBytes(size_t n) {
  Lock lock(mu_);
  body_received_ += n;
}

void Connection::OnRequestEnded() { SetPhase(Phase::kAwaiting); }

bool Connection::ReserveBody(size_t bytes) {
  if (core_.ReserveBody(bytes)) return true;
  core_.refused_bodies.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Connection::ReleaseBody(size_t bytes) { core_.ReleaseBody(bytes); }

void Connection::SendContinue() {
  Lock lock(mu_);
  Slot& interim = PushSlot(lock, /*close_after=*/false, /*http10=*/false);
  interim.head = "HTTP/1.1 100 Continue\r\n\r\n";
  interim.ready = true;
  Write(lock);
}

uint64_t Connection::PushSlot(bool close_after, bool http10, size_t body_bytes) {
  Lock lock(mu_);
  PushSlot(lock, close_after, http10).body_bytes = body_bytes;
  return next_seq_ - 1;
}

Responder Connection::MakeResponder(uint64_t seq) {
  return [loop = loop_.shared_from_this(), weak = weak_from_this(), seq](Response response) {
    const ConnectionRef self(weak, *loop);
    if (!self) return;
    try {
      self->Complete(seq, std::move(response));
    } catch (...) {
      // Out of memory serializing the response: this connection ends.
      asio::post(loop->ioc, [weak] {
        if (auto connection = weak.lock()) connection->Close();
      });
    }
  };
}

Connection::Slot& Connection::PushSlot(const Lock& lock, bool close_after, bool http10) {
  Slot& slot = slots_.emplace_back();
  slot.close_after = close_after;
  slot.http10 = http10;
  ++next_seq_;
  PublishRank(lock);
  return slot;
}

void Connection::Complete(uint64_t seq, Response response) {
  const bool on_loop = loop_.ioc.get_executor().running_in_this_thread();
  Lock lock(mu_);
  if (closed_) return;
  const uint64_t front = next_seq_ - slots_.size();
  if (seq < front || seq >= next_seq_) return;
  Slot& slot = slots_[seq - front];
  if (slot.ready) return;
  if (IsStreamed(response)) {
    SerializeStreamHead(response, slot.http10, slot.head);
    slot.stream = std::move(response.stream);
    slot.stream_max_unsent = response.stream_max_unsent;
    stream_owed_ = true;  // no further request is taken
    PublishRank(lock);
  } else {
    SerializeResponse(std::move(response), slot.close_after, slot.http10, slot.head, slot.body);
  }
  slot.ready = true;
  WriteFrom(lock, on_loop);
}

void Connection::WriteFrom(Lock& lock, bool on_loop) {
  if (on_loop) {
    Write(lock);
  } else {
    WriteNow(lock);
  }
}

bool Connection::WriteStream(std::string_view bytes) {
  const bool on_loop = loop_.ioc.get_executor().running_in_this_thread();
  Lock lock(mu_);
  if (closed_ || !stream_ || stream_->closed()) return false;
  if (bytes.empty()) return true;  // an empty chunk would end the body
  const size_t framed = bytes.size() + (stream_chunked_ ? kMaxChunkFraming : 0);
  const size_t unsent = stream_queue_.size() + stream_out_.size();
  bool queued = false;
  if (unsent <= stream_max_unsent_ && framed <= stream_max_unsent_ - unsent) {
    try {
      if (stream_chunked_) {
        AppendChunk(bytes, stream_queue_);
      } else {
        stream_queue_.append(bytes);
      }
      stream_queue_payload_ += bytes.size();
      queued = true;
    } catch (...) {
      // Out of memory: dropped like a client that cannot keep up.
    }
  }
  if (!queued) {
    // The slow-consumer rule: the client is dropped at once, queued bytes and all.
    stream_->MarkClosed();
    if (on_loop) {
      CloseLocked(lock);
    } else {
      asio::post(loop_.ioc, [self = shared_from_this()] { self->Close(); });
    }
    return false;
  }
  WriteFrom(lock, on_loop);
  if (on_loop) RearmIfEarlier(lock);  // a write in progress has a deadline
  return true;
}

void Connection::EndStream() {
  const bool on_loop = loop_.ioc.get_executor().running_in_this_thread();
  Lock lock(mu_);
  if (closed_ || !stream_ || !stream_->MarkClosed()) return;
  stream_ending_ = true;
  if (stream_chunked_) stream_queue_.append(kLastChunk);
  if (stream_queue_.empty() && writing_ == 0) {
    // Nothing left to send (HTTP/1.0): the close ends the body.
    asio::post(loop_.ioc, [self = shared_from_this()] {
      self->AfterWrite(Lock(self->mu_), /*close_after=*/true);
    });
    return;
  }
  // The write that sends the end closes the connection (PopWritten).
  WriteFrom(lock, on_loop);
  if (on_loop) RearmIfEarlier(lock);
}

bool Connection::BeginWrite(const Lock& lock) {
  if (writing_ > 0 || closed_) return false;
  if (stream_) {
    if (stream_queue_.empty()) return false;
    stream_out_.swap(stream_queue_);
    stream_queue_.clear();
    stream_out_payload_ = std::exchange(stream_queue_payload_, 0);
    write_buffers_.assign(1, asio::const_buffer(stream_out_.data(), stream_out_.size()));
    writing_ = 1;
    Touch(lock);
    return true;
  }
  if (slots_.empty() || !slots_.front().ready) return false;
  write_buffers_.clear();
  for (const Slot& slot : slots_) {
    if (!slot.ready || writing_ == kMaxSlotsPerWrite) break;
    write_buffers_.emplace_back(slot.head.data(), slot.head.size());
    if (!slot.body.empty()) write_buffers_.emplace_back(slot.body.data(), slot.body.size());
    ++writing_;
    // What follows a stream's head is the stream, or nothing.
    if (slot.close_after || slot.stream) break;
  }
  Touch(lock);
  return true;
}

void Connection::AsyncWrite(const Lock&) {
  asio::async_write(
      socket_, write_buffers_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void Connection::Write(const Lock& lock) {
  if (BeginWrite(lock)) AsyncWrite(lock);
}

void Connection::WriteNow(Lock& lock) {
  while (BeginWrite(lock)) {
    std::array<iovec, 2 * kMaxSlotsPerWrite> parts;
    size_t total = 0;
    for (size_t i = 0; i < write_buffers_.size(); ++i) {
      parts[i] = {const_cast<void*>(write_buffers_[i].data()), write_buffers_[i].size()};
      total += write_buffers_[i].size();
    }
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = write_buffers_.size();
    ssize_t sent = 0;
    do {
      sent = ::sendmsg(socket_.native_handle(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // The peer is gone; writing_ stays set, so nothing more is written.
      asio::post(loop_.ioc, [self = shared_from_this()] { self->Close(); });
      return;
    }
    if (const size_t n = sent > 0 ? static_cast<size_t>(sent) : 0; n < total) {
      // The socket is full: the loop writes the rest when it drains.
      ConsumeBuffers(write_buffers_, n);
      asio::post(loop_.ioc, [self = shared_from_this()] {
        Lock loop_lock(self->mu_);
        if (self->closed_) return;
        self->AsyncWrite(loop_lock);
        self->RearmIfEarlier(loop_lock);  // a stream's write has a deadline now
      });
      return;
    }
    const bool pipeline_was_full = slots_.size() >= Server::kMaxPipelinedRequests;
    const bool close_after = PopWritten(lock);
    if (close_after || read_eof_ || pipeline_was_full || stream_start_) {
      // Closing, starting a stream, or resuming a read the full pipeline
      // paused, is the loop's job.
      asio::post(loop_.ioc, [self = shared_from_this(), close_after] {
        self->AfterWrite(Lock(self->mu_), close_after);
      });
      return;
    }
    if (slots_.empty() && Deadline(lock).first < armed_) {
      // Idle now, with keepalive_timeout due before the expiry armed.
      asio::post(loop_.ioc, [self = shared_from_this()] {
        Lock loop_lock(self->mu_);
        self->RearmIfEarlier(loop_lock);
      });
    }
  }
}

bool Connection::PopWritten(const Lock& lock) {
  if (stream_) {
    writing_ = 0;
    stream_->CountSent(std::exchange(stream_out_payload_, 0));
    // A burst's buffer is not kept for the stream's (long) life.
    if (stream_out_.capacity() > kReadChunk) {
      std::string().swap(stream_out_);
    } else {
      stream_out_.clear();
    }
    return stream_ending_ && stream_queue_.empty();
  }
  bool close_after = false;
  for (; writing_ > 0; --writing_) {
    Slot& front = slots_.front();
    if (front.stream) {
      BeginStream(lock, front);  // the last slot of this write
      writing_ = 0;
      break;
    }
    close_after = close_after || front.close_after;
    core_.ReleaseBody(front.body_bytes);
    slots_.pop_front();
  }
  PublishRank(lock);
  return close_after;
}

void Connection::BeginStream(const Lock&, Slot& slot) {
  stream_ = std::make_shared<ResponseStream>(weak_from_this(), loop_.shared_from_this());
  stream_start_ = std::move(slot.stream);
  stream_chunked_ = !slot.http10;
  stream_max_unsent_ = slot.stream_max_unsent;
  // The stream's request body and those of the requests after it (which are
  // never answered) are not held for the stream's life.
  for (Slot& dropped : slots_) core_.ReleaseBody(dropped.body_bytes);
  slots_.clear();
}

void Connection::OnWrite(beast::error_code ec) {
  Lock lock(mu_);
  if (closed_) return;
  if (ec) {
    CloseLocked(lock);
    return;
  }
  Touch(lock);
  const bool close_after = PopWritten(lock);
  AfterWrite(std::move(lock), close_after);
}

void Connection::AfterWrite(Lock lock, bool close_after) {
  if (closed_) return;
  if (close_after) {
    BeginLingeringClose(lock);
    return;
  }
  if (stream_start_) {
    StartStream(std::move(lock));
    return;
  }
  if (stream_) {
    Write(lock);
    RearmIfEarlier(lock);
    return;
  }
  Write(lock);
  RearmIfEarlier(lock);  // keepalive_timeout may now be due first
  lock.unlock();
  ParseAvailable();  // resumes reading if the pipeline bound paused it
  lock.lock();
  if (read_eof_ && slots_.empty() && !closed_) CloseLocked(lock);
}

void Connection::StartStream(Lock lock) {
  const StreamStart start = std::exchange(stream_start_, nullptr);
  std::shared_ptr<StreamWriter> writer = stream_;
  if (read_eof_) {
    CloseLocked(lock);  // the client left before its turn
    return;
  }
  lock.unlock();
  // Nothing after the stream is served; reads now only watch for the peer leaving.
  pipeline_.StopReading();
  streaming_ = true;
  if (!reading_) Read();
  try {
    start(std::move(writer));
  } catch (...) {
    // The application failed to start its stream: this connection ends.
    Close();
  }
}

void Connection::BeginLingeringClose(const Lock& lock) {
  if (lingering_) return;  // a stream may end by more than one path
  pipeline_.StopAccepting();
  beast::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  if (read_eof_) {
    CloseLocked(lock);
    return;
  }
  lingering_ = true;
  hard_deadline_ = std::min(hard_deadline_, std::chrono::steady_clock::now() + kLingerTime);
  PublishRank(lock);
  RearmIfEarlier(lock);
  pipeline_.buffer().consume(pipeline_.buffer().size());
  if (!reading_) Read();
}

}  // namespace heteroaccel::http::internal
