#include "server/fleet.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "node/packages.h"

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view AV(std::string_view text) { return absl::string_view(text.data(), text.size()); }

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::pair<FleetAction, std::string_view> kActions[] = {
    {FleetAction::kConnectivity, "connectivity"}, {FleetAction::kFacts, "facts"},
    {FleetAction::kTime, "time"},                 {FleetAction::kSpeed, "speed"},
    {FleetAction::kPackages, "packages"},         {FleetAction::kMonitor, "monitor"},
    {FleetAction::kModelInstall, "model-install"}};

constexpr int64_t kDefaultSpeedBytes = int64_t{8} << 20;
constexpr int64_t kMaxSpeedBytes = int64_t{16} << 20;  // the agent's bound (agent/fleet.h)
constexpr int kDefaultTimeSamples = 8;
constexpr int kMaxTimeSamples = 32;

// --- The HTTP transport ----------------------------------------------------

class HttpFleetSession final : public FleetSession {
 public:
  HttpFleetSession(std::string url, std::string token, SteadyTime deadline)
      : url_(std::move(url)), token_(std::move(token)), deadline_(deadline),
        limit_(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now())) {}

  absl::StatusOr<http::ClientResponse> Send(std::string_view method, std::string_view path,
                                            std::string_view body) override {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline_ - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      return absl::DeadlineExceededError(absl::StrCat("no time left for ", AV(path)));
    }
    // A fresh connection (with a shorter timeout) only when the current one's
    // timeout would overrun the deadline by more than a tenth of the limit.
    if (client_ == nullptr || client_timeout_ - remaining > limit_ / 10) {
      absl::StatusOr<std::unique_ptr<http::Client>> client = http::Client::Create(url_, remaining);
      if (!client.ok()) return client.status();
      client_ = *std::move(client);
      client_timeout_ = remaining;
    }
    http::HeaderList headers;
    if (!token_.empty()) headers.emplace_back("Authorization", absl::StrCat("Bearer ", token_));
    return client_->Send(method, path, body.empty() && method == "GET" ? "" : "application/json",
                         body, headers);
  }

 private:
  const std::string url_;
  const std::string token_;
  const SteadyTime deadline_;
  const std::chrono::milliseconds limit_;
  std::unique_ptr<http::Client> client_;
  std::chrono::milliseconds client_timeout_{0};
};

}  // namespace

// --- Parsing ---------------------------------------------------------------

absl::StatusOr<FleetAction> ParseFleetAction(std::string_view name) {
  for (const auto& [action, action_name] : kActions) {
    if (name == action_name) return action;
  }
  std::vector<std::string> names;
  for (const auto& entry : kActions) names.emplace_back(entry.second);
  return absl::NotFoundError(absl::StrCat("unknown fleet action '", AV(name.substr(0, 64)),
                                          "'; one of ", absl::StrJoin(names, ", ")));
}

std::string_view FleetActionName(FleetAction action) {
  for (const auto& [a, name] : kActions) {
    if (a == action) return name;
  }
  return "unknown";
}

std::string FleetTarget::ToString() const {
  switch (kind) {
    case Kind::kNode:
      return "node/" + name;
    case Kind::kGroup:
      return "group/" + name;
    case Kind::kAll:
      return "all";
  }
  return "all";
}

absl::StatusOr<FleetTarget> ParseFleetTarget(std::string_view target) {
  FleetTarget t;
  if (target == "all") return t;
  absl::string_view name = AV(target);
  if (absl::ConsumePrefix(&name, "node/")) {
    t.kind = FleetTarget::Kind::kNode;
  } else if (absl::ConsumePrefix(&name, "group/")) {
    t.kind = FleetTarget::Kind::kGroup;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "target '", AV(target.substr(0, 64)), "' must be \"all\", \"node/NAME\" or \"group/NAME\""));
  }
  if (name.empty() || name.size() > 253) {
    return absl::InvalidArgumentError("the target's name must be 1 to 253 characters");
  }
  t.name = std::string(name);
  return t;
}

