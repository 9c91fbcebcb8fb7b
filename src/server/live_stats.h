// LiveStats: what the operator sees of the traffic, fed by the dispatcher as
// requests are bound, answered and finished (DispatchObserver):
//   - per inference type over the last 10 s: rate, p50/p95/p99 of the total
//     time and of its phases (server queue, transfer = round trip minus the
//     device's compute, compute), errors per second by HTTP status, and the
//     routing split (share of answers per node/device/variant);
//   - the decisions log: each binding with the candidates the policy weighed
//     and their predicted finish, the winner, then the actual time;
//   - the prediction error per (node/device, type): mean |actual − predicted| /
//     predicted over the last 10 s;
//   - the request mix over the last minute (for the what-if);
//   - the matching Prometheus metrics (phase histograms, served counts,
//     deadline misses, prediction error).
//
// Thread-safe (one mutex). The dispatcher calls in with its own lock held, so
// LiveStats never calls back into the dispatcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "scheduler/types.h"

namespace heteroaccel::server {

// Hooks the dispatcher calls; a null observer costs nothing.
class DispatchObserver {
 public:
  virtual ~DispatchObserver() = default;
  // A request was bound to a device (attempt >= 1). `kinds` gives each
  // candidate's device kind, in the assignment's candidate order.
  virtual void OnBound(const scheduler::Assignment& assignment, const std::string& type,
                       int attempt, const std::vector<std::string>& kinds) = 0;
  // The agent replied to an attempt: `outcome` "ok", "busy", "failed",
  // "unreachable", or the HTTP status of a request's own error ("400").
  virtual void OnAttemptEnded(uint64_t request_id, int attempt, const std::string& outcome,
                              std::optional<double> compute_seconds, double round_trip_seconds) = 0;
  // The request was answered (code 200) or failed (its HTTP status).
  // `served_by`/`variant` name the device of a 200.
  struct Finished {
    std::string type;  // only types the cluster serves; others are not reported
    int code = 200;
    double total_seconds = 0;
    double queue_seconds = 0;  // arrival to the last binding; 0 if never bound
    std::optional<double> compute_seconds;
    std::optional<double> round_trip_seconds;
    std::optional<scheduler::DeviceKey> served_by;
    std::string kind;
    bool emulated = false;
    std::string variant;
  };
  virtual void OnFinished(const Finished& finished) = 0;
  // A request of a served type arrived (admitted or refused).
  virtual void OnArrival(const std::string& type) = 0;
};

class LiveStats : public DispatchObserver {
 public:
  struct Options {
    std::chrono::seconds window{10};      // rates, percentiles, split, prediction error
    std::chrono::seconds mix_window{60};  // the what-if's mix
    size_t max_samples_per_type = 20000;  // within the window
    size_t decisions_kept = 1000;
  };
  LiveStats(Options options, Clock& clock, metrics::Registry& registry);

  void OnBound(const scheduler::Assignment& assignment, const std::string& type, int attempt,
               const std::vector<std::string>& kinds) override;
  void OnAttemptEnded(uint64_t request_id, int attempt, const std::string& outcome,
                      std::optional<double> compute_seconds, double round_trip_seconds) override;
  void OnFinished(const Finished& finished) override;
  void OnArrival(const std::string& type) override;

  // {"face": {"rate", "latency_ms": {"total": [p50,p95,p99], "queue", "transfer",
  // "compute"}, "errors": {"429": per second}, "split": {"node/device/variant": share}}}
  nlohmann::json ServicesJson();
  // {"node/device/type": {"error": mean relative error, "samples": n}}
  nlohmann::json PredictionJson();
  // Request shares by type over the mix window; empty when idle.
  std::map<std::string, double> Mix();

  // Decision entries as documented in docs/dashboard-api.md.
  // The newest `limit` (newest last).
  nlohmann::json RecentDecisions(size_t limit);
  // Entries completed (or pending for over 2 s) since the last call, at most
  // `max` (the newest); `skipped` gets how many more there were.
  nlohmann::json TakeDecisionUpdates(size_t max, size_t& skipped);

 private:
  struct Sample {
    Clock::TimePoint time;
    float total_ms, queue_ms, transfer_ms, compute_ms;  // negative: unknown
    int code;
    std::string route;  // "node/device/variant" of a 200
  };
  struct Decision {
    uint64_t request_id;
    int attempt;
    Clock::TimePoint bound;
    int64_t time_ms;  // wall clock of the binding
    std::string type;
    std::string winner;
    std::string winner_kind;
    std::string variant;
    double predicted_ms;
    std::vector<std::tuple<std::string, std::string, double>> candidates;  // device, kind, ms
    std::optional<double> actual_ms;
    std::string outcome;
    bool published = false;
  };
  struct PredictionSample {
    Clock::TimePoint time;
    double error;
  };

  void Trim(Clock::TimePoint now);
  static nlohmann::json ToJson(const Decision& d);

  const Options options_;
  Clock& clock_;
  metrics::Family<metrics::Histogram>& phase_;
  metrics::Family<metrics::Counter>& served_;
  metrics::Family<metrics::Counter>& deadline_misses_;
  metrics::Family<metrics::Histogram>& prediction_error_;

  std::mutex mu_;
  std::map<std::string, std::deque<Sample>> samples_;             // by type
  // By type: (whole second of the clock, arrivals in it), over the mix window;
  // one entry per second however many requests arrive.
  std::map<std::string, std::deque<std::pair<int64_t, int64_t>>> arrivals_;
  std::deque<Decision> decisions_;                                // bind order
  std::map<std::pair<uint64_t, int>, size_t> decision_index_;     // -> offset + base
  uint64_t decisions_base_ = 0;  // index of decisions_.front() in bind order
  uint64_t next_unpublished_ = 0;
  std::map<std::string, std::deque<PredictionSample>> prediction_;  // "node/device/type"
};

}  // namespace heteroaccel::server
