// `heteroaccel sim SCENARIO.yaml`: runs the discrete-event simulator
// (sim/simulator.h) on a scenario file and prints the report of `heteroaccel
// bench` with the SLO lines (or one JSON object).
// Exit status: 0 when the run completed, 1 when the simulation failed, 2 for a
// bad scenario or bad flags.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cmd/heteroaccel/commands.h"
#include "loadgen/bench.h"
#include "scheduler/types.h"
#include "sim/simulator.h"

namespace heteroaccel::cmd {
namespace {

struct SimFlags {
  std::string scenario;
  bool json = false;
  std::string events;
  int64_t seed = 0;
  bool seed_given = false;
  int64_t arrivals_seed = 0;
  bool arrivals_seed_given = false;
  std::string duration;
  double load = 0;
  bool load_given = false;
  std::string policy;
  bool saturated = false;
};

int Fail(int code, const absl::Status& status) {
  std::fprintf(stderr, "heteroaccel sim: %s\n", std::string(status.message()).c_str());
  return code;
}

// The scenario with the flags applied.
absl::StatusOr<sim::Scenario> Configure(const SimFlags& flags) {
  auto scenario = sim::LoadScenario(flags.scenario);
  if (!scenario.ok()) return scenario.status();
  for (const auto& [flag, value] :
       {std::pair{"--seed", flags.seed}, std::pair{"--arrivals-seed", flags.arrivals_seed}}) {
    if (value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " must be 0 or positive, not ", value));
    }
  }
  if (flags.seed_given) scenario->seed = static_cast<uint64_t>(flags.seed);
  if (!flags.duration.empty()) {
    auto d = loadgen::ParseDuration(flags.duration);
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--duration: ", d.status().message()));
    }
    if (d->count() <= 0) return absl::InvalidArgumentError("--duration: must be > 0");
    scenario->duration = *d;
  }
  if (!flags.policy.empty()) {
    auto policy = scheduler::ParsePolicy(flags.policy);
    if (!policy.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--policy: ", policy.status().message()));
    }
    scenario->policy = *policy;
  }
  if (flags.saturated) {
    const scheduler::PolicyKind policy = scenario->policy;
    scenario = sim::Saturated(*std::move(scenario), policy);
  }
  if (flags.load_given) return sim::AtLoad(*std::move(scenario), flags.load);
  return scenario;
}

int RunSimCommand(const SimFlags& flags) {
  auto scenario = Configure(flags);
  if (!scenario.ok()) return Fail(2, scenario.status());
  std::ofstream log;
  sim::SimOptions options;
  if (flags.arrivals_seed_given) options.arrivals_seed = static_cast<uint64_t>(flags.arrivals_seed);
  if (!flags.events.empty()) {
    log.open(flags.events, std::ios::binary | std::ios::trunc);
    if (!log) {
      return Fail(2, absl::InvalidArgumentError(
                         absl::StrCat("--events: cannot write '", flags.events, "'")));
    }
    options.event_log = &log;
  }
  auto report = sim::Simulate(*scenario, options);
  if (!report.ok()) return Fail(1, report.status());
  if (log.is_open()) {
    log.close();
    if (!log) return Fail(1, absl::UnavailableError("--events: writing the event log failed"));
  }
  if (flags.json) {
    std::printf("%s\n", sim::ToJson(*report).dump(2).c_str());
  } else {
    std::printf("%s", sim::FormatReport(*report).c_str());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void AddSimCommand(CLI::App& app) {
  auto flags = std::make_shared<SimFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sim",
      "Simulate a scenario (cluster, cameras, faults) on the real scheduler; print the bench "
      "report with SLO attainment and goodput (docs/simulator.md)");
  cmd->add_option("scenario", flags->scenario, "Scenario YAML file")->required();
  cmd->add_flag("--json", flags->json, "Print one JSON object instead of the table");
  cmd->add_option("--events", flags->events, "Write the event log (one line per event) here");
  CLI::Option* seed = cmd->add_option("--seed", flags->seed, "Replace the scenario's seed");
  CLI::Option* arrivals_seed = cmd->add_option(
      "--arrivals-seed", flags->arrivals_seed,
      "Seed of what the cameras send (arrival times, weighted types) when it should differ "
      "from --seed: fixed while --seed varies, only the service times change; the same as "
      "`heteroaccel bench --seed` gives the bench's arrivals");
  cmd->add_option("--duration", flags->duration,
                  "Replace the scenario's measured duration (20s, 2m)");
  CLI::Option* load = cmd->add_option(
      "--load", flags->load,
      "Scale every camera's rate so the total is this multiple of the ideal throughput");
  cmd->add_option("--policy", flags->policy,
                  "Replace the scenario's policy (earliest-finish, idle-first, static)");
  cmd->add_flag("--saturated", flags->saturated,
                "The saturation protocol of the SLO test and sim_policies: no deadlines, "
                "queues of 64 per type (use with --load above 1)");
  cmd->callback([flags, seed, arrivals_seed, load] {
    flags->seed_given = seed->count() > 0;
    flags->arrivals_seed_given = arrivals_seed->count() > 0;
    flags->load_given = load->count() > 0;
    std::exit(RunSimCommand(*flags));
  });
}

}  // namespace heteroaccel::cmd
