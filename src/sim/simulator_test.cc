#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "sim/internal/arrivals.h"

namespace heteroaccel::sim {
namespace {

Scenario OneDevice(double rate, double latency_ms) {
  auto s = ParseScenario(
      "name: tiny\nduration: 10s\nwarmup: 1s\nrtt_ms: 1\nclient_rtt_ms: 0.5\n"
      "nodes: [{name: n, devices: [{name: d, kind: gpu, latency_ms: {face: " +
      std::to_string(latency_ms) +
      "}}]}]\n"
      "cameras: [{name: cam, rate: " +
      std::to_string(rate) + ", mix: [face], deadline_ms: 100}]\n");
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

// The exactly-once identity over every request of a run whose window covers it.
void ExpectEveryRequestEndedOnce(const SimReport& r) {
  EXPECT_EQ(static_cast<uint64_t>(r.offered), r.requests_total);
  EXPECT_EQ(r.offered,
            r.good + r.late + r.expired + r.refused + r.lost_retried + r.unfinished);
}

TEST(SimulateTest, BenchReportCountsEachCameraAsBenchDoes) {
  // One camera at 4x the other's rate, on a device they overload together.
  auto s = ParseScenario(
      "name: two\nduration: 10s\nwarmup: 1s\n"
      "nodes: [{name: n, devices: [{name: d, kind: gpu, latency_ms: {face: 10}}]}]\n"
      "cameras:\n"
      "  - {name: heavy, rate: 96, mix: [face], arrivals: poisson, deadline_ms: 40}\n"
      "  - {name: cam, count: 2, rate: 24, mix: [face], arrivals: poisson, deadline_ms: 40}\n");
  ASSERT_TRUE(s.ok()) << s.status();
  auto r = Simulate(*s);
  ASSERT_TRUE(r.ok()) << r.status();
  const loadgen::BenchReport& b = r->bench;
  ASSERT_EQ(b.per_camera.size(), 3u);
  uint64_t requests = 0, succeeded = 0, within = 0;
  std::vector<double> attainments;
  for (const std::string name : {"heavy", "cam-0", "cam-1"}) {
    ASSERT_TRUE(b.per_camera.contains(name)) << name;
    const loadgen::CameraStats& c = b.per_camera.at(name);
    requests += c.requests;
    succeeded += c.succeeded;
    within += c.within_deadline;
    EXPECT_DOUBLE_EQ(c.attainment, static_cast<double>(c.within_deadline) /
                                       static_cast<double>(c.requests));
    attainments.push_back(c.attainment);
  }
  EXPECT_EQ(requests, b.requests);
  EXPECT_EQ(succeeded, b.succeeded);
  EXPECT_EQ(within, b.within_deadline);
  EXPECT_NEAR(static_cast<double>(b.per_camera.at("heavy").requests) /
                  static_cast<double>(b.per_camera.at("cam-0").requests),
              4, 0.6);
  // Overloaded (144 req/s on 100): the cameras do not all attain alike.
  EXPECT_LT(b.per_camera.at("heavy").attainment, 1.0);
  EXPECT_DOUBLE_EQ(b.jain_attainment, JainIndex(attainments));
  EXPECT_LT(b.jain_attainment, 1.0);
}

TEST(SimulateTest, OneDeviceWithoutQueueingIsHandComputable) {
  // 50 req/s on one 10 ms device: no request waits; latency = 10 ms + rtt 1 ms
  // + client rtt 0.5 ms. The ideal is 1 / 10 ms = 100 req/s.
  auto r = Simulate(OneDevice(50, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->ideal_rps, 100, 1e-6);
  EXPECT_NEAR(r->bench.latency.p50, 11.5, 1e-3);
  EXPECT_NEAR(r->bench.latency.p99, 11.5, 1e-3);
  EXPECT_NEAR(r->bench.throughput_rps, 50, 0.2);
  EXPECT_EQ(r->bench.errors, 0u);
  EXPECT_EQ(r->bench.late, 0u);
  EXPECT_EQ(r->offered, 500);  // 10 s x 50 req/s arriving in the window
  EXPECT_EQ(r->good, 500);
  EXPECT_DOUBLE_EQ(r->attainment, 1.0);
  EXPECT_NEAR(r->goodput_rps, 50, 1e-9);
  ASSERT_EQ(r->bench.per_device.size(), 1u);
  EXPECT_NEAR(r->bench.per_device.at("n/d").mean_compute_ms, 10, 1e-6);
  EXPECT_EQ(r->bench.per_device.at("n/d").device_kind, "gpu");
}

TEST(SimulateTest, ABoundedCameraUnderOverloadSendsLateLikeBench) {
  // 200 req/s asked of a 10 ms device with one request outstanding per camera:
  // each request takes 11 ms round trip, so about 91 req/s go through and the
  // rest are sent late, none refused.
  auto r = Simulate(OneDevice(200, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->bench.throughput_rps, 1000.0 / 11, 1.0);
  // Sends in the window whose due time fell in the warm-up are not late ones.
  EXPECT_GT(r->bench.late, 700u);
  EXPECT_EQ(r->bench.errors, 0u);
}

TEST(SimulateTest, ExpiresWhatCannotMeetItsDeadline) {
  Scenario s = OneDevice(200, 10);
  s.cameras[0].inflight = 0;  // open loop: the queue grows past the deadline
  s.warmup = std::chrono::milliseconds(0);
  auto r = Simulate(s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->expired + r->refused, 0);
  EXPECT_GT(r->bench.errors_by_kind["504"] + r->bench.errors_by_kind["429"], 0u);
  EXPECT_NEAR(r->bench.throughput_rps, 100, 3);
  ExpectEveryRequestEndedOnce(*r);
}

constexpr const char* kFaulty = R"(
name: faulty
seed: 3
duration: 20s
warmup: 0s
max_attempts: 3
nodes:
  - name: a
    devices: [{name: gpu, kind: gpu, slots: 2, latency_ms: {face: 20, pose: 30}, sigma: 0.3}]
  - name: b
    devices: [{name: gpu, kind: gpu, slots: 2, latency_ms: {face: 25, pose: 35}, sigma: 0.3}]
  - name: c
    count: 2
    devices: [{name: cpu, kind: cpu, slots: 1, latency_ms: {face: 80, pose: 90}, sigma: 0.3}]
cameras:
  - {name: cam, count: 6, rate: 8, mix: [face, pose], arrivals: poisson}
  - {name: slo, count: 2, rate: 5, mix: {face: 1, pose: 3}, arrivals: bursts, deadline_ms: 400}
faults:
  - {at: 5s, node: a, down_for: 5s}
  - {at: 8s, node: c, down_for: 1s}
  - {at: 12s, device: b/gpu, slowdown: 2}
  - {at: 15s, node: c-1}
)";

TEST(SimulateTest, EveryRequestEndsExactlyOnceUnderNodeFaults) {
  auto s = ParseScenario(kFaulty);
  ASSERT_TRUE(s.ok()) << s.status();
  auto r = Simulate(*s);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEveryRequestEndedOnce(*r);
  EXPECT_GT(r->offered, 1000);
  EXPECT_EQ(r->unfinished, 0);
  EXPECT_GT(r->good, r->offered * 9 / 10);
}

TEST(SimulateTest, RequestsOfALostNodeRetryElsewhere) {
  auto s = ParseScenario(
      "duration: 4s\nwarmup: 0s\n"
      "nodes: [{name: a, devices: [{name: d, latency_ms: {face: 100}}]},\n"
      "        {name: b, devices: [{name: d, latency_ms: {face: 100}}]}]\n"
      "cameras: [{name: cam, count: 4, rate: 4, mix: [face], inflight: 0}]\n"
      "faults: [{at: 1050ms, node: a}]\n");
  ASSERT_TRUE(s.ok()) << s.status();
  auto r = Simulate(*s);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEveryRequestEndedOnce(*r);
  // Nothing is lost: what node a held ran again on b.
  EXPECT_EQ(r->good, r->offered);
  EXPECT_EQ(r->lost_retried, 0);
  EXPECT_GT(r->bench.per_device.at("b/d").count, r->bench.per_device.at("a/d").count * 2);

  // With one attempt allowed, the requests node a held are given up (503).
  s->max_attempts = 1;
  auto once = Simulate(*s);
  ASSERT_TRUE(once.ok()) << once.status();
  ExpectEveryRequestEndedOnce(*once);
  EXPECT_GT(once->lost_retried, 0);
  EXPECT_GT(once->bench.errors_by_kind["503"], 0u);
}

TEST(SimulateTest, SameSeedSameEventLogOtherSeedDiffers) {
  auto s = ParseScenario(kFaulty);
  ASSERT_TRUE(s.ok());
  std::ostringstream log1, log2;
  auto a = Simulate(*s, {&log1});
  auto b = Simulate(*s, {&log2});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->event_log_hash, b->event_log_hash);
  EXPECT_EQ(log1.str(), log2.str());
  EXPECT_GT(a->events, 3'000u);
  const std::string text = log1.str();
  EXPECT_EQ(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), a->events);
  s->seed = 4;
  auto c = Simulate(*s);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->event_log_hash, a->event_log_hash);
  // Logging changes nothing.
  s->seed = 3;
  auto d = Simulate(*s);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->event_log_hash, a->event_log_hash);
}

TEST(SimulateTest, SlowdownRaisesLatency) {
  Scenario s = OneDevice(20, 10);
  auto before = Simulate(s);
  s.faults.push_back({std::chrono::milliseconds(0), "", std::nullopt, "n/d", 3});
  auto after = Simulate(s);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_NEAR(after->bench.latency.p50, 31.5, 1e-3);
  EXPECT_NEAR(after->ideal_rps, 100.0 / 3, 1e-6);
}

TEST(SimulateTest, ServiceOverheadLengthensEveryServiceNotTheIdeal) {
  // The slot's own 2 ms per request: 12 ms of service + rtt 1 ms + client rtt
  // 0.5 ms. The ideal stays the profiles' (as the real server computes it).
  Scenario s = OneDevice(50, 10);
  s.service_overhead_ms = 2;
  auto r = Simulate(s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->bench.latency.p50, 13.5, 1e-3);
  EXPECT_NEAR(r->bench.per_device.at("n/d").mean_compute_ms, 12, 1e-6);
  EXPECT_NEAR(r->ideal_rps, 100, 1e-6);
}

TEST(ArrivalsTest, PeriodicStreamsFollowBenchsOpenLoopRule) {
  // `heteroaccel bench --cameras 4 --rate 20 --mix face,pose,text`: camera i sends
  // request k at period x (i / 4 + k) for mix[(i + k) % 3].
  auto s = ParseScenario(
      "nodes: [{name: n, devices: [{name: d, latency_ms: {face: 1, pose: 1, text: 1}}]}]\n"
      "cameras: [{name: cam, count: 4, rate: 5, mix: [face, pose, text]}]\n");
  ASSERT_TRUE(s.ok()) << s.status();
  const std::vector<std::string> types = {"face", "pose", "text"};
  std::vector<std::string> names;
  const auto streams = internal::ExpandStreams(*s, types, names);
  ASSERT_EQ(streams.size(), 4u);
  EXPECT_EQ(names, (std::vector<std::string>{"cam-0", "cam-1", "cam-2", "cam-3"}));
  const std::vector<std::string> mix = {"face", "pose", "text"};
  const std::chrono::duration<double> period(4 / 20.0);
  for (uint32_t i = 0; i < 4; ++i) {
    loadgen::StreamSchedule schedule = internal::Schedule(streams[i], 4, 1);
    for (uint64_t k = 0; k < 50; ++k) {
      const auto first = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          period * static_cast<double>(i) / 4);
      const auto due = first + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   period * static_cast<double>(k));
      const int64_t got = schedule.Next().count();
      EXPECT_EQ(got, std::chrono::nanoseconds(due).count()) << i << " " << k;
      EXPECT_EQ(types[internal::TypeOf(streams[i], 1, k)], mix[(i + k) % 3]);
    }
  }
}

