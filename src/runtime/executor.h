// Executor: the compute side of an agent. It owns the node's runnable devices;
// each device has one or more slots, and each slot is one worker thread with its
// own bounded queue and its own instance of every model (a network is used by
// one thread only). A slot is "allocated" while it computes.
//
// Submit() picks the slot with the earliest expected finish (queued work times
// the service time measured online per slot and model), or the device the
// request pins, and answers through the job's callback exactly once: on the
// slot's thread, or, for an accelerator or an emulated device whose next job
// is already waiting, on the executor's completion thread, so that the device
// starts that job while the answer is encoded and sent
// (internal/completions.h); on the caller's thread
// for errors found before queueing. Nothing is dropped: a full queue answers
// ResourceExhausted, shutdown answers Unavailable.
//
// Thread-safe. Create() loads nothing; Start() begins loading. Stop() (or destruction) drains every
// queue with errors and joins the workers.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "devices/device.h"
#include "inference/catalog.h"
#include "metrics/metrics.h"

namespace heteroaccel::runtime {

// A device the executor can run models on, and how to run them there.
// An emulated accelerator: it computes the real result on the CPU, then holds
// its slot until the profiled latency for that inference type has passed, so a
// site without the hardware still sees that device's timing. Because cameras
// replay frames and one small machine may emulate a whole cluster, it may reuse
// the result it already computed for an identical input (and says so).
//
// The profiled latency is a mean: with `sigma` > 0 each request holds the slot
// for that mean times a lognormal factor of shape `sigma` and mean 1 (see
// EmulatedLatency), so queues and tails behave like a real device's rather than
// a metronome's. A slot kept busy runs its holds back to back: a job waiting
// when the previous hold is due to end starts then, so the host's own time
// between two jobs (up to a few milliseconds on a loaded machine) does not slow
// the emulated device down. What the host still adds is measured:
// heteroaccel_emulated_hold_lateness_seconds (how late each hold ended, so its
// answer left) and heteroaccel_emulated_hold_lost_seconds_total (device time a
// stall beyond the 5 ms carried over took). `types`, when set, limits the device to those
// inference types (a device that runs none of the node's models serves nothing).
struct Emulation {
  std::map<std::string, double> latency_seconds;  // per inference type (means)
  double default_latency_seconds = 0.010;         // types without a profile entry
  bool reuse_results = true;
  double sigma = 0;  // lognormal shape of the hold; 0 = always the mean
  std::optional<std::vector<std::string>> types;  // nullopt = every type the node loads
  // Per variant name, over the type's: a faster build of the same type (its
  // degradation alternate) emulated as faster.
  std::map<std::string, double> variant_latency_seconds;
  double LatencyFor(const std::string& type, const std::string& variant = {}) const {
    if (auto v = variant_latency_seconds.find(variant); v != variant_latency_seconds.end()) {
      return v->second;
    }
    auto it = latency_seconds.find(type);
    return it == latency_seconds.end() ? default_latency_seconds : it->second;
  }
  bool Runs(const std::string& type) const {
    return !types || std::find(types->begin(), types->end(), type) != types->end();
  }
};

// Inclusive bounds of Emulation::sigma.
inline constexpr double kMaxLatencySigma = 2.0;

// The service times of one emulated device: Draw(type) is the profiled mean
// times exp(sigma * z - sigma^2 / 2), z standard normal (clamped to +-6, so a
// hold stays finite), whose mean is 1. The generator is seeded from
// `seed_name` (the device id), so a run that sends the device the same
// requests in the same order sees the same holds. Thread-safe (one mutex; the
// device's slots share the sequence).
// SetSlowdown(f) multiplies every later draw by f (a fault drill: the device
// slowing down or recovering while it serves); draws already made keep theirs.
class EmulatedLatency {
 public:
  EmulatedLatency(Emulation emulation, std::string_view seed_name);
  double Draw(const std::string& type, const std::string& variant = {}) ABSL_LOCKS_EXCLUDED(mu_);
  void SetSlowdown(double factor) { slowdown_.store(factor, std::memory_order_relaxed); }
  double slowdown() const { return slowdown_.load(std::memory_order_relaxed); }

