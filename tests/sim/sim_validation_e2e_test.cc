// The simulator validated against the real system: the same scenario played on
// a real server with real agents (emulated devices with lognormal service
// times) by `heteroaccel bench`'s loadgen, and simulated by sim::Simulate, at
// light load, near saturation and in overload with deadlines (504s). The two
// reports must agree: throughput within 3%, deadline attainment within 2
// points, p50 within 5% and p99 within 10%. The specialised cluster of
// examples/sim, with Poisson arrivals, with bursts and with one camera at 4x
// the others' rate, and the first cluster with a device slowing down 2x
// mid-run and with a node lost and back, are played near
// saturation and in overload. Both sides send at the same instants (the
// simulator plays the bench's schedule with the same seed),
// but near saturation the service times
// alone make one 20 s run a wide draw (at 0.85 the simulated seeds' p50
// spreads by about +-10%, the p99 by more), so those latencies are held to the
// seeds' range widened by the targets, which contains the target around the
// median.
//
// The only inputs the simulator gets beyond the scenario are the real system's
// per-request overheads, measured first in this test on one-device clusters
// (MeasureOverheads): on a device that takes no time, the round trip straight
// to an agent is the server<->agent rtt_ms and the extra of going through the
// server, played by the scenario's cameras at each point's rate, is that
// point's client_rtt_ms (0.4-0.8 ms, against ~0.12 ms one request at a time
// on an idle machine); on a device that holds every request 20 ms, kept busy,
// the time per request it finishes beyond the 20 ms (the hold's overshoot and
// the slot's own work between two requests; ~0 since an emulated device kept
// busy runs its holds back to back, 0.2-0.3 ms before) is
// service_overhead_ms. And from the run compared itself, how late the host
// ended the emulated holds (RealCluster::hold_lateness; ~0.3 ms on a quiet
// machine, more on a busy one): the answers leave that much late, so it is
// added to client_rtt_ms; and the device time the host's stalls took, added
// to service_overhead_ms. Nothing is fitted to the figures compared.
//
// The real cameras send their names (bench --camera-name), as the simulated
// ones do, so both schedulers share the devices per camera. Without the names
// the real server saw one sender and in overload answered 1-3% more than the
// prediction: which requests expire depends on that share.
//
// The real run draws its service times from the agents' own generators, not
// the simulator's, so one simulated seed is one sample of what the model
// predicts, no likelier to match than any other: near saturation the p50 of
// single seeds spreads by ~5% (45.1 to 47.3 ms over 20 seeds at 0.85). The
// prediction compared is therefore each figure's median over kSeeds seeds.
//
// Near saturation the p50 is the sensitive figure: at 0.85 load 1% more
// service time is ~0.4 ms more p50. It used to come out 3-7% above the
// prediction: an agent's slot encoded and sent each answer before it took its
// next job, 0.4-0.8 ms per request during which the device idled and which no
// reported time showed. The agent now hands that to a completion thread
// (runtime/internal/completions.h) and the busy-device measurement above counts
// what is left. Each run prints, per device and per type, the real and the
// simulated figures, to show where a difference comes from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "real_cluster.h"
#include "sim/simulator.h"

namespace heteroaccel::testing {
namespace {

// What every validation run shares: its seed, its length (as `heteroaccel
// bench --duration 20s --warmup 3s`) and the server's scheduler settings.
constexpr char kRunSettings[] = R"(
seed: 7
duration: 20s
warmup: 3s
policy: earliest-finish
queue_capacity: 256
max_attempts: 3
)";

// Three nodes, each device best at something else, service times of tens of
// milliseconds (large against the ~1 ms of HTTP overhead) spread lognormally.
// 16 cameras with 4 requests in flight each: overload builds a real queue.
constexpr char kScenario[] = R"(
name: validation
nodes:
  - name: node-a
    devices:
      - {name: gpu0, kind: gpu, slots: 1, latency_ms: {face: 20, pose: 30}, sigma: 0.25}
  - name: node-b
    devices:
      - {name: npu0, kind: npu, slots: 1, latency_ms: {face: 30, pose: 45}, sigma: 0.25}
  - name: node-c
    devices:
      - {name: gpu1, kind: gpu, slots: 1, latency_ms: {face: 45, pose: 55}, sigma: 0.25}
      - {name: gpu2, kind: gpu, slots: 1, latency_ms: {face: 45, pose: 55}, sigma: 0.25}
cameras:
  - {name: cam, count: 16, rate: 1, mix: [face, pose], arrivals: periodic, inflight: 4,
     deadline_ms: 150}
)";

