#include "runtime/executor.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <future>
#include <map>
#include <opencv2/core.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "inference/image.h"
#include "runtime/internal/completions.h"
#include "runtime/internal/result_cache.h"

namespace heteroaccel::runtime {
namespace {

// Weight of the newest measurement in the service-time average.
constexpr double kEwmaWeight = 0.2;
// The most host time an emulated device's next hold absorbs (Slot::Emulate).
constexpr std::chrono::milliseconds kMaxCarry{5};

std::string Key(const inference::ModelSpec& spec) { return spec.type + "/" + spec.variant; }

// FNV-1a: a seed that is the same for a name on every build and platform.
uint64_t SeedOf(std::string_view name) {
  uint64_t hash = 14695981039346656037ULL;
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// |z| beyond this is clamped: a hold of at most exp(6 sigma) times the mean.
constexpr double kMaxNormal = 6.0;

absl::StatusOr<cv::Mat> DecodeInput(const ImageInput& image) {
  if (!image.encoded.empty()) return inference::DecodeImage(image.encoded);
  return inference::ImageFromRgbPixels(image.rgb_pixels, image.height, image.width);
}

struct Metrics {
  explicit Metrics(metrics::Registry& r)
      : device_info(
            r.AddGauge("heteroaccel_device_info",
                       "A compute device of this node (value 1); labels describe it",
                       {"device", "kind", "name", "vendor", "source", "target", "emulated"})),
        device_slots(
            r.AddGauge("heteroaccel_device_slots", "Worker slots of a device", {"device"})),
        allocated(r.AddGauge("heteroaccel_slot_allocated",
                             "1 while the slot computes an inference, else 0", {"device", "slot"})),
        queue_depth(r.AddGauge("heteroaccel_slot_queue_depth",
                               "Requests waiting in the slot's queue", {"device", "slot"})),
        inferences(r.AddCounter("heteroaccel_inferences_total",
                                "Inferences finished, by model, device and outcome",
                                {"model", "variant", "device", "outcome"})),
        rejected(r.AddCounter("heteroaccel_inference_rejections_total",
                              "Requests refused before queueing, by reason", {"model", "reason"})),
        queue_seconds(r.AddHistogram(
            "heteroaccel_inference_queue_seconds", "Time from submission to the start of compute",
            {"model", "device"}, metrics::ExponentialBuckets(0.0001, 2.5, 14))),
        compute_seconds(r.AddHistogram("heteroaccel_inference_compute_seconds",
                                       "Decode, pre-process, forward pass and post-process time",
                                       {"model", "device"},
                                       metrics::ExponentialBuckets(0.0005, 2, 16))),
        emulated_slowdown(
            r.AddGauge("heteroaccel_emulated_slowdown",
                       "An emulated device's factor on its latency profile (1: as profiled; set by "
                       "POST /v1/fleet/emulation for fault drills)",
                       {"device"})),
        emulated_lateness(r.AddHistogram(
            "heteroaccel_emulated_hold_lateness_seconds",
            "How much later than its drawn service time an emulated device's hold ended: the "
            "host's delay in waking the slot (a loaded host's, which a real accelerator would "
            "not add); its answer leaves that much late",
            {"device"}, metrics::ExponentialBuckets(0.00005, 2, 14))),
        emulated_lost(r.AddCounter(
            "heteroaccel_emulated_hold_lost_seconds_total",
            absl::StrCat("Device time an emulated device lost to its host: a job already "
                         "waiting when the previous hold was due to end started more than the ",
                         kMaxCarry.count(), " ms carried over after it (the host stalled)"),
            {"device"})),
        busy_seconds(
            r.AddCounter("heteroaccel_device_busy_seconds_total",
                         "Slot-seconds the device spent running models, summed over its slots; "
                         "rate / heteroaccel_device_slots is its busy ratio",
                         {"device", "kind", "emulated"})) {}
  metrics::Family<metrics::Gauge>& device_info;
  metrics::Family<metrics::Gauge>& device_slots;
  metrics::Family<metrics::Gauge>& allocated;
  metrics::Family<metrics::Gauge>& queue_depth;
  metrics::Family<metrics::Counter>& inferences;
  metrics::Family<metrics::Counter>& rejected;
  metrics::Family<metrics::Histogram>& queue_seconds;
  metrics::Family<metrics::Histogram>& compute_seconds;
  metrics::Family<metrics::Gauge>& emulated_slowdown;
  metrics::Family<metrics::Histogram>& emulated_lateness;
  metrics::Family<metrics::Counter>& emulated_lost;
  metrics::Family<metrics::Counter>& busy_seconds;
};

// {device, kind, emulated}, as in heteroaccel_device_info: busy time can be
// split by kind, or emulated devices left out, without a join.
std::vector<std::string> DeviceLabels(const devices::Device& d) {
  return {d.id, std::string(devices::KindName(d.kind)), d.emulated ? "true" : "false"};
}

// Per slot and model: the metric children, looked up once.
struct ModelCounters {
  metrics::Counter* success;
  metrics::Counter* error;
  metrics::Counter* invalid;
  metrics::Histogram* queue;
  metrics::Histogram* compute;
};

}  // namespace

EmulatedLatency::EmulatedLatency(Emulation emulation, std::string_view seed_name)
    : emulation_(std::move(emulation)), random_(SeedOf(seed_name)) {}

double EmulatedLatency::Draw(const std::string& type, const std::string& variant) {
  const double mean = emulation_.LatencyFor(type, variant) * slowdown();
  const double sigma = emulation_.sigma;
  if (sigma <= 0) return mean;
  double z = 0;
  {
    absl::MutexLock lock(&mu_);
    z = normal_(random_);
  }
  z = std::clamp(z, -kMaxNormal, kMaxNormal);
  return mean * std::exp(sigma * z - sigma * sigma / 2);
}

class Slot {
 public:
  // `latency` is the device's (shared by its slots); null unless emulated.
  Slot(const RuntimeDevice& device, int index, const ExecutorOptions& options,
       const inference::Catalog& catalog, Metrics& metrics, Clock& clock,
       internal::ResultCache& cache, internal::Completions& completions,
       EmulatedLatency* latency)
      : device_(device),
        cache_(cache),
        completions_(completions),
        off_host_(device.emulation.has_value() || device.device.kind != devices::DeviceKind::kCpu),
        latency_(latency),
        index_(index),
        options_(options),
        catalog_(catalog),
        metrics_(metrics),
        clock_(clock),
        allocated_(metrics.allocated.WithLabels({device.device.id, std::to_string(index)})),
        queue_depth_(metrics.queue_depth.WithLabels({device.device.id, std::to_string(index)})),
        busy_total_(metrics.busy_seconds.WithLabels(DeviceLabels(device.device))),
        lateness_(latency != nullptr ? &metrics.emulated_lateness.WithLabels({device.device.id})
                                     : nullptr),
        lost_(latency != nullptr ? &metrics.emulated_lost.WithLabels({device.device.id})
                                 : nullptr) {}

