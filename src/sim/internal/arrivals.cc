#include "sim/internal/arrivals.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "sim/internal/random.h"

namespace heteroaccel::sim::internal {
namespace {

uint32_t IndexOf(const std::vector<std::string>& types, const std::string& type) {
  return static_cast<uint32_t>(std::lower_bound(types.begin(), types.end(), type) - types.begin());
}

// Bursts: an exponential gap at the on-rate, counted in "on" time only.
int64_t NextBurstArrival(const CameraSpec& spec, double rate, double u, int64_t now) {
  const double period = (spec.on_ms + spec.off_ms) * 1e6;
  const double on = spec.on_ms * 1e6;
  const double on_rate = rate * (spec.on_ms + spec.off_ms) / spec.on_ms;
  double gap = -std::log(u) / on_rate * 1e9;
  double t = static_cast<double>(now);
  while (true) {
    const double phase = std::fmod(t, period);
    if (phase >= on) {
      t += period - phase;
      continue;
    }
    const double left = on - phase;
    if (gap <= left) return static_cast<int64_t>(t + gap);
    gap -= left;
    t += left + spec.off_ms * 1e6;
  }
}

}  // namespace

std::vector<Stream> ExpandStreams(const Scenario& scenario, const std::vector<std::string>& types,
                                  std::vector<std::string>& camera_names) {
  std::vector<Stream> streams;
  for (const CameraSpec& spec : scenario.cameras) {
    const int per_camera = std::max(1, spec.Inflight());
    std::vector<uint32_t> mix;
    std::vector<double> cumulative;
    if (!spec.mix.empty()) {
      for (const std::string& t : spec.mix) mix.push_back(IndexOf(types, t));
    } else {
      double total = 0;
      for (const auto& [t, w] : spec.mix_weights) total += w;
      double sum = 0;
      for (const auto& [t, w] : spec.mix_weights) {
        mix.push_back(IndexOf(types, t));
        sum += w / total;
        cumulative.push_back(sum);
      }
      cumulative.back() = 1;
    }
    for (const std::string& name : spec.Names()) {
      const auto camera = static_cast<uint32_t>(camera_names.size());
      camera_names.push_back(name);
      for (int s = 0; s < per_camera; ++s) {
        Stream stream;
        stream.index = static_cast<uint32_t>(streams.size());
        stream.camera = camera;
        stream.spec = &spec;
        stream.rate = spec.rate / per_camera;
        stream.bounded = spec.Inflight() > 0;
        stream.mix = mix;
        stream.cumulative = cumulative;
        streams.push_back(std::move(stream));
      }
    }
  }
  return streams;
}

Schedule::Schedule(const Stream& stream, uint32_t streams, uint64_t seed)
    : stream_(&stream), seed_(seed) {
  switch (stream.spec->arrivals) {
    case Arrivals::kPeriodic:
      bench_.emplace(loadgen::Arrivals::kPeriodic, stream.rate, stream.index, streams, seed);
      break;
    case Arrivals::kPoisson:
      bench_.emplace(loadgen::Arrivals::kPoisson, stream.rate, stream.index, streams, seed);
      break;
    case Arrivals::kBursts:
      break;
  }
}

int64_t Schedule::Next() {
  const uint64_t k = k_++;
  if (bench_) return previous_ = bench_->Next().count();
  previous_ = NextBurstArrival(*stream_->spec, stream_->rate,
                               Unit(Key(seed_, stream_->index, k, Purpose::kGap)),
                               k == 0 ? 0 : previous_);
  return previous_;
}

uint32_t TypeOf(const Stream& stream, uint64_t seed, uint64_t k) {
  if (stream.cumulative.empty()) return stream.mix[(stream.index + k) % stream.mix.size()];
  const double u = Unit(Key(seed, stream.index, k, Purpose::kType));
  for (size_t j = 0; j < stream.cumulative.size(); ++j) {
    if (u < stream.cumulative[j]) return stream.mix[j];
  }
  return stream.mix.back();
}

}  // namespace heteroaccel::sim::internal