namespace {

bool InGroup(const FleetNode& n, const std::string& group) {
  return n.group == group || std::find(n.groups.begin(), n.groups.end(), group) != n.groups.end();
}

}  // namespace

absl::StatusOr<std::vector<FleetNode>> SelectNodes(const FleetTarget& target,
                                                   std::vector<FleetNode> nodes) {
  std::sort(nodes.begin(), nodes.end(),
            [](const FleetNode& a, const FleetNode& b) { return a.name < b.name; });
  std::vector<FleetNode> selected;
  for (FleetNode& n : nodes) {
    const bool match = target.kind == FleetTarget::Kind::kAll ||
                       (target.kind == FleetTarget::Kind::kNode && n.name == target.name) ||
                       (target.kind == FleetTarget::Kind::kGroup && InGroup(n, target.name));
    if (match) selected.push_back(n);
  }
  if (!selected.empty()) return selected;
  if (target.kind == FleetTarget::Kind::kAll) {
    return absl::NotFoundError("no node has registered with this server yet");
  }
  std::set<std::string> known;
  for (const FleetNode& n : nodes) {
    if (target.kind == FleetTarget::Kind::kNode) known.insert(n.name);
    if (target.kind == FleetTarget::Kind::kGroup) {
      if (!n.group.empty()) known.insert(n.group);
      known.insert(n.groups.begin(), n.groups.end());
    }
  }
  const bool node = target.kind == FleetTarget::Kind::kNode;
  return absl::NotFoundError(absl::StrCat(
      node ? "no node named '" : "no node reports group '", target.name, "'; known ",
      node ? "nodes: " : "groups: ", known.empty() ? "none" : absl::StrJoin(known, ", ")));
}

