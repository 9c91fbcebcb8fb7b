// ResponseStream: the StreamWriter a connection hands to a streaming
// response's callback (Response::stream), and the chunk framing it writes.
//
// The writer holds its connection weakly and the connection's event loop
// strongly (as a Responder does), so a writer kept past its connection or the
// Server is safe: Write returns false. The bytes themselves are queued and sent
// by the Connection (connection.h) under its lock, on its write path; the
// writer keeps only what must outlive the connection: whether the stream is
// closed, the OnClose callbacks and the count of bytes sent.
//
// Threading: every method is thread-safe. The Connection marks the stream
// closed under its own lock (lock order: Connection's mu_, then this mu_) and
// runs the callbacks later on its loop thread with no lock held.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "http/message.h"

namespace heteroaccel::http::internal {

class Connection;
struct IoLoop;

// The end of a chunked body: the last chunk with no trailers.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
// The most framing AppendChunk adds to a chunk's bytes.
inline constexpr size_t kMaxChunkFraming = 2 * sizeof(size_t) + 4;

// Appends `bytes` (not empty) to `out` as one chunk: size in hex, CRLF, bytes, CRLF.
void AppendChunk(std::string_view bytes, std::string& out);

class ResponseStream final : public StreamWriter {
 public:
  ResponseStream(std::weak_ptr<Connection> connection, std::shared_ptr<IoLoop> loop);

  bool Write(std::string_view bytes) override;
  void Close() override;
  bool closed() const override { return closed_.load(std::memory_order_acquire); }
  void OnClose(std::function<void()> callback) override;
  uint64_t bytes_sent() const override { return bytes_sent_.load(std::memory_order_relaxed); }

  // The connection's side. MarkClosed: Write fails from now on; true the first
  // time. RunCloseCallbacks: runs (once) the callbacks registered before the
  // stream was marked closed; call it after MarkClosed, holding no lock.
  bool MarkClosed() { return !closed_.exchange(true, std::memory_order_acq_rel); }
  void RunCloseCallbacks();
  void CountSent(uint64_t bytes) { bytes_sent_.fetch_add(bytes, std::memory_order_relaxed); }

 private:
  const std::weak_ptr<Connection> connection_;
  const std::shared_ptr<IoLoop> loop_;
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> bytes_sent_{0};
  std::mutex mu_;
  std::vector<std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace heteroaccel::http::internal
