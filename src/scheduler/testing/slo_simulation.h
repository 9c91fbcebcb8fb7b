// A deterministic discrete-event simulation of cameras sending deadline-bound
// requests to a cluster, driving the real Scheduler on a FakeClock; with the
// scenarios the SLO targets are measured on (docs/scheduling.md).
//
// Model: each camera sends requests open loop (Poisson, or on/off bursts) of the
// types of its mix, each with the camera's deadline and the camera's name as tenant.
// After every event the simulation answers what ExpireDeadlines returns (early, 504)
// and sends what Dispatch binds: a bound request travels half a round trip to its
// device, waits there for a free slot (FIFO), runs for a lognormal service time
// around the device's mean for its type (sigma `sigma`, mean preserved; a slowdown
// multiplies it), and its result travels half a round trip back, when Complete
// reports the service time. Randomness is a function of (seed, camera, sequence)
// and of the request id, so every policy sees the same arrivals and draws.
//
// Plain values and one class; single-threaded.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/fake_clock.h"
#include "scheduler/scheduler.h"

namespace heteroaccel::scheduler::testing {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
// Uniform in (0, 1).
inline double UnitOf(uint64_t x) {
  return (static_cast<double>(SplitMix64(x) >> 11) + 0.5) * 0x1.0p-53;
}
inline double NormalOf(uint64_t x) {
  return std::sqrt(-2 * std::log(UnitOf(x))) * std::cos(2 * M_PI * UnitOf(x ^ 0x5bd1e995ULL));
}

struct SloDevice {
  std::string node;
  std::string name;
  std::string kind;
  int slots = 1;
  std::map<std::string, double> mean_ms;  // per type it runs
};

struct SloCamera {
  std::string name;
  double rate = 0;  // requests per second, on average
  std::map<std::string, double> mix;
  double deadline_ms = 1000;
  int priority = 0;
  // On/off bursts: `on_ms` at rate * (on_ms + off_ms) / on_ms, then `off_ms` silent.
  double on_ms = 0;
  double off_ms = 0;
};

struct Slowdown {
  size_t device = 0;  // index into the scenario's devices
  double at_s = 0;
  double factor = 2;
};

struct SloScenario {
  std::string name;
  std::vector<SloDevice> devices;
  std::vector<SloCamera> cameras;
  std::vector<Slowdown> slowdowns;
  double sigma = 0.25;  // lognormal shape of service times
  double rtt_ms = 1;
  double duration_s = 60;
  double warmup_s = 5;
  int queue_capacity = 256;
  bool tag_cameras = true;  // false: every request untagged (one tenant)
  PolicyKind policy = PolicyKind::kEarliestFinish;
  bool lp_steering = true;  // Options::lp_steering
  uint64_t seed = 1;
};

struct CameraOutcome {
  int64_t offered = 0;
  int64_t good = 0;  // finished by its deadline
  double attainment() const { return offered == 0 ? 1 : static_cast<double>(good) / offered; }
};

struct SloResult {
  int64_t offered = 0, completed = 0, good = 0, late = 0, expired = 0, refused = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;  // of completed requests
  std::map<std::string, CameraOutcome> cameras;
  double attainment() const { return offered == 0 ? 1 : static_cast<double>(good) / offered; }
  double throughput() const { return static_cast<double>(completed) / seconds; }
  double goodput() const { return static_cast<double>(good) / seconds; }
};

// Jain's fairness index of `values`: 1 when all equal, 1/n when one takes all.
inline double JainIndex(const std::vector<double>& values) {
  double sum = 0, squares = 0;
  for (double v : values) {
    sum += v;
    squares += v * v;
  }
  return squares == 0 ? 1 : sum * sum / (static_cast<double>(values.size()) * squares);
}

inline DeviceInfo SloDeviceInfo(const SloDevice& d, double factor = 1) {
  DeviceInfo info;
  info.key = {d.node, d.name};
  info.kind = d.kind;
  info.slots = d.slots;
  info.emulated = true;
  for (const auto& [type, ms] : d.mean_ms) {
    info.variants[type] = type + "@" + d.kind;
    info.reported_service[type] =
        std::chrono::nanoseconds(static_cast<int64_t>(ms * factor * 1e6));
  }
  return info;
}

// The requests' type mix over all cameras, by rate.
inline std::map<std::string, double> MixOf(const std::vector<SloCamera>& cameras) {
  std::map<std::string, double> mix;
  for (const SloCamera& c : cameras) {
    double total = 0;
    for (const auto& [type, share] : c.mix) total += share;
    for (const auto& [type, share] : c.mix) mix[type] += c.rate * share / total;
  }
  return mix;
}

// Scheduler::IdealThroughput of the cameras' mix on the devices at their true means,
// device i slowed by factors[i] (1 when absent).
inline double SloIdealWith(const SloScenario& s, const std::vector<double>& factors) {
  FakeClock clock;
  Scheduler exact(Options{}, clock);
  for (size_t i = 0; i < s.devices.size(); ++i) {
    const double factor = i < factors.size() ? factors[i] : 1.0;
    if (!exact.UpsertDevice(SloDeviceInfo(s.devices[i], factor)).ok()) return 0;
  }
  return exact.IdealThroughput(MixOf(s.cameras));
}

// The scenario's ideal: the lowest over the run (after every slowdown).
inline double SloIdeal(const SloScenario& s) {
  std::vector<double> factors(s.devices.size(), 1.0);
  for (const Slowdown& slow : s.slowdowns) {
    if (slow.device < factors.size()) factors[slow.device] *= slow.factor;
  }
  return SloIdealWith(s, factors);
}

// Scales every camera's rate so that the total is `load` x the scenario's ideal.
inline SloScenario AtLoad(SloScenario s, double load) {
  double total = 0;
  for (const SloCamera& c : s.cameras) total += c.rate;
  const double target = load * SloIdeal(s);
  for (SloCamera& c : s.cameras) c.rate *= target / total;
  return s;
}

class SloSimulation {
 public:
  explicit SloSimulation(SloScenario s) : s_(std::move(s)) {
    Options options;
    options.policy = s_.policy;
    options.queue_capacity = s_.queue_capacity;
    options.lp_steering = s_.lp_steering;
    scheduler_ = std::make_unique<Scheduler>(options, clock_);
    for (const SloDevice& d : s_.devices) {
      (void)scheduler_->UpsertDevice(SloDeviceInfo(d));
      devices_.push_back({&d, 1.0, 0, {}});
    }
  }

