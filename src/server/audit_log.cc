#include "server/audit_log.h"

#include <sqlite3.h>

#include <chrono>

#include "absl/strings/str_cat.h"

namespace heteroaccel::server {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  who TEXT NOT NULL,
  action TEXT NOT NULL,
  comment TEXT NOT NULL,
  before TEXT NOT NULL,
  after TEXT NOT NULL,
  state_before TEXT NOT NULL,
  state_after TEXT NOT NULL,
  version_after INTEGER NOT NULL,
  reverts INTEGER,
  reverted_by INTEGER);
)sql";

// Closes a prepared statement on every path.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

std::string Text(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  return text == nullptr ? "" : reinterpret_cast<const char*>(text);
}

nlohmann::json JsonColumn(sqlite3_stmt* stmt, int column) {
  return nlohmann::json::parse(Text(stmt, column), nullptr, false);
}

std::string Dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string name = path.empty() ? ":memory:" : path;
  if (sqlite3_open(name.c_str(), &db) != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open the audit log ", name, ": ", why));
  }
  char* error = nullptr;
  const std::string setup =
      absl::StrCat(path.empty() ? "" : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                   "PRAGMA busy_timeout=2000;", kSchema);
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot set up the audit log ", name, ": ", why));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(db));
}

AuditLog::~AuditLog() { sqlite3_close(db_); }

absl::StatusOr<AuditEntry> AuditLog::Append(AuditEntry entry) {
  entry.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  sqlite3_prepare_v2(db_,
                     "INSERT INTO audit (time_ms, who, action, comment, before, after, "
                     "state_before, state_after, version_after, reverts) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?)",
                     -1, &s.stmt, nullptr);
  const std::string texts[] = {entry.who,
                               entry.action,
                               entry.comment,
                               Dump(entry.before),
                               Dump(entry.after),
                               Dump(entry.state_before),
                               Dump(entry.state_after)};
  sqlite3_bind_int64(s.stmt, 1, entry.time_ms);
  for (int i = 0; i < 7; ++i) {
    sqlite3_bind_text(s.stmt, 2 + i, texts[i].c_str(), static_cast<int>(texts[i].size()),
                      SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(s.stmt, 9, entry.version_after);
  if (entry.reverts) {
    sqlite3_bind_int64(s.stmt, 10, *entry.reverts);
  } else {
    sqlite3_bind_null(s.stmt, 10);
  }
  if (sqlite3_step(s.stmt) != SQLITE_DONE) {
    return absl::UnavailableError(absl::StrCat("audit log: ", sqlite3_errmsg(db_)));
  }
  entry.id = sqlite3_last_insert_rowid(db_);
  return entry;
}

absl::Status AuditLog::MarkReverted(int64_t id, int64_t by) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  sqlite3_prepare_v2(db_, "UPDATE audit SET reverted_by = ? WHERE id = ?", -1, &s.stmt, nullptr);
  sqlite3_bind_int64(s.stmt, 1, by);
  sqlite3_bind_int64(s.stmt, 2, id);
  if (sqlite3_step(s.stmt) != SQLITE_DONE) {
    return absl::UnavailableError(absl::StrCat("audit log: ", sqlite3_errmsg(db_)));
  }
  return absl::OkStatus();
}

std::vector<AuditEntry> AuditLog::Query(const std::string& where, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  const std::string sql = absl::StrCat(
      "SELECT id, time_ms, who, action, comment, before, after, state_before, state_after, "
      "version_after, reverts, reverted_by FROM audit ",
      where, " ORDER BY id DESC LIMIT ", limit);
  std::vector<AuditEntry> out;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.stmt, nullptr) != SQLITE_OK) return out;
  while (sqlite3_step(s.stmt) == SQLITE_ROW) {
    AuditEntry e;
    e.id = sqlite3_column_int64(s.stmt, 0);
    e.time_ms = sqlite3_column_int64(s.stmt, 1);
    e.who = Text(s.stmt, 2);
    e.action = Text(s.stmt, 3);
    e.comment = Text(s.stmt, 4);
    e.before = JsonColumn(s.stmt, 5);
    e.after = JsonColumn(s.stmt, 6);
    e.state_before = JsonColumn(s.stmt, 7);
    e.state_after = JsonColumn(s.stmt, 8);
    e.version_after = sqlite3_column_int64(s.stmt, 9);
    if (sqlite3_column_type(s.stmt, 10) != SQLITE_NULL)
      e.reverts = sqlite3_column_int64(s.stmt, 10);
    if (sqlite3_column_type(s.stmt, 11) != SQLITE_NULL) {
      e.reverted_by = sqlite3_column_int64(s.stmt, 11);
    }
    out.push_back(std::move(e));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<AuditEntry> AuditLog::Recent(size_t limit) { return Query("", limit); }

std::optional<AuditEntry> AuditLog::Get(int64_t id) {
  auto rows = Query(absl::StrCat("WHERE id = ", id), 1);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::optional<AuditEntry> AuditLog::LastPlacement() {
  auto rows = Query("WHERE action IN ('placement', 'revert')", 1);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

nlohmann::json AuditLog::ToJson(const AuditEntry& e) {
  return {{"id", e.id},
          {"time_ms", e.time_ms},
          {"who", e.who},
          {"action", e.action},
          {"comment", e.comment},
          {"before", e.before},
          {"after", e.after},
          {"version", e.version_after},
          {"reverts", e.reverts ? nlohmann::json(*e.reverts) : nlohmann::json()},
          {"reverted_by", e.reverted_by ? nlohmann::json(*e.reverted_by) : nlohmann::json()}};
}

}  // namespace heteroaccel::server