  void Start() {
    thread_ = std::thread([this] { Run(); });
    // "slot:DEVICE:N" in top -H, perf and gdb (the kernel keeps 15 bytes).
    const std::string name = absl::StrCat("slot:", device_.device.id, ":", index_);
    pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
  }

  ~Slot() { Stop(); }

  const RuntimeDevice& device() const { return device_; }

  // Expected seconds until a new job for `key` would finish here; nullopt when
  // this slot cannot run it.
  std::optional<double> ExpectedFinish(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = service_seconds_.find(key);
    if (!loaded_ || it == service_seconds_.end()) return std::nullopt;
    const double waiting = static_cast<double>(queue_.size()) + (busy_ ? 0.5 : 0.0);
    return (waiting + 1.0) * it->second;
  }

  // Takes the job, or hands it back (returns false) when the queue is full.
  bool TryEnqueue(Job& job) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (stop_ || static_cast<int>(queue_.size()) >= options_.queue_capacity) return false;
    queue_.push_back({std::move(job), clock_.Now()});
    queue_depth_.Set(static_cast<double>(queue_.size()));
    return true;
  }

  bool Loaded() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return loaded_;
  }

  bool WaitLoaded(absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&loaded_), timeout);
  }

  SlotState State(std::map<std::string, double>* service, std::vector<std::string>* errors) const
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (service != nullptr) *service = service_seconds_;
    if (errors != nullptr) *errors = load_errors_;
    return {index_, busy_, static_cast<int>(queue_.size()), busy_seconds_, failure_streak_};
  }

  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  // Whether this slot's device runs `spec` at all (its target, its emulated types).
  bool Runs(const inference::ModelSpec& spec) const {
    if (device_.emulation) return device_.emulation->Runs(spec.type);
    return device_.target != inference::Target::kOpenCl || spec.opencl;
  }

  // Loads (and warms up) `spec` on the slot's thread between two jobs and then serves it,
  // in place of the model it had under the same key: a job already running finishes on
  // the old one. The future says how it went.
  std::future<absl::Status> RequestLoad(const inference::ModelSpec* spec) ABSL_LOCKS_EXCLUDED(mu_) {
    auto task = std::make_shared<LoadTask>();
    task->spec = spec;
    std::future<absl::Status> result = task->done.get_future();
    absl::MutexLock lock(&mu_);
    if (stop_) {
      task->done.set_value(absl::UnavailableError("the agent is shutting down"));
    } else {
      loads_.push_back(std::move(task));
    }
    return result;
  }

 private:
  struct Queued {
    Job job;
    Clock::TimePoint enqueued;
  };
  struct LoadTask {
    const inference::ModelSpec* spec = nullptr;
    std::promise<absl::Status> done;
  };

  void Run() {
    Load();
    while (true) {
      Queued item;
      std::shared_ptr<LoadTask> load;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Slot* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
              return s->stop_ || !s->queue_.empty() || !s->loads_.empty();
            },
            this));
        if (stop_) break;
        if (!loads_.empty()) {  // a variant to load goes before the next job
          load = std::move(loads_.front());
          loads_.pop_front();
        } else {
          item = std::move(queue_.front());
          queue_.pop_front();
          busy_ = true;
          queue_depth_.Set(static_cast<double>(queue_.size()));
        }
      }
      if (load) {
        load->done.set_value(LoadVariant(*load->spec));
        continue;
      }
      allocated_.Set(1);
      Execute(item);
      allocated_.Set(0);
      absl::MutexLock lock(&mu_);
      busy_ = false;
    }
    Drain();
  }

  void Drain() {
    std::deque<Queued> left;
    std::deque<std::shared_ptr<LoadTask>> loads;
    {
      absl::MutexLock lock(&mu_);
      left.swap(queue_);
      loads.swap(loads_);
      queue_depth_.Set(0);
    }
    for (auto& load : loads) load->done.set_value(absl::UnavailableError("the agent is shutting down"));
    for (Queued& item : left) {
      item.job.done(absl::UnavailableError("the agent is shutting down; retry on another node"));
    }
  }

  void Load() {
    std::map<std::string, double> service;
    std::vector<std::string> errors;
    for (const inference::ModelSpec& spec : catalog_.specs()) {
      if (!Runs(spec)) continue;
      absl::StatusOr<double> seconds = Create(spec);
      if (!seconds.ok()) {
        errors.push_back(absl::StrCat(Key(spec), ": ", seconds.status().message()));
        continue;
      }
      service[Key(spec)] = *seconds;
    }
    absl::MutexLock lock(&mu_);
    service_seconds_ = std::move(service);
    load_errors_ = std::move(errors);
    loaded_ = true;
  }

  // A variant added (or replaced) after start: serving it from now on.
  absl::Status LoadVariant(const inference::ModelSpec& spec) {
    absl::StatusOr<double> seconds = Create(spec);
    if (!seconds.ok()) return seconds.status();
    absl::MutexLock lock(&mu_);
    service_seconds_[Key(spec)] = *seconds;
    return absl::OkStatus();
  }

  // Builds `spec` for this slot (warming it up), installs it under its key and returns
  // its first service-time estimate. On the slot's thread only.
  absl::StatusOr<double> Create(const inference::ModelSpec& spec) {
    // Emulated devices compute on the CPU and then hold their slot.
    const inference::Target target = device_.emulation ? inference::Target::kCpu : device_.target;
    auto model = spec.create({options_.models_dir, target, -1, {}});
    if (!model.ok()) return model.status();
    double seconds = 0.001;
    static const cv::Mat warm_image(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
    for (int i = 0; i < (options_.warm_up ? 2 : 0); ++i) {
      const auto start = clock_.Now();
      if (auto out = (*model)->Run(warm_image); !out.ok()) return out.status();
      seconds = SecondsBetween(start, clock_.Now());
    }
    const std::string key = Key(spec);
    counters_[key] = {
        &metrics_.inferences.WithLabels({spec.type, spec.variant, device_.device.id, "success"}),
        &metrics_.inferences.WithLabels({spec.type, spec.variant, device_.device.id, "error"}),
        &metrics_.inferences.WithLabels(
            {spec.type, spec.variant, device_.device.id, "invalid_input"}),
        &metrics_.queue_seconds.WithLabels({spec.type, device_.device.id}),
        &metrics_.compute_seconds.WithLabels({spec.type, device_.device.id})};
    models_[key] = std::move(*model);
    return device_.emulation ? device_.emulation->LatencyFor(spec.type, spec.variant) : seconds;
  }

  void Execute(Queued& item) {
    Job& job = item.job;
    const auto start = clock_.Now();
    const std::string key = job.model + "/" + job.variant;
    auto model = models_.find(key);
    if (model == models_.end()) {
      Answer(job, absl::InternalError(absl::StrCat("slot has no model ", key)));
      return;
    }
    const ModelCounters& counters = counters_[key];
    // When the job's time on the device began: when this thread took it, or
    // for an emulated hold run back to back, when the previous one was due to
    // end; never before this slot's previous job ended, so that busy time
    // counts each moment once and adds up to the wall time the slot was busy.
    Clock::TimePoint began = start;
    absl::StatusOr<JobResult> result = Compute(*model->second, job, item.enqueued, began);
    if (last_end_) began = std::max(began, *last_end_);
    const Clock::TimePoint end = clock_.Now();
    last_end_ = end;
    const double computed = SecondsBetween(began, end);
    AddBusy(computed);
    if (!result.ok()) {
      const bool client_error = result.status().code() == absl::StatusCode::kInvalidArgument;
      (client_error ? counters.invalid : counters.error)->Increment();
      if (!client_error) {
        absl::MutexLock lock(&mu_);
        ++failure_streak_;
      }
      Answer(job, std::move(result).status());
      return;
    }
    result->queue_seconds = SecondsBetween(item.enqueued, began);
    result->compute_seconds = computed;
    counters.success->Increment();
    counters.queue->Observe(result->queue_seconds);
    counters.compute->Observe(computed);
    {
      absl::MutexLock lock(&mu_);
      double& average = service_seconds_[key];
      average += kEwmaWeight * (computed - average);
      failure_streak_ = 0;
    }
    Answer(job, std::move(result));
  }

  // Delivers the job's answer: on the completion thread when the device does
  // not compute on the host's cores (an accelerator, an emulated hold) and its
  // next job is already waiting here, so that the device starts it meanwhile;
  // else on this thread (a host CPU would only trade the work for a wake-up).
  void Answer(Job& job, absl::StatusOr<JobResult> result) ABSL_LOCKS_EXCLUDED(mu_) {
    bool next_waiting = false;
    if (off_host_) {
      absl::MutexLock lock(&mu_);
      next_waiting = !queue_.empty();
    }
    if (next_waiting) {
      std::function<void()> answer = [done = std::move(job.done),
                                      result = std::move(result)]() mutable {
        done(std::move(result));
      };
      if (!completions_.TryPost(answer)) answer();
      return;
    }
    job.done(std::move(result));
  }

  // The slot was busy for `seconds`, whether the run succeeded or not.
  void AddBusy(double seconds) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      busy_seconds_ += seconds;
    }
    busy_total_.Increment(seconds);
  }

  // `began` is when the job started on the device; Emulate may move it back.
  absl::StatusOr<JobResult> Compute(inference::Model& model, const Job& job,
                                    Clock::TimePoint enqueued, Clock::TimePoint& began) {
    JobResult result;
    if (device_.emulation) {
      ASSIGN_OR_RETURN(result.output,
                       Emulate(model, job, enqueued, began, result.result_reused));
    } else {
      ASSIGN_OR_RETURN(cv::Mat image, DecodeInput(job.image));
      ASSIGN_OR_RETURN(result.output, model.Run(image));
    }
    result.model = job.model;
    result.variant = job.variant;
    result.device_id = device_.device.id;
    result.device_kind = std::string(devices::KindName(device_.device.kind));
    result.emulated = device_.device.emulated;
    result.slot = index_;
    return result;
  }

  // The real result (computed, or reused for an identical input), returned no
  // sooner than a drawn service time (the device's profiled latency for the
  // type, spread by its sigma) after the job started on the device.
  //
  // Back to back: a job that was already waiting when the previous hold was due
  // to end starts on the device at that moment, as an accelerator fed from its
  // own queue does, not when this thread got round to it. The host's part (the
  // sleep's late wake-up, taking the next job) is not the device's time, and on
  // a loaded machine it would otherwise stretch every hold of a busy device
  // (by 1-2 ms in 30 on 2 cores). At most kMaxCarry is carried over, so a host
  // that falls further behind slows the device rather than queueing up credit;
  // the device never runs faster than its draws.
  absl::StatusOr<inference::InferenceOutput> Emulate(inference::Model& model, const Job& job,
                                                     Clock::TimePoint enqueued,
                                                     Clock::TimePoint& start, bool& reused) {
    const Emulation& emulation = *device_.emulation;
    const Clock::TimePoint now = clock_.Now();
    start = now;
    if (last_release_ && enqueued <= *last_release_ && *last_release_ < now) {
      start = std::max(*last_release_, now - kMaxCarry);
      lost_->Increment(SecondsBetween(*last_release_, start));
    }
    const auto release =
        start + std::chrono::duration_cast<Clock::TimePoint::duration>(
                    std::chrono::duration<double>(latency_->Draw(job.model, job.variant)));
    last_release_ = release;
    const std::string_view input =
        job.image.encoded.empty() ? job.image.rgb_pixels : job.image.encoded;
    const auto key = internal::ResultCache::MakeKey(job.model + "/" + job.variant, input);
    std::optional<inference::InferenceOutput> output;
    if (emulation.reuse_results) output = cache_.Find(key);
    reused = output.has_value();
    if (!output) {
      ASSIGN_OR_RETURN(cv::Mat image, DecodeInput(job.image));
      ASSIGN_OR_RETURN(output, model.Run(image));
      if (emulation.reuse_results) cache_.Insert(key, *output);
    }
    // Wall time: emulated latency is real time even when tests inject a clock
    // for measurement.
    std::this_thread::sleep_for(release - clock_.Now());
    if (lateness_ != nullptr) {
      lateness_->Observe(std::max(0.0, SecondsBetween(release, clock_.Now())));
    }
    return *std::move(output);
  }

  const RuntimeDevice& device_;
  internal::ResultCache& cache_;
  internal::Completions& completions_;
  const bool off_host_;  // its compute leaves the host's cores free (see Answer)
  EmulatedLatency* const latency_;
  const int index_;
  const ExecutorOptions& options_;
  const inference::Catalog& catalog_;
  Metrics& metrics_;
  Clock& clock_;
  metrics::Gauge& allocated_;
  metrics::Gauge& queue_depth_;
  metrics::Counter& busy_total_;  // the device's, shared by its slots
  metrics::Histogram* const lateness_;  // emulated devices' only
  metrics::Counter* const lost_;        // emulated devices' only
  // Touched by the slot's thread only.
  std::optional<Clock::TimePoint> last_release_;  // emulated: when the last hold was due to end
  std::optional<Clock::TimePoint> last_end_;      // when the last job's run ended
  std::map<std::string, std::unique_ptr<inference::Model>> models_;
  std::map<std::string, ModelCounters> counters_;

  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<LoadTask>> loads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, double> service_seconds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> load_errors_ ABSL_GUARDED_BY(mu_);
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  double busy_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  int failure_streak_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace heteroaccel::runtime

