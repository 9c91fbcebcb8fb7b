#include "events/event_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <variant>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace heteroaccel::events {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  phase TEXT NOT NULL,
  camera TEXT NOT NULL,
  grp TEXT NOT NULL,
  rule TEXT NOT NULL,
  type TEXT NOT NULL,
  object TEXT NOT NULL,
  colour TEXT NOT NULL,
  track_id INTEGER NOT NULL,
  zone TEXT NOT NULL,
  direction TEXT NOT NULL,
  text TEXT NOT NULL,
  count INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  start_time REAL NOT NULL,
  end_time REAL,
  x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
  snapshot_frame INTEGER NOT NULL,
  snapshot_score REAL NOT NULL,
  node TEXT NOT NULL,
  device TEXT NOT NULL,
  variant TEXT NOT NULL,
  queue_ms REAL NOT NULL,
  compute_ms REAL NOT NULL,
  detail TEXT NOT NULL,
  snapshot TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_start ON events(start_ms, id);
CREATE INDEX IF NOT EXISTS events_camera ON events(camera, start_ms, id);
CREATE INDEX IF NOT EXISTS events_grp ON events(grp, start_ms, id);
CREATE INDEX IF NOT EXISTS events_type ON events(type, start_ms, id);
CREATE INDEX IF NOT EXISTS events_phase ON events(phase, start_ms, id);
CREATE INDEX IF NOT EXISTS events_updated ON events(updated_ms);
)sql";

constexpr const char* kColumns =
    "id, phase, camera, grp, rule, type, object, colour, track_id, zone, direction, text, count, "
    "start_ms, end_ms, start_time, end_time, x1, y1, x2, y2, snapshot_frame, snapshot_score, "
    "node, device, variant, queue_ms, compute_ms, detail, snapshot, created_ms, updated_ms";
constexpr int kColumnCount = 32;

// An ended event stays ended; start and creation are kept from the first sighting.
constexpr const char* kUpsertTail = R"sql(
ON CONFLICT(id) DO UPDATE SET
  phase = CASE WHEN events.phase = 'ended' THEN 'ended' ELSE excluded.phase END,
  end_ms = CASE WHEN events.phase = 'ended' THEN events.end_ms ELSE excluded.end_ms END,
  end_time = CASE WHEN events.phase = 'ended' THEN events.end_time ELSE excluded.end_time END,
  camera = excluded.camera, grp = excluded.grp, rule = excluded.rule, type = excluded.type,
  object = excluded.object, colour = excluded.colour, track_id = excluded.track_id,
  zone = excluded.zone, direction = excluded.direction, text = excluded.text,
  count = excluded.count, x1 = excluded.x1, y1 = excluded.y1, x2 = excluded.x2,
  y2 = excluded.y2, snapshot_frame = excluded.snapshot_frame,
  snapshot_score = excluded.snapshot_score, node = excluded.node, device = excluded.device,
  variant = excluded.variant, queue_ms = excluded.queue_ms, compute_ms = excluded.compute_ms,
  detail = excluded.detail, snapshot = COALESCE(excluded.snapshot, events.snapshot),
  updated_ms = excluded.updated_ms
)sql";

constexpr size_t kMaxTextBytes = 1024;

// Closes a prepared statement on every path.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

using BindValue = std::variant<std::monostate, int64_t, double, std::string>;

