// ToJson and FormatTable: the two renderings of a BenchReport.
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "loadgen/bench.h"

namespace heteroaccel::loadgen {
namespace {

// Milliseconds rounded to the microsecond, so the JSON stays readable.
double Ms(double value) { return std::round(value * 1000.0) / 1000.0; }

nlohmann::json LatencyJson(const LatencySummary& latency) {
  return {{"p50", Ms(latency.p50)},
          {"p95", Ms(latency.p95)},
          {"p99", Ms(latency.p99)},
          {"mean", Ms(latency.mean)},
          {"max", Ms(latency.max)}};
}

nlohmann::json ConfigJson(const BenchReport& r) {
  return {
      {"target", r.target},
      {"cameras", r.cameras},
      {"mix", r.mix},
      {"mode", r.mode},
      {"rate", r.rate ? nlohmann::json(*r.rate) : nlohmann::json(nullptr)},
      {"arrivals", r.arrivals.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.arrivals)},
      {"seed", r.seed ? nlohmann::json(*r.seed) : nlohmann::json(nullptr)},
      {"bursts", r.bursts ? nlohmann::json{{"on_ms", r.bursts->on_ms}, {"off_ms", r.bursts->off_ms}}
                          : nlohmann::json(nullptr)},
      {"protocol", r.protocol},
      {"duration_s", r.duration_s},
      {"warmup_s", r.warmup_s},
      {"images", r.images},
      {"deadline_ms", r.deadline_ms ? nlohmann::json(*r.deadline_ms) : nlohmann::json(nullptr)},
      {"camera_name",
       r.camera_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.camera_name)},
      {"camera_weights",
       r.camera_weights.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.camera_weights)}};
}

// The camera of `per_camera` with the lowest (or highest) attainment; the first
// by name among equals.
std::pair<std::string, double> ExtremeCamera(const std::map<std::string, CameraStats>& per_camera,
                                             bool lowest) {
  std::pair<std::string, double> extreme{"", 0};
  for (const auto& [name, c] : per_camera) {
    if (extreme.first.empty() || (lowest ? c.attainment < extreme.second
                                         : c.attainment > extreme.second)) {
      extreme = {name, c.attainment};
    }
  }
  return extreme;
}

std::string Percent(double share) { return absl::StrFormat("%.1f%%", share * 100.0); }

}  // namespace

nlohmann::json ToJson(const BenchReport& r) {
  nlohmann::json per_device = nlohmann::json::object();
  for (const auto& [key, d] : r.per_device) {
    per_device[key] = {{"node", d.node},
                       {"device", d.device},
                       {"device_kind", d.device_kind},
                       {"emulated", d.emulated},
                       {"count", d.count},
                       {"share", d.share},
                       {"mean_compute_ms", Ms(d.mean_compute_ms)},
                       {"mean_queue_ms", Ms(d.mean_queue_ms)}};
  }
  nlohmann::json per_type = nlohmann::json::object();
  for (const auto& [type, t] : r.per_type) {
    per_type[type] = {
        {"count", t.count}, {"errors", t.errors}, {"latency_ms", LatencyJson(t.latency)}};
  }
  nlohmann::json per_camera = nlohmann::json::object();
  for (const auto& [name, c] : r.per_camera) {
    per_camera[name] = {{"requests", c.requests},
                        {"succeeded", c.succeeded},
                        {"within_deadline", c.within_deadline},
                        {"attainment", c.attainment},
                        {"throughput_rps", c.throughput_rps}};
  }
  nlohmann::json json = {
      {"config", ConfigJson(r)},
      {"measured_s", r.measured_s},
      {"requests", r.requests},
      {"succeeded", r.succeeded},
      {"throughput_rps", r.throughput_rps},
      {"achieved_rate_rps", r.achieved_rate_rps},
      {"late", r.late},
      {"latency_ms", LatencyJson(r.latency)},
      {"errors",
       {{"total", r.errors}, {"by_kind", r.errors_by_kind}, {"examples", r.error_examples}}},
      {"per_device", per_device},
      {"per_type", per_type},
      {"per_camera", per_camera},
      {"jain_attainment", r.jain_attainment}};
  if (r.deadline_ms) {
    json["within_deadline"] = r.within_deadline;
    json["attainment"] = r.attainment;
  }
  // One target: the output stays what it always was.
  if (r.per_target.size() > 1) {
    json["failovers"] = r.failovers;
    json["failovers_by_kind"] = r.failovers_by_kind;
    json["duplicates"] = r.duplicates;
    json["lost"] = r.lost;
    json["max_gap_ms"] = Ms(r.max_gap_ms);
    json["max_camera_gap_ms"] = Ms(r.max_camera_gap_ms);
    json["per_target"] = r.per_target;
  }
  return json;
}

