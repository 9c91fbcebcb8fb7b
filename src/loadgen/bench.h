// loadgen: camera replay and load generation against an agent or server that
// speaks the Open Inference Protocol. Behind `heteroaccel bench`, and callable
// in-process by the paper example runner and by tests.
//
// RunBench plays N cameras. Each camera is one thread with its own keep-alive
// client::InferClient; request k of camera i (counting from 0) asks for
//   inference type  mix[(i + k) % mix.size()]   on
//   frame           images[(i + k / mix.size()) % images.size()]
// so camera i starts at mix[i % mix.size()] (4 cameras x 4 types put one type
// on each camera at every instant), every frame goes through each type of the
// mix once, and cameras start on different frames. The images are the *.png,
// *.jpg and *.jpeg files of `images_dir`, sorted by name and read once, so a
// camera sends the same sequence on every run (emulated devices can reuse
// results).
//
// Closed loop (the default): a camera sends its next request when the previous
// answer arrives; after an error it pauses kErrorPause so a failing target is
// not hammered by a hot loop. Open loop (`rate`): the total rate is split over
// the cameras, evenly or by `camera_weights` (one camera at 4x the others:
// weights 4,1,1,1), each on its own schedule (loadgen/schedule.h): periodic,
// the cameras' phases staggered, or with `arrivals` kPoisson exponential gaps
// drawn from `seed` (the cameras together are then a Poisson process at the
// total rate); a request due while the camera's previous one is outstanding is
// counted "late" and sent as soon as that one returns, without shifting later
// due times.
//
// Several targets (server replicas, active-active): `target` lists them
// separated by commas, and camera i starts on target i % n. Every request
// carries a unique id (the v2 request "id": "<run>-<camera>-<k>"). When an
// attempt fails at the transport level (connection refused or reset, timeout)
// or a replica answers 503, the camera re-sends the same frame with the same id
// to the next target and stays there; after every target failed in a row it
// pauses kFailoverPause before the next round, and a request still unanswered
// when the run ends is "lost". Other errors (429, 4xx, ...) are final and
// counted as errors, as with one target. The camera opens a fresh connection to
// a target that failed, so no late answer of an abandoned attempt is read as
// the answer to a later request; answers are still counted per id, and an
// answer for an id already answered is a duplicate (never counted twice as a
// success). With one target nothing is re-sent: an error is counted as before.
//
// Statistics cover requests that complete inside the measured window
// [start + warmup, start + warmup + duration); the warm-up absorbs connection
// set-up and the client's first metadata look-up per model. Requests still in
// flight at the end are awaited but not counted. Latency is the client's round
// trip (InferResult::round_trip_ms). With a deadline, a request attains it when
// it succeeds with a round trip no longer than the deadline; attainment is the
// share of the window's requests (successes and errors) that did. The same is
// reported per camera (per_camera, keyed by the name it goes by), with Jain's
// index over the cameras' attainment: whether one camera took the others' share.
//
// Ownership: RunBench owns its threads and clients and joins them before it
// returns. Thread-safety: the free functions are reentrant; a BenchReport is a
// plain value.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "client/infer_client.h"
#include "loadgen/arrivals.h"

