// Arrivals: when an open-loop camera's requests are due (loadgen/bench.h,
// loadgen/schedule.h). Its own header so that the schedule, which needs
// nothing else of the bench, can share the one enum.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"

namespace heteroaccel::loadgen {

enum class Arrivals { kPeriodic, kPoisson, kBursts };
// "periodic", "poisson" or "bursts"; InvalidArgument naming them otherwise.
absl::StatusOr<Arrivals> ParseArrivals(std::string_view name);
std::string_view ArrivalsName(Arrivals arrivals);

// Bursts: every camera sends during `on_ms`, at its rate x (on + off) / on with
// exponential gaps, then is silent for `off_ms`; the windows are the same for
// every camera, from the start of the run.
struct BurstWindows {
  double on_ms = 250;   // > 0
  double off_ms = 250;  // >= 0
};

}  // namespace heteroaccel::loadgen
