// Subcommands of the heteroaccel binary. Each Add* registers its flags and a
// callback that exits the process with the command's status.
#pragma once

#include <CLI/CLI.hpp>

namespace heteroaccel::cmd {

void AddAgentCommand(CLI::App& app);
void AddInferCommand(CLI::App& app);
void AddServerCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddSimCommand(CLI::App& app);
void AddPlanCommand(CLI::App& app);
void AddModelsCommand(CLI::App& app);
void AddK8sCommand(CLI::App& app);
void AddFleetCommand(CLI::App& app);

}  // namespace heteroaccel::cmd