TEST(ArrivalsTest, PoissonRateIsKept) {
  auto s = ParseScenario(
      "nodes: [{name: n, devices: [{name: d, latency_ms: {face: 1}}]}]\n"
      "cameras: [{name: cam, rate: 50, mix: [face], arrivals: poisson}]\n");
  ASSERT_TRUE(s.ok());
  std::vector<std::string> names;
  const auto streams = internal::ExpandStreams(*s, {"face"}, names);
  loadgen::StreamSchedule schedule = internal::Schedule(streams[0], 1, 9);
  int64_t t = 0;
  const int n = 20000;
  for (int k = 0; k < n; ++k) t = schedule.Next().count();
  EXPECT_NEAR(n / (static_cast<double>(t) * 1e-9), 50, 1.5);
}

// Each simulated stream sends at the instants `heteroaccel bench` sends its
// stream of that index with the same seed (loadgen::StreamSchedule), whatever
// the arrival process: the engine's arrival events are those due times.
TEST(ArrivalsTest, EveryStreamArrivesOnTheBenchSchedule) {
  for (const char* arrivals : {"periodic", "poisson", "bursts"}) {
    auto s = ParseScenario(absl::StrCat(
        "name: light\nseed: 17\nduration: 4s\nwarmup: 0s\n"
        "nodes: [{name: n, devices: [{name: d, latency_ms: {face: 1}}]}]\n"
        "cameras: [{name: cam, count: 3, rate: 12, mix: [face], inflight: 2, arrivals: ",
        arrivals, ", on_ms: 100, off_ms: 300}]\n"));
    ASSERT_TRUE(s.ok()) << s.status();
    std::ostringstream log;
    SimOptions options;
    options.event_log = &log;
    ASSERT_TRUE(Simulate(*s, options).ok());
    std::map<uint32_t, std::vector<int64_t>> simulated;
    std::istringstream in(log.str());
    for (std::string line; std::getline(in, line);) {
      const size_t at = line.find(" arrive stream=");
      if (at == std::string::npos) continue;
      simulated[static_cast<uint32_t>(std::stoul(line.substr(at + 15)))].push_back(
          std::stoll(line.substr(0, at)));
    }
    ASSERT_EQ(simulated.size(), 6u) << arrivals;
    const loadgen::Arrivals kind = *loadgen::ParseArrivals(arrivals);
    for (const auto& [stream, times] : simulated) {
      loadgen::StreamSchedule bench(kind, 12.0 / 2, stream, 6, 17, {100, 300});
      ASSERT_GT(times.size(), 5u) << arrivals;
      for (const int64_t t : times) {
        ASSERT_EQ(t, bench.Next().count()) << arrivals << " stream " << stream;
      }
    }
  }
}

