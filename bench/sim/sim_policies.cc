// sim_policies: the policies compared at saturation over many seeds
// (BENCHMARKS.md, "Scheduling under deadlines, fairness and overload").
//
// The SLO test compares earliest-finish with every other policy in one run per
// scenario. Where two policies both reach the fluid ideal, one run cannot tell
// them apart: which requests' service times land on which device differs
// between the policies, and that alone moves a run's throughput by a few tenths
// of a percent. This runs the saturation protocol (sim::Saturated: no deadlines,
// queues of 64) for each scenario, load and seed under every policy, and prints
// per scenario and load earliest-finish's throughput as a fraction of the ideal
// and, against each other policy, the median and range of the throughput ratio
// over the seeds and in how many seeds its p99 was lower.
//
// Usage: sim_policies [--seeds N] [--loads 1.3,1.5,2] [SCENARIO.yaml ...]
// (default: the five scenarios of the SLO targets in examples/sim, 7 seeds).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "loadgen/internal/stats.h"
#include "scheduler/types.h"
#include "sim/simulator.h"

namespace {

using heteroaccel::scheduler::PolicyKind;
namespace sim = heteroaccel::sim;

constexpr PolicyKind kPolicies[] = {PolicyKind::kEarliestFinish, PolicyKind::kIdleFirst,
                                    PolicyKind::kStatic};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return heteroaccel::loadgen::internal::Percentile(v, 0.5);
}

struct Versus {
  std::vector<double> ratios;  // earliest-finish's throughput / the policy's
  int lower_p99 = 0;           // seeds in which earliest-finish's p99 was lower
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "sim_policies: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 7;
  std::vector<double> loads = {1.3, 1.5, 2.0};
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seeds" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &seeds) || seeds < 1 || seeds > 1000) {
        return Fail("--seeds: a whole number from 1 to 1000");
      }
    } else if (arg == "--loads" && i + 1 < argc) {
      loads.clear();
      for (const absl::string_view part : absl::StrSplit(argv[++i], ',')) {
        double load = 0;
        if (!absl::SimpleAtod(part, &load) || !(load > 0)) {
          return Fail("--loads: comma-separated multiples of the ideal, each > 0");
        }
        loads.push_back(load);
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return Fail("unknown option " + arg +
                  " (usage: sim_policies [--seeds N] [--loads 1.3,1.5,2] [SCENARIO.yaml ...])");
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.empty()) {
    for (const char* name : {"paper", "specialised", "bursty", "gpu-slows", "heavy-camera"}) {
      paths.push_back(std::string("examples/sim/") + name + ".yaml");
    }
  }
  std::printf("%d seeds; earliest-finish (EF) against each policy: median [min-max] of the\n"
              "throughput ratio, and the seeds in which EF's p99 was lower\n",
              seeds);
  for (const std::string& path : paths) {
    auto base = sim::LoadScenario(path);
    if (!base.ok()) return Fail(path + ": " + std::string(base.status().message()));
    for (const double load : loads) {
      std::vector<double> of_ideal;
      std::map<PolicyKind, Versus> versus;
      for (int seed = 1; seed <= seeds; ++seed) {
        std::map<PolicyKind, sim::SimReport> runs;
        for (const PolicyKind policy : kPolicies) {
          auto s = sim::AtLoad(sim::Saturated(*base, policy), load);
          if (!s.ok()) return Fail(path + ": " + std::string(s.status().message()));
          s->seed = static_cast<uint64_t>(seed);
          auto r = sim::Simulate(*s);
          if (!r.ok()) return Fail(path + ": " + std::string(r.status().message()));
          runs[policy] = *std::move(r);
        }
        const sim::SimReport& ef = runs[PolicyKind::kEarliestFinish];
        if (ef.ideal_rps <= 0) return Fail(path + ": the ideal throughput is 0");
        of_ideal.push_back(ef.bench.throughput_rps / ef.ideal_rps);
        for (const auto& [policy, r] : runs) {
          if (policy == PolicyKind::kEarliestFinish || r.bench.throughput_rps <= 0) continue;
          Versus& v = versus[policy];
          v.ratios.push_back(ef.bench.throughput_rps / r.bench.throughput_rps);
          v.lower_p99 += ef.bench.latency.p99 < r.bench.latency.p99 ? 1 : 0;
        }
      }
      std::printf("%-13s load %.2f: EF %.2f%% of the ideal (median)", base->name.c_str(), load,
                  100 * Median(of_ideal));
      for (const auto& [policy, v] : versus) {
        std::printf("; vs %s %.4f [%.4f-%.4f], p99 lower %d/%zu",
                    std::string(heteroaccel::scheduler::PolicyName(policy)).c_str(),
                    Median(v.ratios), *std::min_element(v.ratios.begin(), v.ratios.end()),
                    *std::max_element(v.ratios.begin(), v.ratios.end()), v.lower_p99,
                    v.ratios.size());
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  return 0;
}