void Bind(sqlite3_stmt* stmt, int index, const BindValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    sqlite3_bind_int64(stmt, index, *i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    sqlite3_bind_double(stmt, index, *d);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

std::string Text(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  return text == nullptr ? ""
                         : std::string(reinterpret_cast<const char*>(text),
                                       static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

std::optional<int64_t> OptionalInt(sqlite3_stmt* stmt, int column) {
  if (sqlite3_column_type(stmt, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt, column);
}

std::string Clip(const std::string& s) {
  return s.size() <= kMaxTextBytes ? s : s.substr(0, kMaxTextBytes);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsSafeNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsSafeName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  for (char c : name) {
    if (!IsSafeNameChar(c)) return false;
  }
  return true;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (IsSafeNameChar(static_cast<char>(c)) || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why = error != nullptr ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return absl::UnavailableError(absl::StrCat("event store: ", why));
  }
  return absl::OkStatus();
}

StoredEvent ReadRow(sqlite3_stmt* s) {
  StoredEvent out;
  pipeline::Event& e = out.event;
  e.id = Text(s, 0);
  out.active = Text(s, 1) != "ended";
  e.phase = out.active ? pipeline::EventPhase::kNew : pipeline::EventPhase::kEnd;
  e.camera = Text(s, 2);
  e.group = Text(s, 3);
  e.rule = Text(s, 4);
  e.type = Text(s, 5);
  e.object = Text(s, 6);
  e.colour = Text(s, 7);
  e.track_id = static_cast<uint64_t>(sqlite3_column_int64(s, 8));
  e.zone = Text(s, 9);
  e.direction = Text(s, 10);
  e.text = Text(s, 11);
  e.count = sqlite3_column_int(s, 12);
  out.start_ms = sqlite3_column_int64(s, 13);
  out.end_ms = OptionalInt(s, 14);
  e.start = sqlite3_column_double(s, 15);
  if (sqlite3_column_type(s, 16) != SQLITE_NULL) e.end = sqlite3_column_double(s, 16);
  e.box = {static_cast<float>(sqlite3_column_double(s, 17)),
           static_cast<float>(sqlite3_column_double(s, 18)),
           static_cast<float>(sqlite3_column_double(s, 19)),
           static_cast<float>(sqlite3_column_double(s, 20))};
  e.snapshot_frame = static_cast<uint64_t>(sqlite3_column_int64(s, 21));
  e.snapshot_score = static_cast<float>(sqlite3_column_double(s, 22));
  e.provenance.node = Text(s, 23);
  e.provenance.device = Text(s, 24);
  e.provenance.variant = Text(s, 25);
  e.provenance.queue_ms = sqlite3_column_double(s, 26);
  e.provenance.compute_ms = sqlite3_column_double(s, 27);
  e.detail = Text(s, 28);
  out.snapshot = Text(s, 29);
  out.created_ms = sqlite3_column_int64(s, 30);
  out.updated_ms = sqlite3_column_int64(s, 31);
  return out;
}

// The row's values in kColumns order.
std::vector<BindValue> RowValues(const pipeline::Event& e, int64_t wall_ms,
                                 const std::optional<std::string>& snapshot) {
  const bool ended = e.phase == pipeline::EventPhase::kEnd;
  // For an id seen first at an update or end, the start is estimated from the
  // camera times (the end, when known, is "now").
  int64_t start_ms = wall_ms;
  if (e.phase != pipeline::EventPhase::kNew && e.end && *e.end > e.start) {
    start_ms = wall_ms - static_cast<int64_t>((*e.end - e.start) * 1000);
  }
  std::string detail = e.detail.empty() ? "{}" : e.detail;
  if (detail.size() > EventStore::kMaxDetailBytes) {
    spdlog::warn("event {}: detail of {} bytes dropped (limit {})", e.id, detail.size(),
                 EventStore::kMaxDetailBytes);
    detail = "{}";
  }
  return {e.id,
          std::string(ended ? "ended" : "active"),
          Clip(e.camera),
          Clip(e.group),
          Clip(e.rule),
          Clip(e.type),
          Clip(e.object),
          Clip(e.colour),
          static_cast<int64_t>(e.track_id),
          Clip(e.zone),
          Clip(e.direction),
          Clip(e.text),
          static_cast<int64_t>(e.count),
          start_ms,
          ended ? BindValue(wall_ms) : BindValue(),
          e.start,
          ended && e.end ? BindValue(*e.end) : BindValue(),
          static_cast<double>(e.box.x1),
          static_cast<double>(e.box.y1),
          static_cast<double>(e.box.x2),
          static_cast<double>(e.box.y2),
          static_cast<int64_t>(e.snapshot_frame),
          static_cast<double>(e.snapshot_score),
          Clip(e.provenance.node),
          Clip(e.provenance.device),
          Clip(e.provenance.variant),
          e.provenance.queue_ms,
          e.provenance.compute_ms,
          std::move(detail),
          snapshot ? BindValue(*snapshot) : BindValue(),
          wall_ms,
          wall_ms};
}

std::string EncodeCursor(const StoredEvent& last) {
  return absl::WebSafeBase64Escape(absl::StrCat(last.start_ms, ":", last.event.id));
}

absl::StatusOr<std::pair<int64_t, std::string>> DecodeCursor(const std::string& cursor) {
  std::string raw;
  const absl::Status bad = absl::InvalidArgumentError(
      "cursor: not a cursor this server issued; pass next_cursor from the previous page as is");
  if (cursor.size() > 2 * EventStore::kMaxIdBytes || !absl::WebSafeBase64Unescape(cursor, &raw)) {
    return bad;
  }
  const size_t colon = raw.find(':');
  int64_t start_ms = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(raw.substr(0, colon), &start_ms)) {
    return bad;
  }
  return std::make_pair(start_ms, raw.substr(colon + 1));
}

}  // namespace

EventStore::EventStore(EventStoreOptions options, sqlite3* db, std::string snapshot_dir)
    : options_(std::move(options)), snapshot_dir_(std::move(snapshot_dir)), db_(db) {}

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(EventStoreOptions options) {
  std::string db_path = ":memory:";
  std::string snapshot_dir;
  if (!options.dir.empty()) {
    snapshot_dir = options.dir + "/snapshots";
    std::error_code ec;
    std::filesystem::create_directories(snapshot_dir, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot create the event store's directory ",
                                                 snapshot_dir, ": ", ec.message()));
    }
    // Temporary files of writes a crash interrupted.
    for (const auto& entry : std::filesystem::directory_iterator(snapshot_dir, ec)) {
      if (entry.path().extension() == ".tmp") std::filesystem::remove(entry.path(), ec);
    }
    db_path = options.dir + "/events.db";
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open the event store ", db_path, ": ", why));
  }
  const std::string setup =
      absl::StrCat(options.dir.empty() ? "" : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                   "PRAGMA busy_timeout=5000;", kSchema);
  if (absl::Status s = Exec(db, setup.c_str()); !s.ok()) {
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot set up the event store ", db_path, ": ", s.message()));
  }
  std::unique_ptr<EventStore> store(new EventStore(std::move(options), db, snapshot_dir));
  if (absl::StatusOr<size_t> pruned =
          store->Prune(store->options_.max_age, store->options_.max_count, NowMs());
      !pruned.ok()) {
    spdlog::warn("event store: pruning at open failed: {}", std::string(pruned.status().message()));
  }
  if (store->options_.prune_interval.count() > 0) {
    store->pruner_ = std::thread([s = store.get()] { s->PruneLoop(); });
  }
  return store;
}

EventStore::~EventStore() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (pruner_.joinable()) pruner_.join();
  sqlite3_close(db_);
}

