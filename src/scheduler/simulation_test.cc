// A small deterministic discrete-event simulation that drives the Scheduler on
// simulated time and compares the policies' throughput with the ideal
// (Scheduler::IdealThroughput) and with each other.
//
// Model: clients (closed loop, zero think time) or Poisson arrivals (open loop)
// submit requests; the scheduler binds them; each bound request travels half a
// round trip to its device, waits there for a free slot (FIFO), executes for the
// device's mean service time of its type times a per-request jitter, and its result
// travels half a round trip back, when Complete is called. Types and jitter are
// functions of the request id, so every policy sees the same workload.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"
#include "common/fake_clock.h"

namespace heteroaccel::scheduler {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using ::heteroaccel::FakeClock;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double Unit(uint64_t x) { return static_cast<double>(SplitMix(x) >> 11) * 0x1.0p-53; }

struct SimDevice {
  std::string node;
  std::string name;
  std::string kind;
  int slots = 1;
  std::map<std::string, nanoseconds> service;  // mean, per type it runs
};

struct SimConfig {
  PolicyKind policy = PolicyKind::kEarliestFinish;
  std::vector<SimDevice> devices;
  std::map<std::string, double> mix;
  int clients = 0;       // closed loop when > 0
  double open_rate = 0;  // requests per second, open loop
  nanoseconds rtt = milliseconds(1);
  nanoseconds duration = std::chrono::seconds(20);
  nanoseconds warmup = std::chrono::seconds(2);
  bool report_service = true;  // seed estimates with the true means
  double jitter = 0.2;         // service time uniform in mean * [1 - j, 1 + j]
  std::map<std::string, std::string> static_kinds;
};

struct SimResult {
  double throughput = 0;  // completions per second after warm-up
  double ideal = 0;
  std::map<std::string, int> per_device;
  double mean_ms = 0;
  double p99_ms = 0;
  double ratio() const { return throughput / ideal; }
};

DeviceInfo ToInfo(const SimDevice& d, bool report) {
  DeviceInfo info;
  info.key = {d.node, d.name};
  info.kind = d.kind;
  info.slots = d.slots;
  info.emulated = true;
  for (const auto& [type, mean] : d.service) {
    info.variants[type] = type + "@" + d.kind;
    if (report) info.reported_service[type] = mean;
  }
  return info;
}

class Simulation {
 public:
  explicit Simulation(SimConfig config) : config_(std::move(config)), rng_(7) {
    Options options;
    options.policy = config_.policy;
    options.queue_capacity = 100000;
    options.static_kinds = config_.static_kinds;
    scheduler_ = std::make_unique<Scheduler>(options, clock_);
    for (const SimDevice& d : config_.devices) {
      EXPECT_TRUE(scheduler_->UpsertDevice(ToInfo(d, config_.report_service)).ok());
      devices_.push_back(DeviceSim{&d, 0, {}});
    }
    double total = 0;
    for (const auto& [type, share] : config_.mix) total += share;
    double acc = 0;
    for (const auto& [type, share] : config_.mix) {
      acc += share / total;
      cumulative_.emplace_back(acc, type);
    }
  }

  SimResult Run() {
    if (config_.clients > 0) {
      for (int c = 0; c < config_.clients; ++c) Push(0, kArrive, 0);
    } else {
      Push(0, kArrive, 0);
    }
    const int64_t end = config_.duration.count();
    while (!events_.empty() && events_.top().t <= end) {
      const Event e = events_.top();
      events_.pop();
      clock_.Set(start_ + nanoseconds(e.t));
      Handle(e);
      for (const Assignment& a : scheduler_->Dispatch()) {
        Push(e.t + config_.rtt.count() / 2, kAtDevice, a.request_id, DeviceOf(a.device));
      }
    }
    return Summarise();
  }