TEST(ArrivalsTest, ArrivalsSeedFixesWhatTheCamerasSendWhileServiceTimesVary) {
  Scenario s = OneDevice(50, 10);
  s.cameras[0].arrivals = Arrivals::kPoisson;
  s.nodes[0].devices[0].sigma = 0.3;
  SimOptions fixed;
  fixed.arrivals_seed = 5;
  std::ostringstream a_log, b_log, c_log;
  Scenario a = s, b = s;
  a.seed = 1;
  b.seed = 2;
  fixed.event_log = &a_log;
  ASSERT_TRUE(Simulate(a, fixed).ok());
  fixed.event_log = &b_log;
  ASSERT_TRUE(Simulate(b, fixed).ok());
  SimOptions free;
  free.event_log = &c_log;
  ASSERT_TRUE(Simulate(b, free).ok());
  // The same arrivals: the same instants of arrival in both logs.
  const auto arrivals = [](const std::string& log) {
    std::vector<std::string> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find(" arrive ") != std::string::npos) out.push_back(line);
    }
    return out;
  };
  ASSERT_FALSE(arrivals(a_log.str()).empty());
  EXPECT_EQ(arrivals(a_log.str()), arrivals(b_log.str()));
  EXPECT_NE(a_log.str(), b_log.str()) << "service times drawn from each scenario seed";
  EXPECT_NE(arrivals(b_log.str()), arrivals(c_log.str())) << "unset: the scenario's seed";
}

TEST(SimulateTest, JsonAndTableCarryTheSloFields) {
  auto r = Simulate(OneDevice(50, 10));
  ASSERT_TRUE(r.ok());
  const nlohmann::json j = ToJson(*r);
  EXPECT_EQ(j["offered"], 500);
  EXPECT_EQ(j["bench"]["succeeded"], r->bench.succeeded);
  EXPECT_TRUE(j.contains("event_log_hash"));
  const std::string table = FormatReport(*r);
  EXPECT_NE(table.find("goodput"), std::string::npos);
  EXPECT_NE(table.find("Jain"), std::string::npos);
}

TEST(AtLoadTest, ScalesToAMultipleOfTheIdeal) {
  auto s = AtLoad(OneDevice(50, 10), 0.8);
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(s->cameras[0].rate, 80, 1e-9);
  EXPECT_EQ(AtLoad(OneDevice(50, 10), 0).status().code(), absl::StatusCode::kInvalidArgument);
}


}  // namespace
}  // namespace heteroaccel::sim
