#include "runtime/executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "absl/synchronization/notification.h"
#include "testing/fake_model.h"
#include "testing/metrics_text.h"
#include "testing/threads.h"

namespace heteroaccel::runtime {
namespace {

std::string Png(int width, int height) {
  std::vector<uchar> buffer;
  cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(1, 2, 3)), buffer);
  return std::string(buffer.begin(), buffer.end());
}

RuntimeDevice Cpu(std::string id, int slots) {
  RuntimeDevice d;
  d.device.id = std::move(id);
  d.device.kind = devices::DeviceKind::kCpu;
  d.device.name = "test cpu";
  d.slots = slots;
  return d;
}

// An emulated NPU "npu0" holding "thing" `seconds` (other types: `others`).
RuntimeDevice EmulatedNpu(double seconds, double others = 0.01, int slots = 1) {
  RuntimeDevice d = Cpu("npu0", slots);
  d.device.kind = devices::DeviceKind::kNpu;
  d.device.emulated = true;
  d.emulation = Emulation{{{"thing", seconds}}, others, true};
  return d;
}

// Collects job outcomes from any thread.
class Results {
 public:
  std::function<void(absl::StatusOr<JobResult>)> Callback() {
    return [this](absl::StatusOr<JobResult> r) {
      absl::MutexLock lock(&mu_);
      results_.push_back(std::move(r));
    };
  }
  std::vector<absl::StatusOr<JobResult>> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return results_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return results_;
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::StatusOr<JobResult>> results_ ABSL_GUARDED_BY(mu_);
};

class ExecutorTest : public ::testing::Test {
 protected:
  void Start(std::vector<RuntimeDevice> devices, int queue_capacity = 4) {
    ExecutorOptions options;
    options.queue_capacity = queue_capacity;
    options.warm_up = false;
    auto executor =
        Executor::Create(options, std::move(devices), catalog_, registry_, SystemClock());
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = std::move(*executor);
    executor_->Start();
    ASSERT_TRUE(executor_->WaitReady(std::chrono::seconds(10)));
  }

  Job MakeJob(std::string model, std::string device = "") {
    Job job;
    job.model = std::move(model);
    job.device_id = std::move(device);
    job.image.encoded = png_;
    job.done = results_.Callback();
    return job;
  }

  std::shared_ptr<testing::Gate> gate_ = std::make_shared<testing::Gate>();
  inference::Catalog catalog_{{testing::FakeModelSpec("thing", gate_)}};
  metrics::Registry registry_;
  std::string png_ = Png(40, 30);
  Results results_;
  std::unique_ptr<Executor> executor_;
};

TEST_F(ExecutorTest, RunsJobAndReportsWhereAndHowLong) {
  Start({Cpu("cpu0", 1)});
  executor_->Submit(MakeJob("thing"));
  auto results = results_.WaitFor(1);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->device_id, "cpu0");
  EXPECT_EQ(results[0]->device_kind, "cpu");
  EXPECT_EQ(results[0]->variant, "fake");
  EXPECT_EQ(results[0]->output.image_width, 40);
  EXPECT_GE(results[0]->compute_seconds, 0.0);
  EXPECT_NE(registry_.Render().find(
                "heteroaccel_inferences_total{model=\"thing\",variant=\"fake\",device=\"cpu0\","
                "outcome=\"success\"} 1"),
            std::string::npos);
}

