#include "plan/capacity_question.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "plan/planner.h"

namespace heteroaccel::plan {
namespace {

using Json = nlohmann::json;

// Requests each simulation of the answer plays (its duration follows from the rate).
constexpr double kRequestsPerCheck = 4000;
constexpr double kMaxRatePerType = 1e5;

absl::Status Bad(const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

bool IsName(const std::string& s) { return IsValidName(s, 63); }

absl::StatusOr<double> Number(const Json& body, const std::string& key, double lo, double hi) {
  const Json& v = body.at(key);
  if (!v.is_number()) return Bad(key, "must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    return Bad(key, absl::StrCat("must be in [", lo, ", ", hi, "], not ", v.dump()));
  }
  return x;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One profile per device kind: the median measured time per type and median slots.
struct FleetProfile {
  std::map<std::string, std::vector<double>> ms;  // type -> one per device
  std::vector<double> slots;
  int devices = 0;
};

std::map<std::string, FleetProfile> FleetProfiles(const CapacityQuestion& q) {
  std::map<std::string, FleetProfile> out;
  for (const FleetDevice& d : q.fleet) {
    if (!IsName(d.kind)) continue;
    bool measured = false;
    for (const auto& [type, ms] : d.service_ms) {
      if (!(ms > 0) || !std::isfinite(ms) || !q.rates.count(type)) continue;
      out[d.kind].ms[type].push_back(ms);
      measured = true;
    }
    if (!measured) continue;
    out[d.kind].slots.push_back(std::max(1, d.slots));
    ++out[d.kind].devices;
  }
  return out;
}

// The largest node of the fleet as the template new devices go into.
Json FleetNodeTemplate(const CapacityQuestion& q) {
  std::map<std::string, std::pair<int, int>> per_node;  // accelerators, cpus
  for (const FleetDevice& d : q.fleet) {
    auto& [accelerators, cpus] = per_node[d.node];
    ++(d.kind == "cpu" ? cpus : accelerators);
  }
  int accelerators = 4;
  int cpus = 1;
  for (const auto& [node, counts] : per_node) {
    accelerators = std::max(accelerators, counts.first);
    cpus = std::max(cpus, counts.second);
  }
  return {{"name", "node"}, {"accelerators", std::min(accelerators, 64)},
          {"cpus", std::min(cpus, 64)}};
}

std::string Ms(int ms) { return absl::StrCat(std::max(ms, 1), "ms"); }

}  // namespace

absl::Status ParseCapacityRequest(std::string_view body, CapacityQuestion& q) {
  if (body.size() > kMaxCapacityRequestBytes) {
    return Bad("body", absl::StrCat("larger than ", kMaxCapacityRequestBytes, " bytes"));
  }
  Json json = body.empty() ? Json::object() : Json::parse(body, nullptr, false);
  if (json.is_discarded()) return Bad("body", "not valid JSON");
  if (!json.is_object()) return Bad("body", "must be a JSON object");
  static const std::set<std::string> kKnown = {"growth", "deadline_ms", "attainment", "sigma",
                                               "rates",  "catalog"};
  for (const auto& [key, value] : json.items()) {
    if (!kKnown.count(key)) {
      return Bad(key, absl::StrCat("unknown key (known: ", absl::StrJoin(kKnown, ", "), ")"));
    }
  }
  if (json.contains("growth")) {
    ASSIGN_OR_RETURN(q.growth, Number(json, "growth", 0.01, kMaxGrowth));
  }
  if (json.contains("deadline_ms")) {
    ASSIGN_OR_RETURN(q.deadline_ms, Number(json, "deadline_ms", 1, 600'000));
  }
  if (json.contains("attainment")) {
    ASSIGN_OR_RETURN(q.attainment, Number(json, "attainment", 0.5, 1));
  }
  if (json.contains("sigma")) {
    ASSIGN_OR_RETURN(q.sigma, Number(json, "sigma", 0, 2));
  }
  if (json.contains("rates")) {
    const Json& rates = json["rates"];
    if (!rates.is_object() || rates.empty() || rates.size() > kMaxQuestionTypes) {
      return Bad("rates", absl::StrCat("must map 1 to ", kMaxQuestionTypes,
                                       " inference types to requests/s"));
    }
    std::map<std::string, double> given;
    for (const auto& [type, rate] : rates.items()) {
      const std::string key = absl::StrCat("rates.", type.substr(0, 64));
      if (!IsName(type)) return Bad(key, "an inference type is a name of letters, digits, -_.");
      if (!rate.is_number() || !(rate.get<double>() >= 0) ||
          rate.get<double>() > kMaxRatePerType) {
        return Bad(key, absl::StrCat("must be requests/s in [0, ", kMaxRatePerType, "]"));
      }
      given[type] = rate.get<double>();
    }
    q.rates = std::move(given);
  }
  if (json.contains("catalog")) {
    if (!json["catalog"].is_object()) {
      return Bad("catalog", "must be a plan file's catalog: {profiles: [...], nodes: [...]}");
    }
    q.catalog = json["catalog"];
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> PlanFileFor(const CapacityQuestion& q, bool fleet_catalog, double load) {
  double total = 0;
  Json cameras = Json::array();
  for (const auto& [type, rate] : q.rates) {
    if (!(rate > 0)) continue;
    total += rate;
    cameras.push_back({{"name", absl::StrCat("type-", cameras.size())},
                       {"rate", rate},
                       {"mix", Json::array({type})},
                       {"arrivals", "poisson"},
                       {"inflight", 0},
                       {"deadline_ms", q.deadline_ms}});
  }
  if (cameras.empty()) {
    return absl::FailedPreconditionError(
        "no requests in the last seconds to plan for: send traffic first, or give the rates "
        "per type in the body ({\"rates\": {\"face\": 40}})");
  }
  if (cameras.size() > kMaxQuestionTypes) {
    return absl::InvalidArgumentError(
        absl::StrCat("rates: at most ", kMaxQuestionTypes, " inference types"));
  }
  // Each check plays about kRequestsPerCheck requests: 1 s to 10 s of simulated time.
  const double seconds = std::clamp(kRequestsPerCheck / (total * load), 1.0, 10.0);
  const int duration_ms = static_cast<int>(std::lround(seconds * 1000));
  Json file = {{"name", "dashboard"},
               {"seed", 1},
               {"slo", {{"attainment", q.attainment}, {"load", load}}},
               {"search",
                {{"duration", Ms(duration_ms)},
                 {"warmup", Ms(duration_ms / 5)},
                 {"seeds", 1},
                 {"bisect_steps", 5},
                 {"max_devices",
                  std::clamp(4 * static_cast<int>(q.fleet.size()), 16, kMaxDevicesLimit)}}},
               {"cameras", std::move(cameras)}};
  if (!fleet_catalog) {
    file["catalog"] = q.catalog;
    return file;
  }
  Json profiles = Json::array();
  for (const auto& [kind, p] : FleetProfiles(q)) {
    Json latency = Json::object();
    for (const auto& [type, values] : p.ms) latency[type] = Median(values);
    profiles.push_back({{"name", kind},
                        {"kind", kind},
                        {"slots", static_cast<int>(Median(p.slots))},
                        {"latency_ms", std::move(latency)},
                        {"sigma", q.sigma}});
  }
  if (profiles.empty()) {
    return absl::FailedPreconditionError(
        "no device of the cluster has a measured service time for the types asked for: "
        "send traffic first, or give a catalog");
  }
  file["catalog"] = {{"profiles", std::move(profiles)},
                     {"nodes", Json::array({FleetNodeTemplate(q)})}};
  return file;
}

absl::StatusOr<Json> Answer(const CapacityQuestion& q) {
  if (q.fleet.size() > kMaxFleetDevices) {
    return absl::InvalidArgumentError(
        absl::StrCat("the cluster has more than ", kMaxFleetDevices, " devices to plan from"));
  }
  const auto start = std::chrono::steady_clock::now();
  auto spent_ms = [&start] {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  };
  // The fleet as it is, at the rates of now: the margin now.
  ASSIGN_OR_RETURN(Json fleet_file, PlanFileFor(q, /*fleet_catalog=*/true, 1.0));
  fleet_file["search"]["time_limit"] = Ms(q.time_limit_ms / 3);
  ASSIGN_OR_RETURN(PlanSpec fleet_spec, ParsePlanSpec(fleet_file.dump()));
  // The plan at the grown rates, from the catalog asked for (or the fleet's):
  // checked before anything is simulated, so a bad catalog is refused at once.
  const bool fleet_catalog = q.catalog.is_null();
  Json plan_file = fleet_file;
  if (fleet_catalog) {
    plan_file["slo"]["load"] = q.growth;
  } else {
    ASSIGN_OR_RETURN(plan_file, PlanFileFor(q, false, q.growth));
  }
  RETURN_IF_ERROR(ParsePlanSpec(plan_file.dump()).status());

  std::map<std::string, int> now;
  const std::map<std::string, FleetProfile> fleet_profiles = FleetProfiles(q);
  for (const auto& [kind, p] : fleet_profiles) now[kind] = p.devices;
  ASSIGN_OR_RETURN(Assessment current, Assess(fleet_spec, now));

  plan_file["search"]["time_limit"] = Ms(q.time_limit_ms - spent_ms());
  ASSIGN_OR_RETURN(PlanSpec spec, ParsePlanSpec(plan_file.dump()));
  ASSIGN_OR_RETURN(PlanResult planned, Plan(spec));

  Json add = nullptr;
  int to_add = 0;
  if (fleet_catalog) {
    add = Json::object();
    std::set<std::string> profiles;
    for (const auto& [p, n] : now) profiles.insert(p);
    for (const auto& [p, n] : planned.counts) profiles.insert(p);
    for (const std::string& p : profiles) {
      const int want = planned.counts.count(p) ? planned.counts.at(p) : 0;
      const int have = now.count(p) ? now.at(p) : 0;
      add[p] = want - have;
      to_add += std::max(0, want - have);
    }
  }
  Json current_json = ToJson(current);
  return Json{{"growth", q.growth},
              {"slo",
               {{"attainment", q.attainment}, {"deadline_ms", q.deadline_ms}, {"load", q.growth}}},
              {"rates", q.rates},
              {"demand_rps", planned.demand_rps},
              {"current", std::move(current_json)},
              {"margin_now", current.max_load},
              {"plan", ToJson(planned)},
              {"add", std::move(add)},
              {"devices_to_add", to_add},
              {"catalog", plan_file["catalog"]},
              {"wall_seconds", spent_ms() / 1000.0}};
}

}  // namespace heteroaccel::plan