 private:
  enum Kind { kArrive, kAtDevice, kDone, kResult };
  struct Event {
    int64_t t;
    uint64_t seq;
    Kind kind;
    uint64_t id;
    int device;
    bool operator>(const Event& o) const { return std::tie(t, seq) > std::tie(o.t, o.seq); }
  };
  struct DeviceSim {
    const SimDevice* spec;
    int busy = 0;
    std::deque<uint64_t> waiting;
  };
  struct InFlight {
    std::string type;
    int64_t arrival;
    int64_t service = 0;
  };

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

  std::string TypeOf(uint64_t id) const {
    const double u = Unit(id * 2 + 1);
    for (const auto& [acc, type] : cumulative_) {
      if (u < acc) return type;
    }
    return cumulative_.back().second;
  }

  void Handle(const Event& e) {
    switch (e.kind) {
      case kArrive: {
        const uint64_t id = next_id_++;
        requests_[id] = {TypeOf(id), e.t};
        Request r;
        r.id = id;
        r.type = requests_[id].type;
        r.arrival = clock_.Now();
        EXPECT_TRUE(scheduler_->Enqueue(r).ok());
        if (config_.clients == 0) {
          std::exponential_distribution<double> gap(config_.open_rate);
          Push(e.t + static_cast<int64_t>(gap(rng_) * 1e9), kArrive, 0);
        }
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
        Push(e.t + config_.rtt.count() / 2, kResult, e.id, e.device);
        if (!d.waiting.empty()) {
          const uint64_t next = d.waiting.front();
          d.waiting.pop_front();
          Start(next, e.device, e.t);
        }
        break;
      }
      case kResult: {
        InFlight& r = requests_[e.id];
        EXPECT_TRUE(scheduler_->Complete(e.id, nanoseconds(r.service), true));
        if (e.t >= config_.warmup.count()) {
          ++completed_;
          ++per_device_[devices_[e.device].spec->kind];
          latencies_.push_back(static_cast<double>(e.t - r.arrival) * 1e-6);
        }
        requests_.erase(e.id);
        if (config_.clients > 0) Push(e.t, kArrive, 0);
        break;
      }
    }
  }

  void Start(uint64_t id, int device, int64_t now) {
    DeviceSim& d = devices_[device];
    ++d.busy;
    InFlight& r = requests_[id];
    const double mean = static_cast<double>(d.spec->service.at(r.type).count());
    const double factor = 1 + config_.jitter * (2 * Unit(id * 2) - 1);
    r.service = static_cast<int64_t>(mean * factor);
    Push(now + r.service, kDone, id, device);
  }

  SimResult Summarise() {
    SimResult result;
    const double seconds = static_cast<double>((config_.duration - config_.warmup).count()) * 1e-9;
    result.throughput = static_cast<double>(completed_) / seconds;
    // The ideal, from the true means whatever the estimates learned.
    FakeClock clock;
    Scheduler exact(Options{}, clock);
    for (const SimDevice& d : config_.devices)
      EXPECT_TRUE(exact.UpsertDevice(ToInfo(d, true)).ok());
    result.ideal = exact.IdealThroughput(config_.mix);
    result.per_device = per_device_;
    if (!latencies_.empty()) {
      std::sort(latencies_.begin(), latencies_.end());
      double sum = 0;
      for (double l : latencies_) sum += l;
      result.mean_ms = sum / static_cast<double>(latencies_.size());
      result.p99_ms =
          latencies_[static_cast<size_t>(0.99 * static_cast<double>(latencies_.size()))];
    }
    return result;
  }

