// sim_scale: the simulator at scale (BENCHMARKS.md, "Simulator"). Runs a
// scenario (default examples/sim/scale.yaml: 1,000 nodes x 4 devices, about 10
// million requests) and prints the wall time, events/s, requests/s and the
// share of the time spent inside the scheduler's calls (timed around each
// call). Usage: sim_scale [SCENARIO.yaml] [--duration D] [--load X]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "loadgen/bench.h"
#include "sim/simulator.h"

int main(int argc, char** argv) {
  using heteroaccel::sim::Scenario;
  std::string path = "examples/sim/scale.yaml";
  std::string duration;
  double load = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--duration" && i + 1 < argc) {
      duration = argv[++i];
    } else if (arg == "--load" && i + 1 < argc) {
      load = std::atof(argv[++i]);
    } else {
      path = arg;
    }
  }
  auto scenario = heteroaccel::sim::LoadScenario(path);
  if (!scenario.ok()) {
    std::fprintf(stderr, "sim_scale: %s\n", std::string(scenario.status().message()).c_str());
    return 2;
  }
  if (!duration.empty()) {
    auto d = heteroaccel::loadgen::ParseDuration(duration);
    if (!d.ok()) {
      std::fprintf(stderr, "sim_scale: --duration: %s\n", std::string(d.status().message()).c_str());
      return 2;
    }
    scenario->duration = *d;
  }
  if (load > 0) {
    auto scaled = heteroaccel::sim::AtLoad(*scenario, load);
    if (!scaled.ok()) {
      std::fprintf(stderr, "sim_scale: %s\n", std::string(scaled.status().message()).c_str());
      return 2;
    }
    scenario = std::move(scaled);
  }
  auto report = heteroaccel::sim::Simulate(*scenario);
  if (!report.ok()) {
    std::fprintf(stderr, "sim_scale: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  const auto& r = *report;
  std::printf("scenario %s: %llu requests, %llu events in %.2f s wall\n", scenario->name.c_str(),
              static_cast<unsigned long long>(r.requests_total),
              static_cast<unsigned long long>(r.events), r.wall_seconds);
  std::printf("%.0f events/s, %.0f requests/s; %.1f%% of the wall time inside the scheduler\n",
              static_cast<double>(r.events) / r.wall_seconds,
              static_cast<double>(r.requests_total) / r.wall_seconds,
              100 * r.scheduler_seconds / r.wall_seconds);
  std::printf("load: offered %.0f req/s = %.2f x the ideal %.0f req/s; attainment %.4f%%, p50 %.2f ms, "
              "p99 %.2f ms\n",
              static_cast<double>(r.offered) / r.bench.measured_s,
              static_cast<double>(r.offered) / r.bench.measured_s / r.ideal_rps, r.ideal_rps,
              100 * r.attainment, r.bench.latency.p50, r.bench.latency.p99);
  return 0;
}