TEST_F(ExecutorTest, AVariantLoadedAfterStartIsServedAndAJobRunningFinishesOnTheOldModel) {
  Start({Cpu("cpu0", 1)});
  gate_->Close();
  executor_->Submit(MakeJob("thing"));  // holds the slot on the old model
  ASSERT_TRUE(gate_->WaitEntered(1, absl::Seconds(10)));
  executor_->Submit(MakeJob("thing"));  // queued behind it
  // A replacement for the same key, and a new variant of the type.
  auto open_gate = std::make_shared<testing::Gate>();
  open_gate->Open();
  inference::ModelSpec replacement = testing::FakeModelSpec("thing", open_gate);
  inference::ModelSpec added = testing::FakeModelSpec("thing", open_gate);
  added.variant = "added";
  EXPECT_TRUE(catalog_.Put(replacement));
  EXPECT_FALSE(catalog_.Put(added));
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gate_->Open();  // the running job ends; the slot loads before its next job
  });
  auto loaded = executor_->LoadVariant("thing", "added", std::chrono::seconds(10));
  auto replaced = executor_->LoadVariant("thing", "fake", std::chrono::seconds(10));
  opener.join();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ(*loaded, std::vector<std::string>{"cpu0"});
  auto first = results_.WaitFor(2);
  ASSERT_EQ(first.size(), 2u);
  for (const auto& r : first) EXPECT_TRUE(r.ok()) << r.status();
  // The running job stayed on the old model; the queued one ran on whichever the slot
  // had when it came to it.
  EXPECT_GE(gate_->entered(), 1);
  EXPECT_TRUE(executor_->CanRun("thing", "added"));
  Job job = MakeJob("thing");
  job.variant = "added";
  gate_->Close();  // the old model would block: the new one must answer
  executor_->Submit(std::move(job));
  auto all = results_.WaitFor(3);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(all[2].ok()) << all[2].status();
  EXPECT_EQ(all[2]->variant, "added");
  gate_->Open();
}

TEST_F(ExecutorTest, AVariantThatFailsToLoadIsAnErrorNamingTheDevice) {
  Start({Cpu("cpu0", 1)});
  inference::ModelSpec broken = testing::FakeModelSpec("thing", gate_);
  broken.variant = "broken";
  broken.create = [](const inference::ModelOptions&) -> absl::StatusOr<std::unique_ptr<inference::Model>> {
    return absl::FailedPreconditionError("model file x.onnx is missing");
  };
  catalog_.Put(broken);
  auto loaded = executor_->LoadVariant("thing", "broken", std::chrono::seconds(10));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("cpu0: model file x.onnx is missing"),
            std::string::npos)
      << loaded.status();
  EXPECT_FALSE(executor_->CanRun("thing", "broken"));
  EXPECT_TRUE(executor_->CanRun("thing", "fake"));
}

TEST_F(ExecutorTest, SlotThreadsAreNamedAfterTheirDevice) {
  Start({Cpu("cpu0", 2)});
  const std::vector<std::string> names = testing::ThreadNames();
  for (const char* slot : {"slot:cpu0:0", "slot:cpu0:1"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), slot), names.end()) << slot;
  }
}

TEST_F(ExecutorTest, UnknownModelAndDeviceAreNotFound) {
  Start({Cpu("cpu0", 1)});
  executor_->Submit(MakeJob("nope"));
  executor_->Submit(MakeJob("thing", "gpu7"));
  auto results = results_.WaitFor(2);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(results[0].status().message().find("available: thing"), std::string::npos);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(results[1].status().message().find("this node has: cpu0"), std::string::npos);
}

TEST_F(ExecutorTest, UndecodableImageIsInvalidArgument) {
  Start({Cpu("cpu0", 1)});
  Job job = MakeJob("thing");
  job.image.encoded = "GIF89a....";
  executor_->Submit(std::move(job));
  auto results = results_.WaitFor(1);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ExecutorTest, FullQueuesAreResourceExhaustedAndNothingIsLost) {
  Start({Cpu("cpu0", 1)}, /*queue_capacity=*/2);
  gate_->Close();
  executor_->Submit(MakeJob("thing"));
  ASSERT_TRUE(gate_->WaitEntered(1, absl::Seconds(10)));  // slot busy, queue empty
  for (int i = 0; i < 5; ++i) executor_->Submit(MakeJob("thing"));
  auto rejected = results_.WaitFor(3);
  ASSERT_EQ(rejected.size(), 3u);
  for (const auto& r : rejected) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(r.status().message().find("full queues"), std::string::npos);
  }
  gate_->Open();
  auto all = results_.WaitFor(6);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const auto& r) { return r.ok(); }), 3);
}