// examples/sim/specialised.yaml as `heteroaccel bench` can play it: each
// device best at one type, a listed mix (cycled, not drawn), 8 requests in
// flight per camera; service times 3x the example's, so that this 2-core
// machine's HTTP work stays small against them. Its cameras are played with
// Poisson arrivals (deadline 3x) and in bursts (below).
constexpr char kSpecialisedNodes[] = R"(
nodes:
  - name: n1
    devices: [{name: gpu0, kind: gpu, slots: 1, latency_ms: {face: 30, pose: 90, text: 120}, sigma: 0.25}]
  - name: n2
    devices: [{name: npu0, kind: npu, slots: 1, latency_ms: {face: 120, pose: 30, text: 90}, sigma: 0.25}]
  - name: n3
    devices: [{name: fpga0, kind: fpga, slots: 1, latency_ms: {face: 90, pose: 120, text: 30}, sigma: 0.25}]
)";
constexpr char kPoissonCameras[] = R"(
name: specialised-poisson
cameras:
  - {name: cam, count: 5, rate: 1, mix: [face, pose, text], arrivals: poisson, inflight: 8,
     deadline_ms: 450}
)";
// As examples/sim/bursty.yaml sends, at the same 3x scale: every camera in
// step, 750 ms on at twice its average rate, 750 ms off. The deadline is 1.5x
// the example's (not 3x), so that in overload some requests expire: with 8
// requests in flight per camera the queue stays short of 3x.
constexpr char kBurstCameras[] = R"(
name: bursty
cameras:
  - {name: cam, count: 5, rate: 1, mix: [face, pose, text], arrivals: bursts, on_ms: 750,
     off_ms: 750, inflight: 8, deadline_ms: 600}
)";

// examples/sim/heavy-camera.yaml at the same 3x scale: one camera sending 4x
// each of the four others (bench --camera-weights 4,1,1,1,1), Poisson. Fair
// shares keep the light cameras' attainment when the heavy one overloads the
// cluster; the per-camera attainment and Jain's index over it are compared.
constexpr char kHeavyCameras[] = R"(
name: heavy-camera
cameras:
  - {name: heavy, rate: 4, mix: [face, pose, text], arrivals: poisson, inflight: 8,
     deadline_ms: 450}
  - {name: cam, count: 4, rate: 1, mix: [face, pose, text], arrivals: poisson, inflight: 8,
     deadline_ms: 450}
)";

// The first cluster whose fastest device slows down 2x halfway through the
// measured window (the agent's emulated device, told at that time by
// POST /v1/fleet/emulation; the simulator's device fault). The ideal, and so
// each point's rate, is the slowed cluster's.
constexpr char kSlowdown[] = R"(
faults:
  - {at: 13s, device: node-a/gpu0, slowdown: 2}
)";

// The first cluster losing a node for 4 s, 7 s into the measured window: its
// agent killed (SIGKILL: what it held is lost and retried elsewhere), then
// started again. A restarted agent needs time to start and register, which
// the simulator's down_for does not know: the prediction takes the time the
// real run measured from the kill to the server listing the node serving
// again (RealCluster::fault_timings), as it takes the measured overheads. The
// ideal is the whole cluster's (the node comes back).
constexpr char kNodeLoss[] = R"(
faults:
  - {at: 10s, node: node-b, down_for: 4s}
)";

