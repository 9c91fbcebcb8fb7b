#include "server/live_stats.h"

#include <algorithm>
#include <cmath>

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

double Ms(Clock::TimePoint::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Rounds for display: fewer digits, fewer changes to stream. Dividing by a
// whole number gives the double nearest the decimal, which prints short.
double Round(double value, double step) {
  const double per_unit = std::round(1 / step);
  return std::round(value * per_unit) / per_unit;
}

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// p50, p95, p99 of the non-negative values (negative = unknown); [] if none.
Json Percentiles(std::vector<float>& values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](float v) { return v < 0; }),
               values.end());
  if (values.empty()) return Json::array();
  Json out = Json::array();
  for (double q : {0.50, 0.95, 0.99}) {
    const size_t k = std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
    out.push_back(Round(values[k], 0.01));
  }
  return out;
}

}  // namespace

LiveStats::LiveStats(Options options, Clock& clock, metrics::Registry& registry)
    : options_(options),
      clock_(clock),
      phase_(registry.AddHistogram(
          "heteroaccel_server_phase_seconds",
          "Time of answered requests by phase: queue (arrival at the server to the last "
          "binding), transfer (the agent round trip minus the device's compute) and compute "
          "(the device's own time)",
          {"model", "phase"}, metrics::ExponentialBuckets(0.0001, 2, 17))),
      served_(
          registry.AddCounter("heteroaccel_server_served_total",
                              "Requests answered 200, by the device and variant that served them",
                              {"model", "node", "device", "kind", "variant", "emulated"})),
      deadline_misses_(registry.AddCounter(
          "heteroaccel_server_deadline_misses_total",
          "Requests that ended 504: no device could finish them before their deadline", {"model"})),
      prediction_error_(registry.AddHistogram(
          "heteroaccel_server_prediction_error_ratio",
          "|actual - predicted| / predicted of the finish time the scheduler predicted for an "
          "attempt (actual: binding to the answer's arrival)",
          {"model", "kind"}, {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10})) {}

void LiveStats::OnArrival(const std::string& type) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  auto& arrivals = arrivals_[type];
  if (arrivals.empty() || arrivals.back().first != second) arrivals.emplace_back(second, 0);
  ++arrivals.back().second;
}

void LiveStats::OnBound(const scheduler::Assignment& a, const std::string& type, int attempt,
                        const std::vector<std::string>& kinds) {
  const Clock::TimePoint now = clock_.Now();
  Decision d;
  d.request_id = a.request_id;
  d.attempt = attempt;
  d.bound = now;
  d.time_ms = WallMs();
  d.type = type;
  d.winner = a.device.ToString();
  d.variant = a.variant;
  d.predicted_ms = Ms(a.expected_finish - now);
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    const std::string kind = i < kinds.size() ? kinds[i] : "";
    const std::string device = a.candidates[i].device.ToString();
    if (a.candidates[i].device == a.device) d.winner_kind = kind;
    d.candidates.emplace_back(device, kind, Round(Ms(a.candidates[i].expected_finish - now), 0.01));
  }
  std::lock_guard<std::mutex> lock(mu_);
  decision_index_[{d.request_id, d.attempt}] = decisions_base_ + decisions_.size();
  decisions_.push_back(std::move(d));
  while (decisions_.size() > options_.decisions_kept) {
    decision_index_.erase({decisions_.front().request_id, decisions_.front().attempt});
    decisions_.pop_front();
    ++decisions_base_;
  }
  next_unpublished_ = std::max(next_unpublished_, decisions_base_);
}

void LiveStats::OnAttemptEnded(uint64_t request_id, int attempt, const std::string& outcome,
                               std::optional<double>, double) {
  const Clock::TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = decision_index_.find({request_id, attempt});
  if (it == decision_index_.end()) return;
  Decision& d = decisions_[it->second - decisions_base_];
  d.actual_ms = Ms(now - d.bound);
  d.outcome = outcome;
  if (outcome != "ok" || d.predicted_ms <= 0) return;
  const double error = std::abs(*d.actual_ms - d.predicted_ms) / d.predicted_ms;
  prediction_[d.winner + "/" + d.type].push_back({now, error});
  prediction_error_.WithLabels({d.type, d.winner_kind}).Observe(error);
}

