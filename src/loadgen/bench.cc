// RunBench: readiness checks, image loading and the camera threads. Statistics
// live in internal/stats.cc, the report formats in report.cc.
//
// Cameras read real time (std::chrono::steady_clock) rather than an injected
// Clock: they pace real requests over a real network and must sleep in real
// time.
#include "loadgen/bench.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "http/client.h"
#include "loadgen/internal/stats.h"
#include "loadgen/schedule.h"

namespace heteroaccel::loadgen {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kReadyPoll{100};
constexpr std::chrono::milliseconds kReadyRequestTimeout{5'000};
// Initial capacity of a camera's latency samples (8 bytes each); they grow
// beyond it as needed.
constexpr size_t kClosedLoopSamplesHint = 1 << 14;
constexpr size_t kMaxSamplesHint = 1 << 20;

std::string ProtocolName(client::Protocol protocol) {
  switch (protocol) {
    case client::Protocol::kV2Binary:
      return "v2";
    case client::Protocol::kV2Json:
      return "v2-json";
    case client::Protocol::kV1:
      return "v1";
  }
  return "?";
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("--images: cannot read ", path.string()));
  }
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--images: ", path.string(), " is empty"));
  }
  return bytes;
}

// The *.png, *.jpg and *.jpeg files of `dir`, sorted by name.
absl::StatusOr<std::vector<std::string>> LoadImages(const std::string& dir) {
  std::error_code error;
  std::vector<std::filesystem::path> paths;
  for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::string extension = absl::AsciiStrToLower(it->path().extension().string());
    if (it->is_regular_file() &&
        (extension == ".png" || extension == ".jpg" || extension == ".jpeg")) {
      paths.push_back(it->path());
    }
  }
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("--images: cannot list '", dir, "': ", error.message()));
  }
  if (paths.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--images: no .png or .jpg files in '", dir,
                                                   "' (run `make setup` for models/images)"));
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> images;
  for (const auto& path : paths) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
    images.push_back(std::move(bytes));
  }
  return images;
}

// Polls GET `path` until it answers 200, waiting out 503s and connection
// failures until `deadline`. 404 is NotFound; other statuses are Unavailable.
absl::Status PollReady(http::Client& http, const std::string& target, const std::string& path,
                       SteadyClock::time_point deadline, std::chrono::milliseconds timeout) {
  std::string last_error;
  while (true) {
    auto response = http.Get(path);
    if (response.ok()) {
      if (response->status == 200) return absl::OkStatus();
      if (response->status == 404) {
        return absl::NotFoundError(absl::StrCat(target, ": GET ", path, " answered 404"));
      }
      last_error = absl::StrCat("HTTP ", response->status, response->body.empty() ? "" : ": ",
                                response->body);
      if (response->status != 503) {
        return absl::UnavailableError(absl::StrCat(target, ": GET ", path, ": ", last_error));
      }
    } else {
      last_error = std::string(response.status().message());
    }
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      return absl::UnavailableError(absl::StrCat(target, " not ready after ", timeout.count(),
                                                 " ms: GET ", path, ": ", last_error));
    }
    std::this_thread::sleep_until(std::min(now + kReadyPoll, deadline));
  }
}

