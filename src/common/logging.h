// Logging: the process's log goes through spdlog to stderr, one line per event
// with time and level ("[2026-12-03 12:00:00.123] [warning] node edge-1 is
// down (heartbeat_lost); retrying its requests elsewhere"). Components call
// spdlog's free functions (spdlog::info, spdlog::warn, ...); binaries call
// InitLogging once at start and SetLogLevel from their --log-level flag. A
// program's own output (tables, results) stays on stdout, apart from the log.
// Thread-safe (spdlog's default logger is).
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace heteroaccel {

// Points the default logger at stderr with the format above, level info.
void InitLogging();

// "trace", "debug", "info", "warn" (or "warning"), "error", "critical", "off".
// InvalidArgument naming the accepted values.
absl::Status SetLogLevel(std::string_view level);

}  // namespace heteroaccel
