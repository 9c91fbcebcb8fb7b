// StreamHub: the live dashboard's Server-Sent Events (GET /v1/stream; wire
// format in docs/dashboard-api.md). It holds the last published state
// document and the last `ring` events; a client gets a snapshot on attach, or
// the events it missed when it reconnects with a Last-Event-ID still held.
// SetState publishes only what changed, as a JSON Merge Patch (RFC 7396).
//
// Thread-safe; writes to clients never block (http::StreamWriter), and a
// client whose writer reports closed is dropped.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "http/message.h"

namespace heteroaccel::server {

// The merge patch that turns `from` into `to` (RFC 7396). Values in the
// documents must not be null (null means "delete" in a patch). Empty object:
// no change.
nlohmann::json MergeDiff(const nlohmann::json& from, const nlohmann::json& to);
// Applies a merge patch to `target` (RFC 7396).
void MergeApply(nlohmann::json& target, const nlohmann::json& patch);

class StreamHub {
 public:
  // Event ids start after `first_seq`; by default the start time in ms × 1000,
  // so that an id a client kept from an earlier server process is older than
  // anything this one holds and gets a snapshot, never a wrong replay.
  explicit StreamHub(size_t ring = 256, std::optional<uint64_t> first_seq = std::nullopt);

  // What a snapshot carries besides the state (recent decisions, the audit
  // log); called with the hub's lock held, so it must not call the hub.
  void SetSnapshotExtras(std::function<nlohmann::json()> extras);

  // Adds a client: the events after `last_event_id` when the hub still holds
  // them all, else a snapshot.
  void Attach(std::shared_ptr<http::StreamWriter> writer, std::optional<uint64_t> last_event_id);
  // Publishes a "patch" event when `state` differs from the last one.
  void SetState(nlohmann::json state);
  // Publishes `event` with `payload` (an object; "seq" is added).
  void Publish(const std::string& event, nlohmann::json payload);
  // A heartbeat to every client (no id); drops the clients that are gone.
  void Heartbeat();

  size_t clients();
  uint64_t seq();
  // {"seq": N, "state": {...}}: GET /v1/state.
  nlohmann::json StateJson();

 private:
  void Broadcast(const std::string& text);  // mu_ held
  std::string Snapshot();                   // mu_ held

  const size_t ring_size_;
  std::mutex mu_;
  std::function<nlohmann::json()> extras_;
  nlohmann::json state_ = nlohmann::json::object();
  uint64_t seq_ = 0;
  std::deque<std::pair<uint64_t, std::string>> ring_;  // (seq, the event's text)
  std::vector<std::shared_ptr<http::StreamWriter>> clients_;
};

}  // namespace heteroaccel::server