// Waits, until `deadline` (`timeout` after the bench began waiting), for the target to be ready
// (GET /v2/health/ready) and to run every type (GET /v2/models/{type}/ready; an agent answers 404
// for a type it does not serve, a server 503 until some registered device can run it).
absl::Status WaitReady(const std::string& target, SteadyClock::time_point deadline,
                       std::chrono::milliseconds timeout, const std::vector<std::string>& types) {
  ASSIGN_OR_RETURN(std::unique_ptr<http::Client> http,
                   http::Client::Create(target, std::min(timeout, kReadyRequestTimeout)));
  RETURN_IF_ERROR(PollReady(*http, target, "/v2/health/ready", deadline, timeout));
  for (const std::string& type : types) {
    const absl::Status status =
        PollReady(*http, target, absl::StrCat("/v2/models/", type, "/ready"), deadline, timeout);
    if (absl::IsNotFound(status)) {
      return absl::NotFoundError(
          absl::StrCat(target, " does not serve inference type '", type, "'"));
    }
    RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

// What every camera shares, read-only while they run.
struct Plan {
  int cameras = 0;  // streams: cameras x inflight
  int inflight = 1;
  std::vector<std::string> targets;
  std::chrono::milliseconds request_timeout{0};
  std::string run_id;                               // the first part of every request id
  std::vector<uint32_t> mix;                        // mix position -> distinct type index
  std::vector<client::InferOptions> infer_options;  // per distinct type
  std::vector<std::string> images;
  std::optional<double> rate;
  std::vector<double> stream_rates;  // open loop: per stream, requests/s
  Arrivals arrivals = Arrivals::kPeriodic;
  uint64_t seed = 0;
  BurstWindows bursts;
  std::string camera_name;  // BenchOptions::camera_name
  SteadyClock::time_point start, measure_start, end;
};

// The name stream `index` sends (BenchOptions::camera_name): its camera's
// streams are consecutive, as the simulator lays them out.
std::string StreamCameraName(const Plan& plan, int index) {
  if (plan.camera_name.empty()) return "";
  return CameraName(plan.camera_name, index / plan.inflight, plan.cameras / plan.inflight);
}

// Errors after which a request is re-sent to another target: the replica is
// gone or unreachable (transport, timeout) or says it cannot serve now (503).
bool IsFailover(const std::string& kind) {
  return kind == "transport" || kind == "timeout" || kind == "503";
}

// 8 hex digits, different on every run, so request ids do not repeat across runs.
std::string NewRunId() {
  std::random_device random;
  return absl::StrFormat("%08x", random());
}

// The k of "<run>-<camera>-<k>" when the id has this camera's prefix.
std::optional<uint64_t> RequestIndex(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() || id.substr(0, prefix.size()) != prefix) return std::nullopt;
  uint64_t k = 0;
  if (!absl::SimpleAtoi(absl::string_view(id.data() + prefix.size(), id.size() - prefix.size()),
                        &k)) {
    return std::nullopt;
  }
  return k;
}

// One camera: a thread's worth of requests over one keep-alive connection per
// target, to its current target.
class Camera {
 public:
  Camera(int index, const Plan& plan, std::unique_ptr<client::InferClient> client,
         internal::CameraRecord& record)
      : index_(static_cast<uint64_t>(index)),
        plan_(plan),
        id_prefix_(absl::StrCat(plan.run_id, "-", index, "-")),
        clients_(plan.targets.size()),
        current_(static_cast<size_t>(index) % plan.targets.size()),
        camera_(StreamCameraName(plan, index)),
        record_(record) {
    clients_[current_] = std::move(client);
  }

  void Run() {
    if (plan_.rate) {
      RunOpenLoop();
    } else {
      RunClosedLoop();
    }
  }

 private:
  void RunClosedLoop() {
    for (uint64_t k = 0; SteadyClock::now() < plan_.end; ++k) {
      if (!Send(k)) std::this_thread::sleep_for(kErrorPause);
    }
  }

  void RunOpenLoop() {
    StreamSchedule schedule(plan_.arrivals, plan_.stream_rates[index_], index_,
                            static_cast<uint64_t>(plan_.cameras), plan_.seed, plan_.bursts);
    for (uint64_t k = 0;; ++k) {
      const auto due =
          plan_.start + std::chrono::duration_cast<SteadyClock::duration>(schedule.Next());
      // A camera stops at the end of the run, even with requests still overdue.
      if (due >= plan_.end || SteadyClock::now() >= plan_.end) break;
      // Past due means the previous request was still outstanding at `due`.
      if (const auto now = SteadyClock::now(); now < due) {
        std::this_thread::sleep_until(due);
      } else if (due >= plan_.measure_start && now > due) {
        record_.RecordLate();
      }
      Send(k);
    }
  }

  // One attempt at the current target, on its connection (opened if needed).
  absl::StatusOr<client::InferResult> Attempt(const client::InferOptions& options,
                                              const std::string& image) {
    std::unique_ptr<client::InferClient>& client = clients_[current_];
    if (client == nullptr) {
      auto created = client::InferClient::Create(plan_.targets[current_], plan_.request_timeout);
      if (!created.ok()) return absl::UnavailableError(created.status().message());
      client = std::move(*created);
    }
    return client->Infer(options, image);
  }

  // Sends request k (see bench.h for which type and frame), to the next target
  // while the current one fails over; records it if it completes inside the
  // measured window. Returns whether it succeeded.
  bool Send(uint64_t k) {
    const uint64_t m = plan_.mix.size();
    const uint32_t type = plan_.mix[(index_ + k) % m];
    const std::string& image = plan_.images[(index_ + k / m) % plan_.images.size()];
    client::InferOptions options = plan_.infer_options[type];
    options.id = absl::StrCat(id_prefix_, k);
    options.camera = camera_;
    const size_t targets = plan_.targets.size();
    for (size_t failed = 0;;) {
      auto result = Attempt(options, image);
      const auto done = SteadyClock::now();
      const bool measured = done >= plan_.measure_start && done < plan_.end;
      if (result.ok() && Answered(k, options.id, result->id)) {
        if (measured) {
          record_.RecordSuccess(type, result->round_trip_ms, result->served_by);
          record_.RecordServed(
              std::chrono::duration<double, std::milli>(done - plan_.start).count(), current_);
        }
        return true;
      }
      const absl::Status status = result.ok()
                                      ? absl::UnavailableError(absl::StrCat(
                                            "answer for another request id '", result->id, "'"))
                                      : result.status();
      if (targets == 1 || !IsFailover(internal::ErrorKind(status))) {
        if (measured) record_.RecordError(type, status);
        return false;
      }
      // A fresh connection next time: nothing of this attempt can arrive on it.
      clients_[current_].reset();
      if (done >= plan_.end) {
        record_.RecordLost();
        return false;
      }
      record_.RecordFailover(status);
      current_ = (current_ + 1) % targets;
      if (++failed % targets == 0) {
        std::this_thread::sleep_until(std::min(done + kFailoverPause, plan_.end));
      }
    }
  }

  // Counts an answer carrying `answer_id` ("" when the protocol has none) to
  // request k sent as `sent_id`. True when it is k's first answer.
  bool Answered(uint64_t k, const std::string& sent_id, const std::string& answer_id) {
    if (answer_id.empty() || answer_id == sent_id) return record_.RecordAnswer(k);
    // An answer to an earlier request of this camera: a duplicate if that one
    // was answered already; either way not an answer to k.
    if (const std::optional<uint64_t> earlier = RequestIndex(answer_id, id_prefix_)) {
      record_.RecordAnswer(*earlier);
    }
    return false;
  }

  const uint64_t index_;
  const Plan& plan_;
  const std::string id_prefix_;
  std::vector<std::unique_ptr<client::InferClient>> clients_;  // per target, opened lazily
  size_t current_;
  const std::string camera_;  // sent as the parameter camera ("" = none)
  internal::CameraRecord& record_;
};

// Distinct types in mix order, and each mix entry's index among them.
std::vector<std::string> DistinctTypes(const std::vector<std::string>& mix,
                                       std::vector<uint32_t>& positions) {
  std::vector<std::string> types;
  for (const std::string& type : mix) {
    auto it = std::find(types.begin(), types.end(), type);
    positions.push_back(static_cast<uint32_t>(it - types.begin()));
    if (it == types.end()) types.push_back(type);
  }
  return types;
}

void EchoConfig(const BenchOptions& options, size_t images, BenchReport& report) {
  report.target = options.target;
  report.cameras = options.cameras;
  report.mix = options.mix;
  report.mode = options.rate ? "open-loop" : "closed-loop";
  report.rate = options.rate;
  if (options.rate) report.arrivals = std::string(ArrivalsName(options.arrivals));
  report.protocol = ProtocolName(options.protocol);
  report.duration_s = std::chrono::duration<double>(options.duration).count();
  report.warmup_s = std::chrono::duration<double>(options.warmup).count();
  report.images = images;
  report.deadline_ms = options.deadline_ms;
  report.camera_name = options.camera_name;
  report.camera_weights = options.camera_weights;
}

// Each stream's rate: its camera's share of the total (equal, or by
// camera_weights), split evenly over the camera's `inflight` streams.
std::vector<double> StreamRates(const BenchOptions& options, int inflight) {
  std::vector<double> rates;
  if (!options.rate) return rates;
  double total = 0;
  for (int c = 0; c < options.cameras; ++c) {
    total += options.camera_weights.empty() ? 1.0 : options.camera_weights[c];
  }
  for (int c = 0; c < options.cameras; ++c) {
    const double weight = options.camera_weights.empty() ? 1.0 : options.camera_weights[c];
    rates.insert(rates.end(), inflight, *options.rate * weight / total / inflight);
  }
  return rates;
}

}  // namespace

