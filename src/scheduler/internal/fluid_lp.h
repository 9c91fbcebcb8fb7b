// The fluid model behind Scheduler::IdealThroughput, solved as a small linear program.
//
// Each device splits its slots between inference types; a type's requests may be
// spread over every device that can run it. The best total rate for a mix is
//   maximise r  subject to  sum_d x[t][d] >= share[t] * r        (every type served)
//                           sum_t x[t][d] * seconds[t][d] <= slots[d]   (device time)
//                           x >= 0
// which accounts for devices being relatively better at some types than others.
// SolveFluid also says, per (type, device), how much of the device's time a unit of
// the type would waste at the optimum (its reduced cost relative to the device time
// it uses, from the LP's dual prices): 0 for pairs an optimal allocation may use,
// up to 1 for pairs that only spend capacity the optimum keeps for other types.
// Pure functions; thread-compatible.
#pragma once

#include <vector>

namespace heteroaccel::scheduler::internal {

// share[t] > 0 (need not sum to 1: the result is the rate of the whole mix with
// shares normalised); seconds[t][d] > 0 where device d can run type t, <= 0 where it
// cannot; slots[d] >= 0. Returns requests per second; 0 if some type cannot run.
double MaxMixRate(const std::vector<double>& share, const std::vector<std::vector<double>>& seconds,
                  const std::vector<double>& slots);

struct FluidSolution {
  double rate = 0;  // MaxMixRate
  // waste[t][d] in [0, 1]: 1 - (value of a unit of type t) / (price of the device
  // time it takes on d); 0 where the optimum may run t on d (or d's time is free at
  // the optimum); 1 where d cannot run t. Empty when the mix is impossible.
  std::vector<std::vector<double>> waste;
};
FluidSolution SolveFluid(const std::vector<double>& share,
                         const std::vector<std::vector<double>>& seconds,
                         const std::vector<double>& slots);

}  // namespace heteroaccel::scheduler::internal