void EventStore::PruneLoop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, options_.prune_interval, [this] { return stop_; })) {
    lock.unlock();
    absl::StatusOr<size_t> pruned = Prune(options_.max_age, options_.max_count, NowMs());
    if (!pruned.ok()) {
      spdlog::warn("event store: pruning failed: {}", std::string(pruned.status().message()));
    }
    lock.lock();
  }
}

std::string EventStore::SnapshotName(std::string_view id) {
  std::string readable;
  for (char c : id) {
    if (readable.size() == 60) break;
    readable.push_back(IsSafeNameChar(c) ? c : '_');
  }
  return absl::StrCat(readable, "-", Sha256Hex(id).substr(0, 24));
}

absl::Status EventStore::WriteSnapshotLocked(const std::string& name, std::string_view bytes) {
  if (snapshot_dir_.empty()) {
    memory_snapshots_[name] = std::string(bytes);
    return absl::OkStatus();
  }
  static std::atomic<uint64_t> sequence{0};
  const std::string final_path = absl::StrCat(snapshot_dir_, "/", name, ".jpg");
  const std::string temp_path =
      absl::StrCat(snapshot_dir_, "/.", name, ".", getpid(), ".", sequence++, ".tmp");
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", temp_path, ": ", strerror(errno)));
  }
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  const int write_errno = errno;
  ::close(fd);
  if (written != bytes.size() || ::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    const int why = written != bytes.size() ? write_errno : errno;
    ::unlink(temp_path.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", final_path, ": ", strerror(why)));
  }
  return absl::OkStatus();
}

