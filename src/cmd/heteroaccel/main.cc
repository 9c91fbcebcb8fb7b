// heteroaccel: one binary, one subcommand per role. Each subcommand only parses
// flags and wires components together.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cmd/heteroaccel/commands.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  CLI::App app{"HeteroAccel: image inference on every accelerator of an edge cluster"};
  app.require_subcommand(1);
  // Global, so it may come before or after the subcommand.
  app.fallthrough();
  app.set_version_flag("--version", std::string("heteroaccel ") + HETEROACCEL_VERSION);
  heteroaccel::InitLogging();
  app.add_option_function<std::string>(
         "--log-level",
         [](const std::string& level) {
           if (absl::Status s = heteroaccel::SetLogLevel(level); !s.ok()) {
             throw CLI::ValidationError("--log-level", std::string(s.message()));
           }
         },
         "Log level: trace, debug, info (default), warn, error, off")
      ->type_name("LEVEL");
  heteroaccel::cmd::AddAgentCommand(app);
  heteroaccel::cmd::AddInferCommand(app);
  heteroaccel::cmd::AddServerCommand(app);
  heteroaccel::cmd::AddBenchCommand(app);
  heteroaccel::cmd::AddSimCommand(app);
  heteroaccel::cmd::AddPlanCommand(app);
  heteroaccel::cmd::AddModelsCommand(app);
  heteroaccel::cmd::AddK8sCommand(app);
  heteroaccel::cmd::AddFleetCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and exit 0; anything else is a bad flag:
    // CLI11's message, and the status every command gives a bad flag.
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}