std::string FormatTable(const BenchReport& r) {
  // "16 camera(s) named cam-0..cam-15" when they sent their names.
  std::string named;
  if (!r.camera_name.empty()) {
    named = absl::StrCat(" named ", CameraName(r.camera_name, 0, r.cameras));
    if (r.cameras > 1) {
      absl::StrAppend(&named, "..", CameraName(r.camera_name, r.cameras - 1, r.cameras));
    }
  }
  std::string out = absl::StrFormat(
      "bench %s: %d camera(s)%s, mix %s, %s%s, %.1f s measured after %.1f s warm-up, protocol %s, "
      "%d image(s)\n\n",
      r.target, r.cameras, named, absl::StrJoin(r.mix, ","), r.mode,
      r.rate ? absl::StrFormat(" at %.1f req/s (%s%s%s)", *r.rate, r.arrivals,
                               r.bursts ? absl::StrFormat(" %g ms on / %g ms off", r.bursts->on_ms,
                                                          r.bursts->off_ms)
                                        : "",
                               r.seed ? absl::StrCat(", seed ", *r.seed) : "")
             : "",
      r.duration_s, r.warmup_s, r.protocol, r.images);
  absl::StrAppendFormat(&out, "%-28s %-8s %10s %7s %11s %9s\n", "device", "kind", "inferences",
                        "share", "compute ms", "queue ms");
  for (const auto& [key, d] : r.per_device) {
    absl::StrAppendFormat(&out, "%-28s %-8s %10d %7s %11.2f %9.2f\n", key,
                          d.emulated ? absl::StrCat(d.device_kind, "*") : d.device_kind, d.count,
                          Percent(d.share), d.mean_compute_ms, d.mean_queue_ms);
  }
  absl::StrAppendFormat(&out, "%-28s %-8s %10d %7s\n", "total", "", r.succeeded,
                        Percent(r.succeeded ? 1.0 : 0.0));
  bool any_emulated = false;
  for (const auto& entry : r.per_device) any_emulated |= entry.second.emulated;
  if (any_emulated) out += "(* emulated device)\n";

  absl::StrAppendFormat(&out, "\nthroughput  %.1f inferences/s (%d ok, %d error(s) in %.1f s)\n",
                        r.throughput_rps, r.succeeded, r.errors, r.measured_s);
  if (r.rate) {
    absl::StrAppendFormat(&out, "rate        %.1f req/s achieved of %.1f requested, %d late\n",
                          r.achieved_rate_rps, *r.rate, r.late);
  }
  const LatencySummary& l = r.latency;
  absl::StrAppendFormat(&out, "latency ms  p50 %.2f  p95 %.2f  p99 %.2f  mean %.2f  max %.2f\n",
                        l.p50, l.p95, l.p99, l.mean, l.max);
  if (r.deadline_ms) {
    absl::StrAppendFormat(&out,
                          "deadline    %d ms: %s attained (%d of %d requests answered within it)\n",
                          *r.deadline_ms, Percent(r.attainment), r.within_deadline, r.requests);
  }
  for (const auto& [type, t] : r.per_type) {
    absl::StrAppendFormat(&out, "  %-10s %8d ok %6d err  p50 %.2f  p99 %.2f ms\n", type, t.count,
                          t.errors, t.latency.p50, t.latency.p99);
  }
  if (r.per_camera.size() > 1) {
    const auto [low_name, low] = ExtremeCamera(r.per_camera, /*lowest=*/true);
    const auto [high_name, high] = ExtremeCamera(r.per_camera, /*lowest=*/false);
    absl::StrAppendFormat(&out,
                          "cameras     %d: attainment lowest %s %s, highest %s %s, Jain's index "
                          "%.4f\n",
                          r.per_camera.size(), low_name, Percent(low), high_name, Percent(high),
                          r.jain_attainment);
    // Cameras at different rates: each one's own line.
    if (!r.camera_weights.empty()) {
      for (int c = 0; c < r.cameras && c < static_cast<int>(r.camera_weights.size()); ++c) {
        const std::string name = ReportedCameraName(r.camera_name, c, r.cameras);
        const auto it = r.per_camera.find(name);
        if (it == r.per_camera.end()) continue;
        absl::StrAppendFormat(&out, "  %-16s weight %-6g %8d ok %6d err  %7.1f req/s  %s attained\n",
                              name, r.camera_weights[c], it->second.succeeded,
                              it->second.requests - it->second.succeeded,
                              it->second.throughput_rps, Percent(it->second.attainment));
      }
    }
  }
  if (r.per_target.size() > 1) {
    absl::StrAppendFormat(&out,
                          "failover    %d re-sent, %d duplicate(s), %d lost; longest gap without "
                          "an answer %.1f ms (one camera: %.1f ms)\n",
                          r.failovers, r.duplicates, r.lost, r.max_gap_ms, r.max_camera_gap_ms);
    for (const auto& [target, n] : r.per_target) {
      absl::StrAppendFormat(&out, "  %-40s %8d ok\n", target, n);
    }
  }
  if (r.errors > 0) {
    out += "errors\n";
    for (const auto& [kind, n] : r.errors_by_kind) {
      const auto example = r.error_examples.find(kind);
      absl::StrAppendFormat(&out, "  %-12s %8d  e.g. %s\n", kind, n,
                            example == r.error_examples.end() ? "" : example->second);
    }
  }
  return out;
}

}  // namespace heteroaccel::loadgen