void EventStore::RemoveSnapshotLocked(const std::string& name) {
  if (!IsSafeName(name)) return;
  if (snapshot_dir_.empty()) {
    memory_snapshots_.erase(name);
    return;
  }
  ::unlink(absl::StrCat(snapshot_dir_, "/", name, ".jpg").c_str());
}

absl::Status EventStore::Upsert(const pipeline::Event& event, int64_t wall_ms,
                                std::optional<std::string_view> snapshot_jpeg) {
  if (event.id.empty() || event.id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event id must be 1 to ", kMaxIdBytes, " bytes (got ", event.id.size(), ")"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<std::string> snapshot;
  if (snapshot_jpeg) {
    const std::string name = SnapshotName(event.id);
    absl::Status written = snapshot_jpeg->size() > options_.max_snapshot_bytes
                               ? absl::ResourceExhaustedError(absl::StrCat(
                                     "snapshot of ", snapshot_jpeg->size(),
                                     " bytes is over the limit of ", options_.max_snapshot_bytes))
                               : WriteSnapshotLocked(name, *snapshot_jpeg);
    if (written.ok()) {
      snapshot = name;
      ++counters_.snapshots_written;
    } else {
      ++counters_.snapshots_rejected;
      spdlog::warn("event {}: snapshot not kept: {}", event.id, std::string(written.message()));
    }
  }
  Statement s;
  std::vector<std::string> marks(kColumnCount, "?");
  const std::string sql = absl::StrCat("INSERT INTO events (", kColumns, ") VALUES (",
                                       absl::StrJoin(marks, ","), ")", kUpsertTail);
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.stmt, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("event store: ", sqlite3_errmsg(db_)));
  }
  const std::vector<BindValue> values = RowValues(event, wall_ms, snapshot);
  for (int i = 0; i < kColumnCount; ++i) Bind(s.stmt, i + 1, values[static_cast<size_t>(i)]);
  if (sqlite3_step(s.stmt) != SQLITE_DONE) {
    return absl::UnavailableError(absl::StrCat("event store: ", sqlite3_errmsg(db_)));
  }
  ++counters_.upserts;
  return absl::OkStatus();
}

