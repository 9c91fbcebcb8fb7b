// Per-camera recording and the statistics RunBench reports: percentiles, the
// split of requests over devices and inference types.
//
// A CameraRecord belongs to one camera thread, which alone writes it while the
// bench runs; Aggregate reads all of them after the threads are joined. Nothing
// here locks. Recording a success allocates only when a camera meets a device
// for the first time or its sample vector grows (amortised); devices are found
// by a linear scan, since a cluster has few of them.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "loadgen/bench.h"

namespace heteroaccel::loadgen::internal {

// One successful request inside the measured window.
struct Sample {
  float latency_ms = 0;
  uint32_t type = 0;  // index into the bench's distinct inference types
};

// Requests one (node, device) served for one camera.
struct DeviceTally {
  std::string node;
  std::string device;
  std::string device_kind;
  bool emulated = false;
  uint64_t count = 0;
  double compute_ms_sum = 0;
  double queue_ms_sum = 0;
};

class CameraRecord {
 public:
  // `types`: the number of distinct inference types; `expected_samples`: a
  // capacity hint.
  CameraRecord(size_t types, size_t expected_samples);

  // `served_by` is InferResult::served_by: node, device, device_kind, emulated,
  // queue_ms, compute_ms (absent fields read as "?", false, 0).
  void RecordSuccess(uint32_t type, double latency_ms, const nlohmann::json& served_by);
  void RecordError(uint32_t type, const absl::Status& status);
  void RecordLate() { ++late_; }

  // Failover accounting, over the whole run (warm-up included). An answer for
  // request `request` (the camera's k); false, counted as a duplicate, when it
  // already had one.
  bool RecordAnswer(uint64_t request);
  // An attempt that failed at `target` and is re-sent to the next one.
  void RecordFailover(const absl::Status& status);
  // A request the run ended on with no answer and no explicit error.
  void RecordLost() { ++lost_; }
  // A successful answer inside the measured window: when it arrived
  // (milliseconds since the start of the run) and which target gave it.
  void RecordServed(double at_ms, size_t target);

  const std::vector<Sample>& samples() const { return samples_; }
  const std::vector<DeviceTally>& devices() const { return devices_; }
  const std::vector<uint64_t>& type_errors() const { return type_errors_; }
  const std::map<std::string, uint64_t>& errors_by_kind() const { return errors_by_kind_; }
  const std::map<std::string, std::string>& error_examples() const { return error_examples_; }
  uint64_t late() const { return late_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t failovers() const { return failovers_; }
  const std::map<std::string, uint64_t>& failovers_by_kind() const { return failovers_by_kind_; }
  uint64_t lost() const { return lost_; }
  const std::vector<double>& answer_times_ms() const { return answer_times_ms_; }
  const std::vector<uint64_t>& per_target() const { return per_target_; }

 private:
  std::vector<Sample> samples_;
  std::vector<DeviceTally> devices_;
  std::vector<uint64_t> type_errors_;
  std::map<std::string, uint64_t> errors_by_kind_;
  std::map<std::string, std::string> error_examples_;
  uint64_t late_ = 0;
  std::vector<uint8_t> answers_;  // per request k: answers received (saturating)
  uint64_t duplicates_ = 0;
  uint64_t failovers_ = 0;
  std::map<std::string, uint64_t> failovers_by_kind_;
  uint64_t lost_ = 0;
  std::vector<double> answer_times_ms_;
  std::vector<uint64_t> per_target_;
};

// The kind an InferClient error is counted under: the HTTP status ("429") when
// the server answered, "timeout" for DeadlineExceeded, "transport" for other
// connection failures (Unavailable), "bad_response" for anything else.
std::string ErrorKind(const absl::Status& status);

// The q-quantile (q in [0, 1]) of ascending `sorted`, interpolating linearly
// between the closest ranks (numpy's default); 0 when empty.
double Percentile(const std::vector<double>& sorted, double q);

// p50/p95/p99/mean/max of `values` (any order; sorted in place).
LatencySummary Summarize(std::vector<double>& values);

// Fills the result fields of `report` (requests onwards; not the configuration
// echo) from the cameras' records. `types` names the distinct inference types
// that Sample::type indexes. With `deadline_ms`, also within_deadline (samples
// no slower than it) and attainment.
void Aggregate(const std::vector<CameraRecord>& cameras, const std::vector<std::string>& types,
               double measured_s, BenchReport& report,
               std::optional<double> deadline_ms = std::nullopt);

// Fills `stats`' attainment (within_deadline with a deadline, else succeeded,
// over requests; 0 when none completed) and throughput_rps from its counts.
void FinishCameraStats(CameraStats& stats, bool with_deadline, double measured_s);

// Fills per_camera and jain_attainment of `report` from the streams' records:
// camera c of `names` owns streams [c x k, (c + 1) x k), k = records / names
// (its inflight streams are consecutive). Attainment as Aggregate's.
void AggregateCameras(const std::vector<CameraRecord>& streams,
                      const std::vector<std::string>& names, double measured_s,
                      BenchReport& report, std::optional<double> deadline_ms = std::nullopt);

// The longest stretch of [start_ms, end_ms] holding none of `times_ms` (any
// order; sorted in place): the gap between neighbours, or from start_ms to the
// first, or from the last to end_ms. end_ms - start_ms when there are none.
double MaxGapMs(std::vector<double>& times_ms, double start_ms, double end_ms);

// Fills the failover fields of `report` (failovers, duplicates, lost,
// max_gap_ms and max_camera_gap_ms over the measured window [start_ms, end_ms) in milliseconds
// since the start of the run, per_target keyed by `targets`).
void AggregateFailover(const std::vector<CameraRecord>& cameras,
                       const std::vector<std::string>& targets, double start_ms, double end_ms,
                       BenchReport& report);

}  // namespace heteroaccel::loadgen::internal