namespace heteroaccel::runtime {

class Executor::Impl {
 public:
  Impl(ExecutorOptions options, std::vector<RuntimeDevice> devices,
       const inference::Catalog& catalog, metrics::Registry& registry, Clock& clock)
      : options_(std::move(options)), catalog_(catalog), metrics_(registry), clock_(clock) {
    for (RuntimeDevice& d : devices) devices_.push_back(std::make_unique<RuntimeDevice>(d));
    for (const auto& d : devices_) {
      EmulatedLatency* latency = nullptr;
      if (d->emulation) {
        latencies_.push_back(std::make_unique<EmulatedLatency>(*d->emulation, d->device.id));
        latency = latencies_.back().get();
      }
      device_latencies_.push_back(latency);
      if (latency != nullptr) metrics_.emulated_slowdown.WithLabels({d->device.id}).Set(1);
      const devices::Device& dev = d->device;
      metrics_.device_info
          .WithLabels({dev.id, std::string(devices::KindName(dev.kind)), dev.name, dev.vendor,
                       dev.source, std::string(inference::TargetName(d->target)),
                       dev.emulated ? "true" : "false"})
          .Set(1);
      metrics_.device_slots.WithLabels({dev.id}).Set(d->slots);
      for (int i = 0; i < d->slots; ++i) {
        slots_.push_back(
            std::make_unique<Slot>(*d, i, options_, catalog_, metrics_, clock_, cache_,
                                   completions_, latency));
      }
    }
  }