// Seeds simulated per point (the scenario's seed and the ones after it).
constexpr int kSeeds = 9;
// With Poisson or burst arrivals: more, for the range the real run is held to
// (below). A run that is a fair draw of the model falls outside the range of n
// seeds with probability 2 / (n + 1): 10% per figure at 19 seeds, 4% at 49,
// and a scenario holds six figures to their ranges (p50, p99 and the camera
// sending most, at two loads).
constexpr int kDrawnSeeds = 49;

// The simulator's prediction: each figure's median over the seeds, and the
// range of the p50 (the spread one seed alone would carry).
struct Prediction {
  double throughput_rps, attainment, p50, p99, expired;
  double p50_low, p50_high, p99_low, p99_high;
  // The scenario's own seed's per-device and per-type figures, for the
  // diagnostic lines.
  std::map<std::string, loadgen::DeviceStats> per_device;
  std::map<std::string, loadgen::TypeStats> per_type;
  // Per camera as bench counts it, in the cameras' order: the median over
  // the seeds, the least and the most; and Jain's index over it (its median).
  struct Camera {
    double attainment, low, high;
  };
  std::vector<Camera> cameras;
  double jain_attainment;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<Prediction::Camera> PerCamera(const std::vector<std::vector<double>>& cameras) {
  std::vector<Prediction::Camera> out;
  for (const std::vector<double>& seeds : cameras) {
    const auto [low, high] = std::minmax_element(seeds.begin(), seeds.end());
    out.push_back({Median(seeds), *low, *high});
  }
  return out;
}

absl::StatusOr<Prediction> Predict(const sim::Scenario& scenario, int seeds) {
  std::vector<double> throughput, attainment, p50, p99, expired;
  std::map<std::string, loadgen::DeviceStats> per_device;
  std::map<std::string, loadgen::TypeStats> per_type;
  std::vector<std::vector<double>> cameras;  // per camera, per seed
  std::vector<double> jain;
  // The real cameras send at the instants of the scenario's seed (the bench's
  // schedule is the simulator's): every simulated seed keeps those arrivals
  // and draws its own service times.
  sim::SimOptions options;
  options.arrivals_seed = scenario.seed;
  for (int i = 0; i < seeds; ++i) {
    sim::Scenario seeded = scenario;
    seeded.seed = scenario.seed + static_cast<uint64_t>(i);
    absl::StatusOr<sim::SimReport> r = sim::Simulate(seeded, options);
    if (!r.ok()) return r.status();
    throughput.push_back(r->bench.throughput_rps);
    attainment.push_back(r->attainment);
    p50.push_back(r->bench.latency.p50);
    p99.push_back(r->bench.latency.p99);
    expired.push_back(static_cast<double>(r->expired));
    jain.push_back(r->bench.jain_attainment);
    // per_camera is keyed by name; the cameras' order is the scenario's.
    size_t c = 0;
    for (const sim::CameraSpec& spec : scenario.cameras) {
      for (const std::string& name : spec.Names()) {
        if (cameras.size() <= c) cameras.emplace_back();
        cameras[c++].push_back(r->bench.per_camera.at(name).attainment);
      }
    }
    if (i == 0) {
      per_device = r->bench.per_device;
      per_type = r->bench.per_type;
    }
  }
  return Prediction{Median(throughput),
                    Median(attainment),
                    Median(p50),
                    Median(p99),
                    Median(expired),
                    *std::min_element(p50.begin(), p50.end()),
                    *std::max_element(p50.begin(), p50.end()),
                    *std::min_element(p99.begin(), p99.end()),
                    *std::max_element(p99.begin(), p99.end()),
                    per_device,
                    per_type,
                    PerCamera(cameras),
                    Median(jain)};
}

// The devices' holds (RealCluster::hold_lateness) added up.
RealCluster::HoldLateness AllHolds(
    const std::map<std::string, RealCluster::HoldLateness>& devices) {
  RealCluster::HoldLateness all;
  for (const auto& [device, late] : devices) {
    all.holds += late.holds;
    all.late_ms += late.late_ms;
    all.lost_ms += late.lost_ms;
  }
  return all;
}

struct Comparison {
  double throughput_ratio, attainment_points, p50_ratio, p99_ratio;
};

Comparison Compare(const loadgen::BenchReport& real, const Prediction& sim) {
  return {real.throughput_rps / sim.throughput_rps, (real.attainment - sim.attainment) * 100.0,
          real.latency.p50 / sim.p50, real.latency.p99 / sim.p99};
}

std::string Describe(const std::string& name, const loadgen::BenchReport& real,
                     const Prediction& sim, const Comparison& c) {
  return absl::StrFormat(
      "%s: throughput real %.2f sim %.2f (x%.4f); attainment real %.2f%% sim %.2f%% (%+.2f pt); "
      "p50 real %.2f sim %.2f ms (x%.4f; seeds %.2f-%.2f); p99 real %.2f sim %.2f ms (x%.4f; "
      "seeds %.2f-%.2f); "
      "504 real %d sim %.0f",
      name, real.throughput_rps, sim.throughput_rps, c.throughput_ratio, real.attainment * 100,
      sim.attainment * 100, c.attainment_points, real.latency.p50, sim.p50, c.p50_ratio,
      sim.p50_low, sim.p50_high, real.latency.p99, sim.p99, c.p99_ratio, sim.p99_low, sim.p99_high,
      real.errors_by_kind.contains("504") ? real.errors_by_kind.at("504") : 0, sim.expired);
}

struct Point {
  std::string name;
  double load;  // of the ideal
};

// Plays `scenario_yaml` (with kRunSettings) at each point on one real cluster
// and simulates it; every figure must agree within its target.
void Validate(const std::string& scenario_yaml, const std::vector<Point>& points) {
  absl::StatusOr<sim::Scenario> base =
      sim::ParseScenario(absl::StrCat(scenario_yaml, kRunSettings));
  ASSERT_TRUE(base.ok()) << base.status();
  std::vector<std::string> types;
  for (const std::string& type : base->cameras.front().mix) {
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
  }

  const double ideal = sim::IdealThroughput(*base);
  ASSERT_GT(ideal, 0);
  std::printf("%s: ideal throughput %.2f req/s\n", base->name.c_str(), ideal);
  // Poisson or burst arrivals: one run is a wide draw (below).
  const bool drawn = base->cameras.front().arrivals != sim::Arrivals::kPeriodic;
  std::vector<double> rates;
  for (const Point& p : points) rates.push_back(p.load * ideal);

  // Step 1: the real system's overheads, on a device that takes no time (idle,
  // and at each point's rate with the scenario's cameras) and on one that holds.
  OverheadOptions measure;
  measure.rates = rates;
  measure.cameras = 0;
  for (const sim::CameraSpec& camera : base->cameras) measure.cameras += camera.count;
  measure.inflight = base->cameras.front().inflight.value_or(1);
  measure.arrivals = base->cameras.front().arrivals;
  measure.bursts = {base->cameras.front().on_ms, base->cameras.front().off_ms};
  absl::StatusOr<Overheads> overheads = MeasureOverheads(types, measure);
  ASSERT_TRUE(overheads.ok()) << overheads.status();
  base->rtt_ms = overheads->rtt_ms();
  base->service_overhead_ms = std::max(0.0, overheads->service_overhead_ms());
  // client_rtt_ms is each point's own (below).
  std::printf("overheads: agent round trip %.3f ms (rtt_ms), through the server %.3f ms one "
              "request at a time; a %.0f ms hold, kept busy, reported %.3f ms and finished one "
              "every %.3f ms (service_overhead_ms %.3f)\n",
              overheads->agent_round_trip_ms, overheads->server_round_trip_ms,
              Overheads::kHoldMs, overheads->hold_compute_ms, overheads->hold_occupancy_ms,
              base->service_overhead_ms);
  ASSERT_LT(overheads->server_round_trip_ms, 10.0) << "the machine is too busy to validate on";

  // Step 2: one real cluster, played at three loads.
  absl::StatusOr<std::unique_ptr<RealCluster>> cluster = RealCluster::Start(*base);
  ASSERT_TRUE(cluster.ok()) << cluster.status();

  for (size_t i = 0; i < points.size(); ++i) {
    const auto& [name, load] = points[i];
    SCOPED_TRACE(name);
    absl::StatusOr<sim::Scenario> scenario = sim::AtLoad(*base, load);
    ASSERT_TRUE(scenario.ok()) << scenario.status();
    scenario->client_rtt_ms = std::max(0.0, overheads->client_rtt_ms_at(rates[i]));
    std::printf("%s: at %.1f req/s through the server %.3f ms (client_rtt_ms %.3f)\n",
                name.c_str(), rates[i], overheads->server_round_trip_at_ms.at(rates[i]),
                scenario->client_rtt_ms);
    absl::StatusOr<loadgen::BenchReport> real = (*cluster)->Run(*scenario);
    ASSERT_TRUE(real.ok()) << real.status() << "\n" << (*cluster)->Logs();
    // A node loss as the real run played it: when the agent died, and how
    // long until the server had it serving again.
    for (const FaultTiming& t : (*cluster)->fault_timings()) {
      sim::FaultSpec& f = scenario->faults[t.fault];
      ASSERT_TRUE(t.back_ms.has_value()) << "node " << f.node << " was not back in the run";
      std::printf("  node %s lost at %.0f ms (asked %lld), serving again %.0f ms later (asked "
                  "%lld)\n",
                  f.node.c_str(), t.lost_ms, static_cast<long long>(f.at.count()),
                  *t.back_ms - t.lost_ms,
                  static_cast<long long>(f.down_for ? f.down_for->count() : -1));
      f.at = std::chrono::milliseconds(std::llround(t.lost_ms));
      f.down_for = std::chrono::milliseconds(std::llround(*t.back_ms - t.lost_ms));
    }
    // Each answer of an emulated device left after its drawn time by the
    // hold's lateness (the host waking the slot late: ~0.3 ms on a quiet
    // machine, more on a busy one). It delays the answer, not the device's
    // next hold (they run back to back), so the simulator adds it to every
    // latency, as it adds the hops: client_rtt_ms. It is measured on the run
    // compared (the overheads, before it, on other runs), and it is the host's
    // time, not anything the simulator predicts. A stall of the host beyond
    // the 5 ms a device carries over took device time too: the next hold
    // started that much later. Spread over the holds, it is service time
    // (service_overhead_ms), measured the same way.
    const RealCluster::HoldLateness holds = AllHolds((*cluster)->hold_lateness());
    const double lateness = holds.mean_ms();
    const double lost = holds.lost_per_hold_ms();
    scenario->client_rtt_ms += lateness;
    scenario->service_overhead_ms += lost;
    std::printf("%s: the emulated holds ended %.3f ms late on average (client_rtt_ms %.3f); "
                "stalls took %.3f ms of device time per hold (service_overhead_ms %.3f)\n",
                name.c_str(), lateness, scenario->client_rtt_ms, lost,
                scenario->service_overhead_ms);
    absl::StatusOr<Prediction> simulated = Predict(*scenario, drawn ? kDrawnSeeds : kSeeds);
    ASSERT_TRUE(simulated.ok()) << simulated.status();
    const Comparison c = Compare(*real, *simulated);
    const std::string line = Describe(name, *real, *simulated, c);
    std::printf("%s\n", line.c_str());
    // Where a difference comes from: each device's share of the answers and
    // its mean compute (the agent's report; the simulator's draw plus
    // service_overhead_ms) and wait on the device.
    for (const auto& real_entry : real->per_device) {
      const loadgen::DeviceStats& device = real_entry.second;
      const auto sim_device = std::find_if(
          simulated->per_device.begin(), simulated->per_device.end(),
          [&](const auto& entry) { return entry.second.device == device.device; });
      if (sim_device == simulated->per_device.end()) continue;
      const loadgen::DeviceStats& s = sim_device->second;
      RealCluster::HoldLateness late;
      if (const auto it = (*cluster)->hold_lateness().find(
              absl::StrCat(device.node, "/", device.device));
          it != (*cluster)->hold_lateness().end()) {
        late = it->second;
      }
      std::printf(
          "  %s: share real %.3f sim %.3f; compute real %.2f sim %.2f ms (x%.4f); "
          "on-device wait real %.2f sim %.2f ms; holds late by %.3f ms, %.1f ms of "
          "device time lost over %.0f holds\n",
          device.device.c_str(), device.share, s.share, device.mean_compute_ms, s.mean_compute_ms,
          device.mean_compute_ms / s.mean_compute_ms, device.mean_queue_ms, s.mean_queue_ms,
          late.mean_ms(), late.lost_ms, late.holds);
    }
    for (const auto& [type, stats] : real->per_type) {
      const auto sim_type = simulated->per_type.find(type);
      if (sim_type == simulated->per_type.end()) continue;
      std::printf("  %s: answered real %llu sim %llu; p50 real %.2f sim %.2f ms\n", type.c_str(),
                  static_cast<unsigned long long>(stats.count),
                  static_cast<unsigned long long>(sim_type->second.count), stats.latency.p50,
                  sim_type->second.latency.p50);
    }
    std::fflush(stdout);
    ::testing::Test::RecordProperty(name, line);
    // Nothing but the deadline may fail a request: no transport errors, no 429.
    for (const auto& [kind, n] : real->errors_by_kind) {
      EXPECT_EQ(kind, "504") << n << " x " << kind << ": " << real->error_examples.at(kind);
    }
    EXPECT_NEAR(c.throughput_ratio, 1.0, 0.03) << line << "\n" << loadgen::FormatTable(*real);
    EXPECT_NEAR(c.attainment_points, 0.0, 2.0) << line;
    if (!drawn) {
      EXPECT_NEAR(c.p50_ratio, 1.0, 0.05) << line;
      EXPECT_NEAR(c.p99_ratio, 1.0, 0.10) << line;
    } else {
      // One 20 s run of drawn arrivals near saturation is itself one draw of
      // a wide distribution, even with the arrivals fixed: the simulated seeds'
      // p50 spreads by about +-10% at 0.85 (docs/simulator.md), more than the
      // 5% a single run could be held to. The real run must be such a draw:
      // inside the seeds' range, widened by the target.
      EXPECT_GE(real->latency.p50, simulated->p50_low * 0.95) << line;
      EXPECT_LE(real->latency.p50, simulated->p50_high * 1.05) << line;
      EXPECT_GE(real->latency.p99, simulated->p99_low * 0.90) << line;
      EXPECT_LE(real->latency.p99, simulated->p99_high * 1.10) << line;
    }
    if (base->cameras.size() > 1) {
      // Cameras at different rates: each one's attainment as predicted (the
      // bench's cameras in the scenario's order: "cam-0" is the first entry's
      // first camera), and the fairness between them.
      std::vector<double> real_cameras;
      for (int k = 0; k < real->cameras; ++k) {
        real_cameras.push_back(
            real->per_camera.at(loadgen::ReportedCameraName(real->camera_name, k, real->cameras))
                .attainment);
      }
      ASSERT_EQ(real_cameras.size(), simulated->cameras.size());
      std::string cameras;
      for (size_t k = 0; k < real_cameras.size(); ++k) {
        absl::StrAppendFormat(&cameras, " %.2f/%.2f (seeds %.2f-%.2f)", real_cameras[k] * 100,
                              simulated->cameras[k].attainment * 100,
                              simulated->cameras[k].low * 100, simulated->cameras[k].high * 100);
      }
      std::printf("  cameras' attainment real/sim %%:%s; Jain's index real %.4f sim %.4f\n",
                  cameras.c_str(), real->jain_attainment, simulated->jain_attainment);
      // Within 3 points of the prediction, or inside the seeds' range: in
      // overload the camera sending most is where the expiries fall, and one
      // run's share of them is a draw as wide as the seeds' (heavy camera at
      // 1.5: 88.1-94.6% over 19 seeds, wider than 3 points each side).
      for (size_t k = 0; k < real_cameras.size(); ++k) {
        const Prediction::Camera& predicted = simulated->cameras[k];
        EXPECT_GE(real_cameras[k], std::min(predicted.attainment - 0.03, predicted.low))
            << "camera " << k << ":" << cameras;
        EXPECT_LE(real_cameras[k], std::max(predicted.attainment + 0.03, predicted.high))
            << "camera " << k << ":" << cameras;
      }
      EXPECT_NEAR(real->jain_attainment, simulated->jain_attainment, 0.01) << line;
    }
    if (load > 1.0) {
      // Overload: the deadline turns requests away (on both sides).
      EXPECT_GT(real->errors_by_kind["504"], 0u) << line;
      EXPECT_GT(simulated->expired, 0) << line;
    }
  }
}

// Every scenario needs the real binary (built with the tests).
class SimValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(HeteroaccelBinary())) {
      GTEST_SKIP() << "no heteroaccel binary at " << HeteroaccelBinary();
    }
  }
};