 private:
  const Emulation emulation_;
  std::atomic<double> slowdown_{1.0};
  absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
  std::normal_distribution<double> normal_ ABSL_GUARDED_BY(mu_);
};

struct RuntimeDevice {
  devices::Device device;
  inference::Target target = inference::Target::kCpu;
  int slots = 1;
  std::optional<Emulation> emulation;  // set for emulated devices (device.emulated)
};

// What the client sent: an encoded JPEG/PNG, or raw RGB pixels [height,width,3].
struct ImageInput {
  std::string encoded;
  std::string rgb_pixels;
  int64_t height = 0;
  int64_t width = 0;
};

struct JobResult {
  inference::InferenceOutput output;
  std::string model;
  std::string variant;
  std::string device_id;
  std::string device_kind;
  bool emulated = false;
  bool result_reused = false;  // an emulated device answered from its result cache
  int slot = 0;
  double queue_seconds = 0;
  double compute_seconds = 0;
};

struct Job {
  std::string model;      // inference type, e.g. "face"
  std::string variant;    // "" = the type's default variant
  std::string device_id;  // "" = let the executor choose
  ImageInput image;
  std::function<void(absl::StatusOr<JobResult>)> done;
};

struct SlotState {
  int index = 0;
  bool allocated = false;
  int queue_depth = 0;
  // Wall time spent running models since the slot started (failed runs too;
  // an emulated device's hold for its profiled latency counts as busy). A run
  // counts from when it started on the device (for a hold run back to back,
  // when the previous one was due to end), never before the slot's previous
  // run ended: each moment once.
  double busy_seconds = 0;
  // Runs that failed in a row on this slot (not for the request's own fault:
  // an undecodable image does not count); 0 after a success. A device whose
  // slots all keep failing cannot serve (its kubelet device plugin reports it
  // Unhealthy until a run succeeds again).
  int failure_streak = 0;
};

struct DeviceState {
  RuntimeDevice device;
  std::vector<SlotState> slots;
  std::vector<std::string> variants;              // "type/variant" loaded on this device
  std::map<std::string, double> service_seconds;  // per variant: measured mean over slots
  std::vector<std::string> load_errors;
  bool warm = false;
  double busy_seconds = 0;  // summed over the slots
  double slowdown = 1;      // emulated: the factor on its profile (SetEmulatedSlowdown)
};

// Bounds of Executor::SetEmulatedSlowdown's factor.
inline constexpr double kMinEmulatedSlowdown = 0.01;
inline constexpr double kMaxEmulatedSlowdown = 100;

struct ExecutorOptions {
  std::string models_dir = "models";
  int queue_capacity = 8;        // per slot
  int cpu_threads_per_slot = 1;  // OpenCV's thread count (process-wide)
  bool warm_up = true;           // run each model twice before reporting ready
};

class Executor {
 public:
  static absl::StatusOr<std::unique_ptr<Executor>> Create(ExecutorOptions options,
                                                          std::vector<RuntimeDevice> devices,
                                                          const inference::Catalog& catalog,
                                                          metrics::Registry& registry,
                                                          Clock& clock);
  ~Executor();

  // Starts the slot threads, which load (and warm up) their models, then serve.
  // Jobs submitted before their slot has loaded are refused with Unavailable.
  void Start();
  void Submit(Job job);
  // True once every slot has loaded its models (and warmed them up).
  bool Ready() const;
  // Waits until Ready() or the timeout; returns Ready().
  bool WaitReady(std::chrono::milliseconds timeout) const;
  std::vector<DeviceState> Snapshot() const;
  // True when some ready slot can run `model` (a type, or "type/variant").
  bool CanRun(std::string_view model, std::string_view variant = "") const;
  // Loads the catalog's spec for type/variant (one added or replaced after start) on every
  // slot whose device runs it, each on its own thread between two jobs, then serves it in
  // place of the model it had under that key: no request is dropped, one running
  // finishes on the old model. The ids of the devices that loaded it, or
  // FailedPrecondition naming each device that failed (or was still loading after
  // `timeout`); a slot that failed keeps what it had.
  absl::StatusOr<std::vector<std::string>> LoadVariant(std::string_view type,
                                                       std::string_view variant,
                                                       std::chrono::milliseconds timeout);
  // Multiplies the emulated device's service times from now on by `factor`
  // (relative to its profile: 1 restores it), so a running system can be shown
  // a device slowing down and recovering. Returns the factor it replaces.
  // NotFound for an unknown device, FailedPrecondition for one that is not
  // emulated, InvalidArgument outside [kMinEmulatedSlowdown, kMaxEmulatedSlowdown].
  absl::StatusOr<double> SetEmulatedSlowdown(std::string_view device_id, double factor);
  void Stop();

  class Impl;

 private:
  explicit Executor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace heteroaccel::runtime
