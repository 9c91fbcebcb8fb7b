// `heteroaccel plan PLAN.yaml`: the fewest (cheapest) catalog devices, placed into
// nodes, that meet the plan's SLO for its cameras, checked by the simulator
// (plan::Plan). Prints the plan (or --json); --emit-scenario writes the answer as a
// scenario `heteroaccel sim` runs.
// Exit status: 0 with a plan, 1 when no set within the limits meets the SLO or the
// scenario cannot be written, 2 for bad flags or a bad plan file.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cmd/heteroaccel/commands.h"
#include "plan/planner.h"
#include "sim/scenario.h"

namespace heteroaccel::cmd {
namespace {

struct PlanFlags {
  std::string file;
  bool json = false;
  int64_t seed = 0;
  bool seed_given = false;
  std::string emit_scenario;
};

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "heteroaccel plan: %s\n", std::string(status.message()).c_str());
}

int RunPlanCommand(const PlanFlags& flags) {
  auto spec = plan::LoadPlanSpec(flags.file);
  if (!spec.ok()) {
    PrintError(spec.status());
    return 2;
  }
  if (flags.seed < 0) {
    PrintError(
        absl::InvalidArgumentError(absl::StrCat("--seed must be 0 or positive, not ", flags.seed)));
    return 2;
  }
  if (flags.seed_given) spec->base.seed = static_cast<uint64_t>(flags.seed);
  auto result = plan::Plan(*spec);
  if (!result.ok()) {
    PrintError(result.status());
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (flags.json) {
    std::printf("%s\n", plan::ToJson(*result).dump(2).c_str());
  } else {
    std::printf("%s", plan::FormatPlan(*result).c_str());
  }
  std::fflush(stdout);
  if (!flags.emit_scenario.empty()) {
    std::ofstream out(flags.emit_scenario, std::ios::trunc);
    out << sim::ToYaml(result->scenario);
    out.close();
    if (!out) {
      std::fprintf(stderr, "heteroaccel plan: cannot write %s\n", flags.emit_scenario.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

void AddPlanCommand(CLI::App& app) {
  auto flags = std::make_shared<PlanFlags>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "The fewest devices of a catalog (and their nodes) that meet an SLO for a set of cameras, "
      "checked by the simulator, with the margin");
  cmd->add_option("plan", flags->file, "Plan file (YAML: cameras, slo, catalog; docs/planner.md)")
      ->required();
  cmd->add_flag("--json", flags->json, "Print one JSON object instead of the summary");
  CLI::Option* seed =
      cmd->add_option("--seed", flags->seed, "Seed of the simulations (default: the file's)");
  cmd->add_option("--emit-scenario", flags->emit_scenario,
                  "Write the plan as a scenario for `heteroaccel sim` to this file");
  cmd->callback([flags, seed] {
    flags->seed_given = seed->count() > 0;
    std::exit(RunPlanCommand(*flags));
  });
}

}  // namespace heteroaccel::cmd