  ~Impl() { Stop(); }

  void Start() {
    for (const auto& slot : slots_) slot->Start();
  }

  void Submit(Job job) {
    auto spec = catalog_.Find(job.model, job.variant);
    if (!spec.ok()) {
      Reject(job, "unknown_model", spec.status());
      return;
    }
    job.variant = (*spec)->variant;
    const std::string key = job.model + "/" + job.variant;
    if (!job.device_id.empty() && !HasDevice(job.device_id)) {
      Reject(job, "unknown_device",
             absl::NotFoundError(absl::StrCat("unknown device '", job.device_id,
                                              "'; this node has: ", DeviceList())));
      return;
    }
    std::vector<std::pair<double, Slot*>> candidates;
    bool loading = false;
    for (const auto& slot : slots_) {
      if (!job.device_id.empty() && slot->device().device.id != job.device_id) continue;
      if (auto finish = slot->ExpectedFinish(key)) {
        candidates.emplace_back(*finish, slot.get());
      } else if (!slot->Loaded()) {
        loading = true;
      }
    }
    if (candidates.empty()) {
      Reject(job, loading ? "loading" : "no_device",
             loading ? absl::UnavailableError(
                           absl::StrCat("model '", key, "' is still loading; retry shortly"))
                     : absl::UnavailableError(absl::StrCat(
                           "no device", job.device_id.empty() ? "" : " '" + job.device_id + "'",
                           " on this node can run '", key, "'", LoadErrorsFor(key))));
      return;
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [finish, slot] : candidates) {
      if (slot->TryEnqueue(job)) return;
    }
    Reject(job, "queue_full",
           absl::ResourceExhaustedError(absl::StrCat(
               "all ", candidates.size(), " slots that run '", key, "' have full queues (",
               options_.queue_capacity, " requests each); retry later")));
  }