TEST_F(ExecutorTest, PrefersTheIdleDevice) {
  Start({Cpu("cpu0", 1), Cpu("cpu1", 1)});
  gate_->Close();
  executor_->Submit(MakeJob("thing", "cpu0"));
  ASSERT_TRUE(gate_->WaitEntered(1, absl::Seconds(10)));
  executor_->Submit(MakeJob("thing"));  // cpu0 is busy: must go to cpu1
  ASSERT_TRUE(gate_->WaitEntered(2, absl::Seconds(10)));
  gate_->Open();
  auto results = results_.WaitFor(2);
  ASSERT_EQ(results.size(), 2u);
  std::vector<std::string> devices = {results[0]->device_id, results[1]->device_id};
  std::sort(devices.begin(), devices.end());
  EXPECT_EQ(devices, (std::vector<std::string>{"cpu0", "cpu1"}));
}

TEST_F(ExecutorTest, StopAnswersQueuedJobsWithUnavailable) {
  Start({Cpu("cpu0", 1)});
  gate_->Close();
  executor_->Submit(MakeJob("thing"));
  ASSERT_TRUE(gate_->WaitEntered(1, absl::Seconds(10)));
  executor_->Submit(MakeJob("thing"));
  executor_->Submit(MakeJob("thing"));
  std::thread opener([&] {
    absl::SleepFor(absl::Milliseconds(50));
    gate_->Open();
  });
  executor_->Stop();
  opener.join();
  auto results = results_.WaitFor(3);
  ASSERT_EQ(results.size(), 3u);
  int unavailable = 0;
  for (const auto& r : results) {
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
      ++unavailable;
    }
  }
  EXPECT_EQ(unavailable, 2);
}

TEST_F(ExecutorTest, EmulatedDeviceHoldsItsSlotForTheProfileAndReusesResults) {
  RuntimeDevice npu = EmulatedNpu(0.05);
  Start({npu});
  executor_->Submit(MakeJob("thing"));
  results_.WaitFor(1);
  executor_->Submit(MakeJob("thing"));
  auto results = results_.WaitFor(2);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->emulated);
    EXPECT_EQ(r->device_kind, "npu");
    EXPECT_GE(r->compute_seconds, 0.05);
  }
  EXPECT_FALSE(results[0]->result_reused);
  EXPECT_TRUE(results[1]->result_reused);
  EXPECT_EQ(gate_->entered(), 1);  // the model ran once
}

TEST_F(ExecutorTest, EmulatedHoldsAreTheDevicesDrawnServiceTimesInOrder) {
  RuntimeDevice npu = EmulatedNpu(0.02);
  npu.emulation->sigma = 0.5;
  Start({npu}, /*queue_capacity=*/16);
  // The same device name seeds the same sequence: one slot takes the jobs in
  // submission order, so job k holds for the k-th draw. They were all waiting,
  // so the holds run back to back: each may start up to the carried host time
  // (5 ms) before this thread took it, and together they take the draws' sum.
  EmulatedLatency expected(*npu.emulation, "npu0");
  constexpr int kJobs = 8;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kJobs; ++i) executor_->Submit(MakeJob("thing"));
  auto results = results_.WaitFor(kJobs);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(results.size(), static_cast<size_t>(kJobs));
  double smallest = 1e9, largest = 0, draws = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    const double draw = expected.Draw("thing");
    EXPECT_GE(r->compute_seconds, draw - 0.005 - 1e-4);
    EXPECT_LT(r->compute_seconds, draw + 0.1);  // a sleep's overshoot on a busy machine
    smallest = std::min(smallest, draw);
    largest = std::max(largest, draw);
    draws += draw;
  }
  EXPECT_GT(largest / smallest, 1.2);  // sigma 0.5: eight equal draws would be a broken generator
  EXPECT_GE(elapsed, draws - 1e-4);    // never faster than the device
  EXPECT_LT(elapsed, draws + 0.1);
}