absl::StatusOr<EventPage> EventStore::Query(const EventQuery& query) {
  if (query.limit < 1 || query.limit > kMaxLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be between 1 and ", kMaxLimit, " (got ", query.limit, ")"));
  }
  std::vector<std::string> where;
  std::vector<BindValue> values;
  const std::pair<const char*, const std::string*> exact[] = {
      {"camera", &query.camera}, {"grp", &query.group}, {"type", &query.type}};
  for (const auto& [column, value] : exact) {
    if (value->empty()) continue;
    where.push_back(absl::StrCat(column, " = ?"));
    values.emplace_back(*value);
  }
  if (query.since_ms) {
    where.push_back("start_ms >= ?");
    values.emplace_back(*query.since_ms);
  }
  if (query.until_ms) {
    where.push_back("start_ms < ?");
    values.emplace_back(*query.until_ms);
  }
  if (query.active_only) where.push_back("phase = 'active'");
  if (!query.cursor.empty()) {
    absl::StatusOr<std::pair<int64_t, std::string>> after = DecodeCursor(query.cursor);
    if (!after.ok()) return after.status();
    where.push_back("(start_ms < ? OR (start_ms = ? AND id < ?))");
    values.emplace_back(after->first);
    values.emplace_back(after->first);
    values.emplace_back(after->second);
  }
  const std::string sql =
      absl::StrCat("SELECT ", kColumns, " FROM events",
                   where.empty() ? "" : absl::StrCat(" WHERE ", absl::StrJoin(where, " AND ")),
                   " ORDER BY start_ms DESC, id DESC LIMIT ", query.limit + 1);
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.stmt, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat("event store: ", sqlite3_errmsg(db_)));
  }
  for (size_t i = 0; i < values.size(); ++i) Bind(s.stmt, static_cast<int>(i + 1), values[i]);
  EventPage page;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    page.events.push_back(ReadRow(s.stmt));
  }
  if (rc != SQLITE_DONE) {
    return absl::UnavailableError(absl::StrCat("event store: ", sqlite3_errmsg(db_)));
  }
  if (page.events.size() > static_cast<size_t>(query.limit)) {
    page.events.pop_back();
    page.next_cursor = EncodeCursor(page.events.back());
  }
  return page;
}

std::optional<StoredEvent> EventStore::Get(std::string_view id) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  const std::string sql = absl::StrCat("SELECT ", kColumns, " FROM events WHERE id = ?");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.stmt, nullptr) != SQLITE_OK) return std::nullopt;
  sqlite3_bind_text(s.stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(s.stmt) != SQLITE_ROW) return std::nullopt;
  return ReadRow(s.stmt);
}

