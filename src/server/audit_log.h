// AuditLog: every change an operator made (who, when, what before and after),
// kept in SQLite (WAL) so it survives restarts, or in memory when no file is
// given. Entries are never edited except to mark one reverted.
//
// Thread-safe (one mutex around the connection).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct sqlite3;

namespace heteroaccel::server {

struct AuditEntry {
  int64_t id = 0;
  int64_t time_ms = 0;  // wall clock, ms since the epoch
  std::string who;
  std::string action;  // "placement" or "revert"
  std::string comment;
  nlohmann::json before, after;              // what the operator saw (the matrices)
  nlohmann::json state_before, state_after;  // what a revert restores (placement.h)
  int64_t version_after = 0;
  std::optional<int64_t> reverts;
  std::optional<int64_t> reverted_by;
};

class AuditLog {
 public:
  // `path` "" keeps the log in memory. Creates the file and its table.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);
  ~AuditLog();

  // Stores the entry (its id and time are assigned) and returns it.
  absl::StatusOr<AuditEntry> Append(AuditEntry entry);
  absl::Status MarkReverted(int64_t id, int64_t by);
  // The newest `limit`, newest last.
  std::vector<AuditEntry> Recent(size_t limit);
  std::optional<AuditEntry> Get(int64_t id);
  // The newest placement change or revert (what the placement is restored from at
  // start); entries of other actions (cameras) are not placements.
  std::optional<AuditEntry> LastPlacement();

  // As in docs/dashboard-api.md (no state_* fields).
  static nlohmann::json ToJson(const AuditEntry& entry);

 private:
  explicit AuditLog(sqlite3* db) : db_(db) {}
  std::vector<AuditEntry> Query(const std::string& where, size_t limit);

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace heteroaccel::server
