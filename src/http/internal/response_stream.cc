#include "http/internal/response_stream.h"

#include <utility>

#include "http/internal/connection.h"

namespace heteroaccel::http::internal {

void AppendChunk(std::string_view bytes, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[2 * sizeof(size_t)];
  size_t n = 0;
  for (size_t size = bytes.size(); n == 0 || size > 0; size >>= 4) digits[n++] = kHex[size & 0xf];
  out.reserve(out.size() + bytes.size() + n + 4);
  while (n > 0) out.push_back(digits[--n]);
  out.append("\r\n").append(bytes).append("\r\n");
}

ResponseStream::ResponseStream(std::weak_ptr<Connection> connection, std::shared_ptr<IoLoop> loop)
    : connection_(std::move(connection)), loop_(std::move(loop)) {}

bool ResponseStream::Write(std::string_view bytes) {
  if (closed()) return false;
  const ConnectionRef connection(connection_, *loop_);
  return connection && connection->WriteStream(bytes);
}

void ResponseStream::Close() {
  if (closed()) return;
  if (const ConnectionRef connection(connection_, *loop_); connection) connection->EndStream();
}

void ResponseStream::OnClose(std::function<void()> callback) {
  if (!callback) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Checked under mu_: a callback added here is one RunCloseCallbacks takes.
    if (!closed()) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void ResponseStream::RunCloseCallbacks() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks.swap(callbacks_);
  }
  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (...) {
      // The application's callback failed; the io thread carries on.
    }
  }
}

}  // namespace heteroaccel::http::internal