absl::StatusOr<BenchReport> RunBench(const BenchOptions& options) {
  RETURN_IF_ERROR(ValidateBenchOptions(options));
  Plan plan;
  const int streams = options.cameras * std::max(1, options.inflight);
  plan.cameras = streams;
  plan.inflight = std::max(1, options.inflight);
  plan.camera_name = options.camera_name;
  plan.rate = options.rate;
  plan.stream_rates = StreamRates(options, plan.inflight);
  plan.arrivals = options.arrivals;
  plan.bursts = options.bursts;
  plan.seed = options.seed;
  if (plan.seed == 0) plan.seed = std::random_device()() | 1;
  const std::vector<std::string> types = DistinctTypes(options.mix, plan.mix);
  for (const std::string& type : types) {
    plan.infer_options.push_back(
        {type, "", "", options.protocol, options.priority, options.deadline_ms});
  }
  ASSIGN_OR_RETURN(plan.images, LoadImages(options.images_dir));
  plan.targets = SplitTargets(options.target);
  plan.request_timeout = options.request_timeout;
  plan.run_id = NewRunId();
  // Every target must be ready: the cameras start spread over all of them.
  const auto ready_deadline = SteadyClock::now() + options.timeout;
  for (const std::string& target : plan.targets) {
    RETURN_IF_ERROR(WaitReady(target, ready_deadline, options.timeout, types));
  }

  std::vector<std::unique_ptr<client::InferClient>> clients;
  for (int i = 0; i < streams; ++i) {
    ASSIGN_OR_RETURN(auto c, client::InferClient::Create(plan.targets[i % plan.targets.size()],
                                                         options.request_timeout));
    clients.push_back(std::move(c));
  }
  const double measured_s = std::chrono::duration<double>(options.duration).count();
  std::vector<internal::CameraRecord> records;
  records.reserve(clients.size());
  for (size_t i = 0; i < clients.size(); ++i) {
    const size_t hint =
        options.rate
            ? std::min(kMaxSamplesHint,
                       static_cast<size_t>(plan.stream_rates[i] * measured_s * 1.1) + 16)
            : kClosedLoopSamplesHint;
    records.emplace_back(types.size(), hint);
  }

  plan.start = SteadyClock::now();
  plan.measure_start = plan.start + options.warmup;
  plan.end = plan.measure_start + options.duration;
  {
    std::vector<std::jthread> threads;
    threads.reserve(clients.size());
    for (int i = 0; i < streams; ++i) {
      threads.emplace_back([i, &plan, &clients, &records] {
        Camera(i, plan, std::move(clients[i]), records[i]).Run();
      });
    }
  }  // joins

  BenchReport report;
  EchoConfig(options, plan.images.size(), report);
  if (options.rate && options.arrivals != Arrivals::kPeriodic) report.seed = plan.seed;
  if (options.rate && options.arrivals == Arrivals::kBursts) report.bursts = options.bursts;
  internal::Aggregate(
      records, types, measured_s, report,
      options.deadline_ms ? std::optional<double>(*options.deadline_ms) : std::nullopt);
  std::vector<std::string> camera_names;
  for (int c = 0; c < options.cameras; ++c) {
    camera_names.push_back(ReportedCameraName(options.camera_name, c, options.cameras));
  }
  internal::AggregateCameras(
      records, camera_names, measured_s, report,
      options.deadline_ms ? std::optional<double>(*options.deadline_ms) : std::nullopt);
  const auto ms_since_start = [&plan](SteadyClock::time_point t) {
    return std::chrono::duration<double, std::milli>(t - plan.start).count();
  };
  internal::AggregateFailover(records, plan.targets, ms_since_start(plan.measure_start),
                              ms_since_start(plan.end), report);
  return report;
}

}  // namespace heteroaccel::loadgen
