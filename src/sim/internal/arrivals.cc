#include "sim/internal/arrivals.h"

#include <algorithm>

#include "sim/internal/random.h"

namespace heteroaccel::sim::internal {
namespace {

uint32_t IndexOf(const std::vector<std::string>& types, const std::string& type) {
  return static_cast<uint32_t>(std::lower_bound(types.begin(), types.end(), type) - types.begin());
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

loadgen::StreamSchedule Schedule(const Stream& stream, uint32_t streams, uint64_t seed) {
  return loadgen::StreamSchedule(stream.spec->arrivals, stream.rate, stream.index, streams, seed,
                                 {stream.spec->on_ms, stream.spec->off_ms});
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