  SimConfig config_;
  std::mt19937_64 rng_;
  FakeClock clock_;
  Clock::TimePoint start_ = clock_.Now();
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<DeviceSim> devices_;
  std::vector<std::pair<double, std::string>> cumulative_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::map<uint64_t, InFlight> requests_;
  std::map<std::string, int> per_device_;
  std::vector<double> latencies_;
  uint64_t next_seq_ = 0;
  uint64_t next_id_ = 1;
  int64_t completed_ = 0;
};

SimResult Simulate(SimConfig config) { return Simulation(std::move(config)).Run(); }

// Three devices of speeds 1x, 3x and 10x; face takes 30 ms and text 60 ms at 1x.
std::vector<SimDevice> SpeedCluster() {
  auto at = [](double speed) {
    return std::map<std::string, nanoseconds>{
        {"face", nanoseconds(static_cast<int64_t>(30e6 / speed))},
        {"text", nanoseconds(static_cast<int64_t>(60e6 / speed))}};
  };
  return {{"n1", "cpu", "cpu", 1, at(1)},
          {"n2", "npu0", "npu", 1, at(3)},
          {"n3", "gpu0", "gpu", 1, at(10)}};
}

const std::map<std::string, double> kHalfHalf = {{"face", 0.5}, {"text", 0.5}};

void Print(const char* label, const SimResult& r) {
  std::string split;
  for (const auto& [kind, n] : r.per_device) split += kind + "=" + std::to_string(n) + " ";
  std::printf("  %-34s %7.1f req/s  %5.1f%% of ideal %6.1f  mean %6.1f ms  p99 %6.1f ms  %s\n",
              label, r.throughput, 100 * r.ratio(), r.ideal, r.mean_ms, r.p99_ms, split.c_str());
}

SimResult ClosedLoop(PolicyKind policy, int clients, std::vector<SimDevice> devices,
                     std::map<std::string, double> mix, bool report = true) {
  SimConfig config;
  config.policy = policy;
  config.devices = std::move(devices);
  config.mix = std::move(mix);
  config.clients = clients;
  config.report_service = report;
  return Simulate(config);
}

TEST(SimulationTest, SaturatedClosedLoopRanksThePolicies) {
  constexpr int kClients = 32;
  const SimResult ef = ClosedLoop(PolicyKind::kEarliestFinish, kClients, SpeedCluster(), kHalfHalf);
  const SimResult idle = ClosedLoop(PolicyKind::kIdleFirst, kClients, SpeedCluster(), kHalfHalf);
  const SimResult fixed = ClosedLoop(PolicyKind::kStatic, kClients, SpeedCluster(), kHalfHalf);
  std::printf("speeds 1x/3x/10x, face+text, %d closed-loop clients:\n", kClients);
  Print("earliest-finish", ef);
  Print("idle-first", idle);
  Print("static (gpu)", fixed);
  std::printf("  earliest-finish / idle-first = %.3f, idle-first / static = %.3f\n",
              ef.throughput / idle.throughput, idle.throughput / fixed.throughput);
  EXPECT_GE(ef.ratio(), 0.9);
  EXPECT_GE(ef.throughput, 0.99 * idle.throughput);
  EXPECT_GE(idle.throughput, fixed.throughput);
  EXPECT_LE(ef.ratio(), 1.02) << "nothing beats the fluid optimum (beyond jitter)";
}

TEST(SimulationTest, EarliestFinishLearnsServiceTimesOnline) {
  const SimResult ef =
      ClosedLoop(PolicyKind::kEarliestFinish, 32, SpeedCluster(), kHalfHalf, /*report=*/false);
  std::printf("speeds 1x/3x/10x, no reported service times:\n");
  Print("earliest-finish (learned)", ef);
  EXPECT_GE(ef.ratio(), 0.9);
}

TEST(SimulationTest, ClosedLoopSweep) {
  std::printf("speeds 1x/3x/10x, face+text, closed loop by number of clients:\n");
  for (int clients : {2, 4, 8, 16, 64}) {
    const SimResult ef =
        ClosedLoop(PolicyKind::kEarliestFinish, clients, SpeedCluster(), kHalfHalf);
    const SimResult idle = ClosedLoop(PolicyKind::kIdleFirst, clients, SpeedCluster(), kHalfHalf);
    const SimResult fixed = ClosedLoop(PolicyKind::kStatic, clients, SpeedCluster(), kHalfHalf);
    std::printf(
        " %2d clients: EF %5.1f%%  IF %5.1f%%  static %5.1f%% of ideal;"
        " mean latency EF %6.1f  IF %6.1f  static %6.1f ms\n",
        clients, 100 * ef.ratio(), 100 * idle.ratio(), 100 * fixed.ratio(), ef.mean_ms,
        idle.mean_ms, fixed.mean_ms);
    // At light load earliest-finish keeps every request on the GPU, as static does,
    // but for its probes: a bounded handful of requests (Options::probe_interval)
    // that confirm the idle devices' estimates.
    EXPECT_GE(ef.throughput, 0.99 * fixed.throughput) << clients << " clients";
  }
}

TEST(SimulationTest, OpenLoopLatency) {
  std::printf("speeds 1x/3x/10x, Poisson arrivals:\n");
  for (double load : {0.5, 0.85}) {
    std::map<PolicyKind, SimResult> results;
    for (PolicyKind policy :
         {PolicyKind::kEarliestFinish, PolicyKind::kIdleFirst, PolicyKind::kStatic}) {
      SimConfig config;
      config.policy = policy;
      config.devices = SpeedCluster();
      config.mix = kHalfHalf;
      config.open_rate = 1;  // replaced below once the ideal is known
      FakeClock clock;
      Scheduler exact(Options{}, clock);
      for (const SimDevice& d : config.devices)
        ASSERT_TRUE(exact.UpsertDevice(ToInfo(d, true)).ok());
      config.open_rate = load * exact.IdealThroughput(config.mix);
      results[policy] = Simulate(config);
      char label[64];
      std::snprintf(label, sizeof(label), "%s at %.0f%% of ideal", PolicyName(policy).data(),
                    100 * load);
      Print(label, results[policy]);
    }
    EXPECT_LT(results[PolicyKind::kEarliestFinish].mean_ms,
              results[PolicyKind::kIdleFirst].mean_ms);
    EXPECT_LT(results[PolicyKind::kEarliestFinish].p99_ms, results[PolicyKind::kStatic].p99_ms);
  }
}

// Paper-like cluster: devices better at some types than others (comparative
// advantage), where the ideal needs the right type on the right device.
std::vector<SimDevice> PaperCluster() {
  auto ms = [](double v) { return nanoseconds(static_cast<int64_t>(v * 1e6)); };
  return {
      {"n1",
       "gpu0",
       "gpu",
       1,
       {{"face", ms(8)}, {"pose", ms(25)}, {"text", ms(30)}, {"hand", ms(12)}}},
      {"n1",
       "cpu",
       "cpu",
       2,
       {{"face", ms(40)}, {"pose", ms(150)}, {"text", ms(45)}, {"hand", ms(60)}}},
      {"n2", "fpga0", "fpga", 1, {{"face", ms(20)}, {"pose", ms(60)}}},
      {"n3", "npu0", "npu", 1, {{"face", ms(15)}, {"pose", ms(35)}, {"hand", ms(18)}}},
  };
}

TEST(SimulationTest, PaperLikeClusterSaturated) {
  const std::map<std::string, double> mix = {
      {"face", 0.25}, {"pose", 0.25}, {"text", 0.25}, {"hand", 0.25}};
  const SimResult ef = ClosedLoop(PolicyKind::kEarliestFinish, 32, PaperCluster(), mix);
  const SimResult idle = ClosedLoop(PolicyKind::kIdleFirst, 32, PaperCluster(), mix);
  const SimResult fixed = ClosedLoop(PolicyKind::kStatic, 32, PaperCluster(), mix);
  std::printf("paper-like cluster (gpu, 2-slot cpu, fpga, npu), 4 types, 32 clients:\n");
  Print("earliest-finish", ef);
  Print("idle-first", idle);
  Print("static (gpu)", fixed);
  EXPECT_GE(ef.ratio(), 0.9);
  EXPECT_GE(ef.throughput, idle.throughput);
  EXPECT_GE(idle.throughput, fixed.throughput);
}

}  // namespace
}  // namespace heteroaccel::scheduler
