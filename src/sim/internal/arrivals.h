// Camera streams: when request k of a stream is due and which inference type it
// asks for. A camera with inflight N > 0 runs as N streams at rate / N each (as
// `heteroaccel bench` runs a camera with --inflight N); streams are numbered over
// the whole scenario in camera order, and that number is the bench's camera
// index i:
//   periodic  due(k) = period x (i / S + k), S streams in all, period = 1 / rate
//   poisson   exponential gaps at the rate
//   bursts    exponential gaps at rate x (on + off) / on during `on_ms`, then
//             `off_ms` silent
//   type      mix[(i + k) % mix.size()] for a list mix; a seeded draw for weights
// When a stream's requests are due is loadgen::StreamSchedule, the schedule the
// bench plays (Schedule() below): the same seed sends at the same instants in
// both. The weighted type draw takes its randomness from internal/random.h keys.
// Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/schedule.h"
#include "sim/scenario.h"

namespace heteroaccel::sim::internal {

struct Stream {
  uint32_t index = 0;   // over the whole scenario
  uint32_t camera = 0;  // index of the expanded camera (name-j)
  const CameraSpec* spec = nullptr;
  double rate = 0;       // requests/s of this stream
  bool bounded = false;  // one request outstanding at a time (inflight > 0)
  // Per mix position (list) or per weighted type: index into the scenario's types.
  std::vector<uint32_t> mix;
  std::vector<double> cumulative;  // weights: cumulative shares, the last 1
};

// Every stream of the scenario; `types` lists the scenario's inference types
// (sorted), which Stream::mix indexes. `camera_names` gets the expanded names.
std::vector<Stream> ExpandStreams(const Scenario& scenario, const std::vector<std::string>& types,
                                  std::vector<std::string>& camera_names);

// Stream `stream`'s schedule, of `streams` in the scenario, with the arrivals'
// `seed`: what `heteroaccel bench --seed` plays for its stream of that index.
loadgen::StreamSchedule Schedule(const Stream& stream, uint32_t streams, uint64_t seed);

// The type index request k asks for.
uint32_t TypeOf(const Stream& stream, uint64_t seed, uint64_t k);

}  // namespace heteroaccel::sim::internal