TEST_F(SimValidationTest, SimulatorMatchesTheRealClusterLightLoadedAndOverloaded) {
  Validate(kScenario, {{"light", 0.5}, {"loaded", 0.85}, {"overload", 1.5}});
}

TEST_F(SimValidationTest, SpecialisedClusterWithPoissonArrivals) {
  Validate(absl::StrCat(kSpecialisedNodes, kPoissonCameras), {{"loaded", 0.85}, {"overload", 1.5}});
}

TEST_F(SimValidationTest, SpecialisedClusterWithBursts) {
  Validate(absl::StrCat(kSpecialisedNodes, kBurstCameras), {{"loaded", 0.85}, {"overload", 1.5}});
}

TEST_F(SimValidationTest, OneCameraAtFourTimesTheOthersRate) {
  Validate(absl::StrCat(kSpecialisedNodes, kHeavyCameras), {{"loaded", 0.85}, {"overload", 1.5}});
}

TEST_F(SimValidationTest, DeviceSlowingDownMidRun) {
  Validate(absl::StrCat(kScenario, kSlowdown), {{"loaded", 0.85}, {"overload", 1.5}});
}

// Long the one scenario not run by default. With the agents' warm-up, its
// p50 at 0.85 leaned high, 1.03-1.08 over eight quiet runs (three over the 5%
// target, though inside the seeds' range), with the compute of devices the loss
// does not touch x1.03-1.05: on this one host, the restarted agent's warm-up ran
// its models on both cores while the other "nodes" served, which no simulated
// node loss does. RealCluster's agents now skip it (--no-warm-up), and the
// holds' lateness is measured in the run. Seven quiet runs since: p50 at 0.85
// x1.011-1.039 in six (seeds 52-58 ms), p99 within 4%, throughput within 2%
// and attainment within 0.9 points at both loads; in the seventh, p50 x1.059
// (seeds 53.8-57.0 ms), so it still leans high, though less.
TEST_F(SimValidationTest, NodeLostAndBackMidRun) {
  Validate(absl::StrCat(kScenario, kNodeLoss), {{"loaded", 0.85}, {"overload", 1.5}});
}

}  // namespace
}  // namespace heteroaccel::testing
