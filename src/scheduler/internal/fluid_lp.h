// The fluid model behind Scheduler::IdealThroughput, solved as a small linear program.
//
// Each device splits its slots between inference types; a type's requests may be
// spread over every device that can run it. The best total rate for a mix is
//   maximise r  subject to  sum_d x[t][d] >= share[t] * r        (every type served)
//                           sum_t x[t][d] * seconds[t][d] <= slots[d]   (device time)
//                           x >= 0
// which accounts for devices being relatively better at some types than others.
// Pure function; thread-compatible.
#pragma once

#include <vector>

namespace heteroaccel::scheduler::internal {

// share[t] > 0 (need not sum to 1: the result is the rate of the whole mix with
// shares normalised); seconds[t][d] > 0 where device d can run type t, <= 0 where it
// cannot; slots[d] >= 0. Returns requests per second; 0 if some type cannot run.
double MaxMixRate(const std::vector<double>& share, const std::vector<std::vector<double>>& seconds,
                  const std::vector<double>& slots);

}  // namespace heteroaccel::scheduler::internal