  SloResult Run() {
    for (size_t c = 0; c < s_.cameras.size(); ++c) {
      if (s_.cameras[c].rate > 0) Push(NextArrival(c, 0), kArrive, c);
    }
    for (size_t i = 0; i < s_.slowdowns.size(); ++i) {
      Push(static_cast<int64_t>(s_.slowdowns[i].at_s * 1e9), kSlow, i);
    }
    const auto end = static_cast<int64_t>(s_.duration_s * 1e9);
    while (!events_.empty() && events_.top().t <= end) {
      const Event e = events_.top();
      events_.pop();
      clock_.Set(start_ + std::chrono::nanoseconds(e.t));
      Handle(e);
      for (const Request& r : scheduler_->ExpireDeadlines()) Answer(r.id, e.t, kExpired);
      for (const Assignment& a : scheduler_->Dispatch()) {
        Push(e.t + Rtt() / 2, kAtDevice, a.request_id, DeviceOf(a.device));
      }
    }
    return Summarise();
  }

 private:
  enum Kind { kArrive, kAtDevice, kDone, kResult, kSlow };
  enum End { kFinished, kExpired, kRefused };
  struct Event {
    int64_t t;
    uint64_t seq;
    Kind kind;
    uint64_t id;
    int device;
    bool operator>(const Event& o) const { return std::tie(t, seq) > std::tie(o.t, o.seq); }
  };
  struct DeviceSim {
    const SloDevice* spec;
    double factor;
    int busy;
    std::deque<uint64_t> waiting;
  };
  struct Open {
    size_t camera;
    std::string type;
    int64_t arrival;
    int64_t deadline;
    int64_t service = 0;
  };

  int64_t Rtt() const { return static_cast<int64_t>(s_.rtt_ms * 1e6); }
  void Push(int64_t t, Kind kind, uint64_t id, int device = -1) {
    events_.push({t, next_seq_++, kind, id, device});
  }
  int DeviceOf(const DeviceKey& key) const {
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].spec->node == key.node && devices_[i].spec->name == key.device) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  uint64_t Draw(size_t camera) {
    return SplitMix64(s_.seed * 1000003 + camera) ^ (++draws_[camera] * 0x9e3779b97f4a7c15ULL);
  }

  // The next arrival of camera `c` after `now` (ns).
  int64_t NextArrival(size_t c, int64_t now) {
    const SloCamera& cam = s_.cameras[c];
    const double u = UnitOf(Draw(c));
    if (cam.on_ms <= 0) return now + static_cast<int64_t>(-std::log(u) / cam.rate * 1e9);
    // Bursts: exponential gaps at the on-rate, measured in "on" time only.
    const double period = (cam.on_ms + cam.off_ms) * 1e6;
    const double on = cam.on_ms * 1e6;
    const double on_rate = cam.rate * (cam.on_ms + cam.off_ms) / cam.on_ms;
    double gap = -std::log(u) / on_rate * 1e9;
    double t = static_cast<double>(now);
    while (true) {
      const double phase = std::fmod(t, period);
      const double left = phase < on ? on - phase : 0;
      if (phase >= on) {
        t += period - phase;
        continue;
      }
      if (gap <= left) return static_cast<int64_t>(t + gap);
      gap -= left;
      t += left + cam.off_ms * 1e6;
    }
  }

