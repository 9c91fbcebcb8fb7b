// Arrivals: when an open-loop camera's requests are due (loadgen/bench.h,
// loadgen/schedule.h). Its own header so that the schedule, which needs
// nothing else of the bench, can share the one enum.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"

namespace heteroaccel::loadgen {

enum class Arrivals { kPeriodic, kPoisson };
// "periodic" or "poisson"; InvalidArgument naming both otherwise.
absl::StatusOr<Arrivals> ParseArrivals(std::string_view name);
std::string_view ArrivalsName(Arrivals arrivals);

}  // namespace heteroaccel::loadgen