absl::StatusOr<std::string> EventStore::Snapshot(std::string_view id) {
  std::optional<StoredEvent> stored = Get(id);
  if (!stored)
    return absl::NotFoundError(absl::StrCat("no event with id \"", std::string(id), "\""));
  if (stored->snapshot.empty() || !IsSafeName(stored->snapshot)) {
    return absl::NotFoundError(absl::StrCat("event \"", std::string(id), "\" has no snapshot"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (snapshot_dir_.empty()) {
    auto it = memory_snapshots_.find(stored->snapshot);
    if (it == memory_snapshots_.end()) {
      return absl::NotFoundError(absl::StrCat("event \"", std::string(id), "\" has no snapshot"));
    }
    return it->second;
  }
  std::ifstream in(absl::StrCat(snapshot_dir_, "/", stored->snapshot, ".jpg"), std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("the snapshot of event \"", std::string(id), "\" is gone"));
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

absl::StatusOr<size_t> EventStore::Prune(std::chrono::milliseconds max_age, size_t max_count,
                                         int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::string>> victims;  // id, snapshot
  auto collect = [&](const std::string& sql, const BindValue& value) -> absl::Status {
    Statement s;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.stmt, nullptr) != SQLITE_OK) {
      return absl::UnavailableError(absl::StrCat("event store: ", sqlite3_errmsg(db_)));
    }
    Bind(s.stmt, 1, value);
    while (sqlite3_step(s.stmt) == SQLITE_ROW)
      victims.emplace_back(Text(s.stmt, 0), Text(s.stmt, 1));
    return absl::OkStatus();
  };
  if (max_age.count() > 0) {
    absl::Status s = collect("SELECT id, snapshot FROM events WHERE updated_ms < ?",
                             BindValue(now_ms - static_cast<int64_t>(max_age.count())));
    if (!s.ok()) return s;
  }
  if (max_count > 0) {
    // Rows already collected by age may come again; deleting twice is harmless.
    absl::Status s =
        collect("SELECT id, snapshot FROM events ORDER BY start_ms DESC, id DESC LIMIT -1 OFFSET ?",
                BindValue(static_cast<int64_t>(max_count)));
    if (!s.ok()) return s;
  }
  if (victims.empty()) return 0;
  if (absl::Status s = Exec(db_, "BEGIN IMMEDIATE"); !s.ok()) return s;
  size_t deleted = 0;
  {
    Statement del;
    sqlite3_prepare_v2(db_, "DELETE FROM events WHERE id = ?", -1, &del.stmt, nullptr);
    for (const auto& [id, snapshot] : victims) {
      sqlite3_reset(del.stmt);
      sqlite3_bind_text(del.stmt, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(del.stmt) != SQLITE_DONE) {
        const std::string why = sqlite3_errmsg(db_);
        (void)Exec(db_, "ROLLBACK");
        return absl::UnavailableError(absl::StrCat("event store: ", why));
      }
      deleted += static_cast<size_t>(sqlite3_changes(db_));
    }
  }
  if (absl::Status s = Exec(db_, "COMMIT"); !s.ok()) {
    (void)Exec(db_, "ROLLBACK");
    return s;
  }
  for (const auto& victim : victims) {
    if (!victim.second.empty()) RemoveSnapshotLocked(victim.second);
  }
  counters_.pruned += deleted;
  return deleted;
}

size_t EventStore::Count() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  sqlite3_prepare_v2(db_, "SELECT COUNT(*) FROM events", -1, &s.stmt, nullptr);
  if (sqlite3_step(s.stmt) != SQLITE_ROW) return 0;
  return static_cast<size_t>(sqlite3_column_int64(s.stmt, 0));
}

EventStoreCounters EventStore::counters() {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

nlohmann::json ToJson(const StoredEvent& stored) {
  const pipeline::Event& e = stored.event;
  nlohmann::json detail = nlohmann::json::parse(e.detail, nullptr, false);
  if (!detail.is_object()) detail = nlohmann::json::object();
  nlohmann::json out = {
      {"id", e.id},
      {"camera", e.camera},
      {"group", e.group},
      {"rule", e.rule},
      {"type", e.type},
      {"phase", stored.active ? "active" : "ended"},
      {"object", e.object},
      {"colour", e.colour},
      {"track_id", e.track_id},
      {"zone", e.zone},
      {"direction", e.direction},
      {"text", e.text},
      {"count", e.count},
      {"start_ms", stored.start_ms},
      {"end_ms", stored.end_ms ? nlohmann::json(*stored.end_ms) : nlohmann::json()},
      {"start_time", e.start},
      {"end_time", e.end ? nlohmann::json(*e.end) : nlohmann::json()},
      {"box", {{"x1", e.box.x1}, {"y1", e.box.y1}, {"x2", e.box.x2}, {"y2", e.box.y2}}},
      {"snapshot_frame", e.snapshot_frame},
      {"snapshot_score", e.snapshot_score},
      {"provenance",
       {{"node", e.provenance.node},
        {"device", e.provenance.device},
        {"variant", e.provenance.variant},
        {"queue_ms", e.provenance.queue_ms},
        {"compute_ms", e.provenance.compute_ms}}},
      {"detail", std::move(detail)},
      {"created_ms", stored.created_ms},
      {"updated_ms", stored.updated_ms}};
  if (!stored.snapshot.empty()) {
    out["snapshot_url"] = absl::StrCat("/v1/events/", PercentEncode(e.id), "/snapshot.jpg");
  }
  return out;
}

nlohmann::json EventMessage(const StoredEvent& stored, pipeline::EventPhase change) {
  nlohmann::json out = ToJson(stored);
  out["change"] = change == pipeline::EventPhase::kNew      ? "new"
                  : change == pipeline::EventPhase::kUpdate ? "update"
                                                            : "end";
  return out;
}

}  // namespace heteroaccel::events