TEST_F(ExecutorTest, AnEmulatedDeviceKeptBusyRunsItsHoldsBackToBack) {
  // 200 holds of 1 ms, all waiting: the device finishes them in 200 ms of its
  // own time, whatever the host adds between two of them (the sleep's late
  // wake-up, taking the next job: 0.05-0.1 ms each on an idle machine, so
  // 10-20 ms in all without the carry, more on a loaded one). With it, only
  // the first job's start and the last one's wake-up add (~0.5 ms), and the
  // device time a stall beyond the carry took, which the lost-time counter
  // states: a round is judged without it. The best of five rounds, so that a
  // late last wake-up does not decide.
  RuntimeDevice npu = EmulatedNpu(0.001, 0.001);
  Start({npu}, /*queue_capacity=*/256);
  const auto lost_seconds = [&] {
    return testing::MetricValue(registry_.Render(),
                                "heteroaccel_emulated_hold_lost_seconds_total{device=\"npu0\"}")
        .value_or(0);
  };
  constexpr int kJobs = 200;
  double best = 1e9;
  constexpr int kRounds = 5;
  for (int round = 1; round <= kRounds; ++round) {
    const double lost_before = lost_seconds();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kJobs; ++i) executor_->Submit(MakeJob("thing"));
    auto results = results_.WaitFor(static_cast<size_t>(round * kJobs));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(results.size(), static_cast<size_t>(round * kJobs));
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GE(elapsed, 0.2);  // never faster than the device
    best = std::min(best, elapsed - (lost_seconds() - lost_before));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // idle between rounds
  }
  EXPECT_LT(best, 0.2 + 0.007);
  EXPECT_NEAR(executor_->Snapshot()[0].busy_seconds, 0.2 * kRounds, 0.02 * kRounds);

  // A job that arrives after the device went idle starts when it arrives.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  executor_->Submit(MakeJob("thing"));
  auto results = results_.WaitFor(kRounds * kJobs + 1);
  ASSERT_EQ(results.size(), static_cast<size_t>(kRounds * kJobs + 1));
  ASSERT_TRUE(results.back().ok());
  EXPECT_GE(results.back()->compute_seconds, 0.001);
}

TEST(EmulatedLatencyTest, ASlowdownScalesLaterDrawsUntilItIsLifted) {
  Emulation emulation{{{"face", 0.04}}, 0.01, true};
  emulation.sigma = 0.25;
  EmulatedLatency plain(emulation, "gpu0"), slowed(emulation, "gpu0");
  EXPECT_EQ(slowed.slowdown(), 1.0);
  EXPECT_EQ(plain.Draw("face"), slowed.Draw("face"));
  slowed.SetSlowdown(2);
  EXPECT_EQ(slowed.slowdown(), 2.0);
  for (int i = 0; i < 20; ++i) EXPECT_DOUBLE_EQ(slowed.Draw("face"), 2 * plain.Draw("face"));
  slowed.SetSlowdown(1);
  EXPECT_EQ(plain.Draw("face"), slowed.Draw("face"));
}

