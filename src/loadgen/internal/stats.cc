#include "loadgen/internal/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace heteroaccel::loadgen::internal {
namespace {

// A view of the string field `key`, "?" when absent; no copy.
std::string_view StringField(const nlohmann::json& json, const char* key) {
  if (!json.is_object()) return "?";
  auto it = json.find(key);
  if (it == json.end() || !it->is_string()) return "?";
  return it->get_ref<const std::string&>();
}

double NumberField(const nlohmann::json& json, const char* key) {
  if (!json.is_object()) return 0;
  auto it = json.find(key);
  return it != json.end() && it->is_number() ? it->get<double>() : 0;
}

bool BoolField(const nlohmann::json& json, const char* key) {
  if (!json.is_object()) return false;
  auto it = json.find(key);
  return it != json.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

CameraRecord::CameraRecord(size_t types, size_t expected_samples) : type_errors_(types, 0) {
  samples_.reserve(expected_samples);
}

void CameraRecord::RecordSuccess(uint32_t type, double latency_ms,
                                 const nlohmann::json& served_by) {
  samples_.push_back({static_cast<float>(latency_ms), type});
  const std::string_view node = StringField(served_by, "node");
  const std::string_view device = StringField(served_by, "device");
  auto it = std::find_if(devices_.begin(), devices_.end(), [&](const DeviceTally& d) {
    return d.device == device && d.node == node;
  });
  if (it == devices_.end()) {
    devices_.push_back({std::string(node), std::string(device),
                        std::string(StringField(served_by, "device_kind")),
                        BoolField(served_by, "emulated")});
    it = devices_.end() - 1;
  }
  ++it->count;
  it->compute_ms_sum += NumberField(served_by, "compute_ms");
  it->queue_ms_sum += NumberField(served_by, "queue_ms");
}

void CameraRecord::RecordError(uint32_t type, const absl::Status& status) {
  ++type_errors_[type];
  std::string kind = ErrorKind(status);
  if (!error_examples_.contains(kind)) error_examples_[kind] = std::string(status.message());
  ++errors_by_kind_[kind];
}

std::string ErrorKind(const absl::Status& status) {
  // InferClient reports server answers as "HTTP <status>: <message>".
  const absl::string_view message = status.message();
  if (absl::StartsWith(message, "HTTP ")) {
    const absl::string_view code = message.substr(5, message.find(':') - 5);
    int value = 0;
    if (absl::SimpleAtoi(code, &value)) return std::to_string(value);
  }
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return "timeout";
    case absl::StatusCode::kUnavailable:
      return "transport";
    default:
      return "bad_response";
  }
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}
bool CameraRecord::RecordAnswer(uint64_t request) {
  // Requests are numbered densely per camera; bounded by the run's length.
  if (request >= answers_.size())
    answers_.resize(std::max<size_t>(request + 1, answers_.size() * 2));
  uint8_t& answers = answers_[request];
  if (answers < UINT8_MAX) ++answers;
  if (answers == 1) return true;
  ++duplicates_;
  return false;
}

void CameraRecord::RecordFailover(const absl::Status& status) {
  ++failovers_;
  ++failovers_by_kind_[ErrorKind(status)];
}

void CameraRecord::RecordServed(double at_ms, size_t target) {
  answer_times_ms_.push_back(at_ms);
  if (target >= per_target_.size()) per_target_.resize(target + 1, 0);
  ++per_target_[target];
}

double MaxGapMs(std::vector<double>& times_ms, double start_ms, double end_ms) {
  std::sort(times_ms.begin(), times_ms.end());
  double gap = 0;
  double previous = start_ms;
  for (const double t : times_ms) {
    gap = std::max(gap, t - previous);
    previous = std::max(previous, t);
  }
  return std::max(gap, end_ms - previous);
}

void AggregateFailover(const std::vector<CameraRecord>& cameras,
                       const std::vector<std::string>& targets, double start_ms, double end_ms,
                       BenchReport& report) {
  std::vector<double> times;
  for (const CameraRecord& camera : cameras) {
    report.failovers += camera.failovers();
    for (const auto& [kind, n] : camera.failovers_by_kind()) report.failovers_by_kind[kind] += n;
    report.duplicates += camera.duplicates();
    report.lost += camera.lost();
    times.insert(times.end(), camera.answer_times_ms().begin(), camera.answer_times_ms().end());
    std::vector<double> own = camera.answer_times_ms();
    report.max_camera_gap_ms = std::max(report.max_camera_gap_ms, MaxGapMs(own, start_ms, end_ms));
    for (size_t t = 0; t < camera.per_target().size() && t < targets.size(); ++t) {
      report.per_target[targets[t]] += camera.per_target()[t];
    }
  }
  for (const std::string& target : targets) report.per_target.emplace(target, 0);
  report.max_gap_ms = MaxGapMs(times, start_ms, end_ms);
}

void FinishCameraStats(CameraStats& stats, bool with_deadline, double measured_s) {
  const uint64_t good = with_deadline ? stats.within_deadline : stats.succeeded;
  stats.attainment =
      stats.requests > 0 ? static_cast<double>(good) / static_cast<double>(stats.requests) : 0;
  stats.throughput_rps = measured_s > 0 ? static_cast<double>(stats.succeeded) / measured_s : 0;
}

void AggregateCameras(const std::vector<CameraRecord>& streams,
                      const std::vector<std::string>& names, double measured_s,
                      BenchReport& report, std::optional<double> deadline_ms) {
  if (names.empty()) return;
  const size_t per_camera = std::max<size_t>(1, streams.size() / names.size());
  std::vector<double> attainments;
  for (size_t c = 0; c < names.size(); ++c) {
    CameraStats stats;
    for (size_t s = c * per_camera; s < (c + 1) * per_camera && s < streams.size(); ++s) {
      const CameraRecord& stream = streams[s];
      stats.succeeded += stream.samples().size();
      stats.requests += stream.samples().size();
      for (const uint64_t errors : stream.type_errors()) stats.requests += errors;
      if (deadline_ms) {
        stats.within_deadline += static_cast<uint64_t>(
            std::count_if(stream.samples().begin(), stream.samples().end(),
                          [&](const Sample& sample) { return sample.latency_ms <= *deadline_ms; }));
      }
    }
    FinishCameraStats(stats, deadline_ms.has_value(), measured_s);
    attainments.push_back(stats.attainment);
    report.per_camera[names[c]] = stats;
  }
  report.jain_attainment = JainIndex(attainments);
}

LatencySummary Summarize(std::vector<double>& values) {
  LatencySummary summary;
  summary.count = values.size();
  if (values.empty()) return summary;
  std::sort(values.begin(), values.end());
  summary.p50 = Percentile(values, 0.50);
  summary.p95 = Percentile(values, 0.95);
  summary.p99 = Percentile(values, 0.99);
  summary.mean =
      std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  summary.max = values.back();
  return summary;
}

namespace {

void AggregateDevices(const std::vector<CameraRecord>& cameras, BenchReport& report) {
  std::map<std::string, DeviceTally> tallies;
  for (const CameraRecord& camera : cameras) {
    for (const DeviceTally& d : camera.devices()) {
      DeviceTally& total = tallies[d.node + "/" + d.device];
      if (total.count == 0) total = {d.node, d.device, d.device_kind, d.emulated};
      total.count += d.count;
      total.compute_ms_sum += d.compute_ms_sum;
      total.queue_ms_sum += d.queue_ms_sum;
    }
  }
  // A tally exists only once its device served a request, so counts are >= 1.
  const auto succeeded = static_cast<double>(report.succeeded);
  for (const auto& [key, t] : tallies) {
    const auto n = static_cast<double>(t.count);
    report.per_device[key] = {t.node,  t.device,      t.device_kind,        t.emulated,
                              t.count, n / succeeded, t.compute_ms_sum / n, t.queue_ms_sum / n};
  }
}

}  // namespace

void Aggregate(const std::vector<CameraRecord>& cameras, const std::vector<std::string>& types,
               double measured_s, BenchReport& report, std::optional<double> deadline_ms) {
  std::vector<double> all;
  std::vector<std::vector<double>> by_type(types.size());
  std::vector<uint64_t> type_errors(types.size(), 0);
  for (const CameraRecord& camera : cameras) {
    for (const Sample& s : camera.samples()) {
      all.push_back(s.latency_ms);
      by_type[s.type].push_back(s.latency_ms);
    }
    for (size_t t = 0; t < types.size(); ++t) type_errors[t] += camera.type_errors()[t];
    for (const auto& [kind, n] : camera.errors_by_kind()) report.errors_by_kind[kind] += n;
    for (const auto& [kind, message] : camera.error_examples()) {
      report.error_examples.emplace(kind, message);
    }
    report.late += camera.late();
  }
  report.measured_s = measured_s;
  report.succeeded = all.size();
  report.errors = std::accumulate(type_errors.begin(), type_errors.end(), uint64_t{0});
  report.requests = report.succeeded + report.errors;
  report.throughput_rps = measured_s > 0 ? static_cast<double>(report.succeeded) / measured_s : 0;
  report.achieved_rate_rps = measured_s > 0 ? static_cast<double>(report.requests) / measured_s : 0;
  if (deadline_ms) {
    report.within_deadline = static_cast<uint64_t>(
        std::count_if(all.begin(), all.end(), [&](double ms) { return ms <= *deadline_ms; }));
    report.attainment = report.requests > 0 ? static_cast<double>(report.within_deadline) /
                                                  static_cast<double>(report.requests)
                                            : 0;
  }
  report.latency = Summarize(all);
  for (size_t t = 0; t < types.size(); ++t) {
    TypeStats& stats = report.per_type[types[t]];
    stats.latency = Summarize(by_type[t]);
    stats.count = stats.latency.count;
    stats.errors = type_errors[t];
  }
  AggregateDevices(cameras, report);
}

}  // namespace heteroaccel::loadgen::internal
