// Node settings: the groups and labels the server's admin API assigns to a node
// (PUT /v1/nodes/{node}), over what the node reports from its agent's config or
// flags. The node then belongs to its reported group and every assigned one (the
// scheduler's group constraint, fleet targets group/NAME); an assigned label wins
// over a reported one.
//
// NodeSettingsStore keeps them in SQLite (<state-dir>/nodes.db, WAL; ":memory:"
// without a state directory), so they outlive a restart. Thread-safe (one mutex
// around the connection).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct sqlite3;

namespace heteroaccel::server {

struct NodeSettings {
  std::vector<std::string> groups;  // at most cluster::kMaxGroupsPerNode, sorted
  std::map<std::string, std::string> labels;
  bool empty() const { return groups.empty() && labels.empty(); }
  friend bool operator==(const NodeSettings&, const NodeSettings&) = default;
};

// {"groups": [...], "labels": {...}} (both optional); InvalidArgument saying what to fix:
// unknown fields, a bad group name or label, too many of either.
absl::StatusOr<NodeSettings> ParseNodeSettings(std::string_view body);
nlohmann::json ToJson(const NodeSettings& settings);
// A node's name as the server keys it: 1 to 253 printable ASCII characters.
absl::Status ValidateNodeName(std::string_view node);

class NodeSettingsStore {
 public:
  // `path` ":memory:" keeps nothing across restarts. Unavailable naming the path.
  static absl::StatusOr<std::unique_ptr<NodeSettingsStore>> Open(const std::string& path);
  ~NodeSettingsStore();
  NodeSettingsStore(const NodeSettingsStore&) = delete;
  NodeSettingsStore& operator=(const NodeSettingsStore&) = delete;

  // Every node's settings, as last written.
  absl::StatusOr<std::map<std::string, NodeSettings>> Load();
  // Replaces a node's settings (empty ones delete its row).
  absl::Status Put(const std::string& node, const NodeSettings& settings, const std::string& who,
                   int64_t updated_ms);

 private:
  explicit NodeSettingsStore(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* const db_;  // guarded by mu_
};

}  // namespace heteroaccel::server