  bool Ready() const {
    return std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->Loaded(); });
  }

  bool WaitReady(std::chrono::milliseconds timeout) const {
    const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
    for (const auto& slot : slots_) {
      if (!slot->WaitLoaded(deadline - absl::Now())) return false;
    }
    return true;
  }

  absl::StatusOr<double> SetEmulatedSlowdown(std::string_view device_id, double factor) {
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i]->device.id != device_id) continue;
      EmulatedLatency* latency = device_latencies_[i];
      if (latency == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("device '", std::string(device_id),
                         "' is not emulated: only an emulated device's speed can be set"));
      }
      if (!(factor >= kMinEmulatedSlowdown && factor <= kMaxEmulatedSlowdown)) {
        return absl::InvalidArgumentError(absl::StrCat("slowdown must be ", kMinEmulatedSlowdown,
                                                       " to ", kMaxEmulatedSlowdown, ", not ",
                                                       factor));
      }
      const double previous = latency->slowdown();
      latency->SetSlowdown(factor);
      metrics_.emulated_slowdown.WithLabels({std::string(device_id)}).Set(factor);
      return previous;
    }
    return absl::NotFoundError(absl::StrCat("unknown device '", std::string(device_id), "'"));
  }

  std::vector<DeviceState> Snapshot() const {
    std::vector<DeviceState> out;
    for (size_t i = 0; i < devices_.size(); ++i) {
      const auto& d = devices_[i];
      DeviceState state{*d, {}, {}, {}, {}, true};
      if (device_latencies_[i] != nullptr) state.slowdown = device_latencies_[i]->slowdown();
      for (const auto& slot : slots_) {
        if (&slot->device() != d.get()) continue;
        std::map<std::string, double> service;
        state.slots.push_back(slot->State(&service, &state.load_errors));
        state.busy_seconds += state.slots.back().busy_seconds;
        state.warm = state.warm && slot->Loaded();
        for (const auto& [key, seconds] : service) state.service_seconds[key] += seconds;
      }
      for (auto& [key, seconds] : state.service_seconds) {
        seconds /= static_cast<double>(state.slots.size());
        state.variants.push_back(key);
      }
      out.push_back(std::move(state));
    }
    return out;
  }

  bool CanRun(std::string_view model, std::string_view variant) const {
    auto spec = catalog_.Find(model, variant);
    if (!spec.ok()) return false;
    const std::string key = (*spec)->type + "/" + (*spec)->variant;
    return std::any_of(slots_.begin(), slots_.end(),
                       [&](const auto& s) { return s->ExpectedFinish(key).has_value(); });
  }

  absl::StatusOr<std::vector<std::string>> LoadVariant(std::string_view type,
                                                       std::string_view variant,
                                                       std::chrono::milliseconds timeout) {
    ASSIGN_OR_RETURN(const inference::ModelSpec* spec, catalog_.Find(type, variant));
    std::vector<std::pair<Slot*, std::future<absl::Status>>> loads;
    for (const auto& slot : slots_) {
      if (slot->Runs(*spec)) loads.emplace_back(slot.get(), slot->RequestLoad(spec));
    }
    if (loads.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("no device on this node runs ", Key(*spec)));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::string> devices, errors;
    for (auto& [slot, done] : loads) {
      const std::string& id = slot->device().device.id;
      if (done.wait_until(deadline) != std::future_status::ready) {
        errors.push_back(absl::StrCat(id, ": still loading after ", timeout.count(), " ms"));
        continue;
      }
      absl::Status status = done.get();
      if (status.ok()) {
        if (std::find(devices.begin(), devices.end(), id) == devices.end()) devices.push_back(id);
      } else {
        errors.push_back(absl::StrCat(id, ": ", status.message()));
      }
    }
    if (!errors.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("loading ", Key(*spec), " failed: ", absl::StrJoin(errors, "; ")));
    }
    return devices;
  }

  void Stop() {
    for (const auto& slot : slots_) slot->Stop();
    completions_.Stop();  // after the slots: what they posted is delivered
  }

 private:
  void Reject(Job& job, const char* reason, absl::Status status) {
    metrics_.rejected.WithLabels({job.model, reason}).Increment();
    job.done(std::move(status));
  }

  bool HasDevice(const std::string& id) const {
    return std::any_of(devices_.begin(), devices_.end(),
                       [&](const auto& d) { return d->device.id == id; });
  }

  std::string DeviceList() const {
    std::vector<std::string> ids;
    for (const auto& d : devices_) ids.push_back(d->device.id);
    return absl::StrJoin(ids, ", ");
  }

  std::string LoadErrorsFor(const std::string& key) const {
    std::vector<std::string> errors;
    for (const auto& slot : slots_) {
      std::vector<std::string> slot_errors;
      slot->State(nullptr, &slot_errors);
      for (std::string& e : slot_errors) {
        if (e.rfind(key, 0) == 0 && std::find(errors.begin(), errors.end(), e) == errors.end()) {
          errors.push_back(std::move(e));
        }
      }
    }
    return errors.empty() ? "" : absl::StrCat(" (", absl::StrJoin(errors, "; "), ")");
  }

  const ExecutorOptions options_;
  const inference::Catalog& catalog_;
  Metrics metrics_;
  Clock& clock_;
  internal::ResultCache cache_{512};
  internal::Completions completions_;  // outlives the slots (declared before them)
  std::vector<std::unique_ptr<RuntimeDevice>> devices_;
  std::vector<std::unique_ptr<EmulatedLatency>> latencies_;  // one per emulated device
  std::vector<EmulatedLatency*> device_latencies_;           // per device; null: not emulated
  std::vector<std::unique_ptr<Slot>> slots_;
};

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(ExecutorOptions options,
                                                           std::vector<RuntimeDevice> devices,
                                                           const inference::Catalog& catalog,
                                                           metrics::Registry& registry,
                                                           Clock& clock) {
  if (devices.empty()) return absl::InvalidArgumentError("the executor needs at least one device");
  if (options.queue_capacity < 1) {
    return absl::InvalidArgumentError("queue capacity must be at least 1");
  }
  for (const RuntimeDevice& d : devices) {
    if (d.slots < 1 || d.slots > 256) {
      return absl::InvalidArgumentError(
          absl::StrCat("device ", d.device.id, ": slots must be 1..256, got ", d.slots));
    }
    if (d.emulation && !(d.emulation->sigma >= 0 && d.emulation->sigma <= kMaxLatencySigma)) {
      return absl::InvalidArgumentError(
          absl::StrCat("device ", d.device.id, ": latency sigma must be 0..", kMaxLatencySigma,
                       ", got ", d.emulation->sigma));
    }
  }
  cv::setNumThreads(std::max(1, options.cpu_threads_per_slot));
  return std::unique_ptr<Executor>(new Executor(
      std::make_unique<Impl>(std::move(options), std::move(devices), catalog, registry, clock)));
}

Executor::Executor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Executor::~Executor() = default;
void Executor::Start() { impl_->Start(); }
void Executor::Submit(Job job) { impl_->Submit(std::move(job)); }
bool Executor::Ready() const { return impl_->Ready(); }
bool Executor::WaitReady(std::chrono::milliseconds timeout) const {
  return impl_->WaitReady(timeout);
}
std::vector<DeviceState> Executor::Snapshot() const { return impl_->Snapshot(); }
bool Executor::CanRun(std::string_view model, std::string_view variant) const {
  return impl_->CanRun(model, variant);
}
absl::StatusOr<std::vector<std::string>> Executor::LoadVariant(
    std::string_view type, std::string_view variant, std::chrono::milliseconds timeout) {
  return impl_->LoadVariant(type, variant, timeout);
}
absl::StatusOr<double> Executor::SetEmulatedSlowdown(std::string_view device_id, double factor) {
  return impl_->SetEmulatedSlowdown(device_id, factor);
}
void Executor::Stop() { impl_->Stop(); }

}  // namespace heteroaccel::runtime