void LiveStats::OnFinished(const Finished& f) {
  if (f.code == 504) deadline_misses_.WithLabels({f.type}).Increment();
  Sample s;
  s.time = clock_.Now();
  s.code = f.code;
  s.total_ms = static_cast<float>(f.total_seconds * 1e3);
  s.queue_ms = static_cast<float>(f.queue_seconds * 1e3);
  s.compute_ms = f.compute_seconds ? static_cast<float>(*f.compute_seconds * 1e3) : -1.f;
  s.transfer_ms =
      f.compute_seconds && f.round_trip_seconds
          ? static_cast<float>(std::max(0.0, *f.round_trip_seconds - *f.compute_seconds) * 1e3)
          : -1.f;
  if (f.code == 200) {
    phase_.WithLabels({f.type, "queue"}).Observe(f.queue_seconds);
    if (f.compute_seconds) phase_.WithLabels({f.type, "compute"}).Observe(*f.compute_seconds);
    if (s.transfer_ms >= 0) phase_.WithLabels({f.type, "transfer"}).Observe(s.transfer_ms / 1e3);
    if (f.served_by) {
      s.route = f.served_by->ToString() + "/" + f.variant;
      served_
          .WithLabels({f.type, f.served_by->node, f.served_by->device, f.kind, f.variant,
                       f.emulated ? "true" : "false"})
          .Increment();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& samples = samples_[f.type];
  samples.push_back(std::move(s));
  if (samples.size() > options_.max_samples_per_type) samples.pop_front();
}

void LiveStats::Trim(Clock::TimePoint now) {
  for (auto& [type, samples] : samples_) {
    while (!samples.empty() && now - samples.front().time > options_.window) samples.pop_front();
  }
  const int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  for (auto& [type, arrivals] : arrivals_) {
    while (!arrivals.empty() && second - arrivals.front().first >= options_.mix_window.count()) {
      arrivals.pop_front();
    }
  }
  for (auto it = prediction_.begin(); it != prediction_.end();) {
    while (!it->second.empty() && now - it->second.front().time > options_.window) {
      it->second.pop_front();
    }
    it = it->second.empty() ? prediction_.erase(it) : std::next(it);
  }
}

Json LiveStats::ServicesJson() {
  const Clock::TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  Trim(now);
  const double window = static_cast<double>(options_.window.count());
  Json out = Json::object();
  for (const auto& [type, samples] : samples_) {
    std::vector<float> total, queue, transfer, compute;
    std::map<int, int> errors;
    std::map<std::string, int> routes;
    int ok = 0;
    for (const Sample& s : samples) {
      if (s.code != 200) {
        ++errors[s.code];
        continue;
      }
      ++ok;
      total.push_back(s.total_ms);
      queue.push_back(s.queue_ms);
      transfer.push_back(s.transfer_ms);
      compute.push_back(s.compute_ms);
      if (!s.route.empty()) ++routes[s.route];
    }
    Json errors_json = Json::object();
    for (const auto& [code, n] : errors)
      errors_json[std::to_string(code)] = Round(n / window, 0.01);
    Json split = Json::object();
    for (const auto& [route, n] : routes) split[route] = Round(static_cast<double>(n) / ok, 0.01);
    out[type] = {{"rate", Round(static_cast<double>(samples.size()) / window, 0.1)},
                 {"latency_ms",
                  {{"total", Percentiles(total)},
                   {"queue", Percentiles(queue)},
                   {"transfer", Percentiles(transfer)},
                   {"compute", Percentiles(compute)}}},
                 {"errors", std::move(errors_json)},
                 {"split", std::move(split)}};
  }
  return out;
}

Json LiveStats::PredictionJson() {
  const Clock::TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  Trim(now);
  Json out = Json::object();
  for (const auto& [key, samples] : prediction_) {
    double sum = 0;
    for (const PredictionSample& s : samples) sum += s.error;
    out[key] = {{"error", Round(sum / static_cast<double>(samples.size()), 0.01)},
                {"samples", samples.size()}};
  }
  return out;
}

std::map<std::string, double> LiveStats::Mix() {
  const Clock::TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  Trim(now);
  std::map<std::string, double> mix;
  double total = 0;
  for (const auto& [type, arrivals] : arrivals_) {
    int64_t n = 0;
    for (const auto& [second, count] : arrivals) n += count;
    if (n == 0) continue;
    mix[type] = static_cast<double>(n);
    total += mix[type];
  }
  for (auto& [type, share] : mix) share /= total;
  return mix;
}

Json LiveStats::ToJson(const Decision& d) {
  Json candidates = Json::array();
  for (const auto& [device, kind, ms] : d.candidates) {
    candidates.push_back({{"device", device}, {"kind", kind}, {"predicted_ms", ms}});
  }
  return {{"id", d.request_id},
          {"attempt", d.attempt},
          {"time_ms", d.time_ms},
          {"type", d.type},
          {"candidates", std::move(candidates)},
          {"winner", d.winner},
          {"kind", d.winner_kind},
          {"variant", d.variant},
          {"predicted_ms", Round(d.predicted_ms, 0.01)},
          {"actual_ms", d.actual_ms ? Json(Round(*d.actual_ms, 0.01)) : Json()},
          {"outcome", d.outcome.empty() ? Json() : Json(d.outcome)}};
}

Json LiveStats::RecentDecisions(size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  Json out = Json::array();
  const size_t n = std::min(limit, decisions_.size());
  for (size_t i = decisions_.size() - n; i < decisions_.size(); ++i) {
    out.push_back(ToJson(decisions_[i]));
  }
  return out;
}

Json LiveStats::TakeDecisionUpdates(size_t max, size_t& skipped) {
  const Clock::TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Decision*> ready;
  bool prefix = true;
  for (uint64_t i = next_unpublished_; i < decisions_base_ + decisions_.size(); ++i) {
    Decision& d = decisions_[i - decisions_base_];
    const bool done = !d.published && (d.actual_ms || now - d.bound > std::chrono::seconds(2));
    if (done) {
      ready.push_back(&d);
      d.published = true;
    }
    if (prefix && d.published) {
      next_unpublished_ = i + 1;
    } else {
      prefix = false;
    }
  }
  skipped = ready.size() > max ? ready.size() - max : 0;
  Json out = Json::array();
  for (size_t i = skipped; i < ready.size(); ++i) out.push_back(ToJson(*ready[i]));
  return out;
}

}  // namespace heteroaccel::server
