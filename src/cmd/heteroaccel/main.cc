// heteroaccel: one binary, one subcommand per role. Each subcommand only parses
// flags and wires components together.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cmd/heteroaccel/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"HeteroAccel: image inference on every accelerator of an edge cluster"};
  app.require_subcommand(1);
  heteroaccel::cmd::AddAgentCommand(app);
  heteroaccel::cmd::AddInferCommand(app);
  heteroaccel::cmd::AddServerCommand(app);
  heteroaccel::cmd::AddBenchCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