TEST_F(ExecutorTest, AnEmulatedDeviceCanBeSlowedDownAndRestoredWhileItServes) {
  RuntimeDevice npu = EmulatedNpu(0.03);
  Start({npu, Cpu("cpu0", 1)});
  EXPECT_NE(registry_.Render().find("heteroaccel_emulated_slowdown{device=\"npu0\"} 1\n"),
            std::string::npos);
  executor_->Submit(MakeJob("thing", "npu0"));
  auto results = results_.WaitFor(1);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_LT(results[0]->compute_seconds, 0.03 + 0.05);

  absl::StatusOr<double> previous = executor_->SetEmulatedSlowdown("npu0", 4);
  ASSERT_TRUE(previous.ok()) << previous.status();
  EXPECT_EQ(*previous, 1.0);
  EXPECT_EQ(executor_->Snapshot()[0].slowdown, 4.0);
  EXPECT_EQ(executor_->Snapshot()[1].slowdown, 1.0);  // not emulated: always 1
  EXPECT_NE(registry_.Render().find("heteroaccel_emulated_slowdown{device=\"npu0\"} 4\n"),
            std::string::npos);
  executor_->Submit(MakeJob("thing", "npu0"));
  results = results_.WaitFor(2);
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_GE(results[1]->compute_seconds, 0.12);

  previous = executor_->SetEmulatedSlowdown("npu0", 1);
  ASSERT_TRUE(previous.ok());
  EXPECT_EQ(*previous, 4.0);
  executor_->Submit(MakeJob("thing", "npu0"));
  results = results_.WaitFor(3);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_LT(results[2]->compute_seconds, 0.12);

  // Only an emulated device, within bounds; the factor stays as it was.
  EXPECT_EQ(executor_->SetEmulatedSlowdown("cpu0", 2).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(executor_->SetEmulatedSlowdown("gpu9", 2).status().code(),
            absl::StatusCode::kNotFound);
  for (const double bad : {0.0, -1.0, 1000.0, std::nan("")}) {
    EXPECT_EQ(executor_->SetEmulatedSlowdown("npu0", bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(executor_->Snapshot()[0].slowdown, 1.0);
}

TEST_F(ExecutorTest, EmulatedDeviceServesOnlyItsTypes) {
  RuntimeDevice npu = Cpu("npu0", 1);
  npu.device.emulated = true;
  npu.emulation = Emulation{{{"thing", 0.001}}, 0.001, true};
  npu.emulation->types = std::vector<std::string>{"other"};
  Start({npu});
  EXPECT_FALSE(executor_->CanRun("thing"));
  executor_->Submit(MakeJob("thing"));
  auto results = results_.WaitFor(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(results[0].status().message().find("no device on this node can run 'thing/fake'"),
            std::string::npos)
      << results[0].status();
  EXPECT_TRUE(executor_->Snapshot()[0].variants.empty());
}

TEST(EmulatedLatencyTest, SigmaZeroHoldsTheProfileExactly) {
  EmulatedLatency latency(Emulation{{{"face", 0.03}}, 0.01, true}, "gpu0");
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(latency.Draw("face"), 0.03);
    EXPECT_EQ(latency.Draw("pose"), 0.01);
  }
}

TEST(EmulatedLatencyTest, DrawsKeepTheMeanAndSpreadLognormallyBySigma) {
  for (const double sigma : {0.1, 0.25, 1.0}) {
    Emulation emulation{{{"face", 0.04}}, 0.01, true};
    emulation.sigma = sigma;
    EmulatedLatency latency(emulation, "gpu0");
    constexpr int kDraws = 200'000;
    std::vector<double> draws;
    double sum = 0, log_sum = 0, log_squares = 0;
    for (int i = 0; i < kDraws; ++i) {
      const double d = latency.Draw("face");
      ASSERT_GT(d, 0);
      draws.push_back(d);
      sum += d;
      log_sum += std::log(d);
      log_squares += std::log(d) * std::log(d);
    }
    const double mean = sum / kDraws;
    const double log_mean = log_sum / kDraws;
    const double log_sd = std::sqrt(log_squares / kDraws - log_mean * log_mean);
    // The mean is the profile's (standard error sigma-ish/sqrt(n): well under 1%).
    EXPECT_NEAR(mean, 0.04, 0.04 * 0.01) << sigma;
    EXPECT_NEAR(log_sd, sigma, sigma * 0.01) << sigma;
    // The median sits at mean * exp(-sigma^2 / 2), the p99 at exp(2.326 sigma) above it.
    std::sort(draws.begin(), draws.end());
    const double median = draws[kDraws / 2];
    const double p99 = draws[kDraws * 99 / 100];
    EXPECT_NEAR(median, 0.04 * std::exp(-sigma * sigma / 2), 0.04 * 0.01 * (1 + sigma)) << sigma;
    EXPECT_NEAR(std::log(p99 / median), 2.326 * sigma, 0.03 * sigma) << sigma;
  }
}

TEST(EmulatedLatencyTest, TheDeviceNameSeedsTheSequence) {
  Emulation emulation{{{"face", 0.04}}, 0.01, true};
  emulation.sigma = 0.25;
  EmulatedLatency a(emulation, "gpu0"), b(emulation, "gpu0"), c(emulation, "gpu1");
  int differ = 0;
  for (int i = 0; i < 50; ++i) {
    const double first = a.Draw("face");
    EXPECT_EQ(first, b.Draw("face"));
    differ += first != c.Draw("face") ? 1 : 0;
  }
  EXPECT_EQ(differ, 50);
}

TEST_F(ExecutorTest, EmulatedHoldCountsAsBusyTimeSummedOverSlots) {
  RuntimeDevice npu = EmulatedNpu(0.05, 0.01, 2);
  Start({npu, Cpu("cpu0", 1)});
  for (const DeviceState& d : executor_->Snapshot()) EXPECT_EQ(d.busy_seconds, 0.0);
  EXPECT_NE(registry_.Render().find("heteroaccel_device_busy_seconds_total{device=\"npu0\","
                                    "kind=\"npu\",emulated=\"true\"} 0\n"),
            std::string::npos);
  for (int i = 0; i < 4; ++i) executor_->Submit(MakeJob("thing", "npu0"));
  auto results = results_.WaitFor(4);
  ASSERT_EQ(results.size(), 4u);
  double computed = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    computed += r->compute_seconds;
  }
  const std::vector<DeviceState> devices = executor_->Snapshot();
  ASSERT_EQ(devices.size(), 2u);
  const DeviceState& state = devices[0];
  ASSERT_EQ(state.slots.size(), 2u);
  // Four holds of 50 ms, whichever slots took them; each slot's share adds up.
  // A slot's second hold started when its first was due to end (back to back):
  // its busy time starts where the first one's ended, so none of the device's
  // time is lost between them, and none is counted twice.
  EXPECT_GE(state.busy_seconds, 0.2);
  EXPECT_LT(state.busy_seconds, 0.2 + 0.5);
  EXPECT_NEAR(state.busy_seconds, computed, 1e-9);  // added up in another order
  EXPECT_DOUBLE_EQ(state.slots[0].busy_seconds + state.slots[1].busy_seconds, state.busy_seconds);
  EXPECT_EQ(devices[1].busy_seconds, 0.0);  // cpu0 ran nothing
  const std::string text = registry_.Render();
  const std::optional<double> metric = testing::MetricValue(
      text,
      "heteroaccel_device_busy_seconds_total{device=\"npu0\",kind=\"npu\",emulated=\"true\"}");
  ASSERT_TRUE(metric.has_value()) << text;
  EXPECT_NEAR(*metric, state.busy_seconds, 1e-9);
  EXPECT_NE(text.find("heteroaccel_device_busy_seconds_total{device=\"cpu0\",kind=\"cpu\","
                      "emulated=\"false\"} 0\n"),
            std::string::npos);
}

TEST_F(ExecutorTest, EmulatedHoldsCountHowLateTheHostEndedThemAndTheDeviceTimeAStallTook) {
  RuntimeDevice npu = EmulatedNpu(0.002);
  Start({npu, Cpu("cpu0", 1)});
  // The first hold of 2 ms is held up 30 ms by its own computation (the gate),
  // as a stalled host would hold it; the second job already waits. The device
  // carries 5 ms over, no more: the second hold starts 25 ms late, and that
  // device time is lost. Its input is the first's, so it computes nothing.
  gate_->Close();
  executor_->Submit(MakeJob("thing", "npu0"));
  executor_->Submit(MakeJob("thing", "npu0"));
  ASSERT_TRUE(gate_->WaitEntered(1, absl::Seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  gate_->Open();
  executor_->Submit(MakeJob("thing", "cpu0"));
  auto results = results_.WaitFor(3);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = registry_.Render();
  // One observation per hold, of the emulated device only: the first ended
  // 28 ms late or more, the second 3 ms (it started 5 ms back, for 2 ms).
  EXPECT_EQ(testing::MetricValue(
                text, "heteroaccel_emulated_hold_lateness_seconds_count{device=\"npu0\"}"),
            2.0)
      << text;
  EXPECT_EQ(testing::MetricValue(
                text, "heteroaccel_emulated_hold_lateness_seconds_count{device=\"cpu0\"}"),
            std::nullopt);
  const double late =
      testing::MetricValue(text, "heteroaccel_emulated_hold_lateness_seconds_sum{device=\"npu0\"}")
          .value_or(-1);
  EXPECT_GE(late, 0.031);
  EXPECT_LT(late, 0.031 + 0.05);
  const double lost =
      testing::MetricValue(text, "heteroaccel_emulated_hold_lost_seconds_total{device=\"npu0\"}")
          .value_or(-1);
  EXPECT_GE(lost, 0.023);
  EXPECT_LT(lost, 0.023 + 0.05);
  EXPECT_EQ(
      testing::MetricValue(text, "heteroaccel_emulated_hold_lost_seconds_total{device=\"cpu0\"}"),
      std::nullopt);
}

TEST_F(ExecutorTest, FailedRunsCountAsBusyToo) {
  Start({Cpu("cpu0", 1)});
  Job job = MakeJob("thing");
  job.image.encoded = "GIF89a....";  // the slot takes it, then fails to decode it
  executor_->Submit(std::move(job));
  auto results = results_.WaitFor(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInvalidArgument);
  const DeviceState state = executor_->Snapshot()[0];
  EXPECT_GT(state.busy_seconds, 0.0);
  EXPECT_EQ(state.busy_seconds, state.slots[0].busy_seconds);
}

TEST_F(ExecutorTest, FailureStreakCountsDeviceFailuresAndASuccessEndsIt) {
  Start({Cpu("cpu0", 1)});
  Job bad_input = MakeJob("thing");
  bad_input.image.encoded = "GIF89a....";  // the request's own fault: not counted
  executor_->Submit(std::move(bad_input));
  ASSERT_EQ(results_.WaitFor(1).size(), 1u);
  EXPECT_EQ(executor_->Snapshot()[0].slots[0].failure_streak, 0);
  gate_->SetFailing(true);
  for (int i = 0; i < 3; ++i) executor_->Submit(MakeJob("thing"));
  auto results = results_.WaitFor(4);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(executor_->Snapshot()[0].slots[0].failure_streak, 3);
  gate_->SetFailing(false);
  executor_->Submit(MakeJob("thing"));
  ASSERT_EQ(results_.WaitFor(5).size(), 5u);
  EXPECT_EQ(executor_->Snapshot()[0].slots[0].failure_streak, 0);
}

TEST(ExecutorCreateTest, RejectsBadOptions) {
  metrics::Registry registry;
  inference::Catalog catalog{{}};
  EXPECT_EQ(Executor::Create({}, {}, catalog, registry, SystemClock()).status().code(),
            absl::StatusCode::kInvalidArgument);
  RuntimeDevice d = Cpu("cpu0", 0);
  auto s = Executor::Create({}, {d}, catalog, registry, SystemClock()).status();
  EXPECT_NE(s.message().find("slots must be 1..256"), std::string::npos);
  d = Cpu("gpu0", 1);
  d.emulation = Emulation{};
  d.emulation->sigma = 2.5;
  s = Executor::Create({}, {d}, catalog, registry, SystemClock()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("latency sigma must be 0..2, got 2.5"), std::string::npos) << s;
}

// Whether a slot that has its next job waiting starts it before the previous
// job's answer has been delivered: the first job's answer waits (up to `wait`)
// for the second job to be answered, which can only happen first if the slot
// went on to the second job meanwhile.
class AnswerHandOffTest : public ExecutorTest {
 protected:
  bool SecondAnsweredBeforeFirst(RuntimeDevice device, absl::Duration wait) {
    Start({std::move(device)});
    gate_->Close();
    absl::Notification second_answered;
    bool second_first = false;
    Job first = MakeJob("thing");
    first.done = [&, record = results_.Callback()](absl::StatusOr<JobResult> r) {
      second_first = second_answered.WaitForNotificationWithTimeout(wait);
      record(std::move(r));
    };
    Job second = MakeJob("thing");
    second.done = [&, record = results_.Callback()](absl::StatusOr<JobResult> r) {
      record(std::move(r));
      second_answered.Notify();
    };
    executor_->Submit(std::move(first));
    EXPECT_TRUE(gate_->WaitEntered(1, absl::Seconds(10)));
    executor_->Submit(std::move(second));  // waits behind the first
    gate_->Open();
    auto results = results_.WaitFor(2);
    EXPECT_EQ(results.size(), 2u);
    for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(gate_->entered(), 2);
    return second_first;
  }
};

TEST_F(AnswerHandOffTest, AnAcceleratorStartsItsNextJobWhileTheAnswerIsDelivered) {
  RuntimeDevice gpu = Cpu("gpu0", 1);
  gpu.device.kind = devices::DeviceKind::kGpu;
  EXPECT_TRUE(SecondAnsweredBeforeFirst(gpu, absl::Seconds(10)));
}

TEST_F(AnswerHandOffTest, AHostCpuAnswersOnItsOwnThreadBeforeTheNextJob) {
  // Its compute is on the host's cores: handing the answer off would only add
  // a wake-up, so the slot delivers it before it starts the next job.
  EXPECT_FALSE(SecondAnsweredBeforeFirst(Cpu("cpu0", 1), absl::Milliseconds(300)));
}

}  // namespace
}  // namespace heteroaccel::runtime
