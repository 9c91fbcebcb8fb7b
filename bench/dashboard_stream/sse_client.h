// Clients of the server's Server-Sent Events stream (GET /v1/stream,
// docs/dashboard-api.md) that count what they receive, for the dashboard's
// scale benchmark.
//
// SseParser splits a text/event-stream body into events as bytes arrive (a
// pure value type). SseClientPool holds any number of stream connections on
// one I/O thread (Boost.Beast, kept out of this header); each counts the
// response bytes it parsed (status line, headers, chunk framing and body: what
// crossed the socket for it), its events by type and their data bytes, and
// checks what it can cheaply: the first event is a snapshot, every data field
// is JSON, `seq` never goes back.
//
// SseClientPool is thread-safe: Stats() may be called from any thread while
// the I/O thread reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace heteroaccel::bench {

struct SseEvent {
  std::string type = "message";  // the "event:" field, "message" when absent
  std::string id;
  std::string data;  // "data:" lines joined with '\n'
};

class SseParser {
 public:
  // Calls `on_event` for each event the bytes so far complete (an event ends
  // at a blank line). Lines may end in LF or CRLF.
  void Feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event);
  uint64_t comments() const { return comments_; }  // ":" lines (keep-alives)

 private:
  void Line(std::string_view line, const std::function<void(const SseEvent&)>& on_event);

  std::string partial_line_;
  SseEvent event_;
  bool has_data_ = false;
  uint64_t comments_ = 0;
};

struct SseTypeCount {
  uint64_t events = 0;
  uint64_t data_bytes = 0;
};

struct SseClientStats {
  int status = 0;  // the response's HTTP status; 0 until its headers arrived
  std::string content_type;
  std::string error_body;  // the start of a body that was not an event stream
  uint64_t wire_bytes = 0;
  uint64_t events = 0;
  uint64_t comments = 0;
  std::map<std::string, SseTypeCount> by_type;
  bool first_event_is_snapshot = false;
  int64_t last_seq = -1;
  uint64_t seq_regressions = 0;
  uint64_t bad_json = 0;
  int snapshot_nodes = -1;  // nodes in the last snapshot's state; -1 before one
  bool ended = false;       // the server ended the response or the connection
  std::string error;        // why the connection failed or ended, "" while it is fine
};

class SseClientPool {
 public:
  // `base_url`: "http://host:port"; `token` (may be empty) goes in an
  // Authorization: Bearer header.
  static absl::StatusOr<std::unique_ptr<SseClientPool>> Create(const std::string& base_url,
                                                               std::string path, std::string token);
  ~SseClientPool();  // closes every connection and stops the I/O thread

  void Connect(int clients);  // opens that many more connections
  void CloseAll();            // closes them all and forgets them
  std::vector<SseClientStats> Stats() const;

  // Waits until every client has had a 200 and its first event, or any has
  // failed or ended, or the deadline passes; true in the first case only.
  bool WaitAllStreaming(std::chrono::steady_clock::time_point deadline) const;

 private:
  class Impl;
  explicit SseClientPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace heteroaccel::bench