  std::string TypeFor(size_t c) {
    const SloCamera& cam = s_.cameras[c];
    double total = 0;
    for (const auto& [type, share] : cam.mix) total += share;
    double u = UnitOf(Draw(c)) * total;
    for (const auto& [type, share] : cam.mix) {
      if (u < share) return type;
      u -= share;
    }
    return cam.mix.rbegin()->first;
  }

  void Handle(const Event& e) {
    switch (e.kind) {
      case kArrive: {
        const size_t c = e.id;
        const SloCamera& cam = s_.cameras[c];
        const uint64_t id = next_id_++;
        const auto deadline = e.t + static_cast<int64_t>(cam.deadline_ms * 1e6);
        open_[id] = {c, TypeFor(c), e.t, deadline};
        Request r;
        r.id = id;
        r.type = open_[id].type;
        r.priority = cam.priority;
        r.tenant = s_.tag_cameras ? cam.name : "";
        r.arrival = clock_.Now();
        r.deadline = start_ + std::chrono::nanoseconds(deadline);
        std::vector<Request> displaced;
        if (!scheduler_->Enqueue(r, displaced).ok()) Answer(id, e.t, kRefused);
        for (const Request& d : displaced) Answer(d.id, e.t, kRefused);
        Push(NextArrival(c, e.t), kArrive, c);
        break;
      }
      case kAtDevice: {
        DeviceSim& d = devices_[e.device];
        if (d.busy < d.spec->slots) {
          Start(e.id, e.device, e.t);
        } else {
          d.waiting.push_back(e.id);
        }
        break;
      }
      case kDone: {
        DeviceSim& d = devices_[e.device];
        --d.busy;
        Push(e.t + Rtt() / 2, kResult, e.id, e.device);
        if (!d.waiting.empty()) {
          const uint64_t next = d.waiting.front();
          d.waiting.pop_front();
          Start(next, e.device, e.t);
        }
        break;
      }
      case kResult:
        (void)scheduler_->Complete(e.id, std::chrono::nanoseconds(open_[e.id].service), true);
        Answer(e.id, e.t, kFinished);
        break;
      case kSlow:
        devices_[s_.slowdowns[e.id].device].factor *= s_.slowdowns[e.id].factor;
        break;
    }
  }

  void Start(uint64_t id, int device, int64_t now) {
    DeviceSim& d = devices_[device];
    ++d.busy;
    Open& r = open_[id];
    const double mean = d.spec->mean_ms.at(r.type) * 1e6 * d.factor;
    const double z = NormalOf(SplitMix64(id * 7919 + s_.seed));
    r.service = static_cast<int64_t>(mean * std::exp(s_.sigma * z - s_.sigma * s_.sigma / 2));
    Push(now + r.service, kDone, id, device);
  }

  void Answer(uint64_t id, int64_t now, End end) {
    auto it = open_.find(id);
    if (it == open_.end()) return;
    const Open& r = it->second;
    if (r.arrival >= static_cast<int64_t>(s_.warmup_s * 1e9)) {
      CameraOutcome& cam = result_.cameras[s_.cameras[r.camera].name];
      ++result_.offered;
      ++cam.offered;
      if (end == kFinished) {
        ++result_.completed;
        latencies_.push_back(static_cast<double>(now - r.arrival) * 1e-6);
        if (now <= r.deadline) {
          ++result_.good;
          ++cam.good;
        } else {
          ++result_.late;
        }
      } else {
        ++(end == kExpired ? result_.expired : result_.refused);
      }
    }
    open_.erase(it);
  }

  SloResult Summarise() {
    // Requests still open at the end count as offered and not good (they count
    // against attainment), but only those whose deadline has passed.
    const auto end = static_cast<int64_t>(s_.duration_s * 1e9);
    for (const auto& [id, r] : open_) {
      if (r.arrival >= static_cast<int64_t>(s_.warmup_s * 1e9) && r.deadline <= end) {
        ++result_.offered;
        ++result_.cameras[s_.cameras[r.camera].name].offered;
      }
    }
    result_.seconds = s_.duration_s - s_.warmup_s;
    if (!latencies_.empty()) {
      std::sort(latencies_.begin(), latencies_.end());
      const auto at = [&](double q) {
        return latencies_[std::min(latencies_.size() - 1,
                                   static_cast<size_t>(q * static_cast<double>(latencies_.size())))];
      };
      result_.p50_ms = at(0.5);
      result_.p99_ms = at(0.99);
    }
    return result_;
  }

  SloScenario s_;
  FakeClock clock_;
  Clock::TimePoint start_ = clock_.Now();
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<DeviceSim> devices_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::unordered_map<uint64_t, Open> open_;
  std::map<size_t, uint64_t> draws_;
  std::vector<double> latencies_;
  SloResult result_;
  uint64_t next_seq_ = 0;
  uint64_t next_id_ = 1;
};

inline SloResult SimulateSlo(SloScenario s) { return SloSimulation(std::move(s)).Run(); }

}  // namespace heteroaccel::scheduler::testing
