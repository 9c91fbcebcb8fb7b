#include "server/node_settings.h"

#include <sqlite3.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cluster/contract.h"
#include "common/status_macros.h"

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS node_settings ("
    " node TEXT PRIMARY KEY, document TEXT NOT NULL, who TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL);";

absl::Status DbError(sqlite3* db, std::string_view doing) {
  return absl::UnavailableError(
      absl::StrCat("node settings: ", std::string(doing), ": ", sqlite3_errmsg(db)));
}

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

}  // namespace

absl::Status ValidateNodeName(std::string_view node) {
  const bool ok = !node.empty() && node.size() <= 253 &&
                  std::all_of(node.begin(), node.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "a node name is 1 to 253 printable ASCII characters without spaces");
}

absl::StatusOr<NodeSettings> ParseNodeSettings(std::string_view body) {
  const Json j = Json::parse(body.begin(), body.end(), nullptr, false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object {\"groups\": [\"line-1\"], \"labels\": {\"site\": \"north\"}}");
  }
  NodeSettings settings;
  for (const auto& [key, value] : j.items()) {
    if (key == "groups") {
      if (!value.is_array()) return absl::InvalidArgumentError("groups must be a list of names");
      for (const Json& g : value) {
        if (!g.is_string()) return absl::InvalidArgumentError("groups must be a list of names");
        const std::string group = g.get<std::string>();
        if (group.empty()) return absl::InvalidArgumentError("a group name cannot be empty");
        RETURN_IF_ERROR(cluster::ValidateGroupName(group));
        settings.groups.push_back(group);
      }
      std::sort(settings.groups.begin(), settings.groups.end());
      settings.groups.erase(std::unique(settings.groups.begin(), settings.groups.end()),
                            settings.groups.end());
      if (settings.groups.size() > cluster::kMaxGroupsPerNode) {
        return absl::InvalidArgumentError(
            absl::StrCat("a node is assigned at most ", cluster::kMaxGroupsPerNode, " groups"));
      }
    } else if (key == "labels") {
      if (!value.is_object()) {
        return absl::InvalidArgumentError("labels must be an object of strings");
      }
      if (value.size() > cluster::kMaxLabels) {
        return absl::InvalidArgumentError(
            absl::StrCat("a node has at most ", cluster::kMaxLabels, " labels"));
      }
      for (const auto& [label, text] : value.items()) {
        if (!text.is_string()) return absl::InvalidArgumentError("labels must be an object of strings");
        RETURN_IF_ERROR(cluster::ValidateLabel(label, text.get<std::string>()));
        settings.labels[label] = text.get<std::string>();
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field ", Json(key).dump(-1, ' ', false, Json::error_handler_t::replace),
          "; the fields are groups and labels"));
    }
  }
  return settings;
}

Json ToJson(const NodeSettings& settings) {
  return {{"groups", settings.groups}, {"labels", settings.labels}};
}

absl::StatusOr<std::unique_ptr<NodeSettingsStore>> NodeSettingsStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  char* error = nullptr;
  const std::string pragmas =
      path == ":memory:" ? "" : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db, absl::StrCat(pragmas, "PRAGMA busy_timeout=2000;", kSchema).c_str(),
                   nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why =
        error != nullptr ? error : (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_free(error);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open the node settings database ", path,
                                               ": ", why));
  }
  return std::unique_ptr<NodeSettingsStore>(new NodeSettingsStore(db));
}

NodeSettingsStore::~NodeSettingsStore() { sqlite3_close(db_); }

absl::StatusOr<std::map<std::string, NodeSettings>> NodeSettingsStore::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  if (sqlite3_prepare_v2(db_, "SELECT node, document FROM node_settings", -1, &s.stmt, nullptr) !=
      SQLITE_OK) {
    return DbError(db_, "reading");
  }
  std::map<std::string, NodeSettings> out;
  int rc;
  while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) {
    const auto* node = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
    const auto* doc = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 1));
    if (node == nullptr || doc == nullptr) continue;
    absl::StatusOr<NodeSettings> settings = ParseNodeSettings(doc);
    if (!settings.ok()) return settings.status();  // only this code writes the rows
    out[node] = *std::move(settings);
  }
  if (rc != SQLITE_DONE) return DbError(db_, "reading");
  return out;
}

absl::Status NodeSettingsStore::Put(const std::string& node, const NodeSettings& settings,
                                    const std::string& who, int64_t updated_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement s;
  const char* sql = settings.empty()
                        ? "DELETE FROM node_settings WHERE node = ?1"
                        : "INSERT INTO node_settings (node, document, who, updated_ms) "
                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(node) DO UPDATE SET "
                          "document = excluded.document, who = excluded.who, "
                          "updated_ms = excluded.updated_ms";
  if (sqlite3_prepare_v2(db_, sql, -1, &s.stmt, nullptr) != SQLITE_OK) {
    return DbError(db_, "writing");
  }
  const std::string doc = ToJson(settings).dump();
  sqlite3_bind_text(s.stmt, 1, node.data(), static_cast<int>(node.size()), SQLITE_TRANSIENT);
  if (!settings.empty()) {
    sqlite3_bind_text(s.stmt, 2, doc.data(), static_cast<int>(doc.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s.stmt, 3, who.data(), static_cast<int>(who.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.stmt, 4, updated_ms);
  }
  if (sqlite3_step(s.stmt) != SQLITE_DONE) return DbError(db_, "writing");
  return absl::OkStatus();
}

}  // namespace heteroaccel::server