namespace {

absl::StatusOr<int64_t> IntParam(const Json& params, const char* key, int64_t fallback,
                                 int64_t low, int64_t high) {
  if (!params.contains(key)) return fallback;
  const Json& v = params[key];
  if (!v.is_number_integer() || v.get<int64_t>() < low || v.get<int64_t>() > high) {
    return absl::InvalidArgumentError(
        absl::StrCat("params.", key, " must be a whole number from ", low, " to ", high));
  }
  return v.get<int64_t>();
}

absl::Status CheckParams(FleetAction action, Json& params) {
  static const std::map<FleetAction, std::set<std::string>> kKeys = {
      {FleetAction::kConnectivity, {}},
      {FleetAction::kFacts, {}},
      {FleetAction::kMonitor, {}},
      {FleetAction::kTime, {"samples", "threshold_seconds", "sync"}},
      {FleetAction::kSpeed, {"bytes"}},
      {FleetAction::kPackages, {"op", "packages", "dry_run"}},
      {FleetAction::kModelInstall,
       {"name", "version", "sha256", "size", "format", "type", "variant", "base", "replaces"}}};
  const std::set<std::string>& allowed = kKeys.at(action);
  for (const auto& [key, value] : params.items()) {
    if (allowed.count(key) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "params.", key.substr(0, 64), " is not a parameter of ", AV(FleetActionName(action)),
          allowed.empty() ? " (it takes none)"
                          : absl::StrCat(" (it takes ", absl::StrJoin(allowed, ", "), ")")));
    }
  }
  switch (action) {
    case FleetAction::kTime: {
      if (auto s = IntParam(params, "samples", kDefaultTimeSamples, 1, kMaxTimeSamples); !s.ok()) {
        return s.status();
      }
      if (params.contains("threshold_seconds") &&
          (!params["threshold_seconds"].is_number() || params["threshold_seconds"].get<double>() <= 0)) {
        return absl::InvalidArgumentError("params.threshold_seconds must be a positive number");
      }
      if (params.contains("sync") && !params["sync"].is_boolean()) {
        return absl::InvalidArgumentError("params.sync must be true or false");
      }
      return absl::OkStatus();
    }
    case FleetAction::kSpeed:
      return IntParam(params, "bytes", kDefaultSpeedBytes, 1024, kMaxSpeedBytes).status();
    case FleetAction::kPackages: {
      node::PackageRequest request;
      if (params.contains("op")) {
        if (!params["op"].is_string()) return absl::InvalidArgumentError("params.op must be a string");
        absl::StatusOr<node::PackageOp> op = node::ParsePackageOp(params["op"].get<std::string>());
        if (!op.ok()) return op.status();
        request.op = *op;
      }
      if (params.contains("dry_run") && !params["dry_run"].is_boolean()) {
        return absl::InvalidArgumentError("params.dry_run must be true or false");
      }
      if (params.contains("packages")) {
        if (!params["packages"].is_array()) {
          return absl::InvalidArgumentError("params.packages must be a list of package names");
        }
        for (const Json& name : params["packages"]) {
          if (!name.is_string()) {
            return absl::InvalidArgumentError("params.packages must be a list of package names");
          }
          request.packages.push_back(name.get<std::string>());
          if (request.packages.size() > node::kMaxPackageNames) break;
        }
      }
      return node::ValidatePackageRequest(request);
    }
    default:
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<FleetRequest> ParseFleetRequest(std::string_view action, std::string_view body) {
  FleetRequest request;
  absl::StatusOr<FleetAction> parsed = ParseFleetAction(action);
  if (!parsed.ok()) return parsed.status();
  request.action = *parsed;
  if (request.action == FleetAction::kModelInstall) {
    return absl::InvalidArgumentError(
        "model-install runs through POST /v1/models/{name}/deploy or /rollback, which record the "
        "deployment");
  }
  Json j = Json::parse(body.empty() ? std::string_view("{}") : body, nullptr, false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object: {\"target\": \"all\" | \"node/NAME\" | \"group/NAME\", "
        "\"params\": {...}, \"serial\": false}");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "target" && key != "params" && key != "serial" && key != "timeout_seconds") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field '", key.substr(0, 64), "'; the fields are target, params, serial, "
          "timeout_seconds"));
    }
  }
  if (!j.contains("target") || !j["target"].is_string()) {
    return absl::InvalidArgumentError(
        "target is required: \"all\", \"node/NAME\" or \"group/NAME\"");
  }
  absl::StatusOr<FleetTarget> target = ParseFleetTarget(j["target"].get<std::string>());
  if (!target.ok()) return target.status();
  request.target = *std::move(target);
  if (j.contains("params")) {
    if (!j["params"].is_object()) return absl::InvalidArgumentError("params must be an object");
    request.params = j["params"];
  }
  if (absl::Status s = CheckParams(request.action, request.params); !s.ok()) return s;
  request.serial = request.action == FleetAction::kPackages;
  if (absl::Status s = ReadRunOptions(j, request.serial, request.node_timeout); !s.ok()) return s;
  return request;
}

absl::Status ReadRunOptions(const nlohmann::json& body, bool& serial,
                            std::chrono::milliseconds& node_timeout) {
  if (body.contains("serial")) {
    if (!body["serial"].is_boolean()) return absl::InvalidArgumentError("serial must be true or false");
    serial = body["serial"].get<bool>();
  }
  if (body.contains("timeout_seconds")) {
    if (!body["timeout_seconds"].is_number() || body["timeout_seconds"].get<double>() < 1 ||
        body["timeout_seconds"].get<double>() > 3600) {
      return absl::InvalidArgumentError("timeout_seconds must be a number from 1 to 3600");
    }
    node_timeout = std::chrono::milliseconds(
        static_cast<int64_t>(body["timeout_seconds"].get<double>() * 1000));
  }
  return absl::OkStatus();
}

// --- The transport ---------------------------------------------------------

std::unique_ptr<FleetSession> HttpFleetTransport::Open(const std::string& url,
                                                       SteadyTime deadline) {
  return std::make_unique<HttpFleetSession>(url, token_, deadline);
}

}  // namespace heteroaccel::server
