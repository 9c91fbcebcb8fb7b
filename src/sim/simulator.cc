// Simulate and the report renderings; the event loop is internal/engine.cc.
#include "sim/simulator.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/fake_clock.h"
#include "common/status_macros.h"
#include "scheduler/scheduler.h"
#include "sim/internal/engine.h"

namespace heteroaccel::sim {

double IdealThroughput(const Scenario& scenario) {
  internal::Cluster cluster = internal::ExpandCluster(scenario);
  std::vector<bool> lost(cluster.nodes.size(), false);
  std::vector<double> factor(cluster.devices.size(), 1);
  for (const FaultSpec& f : scenario.faults) {
    if (!f.device.empty()) {
      for (const uint32_t d : cluster.DevicesNamed(f.device)) factor[d] *= f.slowdown;
    } else if (!f.down_for) {
      for (const uint32_t n : cluster.NodesNamed(f.node)) lost[n] = true;
    }
  }
  FakeClock clock;
  scheduler::Scheduler exact(scheduler::Options{}, clock);
  for (size_t i = 0; i < cluster.devices.size(); ++i) {
    internal::ClusterDevice& d = cluster.devices[i];
    if (lost[d.node]) continue;
    for (auto& [type, time] : d.info.reported_service) {
      time = std::chrono::nanoseconds(
          static_cast<int64_t>(static_cast<double>(time.count()) * factor[i]));
    }
    if (!exact.UpsertDevice(d.info).ok()) return 0;
  }
  std::map<std::string, double> mix;
  for (const CameraSpec& c : scenario.cameras) {
    for (const auto& [type, share] : c.Shares()) mix[type] += c.rate * c.count * share;
  }
  return exact.IdealThroughput(mix);
}

absl::StatusOr<Scenario> AtLoad(Scenario scenario, double load) {
  if (!(load > 0)) return absl::InvalidArgumentError("--load: must be > 0");
  double total = 0;
  for (const CameraSpec& c : scenario.cameras) total += c.rate * c.count;
  const double ideal = IdealThroughput(scenario);
  if (ideal <= 0 || total <= 0) {
    return absl::InvalidArgumentError("--load: the scenario's ideal throughput is 0");
  }
  for (CameraSpec& c : scenario.cameras) c.rate *= load * ideal / total;
  return scenario;
}

Scenario Saturated(Scenario scenario, scheduler::PolicyKind policy) {
  for (CameraSpec& c : scenario.cameras) c.deadline_ms.reset();
  scenario.queue_capacity = 64;
  scenario.policy = policy;
  return scenario;
}

absl::StatusOr<SimReport> Simulate(const Scenario& scenario, const SimOptions& options) {
  internal::Engine engine(scenario, options);
  ASSIGN_OR_RETURN(SimReport report, engine.Run());
  report.ideal_rps = IdealThroughput(scenario);
  return report;
}

nlohmann::json ToJson(const SimReport& r) {
  nlohmann::json cameras = nlohmann::json::object();
  for (const auto& [name, c] : r.cameras) {
    cameras[name] = {{"offered", c.offered}, {"good", c.good}, {"attainment", c.attainment()}};
  }
  return {{"bench", loadgen::ToJson(r.bench)},
          {"offered", r.offered},
          {"good", r.good},
          {"late", r.late},
          {"expired", r.expired},
          {"refused", r.refused},
          {"lost_retried", r.lost_retried},
          {"unfinished", r.unfinished},
          {"attainment", r.attainment},
          {"goodput_rps", r.goodput_rps},
          {"ideal_rps", r.ideal_rps},
          {"goodput_of_ideal", r.ideal_rps > 0 ? r.goodput_rps / r.ideal_rps : 0.0},
          {"cameras", cameras},
          {"jain_attainment", r.jain_attainment},
          {"events", r.events},
          {"event_log_hash", absl::StrFormat("%016x", r.event_log_hash)},
          {"requests_total", r.requests_total},
          {"wall_seconds", r.wall_seconds},
          {"scheduler_seconds", r.scheduler_seconds}};
}

std::string FormatReport(const SimReport& r) {
  std::string out = loadgen::FormatTable(r.bench);
  absl::StrAppendFormat(&out,
                        "SLO (requests arriving in the measured window): %d offered, %d good "
                        "(%.3f%%), %d late, %d expired (504), %d refused (429/503), %d given up "
                        "after retries (503), %d unfinished\n",
                        r.offered, r.good, r.attainment * 100, r.late, r.expired, r.refused,
                        r.lost_retried, r.unfinished);
  absl::StrAppendFormat(&out, "goodput %.2f req/s = %.1f%% of the ideal %.2f req/s\n",
                        r.goodput_rps, r.ideal_rps > 0 ? 100 * r.goodput_rps / r.ideal_rps : 0.0,
                        r.ideal_rps);
  double worst = 1;
  std::string worst_name;
  for (const auto& [name, c] : r.cameras) {
    if (c.attainment() < worst || worst_name.empty()) {
      worst = c.attainment();
      worst_name = name;
    }
  }
  absl::StrAppendFormat(&out, "cameras: %d, Jain's index of attainment %.4f, lowest %s %.3f%%\n",
                        r.cameras.size(), r.jain_attainment, worst_name, worst * 100);
  absl::StrAppendFormat(&out,
                        "simulated %d requests, %d events in %.2f s (%.0f events/s; %.0f%% inside "
                        "the scheduler), event log hash %016x\n",
                        r.requests_total, r.events, r.wall_seconds,
                        r.wall_seconds > 0 ? static_cast<double>(r.events) / r.wall_seconds : 0.0,
                        r.wall_seconds > 0 ? 100 * r.scheduler_seconds / r.wall_seconds : 0.0,
                        r.event_log_hash);
  return out;
}

}  // namespace heteroaccel::sim
