// EventStore: every event the camera pipelines raise, kept in SQLite (WAL,
// busy timeout) under a directory so that it survives restarts, with each
// event's best snapshot as a JPEG file beside it; or wholly in memory when the
// directory is "".
//
// Layout of a store directory:
//   <dir>/events.db                  the table `events`, one row per event id
//   <dir>/snapshots/<name>.jpg       snapshots; <name> is derived by the store
//                                    from the id (SnapshotName), never taken
//                                    from input as given
//
// Lifecycle of one event id (pipeline::Event):
//   1. kNew inserts the row: phase "active", start_ms = the wall time given.
//   2. kUpdate rewrites what a rule learnt since (box, count, text, detail,
//      snapshot, ...); start_ms and created_ms stay.
//   3. kEnd does the same and sets phase "ended" and end_ms. An ended event
//      stays ended whatever arrives later.
//   An update or end for an id the store does not know inserts it (start_ms
//   estimated from the camera times), so no event is ever lost to ordering.
//   A snapshot given with any of these replaces the previous one (written to
//   a temporary file and renamed over it, so readers never see half a file).
//
// Query returns newest first (by start_ms, then id) with keyset pagination: a
// cursor names the last row of a page, so rows inserted meanwhile (newer, on
// top) neither repeat nor hide rows of later pages.
//
// Retention: Prune deletes events whose last change is older than max_age and
// all but the newest max_count, with their snapshot files. It runs at Open and
// every Options::prune_interval on a background thread.
//
// Ownership and threading: Open returns the owner; the destructor stops the
// pruning thread and closes the database. Every method is thread-safe (one
// mutex around the connection and the snapshot files).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/types.h"

struct sqlite3;

namespace heteroaccel::events {

struct EventStoreOptions {
  std::string dir;                                                 // "" keeps everything in memory
  std::chrono::milliseconds max_age{std::chrono::hours(24 * 30)};  // 0: no age limit
  size_t max_count = 1'000'000;                                    // 0: no count limit
  std::chrono::milliseconds prune_interval{std::chrono::minutes(1)};  // 0: only at Open
  size_t max_snapshot_bytes = 4u << 20;  // larger snapshots are not kept (the event is)
};

// One stored event: the latest Event for its id plus what the store adds.
struct StoredEvent {
  pipeline::Event event;  // phase: kEnd once ended, else kNew (see `active`)
  bool active = true;
  int64_t start_ms = 0;           // wall clock, ms since the epoch
  std::optional<int64_t> end_ms;  // wall clock, set when ended
  int64_t created_ms = 0;         // when the store first saw the id
  int64_t updated_ms = 0;         // when it last changed
  std::string snapshot;           // snapshot file name, "" when none
};

struct EventQuery {
  std::string camera;  // "" = any; the others likewise
  std::string group;
  std::string type;
  std::optional<int64_t> since_ms;  // start_ms >= since_ms
  std::optional<int64_t> until_ms;  // start_ms < until_ms
  bool active_only = false;
  int limit = 100;     // 1..500
  std::string cursor;  // "" = first page; else a next_cursor from an earlier page
};

struct EventPage {
  std::vector<StoredEvent> events;  // newest first
  std::string next_cursor;          // "" when this is the last page
};

struct EventStoreCounters {
  uint64_t upserts = 0;
  uint64_t snapshots_written = 0;
  uint64_t snapshots_rejected = 0;  // over max_snapshot_bytes or not writable
  uint64_t pruned = 0;              // events deleted by retention
};

class EventStore {
 public:
  static constexpr int kMaxLimit = 500;
  static constexpr size_t kMaxIdBytes = 256;
  static constexpr size_t kMaxDetailBytes = 64u << 10;

  // Creates <dir> and <dir>/snapshots if needed, opens or creates the table,
  // prunes once and starts the pruning thread. Unavailable (naming the path)
  // when the directory or the database cannot be opened.
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(EventStoreOptions options);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // See the lifecycle above. `wall_ms`: wall clock of this change.
  // InvalidArgument for an empty id or one over kMaxIdBytes; Unavailable when
  // the database fails. A snapshot that cannot be kept is counted and logged,
  // and the event is stored without it.
  absl::Status Upsert(const pipeline::Event& event, int64_t wall_ms,
                      std::optional<std::string_view> snapshot_jpeg = std::nullopt);

  // InvalidArgument for a limit outside 1..kMaxLimit or a cursor this store
  // did not issue.
  absl::StatusOr<EventPage> Query(const EventQuery& query);
  std::optional<StoredEvent> Get(std::string_view id);
  // The snapshot's bytes; NotFound when the event or its snapshot is unknown.
  absl::StatusOr<std::string> Snapshot(std::string_view id);

  // Deletes events not changed since now_ms - max_age (when max_age > 0) and
  // all but the newest max_count by start (when max_count > 0), with their
  // snapshots. Returns how many events were deleted.
  absl::StatusOr<size_t> Prune(std::chrono::milliseconds max_age, size_t max_count, int64_t now_ms);

  size_t Count();
  EventStoreCounters counters();
  // <dir>/snapshots, "" in memory.
  const std::string& snapshot_dir() const { return snapshot_dir_; }

  // The file name (without directory) the store uses for `id`'s snapshot:
  // [A-Za-z0-9_-] only, at most 100 characters, distinct ids give distinct
  // names (a SHA-256 prefix of the id is part of it).
  static std::string SnapshotName(std::string_view id);

 private:
  EventStore(EventStoreOptions options, sqlite3* db, std::string snapshot_dir);
  void PruneLoop();
  absl::Status WriteSnapshotLocked(const std::string& name, std::string_view bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveSnapshotLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const EventStoreOptions options_;
  const std::string snapshot_dir_;

  std::mutex mu_;
  sqlite3* const db_;                                                         // guarded by mu_
  std::map<std::string, std::string> memory_snapshots_ ABSL_GUARDED_BY(mu_);  // dir ""
  EventStoreCounters counters_ ABSL_GUARDED_BY(mu_);

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread pruner_;
};

// The API's event object (GET /v1/events, the event stream, MQTT and webhook
// messages):
//   {"id", "camera", "group", "rule", "type", "phase": "active"|"ended",
//    "object", "colour", "track_id", "zone", "direction", "text", "count",
//    "start_ms", "end_ms" (null while active), "start_time", "end_time"
//    (camera time in seconds; null while active),
//    "box": {"x1", "y1", "x2", "y2"}, "snapshot_frame", "snapshot_score",
//    "provenance": {"node", "device", "variant", "queue_ms", "compute_ms"},
//    "detail": {...rule-specific...}, "created_ms", "updated_ms",
//    "snapshot_url": "/v1/events/<id, percent-encoded>/snapshot.jpg" (only
//    when there is a snapshot)}
nlohmann::json ToJson(const StoredEvent& stored);

// ToJson plus "change": "new" | "update" | "end": what a delivered message
// (MQTT, webhook, stream) reports about one Upsert.
nlohmann::json EventMessage(const StoredEvent& stored, pipeline::EventPhase change);

}  // namespace heteroaccel::events