namespace heteroaccel::loadgen {

inline constexpr std::chrono::milliseconds kErrorPause{10};
inline constexpr std::chrono::milliseconds kFailoverPause{100};
inline constexpr size_t kMaxTargets = 64;
// With "-<camera>" (at most 1023) within the kMaxNameLength (64) characters
// a server accepts (common/names.h).
inline constexpr size_t kMaxCameraName = 56;

// The name camera `camera` of `cameras` goes by: "<name>-<camera>", or `name`
// alone when there is one. BenchOptions::camera_name's cameras and the
// simulator's (sim::CameraSpec::Names) are named by this one rule.
std::string CameraName(std::string_view name, int camera, int cameras);

// The name per_camera reports camera `camera` under: CameraName(camera_name,
// ...), or CameraName("camera", ...) when the cameras send no name.
std::string ReportedCameraName(std::string_view camera_name, int camera, int cameras);

// Jain's fairness index of `values`: (sum x)^2 / (n sum x^2), 1 when all are
// equal, 1/n when one takes all; 1 for none or all zero.
double JainIndex(const std::vector<double>& values);

struct BenchOptions {
  std::string target;  // "http://host:port", or several separated by commas
  int cameras = 4;
  // Frames a camera may have outstanding (open and closed loop). A camera with
  // inflight N runs as N staggered streams, each with 1/N of its rate.
  int inflight = 1;
  std::vector<std::string> mix = {"face"};  // inference types; repeats weight a type
  std::chrono::milliseconds duration{20'000};
  std::chrono::milliseconds warmup{2'000};
  std::optional<double> rate;  // total requests/s (open loop); nullopt = closed loop
  // Open loop only: when a stream's requests are due (see above), and the
  // Poisson gaps' seed (0: a fresh one each run).
  Arrivals arrivals = Arrivals::kPeriodic;
  uint64_t seed = 0;
  BurstWindows bursts;  // Arrivals::kBursts only
  std::string images_dir = "models/images";
  client::Protocol protocol = client::Protocol::kV2Binary;
  // How long to wait for the target to report ready (GET /v2/health/ready).
  // Requests themselves run under client::InferClient's own deadline (30 s).
  std::chrono::milliseconds timeout{30'000};
  // Deadline of one request (connect + send + answer); past it the request is
  // a "timeout" error, or with several targets re-sent to the next one.
  std::chrono::milliseconds request_timeout{30'000};
  // Sent as the request parameters priority and timeout_ms (the server
  // answers 504 when no device can finish before the deadline).
  std::optional<int> priority;
  std::optional<int> deadline_ms;
  // When set, each camera sends its name as the request parameter camera, as
  // real cameras do: "<camera_name>-<i>" for camera i of several, the name alone
  // for one (the simulator's names, docs/simulator.md). A server then shares
  // its devices fairly between the cameras; without names it sees one tenant.
  // 1 to kMaxCameraName of [A-Za-z0-9_.-].
  std::string camera_name;
  // Open loop only: camera i's share of `rate` is camera_weights[i] over their
  // sum (one per camera, each > 0); empty = equal shares.
  std::vector<double> camera_weights;
};

struct LatencySummary {
  uint64_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, mean = 0, max = 0;  // milliseconds
};

// One camera's requests over the measured window (all its streams).
struct CameraStats {
  uint64_t requests = 0;  // completed: succeeded + errors
  uint64_t succeeded = 0;
  uint64_t within_deadline = 0;  // with a deadline
  // within_deadline / requests with a deadline, succeeded / requests without;
  // 0 for a camera none of whose requests completed in the window.
  double attainment = 0;
  double throughput_rps = 0;  // succeeded / measured_s
};

struct DeviceStats {
  std::string node;
  std::string device;
  std::string device_kind;
  bool emulated = false;
  uint64_t count = 0;
  double share = 0;  // of all successful requests
  double mean_compute_ms = 0;
  double mean_queue_ms = 0;
};

struct TypeStats {
  uint64_t count = 0;  // successful
  uint64_t errors = 0;
  LatencySummary latency;
};

struct BenchReport {
  // Configuration echo.
  std::string target;
  int cameras = 0;
  std::vector<std::string> mix;
  std::string mode;            // "closed-loop" or "open-loop"
  std::optional<double> rate;  // requested total rate (open loop)
  std::string arrivals;  // open loop: "periodic", "poisson" or "bursts"; closed loop: ""
  std::optional<uint64_t> seed;  // Poisson and bursts: the gaps' seed (--seed repeats them)
  std::optional<BurstWindows> bursts;  // bursts: the windows
  std::string protocol;
  double duration_s = 0;
  double warmup_s = 0;
  size_t images = 0;
  std::string camera_name;  // BenchOptions::camera_name ("" = the cameras sent none)
  std::vector<double> camera_weights;  // BenchOptions::camera_weights (empty = equal)

  // Results over the measured window.
  double measured_s = 0;
  uint64_t requests = 0;  // completed: succeeded + errors
  uint64_t succeeded = 0;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errors_by_kind;     // "429", "transport", "timeout", ...
  std::map<std::string, std::string> error_examples;  // kind -> first message seen
  uint64_t late = 0;  // open loop: requests sent after their due time
  // With BenchOptions::deadline_ms: successes whose round trip was within it,
  // and within_deadline / requests (0 when there were none).
  std::optional<int> deadline_ms;
  uint64_t within_deadline = 0;
  double attainment = 0;
  double throughput_rps = 0;     // succeeded / measured_s
  double achieved_rate_rps = 0;  // requests / measured_s
  LatencySummary latency;
  std::map<std::string, DeviceStats> per_device;  // keyed "node/device"
  std::map<std::string, TypeStats> per_type;
  // Keyed by the name each camera sends, or "camera-<i>" when they send none.
  std::map<std::string, CameraStats> per_camera;
  double jain_attainment = 1;  // JainIndex over per_camera's attainment

  // Several targets: failover accounting. failovers, duplicates and lost count
  // over the whole run, warm-up included; the others over the measured window.
  uint64_t failovers = 0;                             // attempts re-sent to another target
  std::map<std::string, uint64_t> failovers_by_kind;  // why: "transport", "timeout", "503"
  uint64_t duplicates = 0;                            // answers for a request id already answered
  uint64_t lost = 0;      // requests with neither an answer nor an explicit error
  double max_gap_ms = 0;  // longest stretch of the window without a successful answer
  // Longest stretch of the window one camera went without a successful answer:
  // for a camera whose replica died, the time until it is served again.
  double max_camera_gap_ms = 0;
  std::map<std::string, uint64_t> per_target;  // successful answers by target URL
};

// The targets of BenchOptions::target: split at commas, spaces trimmed, empty
// entries skipped.
std::vector<std::string> SplitTargets(std::string_view target);

// Checks the options without touching the network or disk. InvalidArgument
// naming the flag at fault.
[[nodiscard]] absl::Status ValidateBenchOptions(const BenchOptions& options);

// Runs the benchmark. InvalidArgument for bad options or an unusable image
// folder; Unavailable when the target is unreachable, or it or a type of the mix is not
// ready within `timeout`; NotFound when it answers that it does not serve a
// type (an agent; a server answers 503 until a device can run the type).
// Request failures during the run are counted in the report, not returned.
[[nodiscard]] absl::StatusOr<BenchReport> RunBench(const BenchOptions& options);

// One JSON object: config, requests, succeeded, throughput_rps,
// achieved_rate_rps, late, latency_ms {p50,p95,p99,mean,max},
// errors {total, by_kind, examples}, per_device {"node/device": {...}},
// per_type {"face": {...}}; with a deadline also config.deadline_ms,
// within_deadline and attainment; with several targets also failovers,
// failovers_by_kind, duplicates, lost, max_gap_ms, max_camera_gap_ms and
// per_target.
nlohmann::json ToJson(const BenchReport& report);

// A readable summary: the per-device table (device, kind, inferences, share),
// throughput, latency and per-type lines, errors; with a deadline the
// attainment line; with several targets a
// failover line and the answers per target.
std::string FormatTable(const BenchReport& report);

// "20s", "500ms", "2m", "1h", "1.5s": a non-negative decimal number and a unit,
// rounded to the millisecond. InvalidArgument otherwise.
[[nodiscard]] absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace heteroaccel::loadgen
