#include "metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace heteroaccel::metrics {
namespace {

using ::testing::HasSubstr;

TEST(RegistryTest, RendersCountersAndGaugesExactly) {
  Registry registry;
  auto& requests =
      registry.AddCounter("heteroaccel_requests_total", "Requests served.", {"model", "code"});
  auto& temperature = registry.AddGauge("heteroaccel_temp_celsius", "Temperature.", {});
  requests.WithLabels({"resnet", "200"}).Increment(3);
  requests.WithLabels({"resnet", "404"}).Increment();
  requests.WithLabels({"bert", "200"}).Increment(0.5);
  temperature.WithLabels({}).Set(41.25);

  EXPECT_TRUE(registry.registration_status().ok());
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_requests_total Requests served.\n"
            "# TYPE heteroaccel_requests_total counter\n"
            "heteroaccel_requests_total{model=\"bert\",code=\"200\"} 0.5\n"
            "heteroaccel_requests_total{model=\"resnet\",code=\"200\"} 3\n"
            "heteroaccel_requests_total{model=\"resnet\",code=\"404\"} 1\n"
            "# HELP heteroaccel_temp_celsius Temperature.\n"
            "# TYPE heteroaccel_temp_celsius gauge\n"
            "heteroaccel_temp_celsius 41.25\n");
}

TEST(RegistryTest, FamilyWithoutLabelsIsExportedBeforeFirstUpdate) {
  Registry registry;
  registry.AddCounter("heteroaccel_errors_total", "Errors.", {});
  registry.AddGauge("heteroaccel_queue_depth", "Labelled, so absent until used.", {"device"});
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_errors_total Errors.\n"
            "# TYPE heteroaccel_errors_total counter\n"
            "heteroaccel_errors_total 0\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  auto& gauge = registry.AddGauge("heteroaccel_x", "Line one\nback\\slash \"quoted\"", {"path"});
  gauge.WithLabels({"C:\\dir\n\"q\""}).Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_x Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE heteroaccel_x gauge\n"
            "heteroaccel_x{path=\"C:\\\\dir\\n\\\"q\\\"\"} 1\n");
}

TEST(RegistryTest, HistogramBucketsAreCumulative) {
  Registry registry;
  auto& latency =
      registry.AddHistogram("heteroaccel_latency_seconds", "Latency.", {"model"}, {0.005, 0.1, 1});
  auto& h = latency.WithLabels({"resnet"});
  h.Observe(0.005);  // on a bound: counts in that bucket (le is inclusive)
  h.Observe(0.05);
  h.Observe(0.0625);
  h.Observe(2);
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_latency_seconds Latency.\n"
            "# TYPE heteroaccel_latency_seconds histogram\n"
            "heteroaccel_latency_seconds_bucket{model=\"resnet\",le=\"0.005\"} 1\n"
            "heteroaccel_latency_seconds_bucket{model=\"resnet\",le=\"0.1\"} 3\n"
            "heteroaccel_latency_seconds_bucket{model=\"resnet\",le=\"1\"} 3\n"
            "heteroaccel_latency_seconds_bucket{model=\"resnet\",le=\"+Inf\"} 4\n"
            "heteroaccel_latency_seconds_sum{model=\"resnet\"} 2.1175\n"
            "heteroaccel_latency_seconds_count{model=\"resnet\"} 4\n");
}

TEST(HistogramTest, SnapshotIsCumulativeAndInfEqualsCount) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.5, 1.5, 3.0, 8.0, -1.0}) h.Observe(v);
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.cumulative_counts.back(), s.count);
  EXPECT_DOUBLE_EQ(s.sum, 13.5);
}

TEST(HistogramTest, NanLandsInInfBucket) {
  Histogram h({1});
  h.Observe(std::nan(""));
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{0, 1}));
  EXPECT_TRUE(std::isnan(s.sum));
}

TEST(RegistryTest, HistogramWithoutLabelsAcceptsTrailingInf) {
  Registry registry;
  registry.AddHistogram("heteroaccel_size_bytes", "Size.", {}, {10, INFINITY})
      .WithLabels({})
      .Observe(3);
  EXPECT_TRUE(registry.registration_status().ok());
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_size_bytes Size.\n"
            "# TYPE heteroaccel_size_bytes histogram\n"
            "heteroaccel_size_bytes_bucket{le=\"10\"} 1\n"
            "heteroaccel_size_bytes_bucket{le=\"+Inf\"} 1\n"
            "heteroaccel_size_bytes_sum 3\n"
            "heteroaccel_size_bytes_count 1\n");
}

TEST(FamilyTest, WithLabelsReturnsStableReference) {
  Registry registry;
  auto& family = registry.AddCounter("heteroaccel_a_total", "A.", {"x"});
  Counter& first = family.WithLabels({"1"});
  family.WithLabels({"2"});
  family.WithLabels({"3"});
  EXPECT_EQ(&family.WithLabels({"1"}), &first);
}

TEST(FamilyTest, WrongNumberOfValuesIsPaddedOrTrimmed) {
  Registry registry;
  auto& family = registry.AddCounter("heteroaccel_a_total", "A.", {"x", "y"});
  family.WithLabels({"1"}).Increment();                 // y=""
  family.WithLabels({"1", "2", "extra"}).Increment(2);  // extra dropped
  EXPECT_EQ(&family.WithLabels({"1"}), &family.WithLabels({"1", ""}));
  EXPECT_EQ(&family.WithLabels({"1", "2", "3"}), &family.WithLabels({"1", "2"}));
  EXPECT_EQ(family.WithLabels({"1", "2"}).Value(), 2);
  EXPECT_THAT(registry.Render(), HasSubstr("heteroaccel_a_total{x=\"1\",y=\"\"} 1\n"));
}

TEST(FamilyTest, RemoveStopsExportingChild) {
  Registry registry;
  auto& family = registry.AddGauge("heteroaccel_g", "G.", {"device"});
  family.WithLabels({"eth0"}).Set(1);
  family.WithLabels({"eth1"}).Set(2);
  family.Remove({"eth0"});
  family.Remove({"never-created"});
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_g G.\n"
            "# TYPE heteroaccel_g gauge\n"
            "heteroaccel_g{device=\"eth1\"} 2\n");
  family.Remove({"eth1"});
  EXPECT_EQ(registry.Render(), "");
}

TEST(CounterTest, IgnoresNegativeAndNanIncrements) {
  Counter c;
  c.Increment(2);
  c.Increment(-1);
  c.Increment(std::nan(""));
  EXPECT_EQ(c.Value(), 2);
  c.SetTotal(1e12);
  EXPECT_EQ(c.Value(), 1e12);
}

TEST(GaugeTest, SetAndAdd) {
  Gauge g;
  g.Set(5);
  g.Add(-7.5);
  EXPECT_EQ(g.Value(), -2.5);
}

TEST(RegistryTest, RejectsCounterWithoutTotalSuffix) {
  Registry registry;
  auto& bad = registry.AddCounter("heteroaccel_requests", "No suffix.", {});
  bad.WithLabels({}).Increment();  // still usable
  EXPECT_EQ(registry.registration_status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(registry.registration_status().message(), HasSubstr("must end in _total"));
  EXPECT_EQ(registry.Render(), "");
}

TEST(RegistryTest, RejectsInvalidNamesLabelsAndBuckets) {
  struct Case {
    std::function<void(Registry&)> add;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](Registry& r) { r.AddGauge("bad-name", "", {}); }, "invalid metric name"},
      {[](Registry& r) { r.AddGauge("g", "", {"__x"}); }, "invalid label name"},
      {[](Registry& r) {
         r.AddGauge("g", "", {"a", "a"});
       },
       "duplicate label name"},
      {[](Registry& r) { r.AddHistogram("h", "", {"le"}, {1}); }, "invalid label name"},
      {[](Registry& r) {
         r.AddHistogram("h", "", {}, {2, 1});
       },
       "strictly ascending"},
      {[](Registry& r) {
         r.AddHistogram("h", "", {}, {1, 1});
       },
       "strictly ascending"},
      {[](Registry& r) { r.AddHistogram("h", "", {}, {std::nan("")}); }, "finite"},
  };
  for (const Case& c : cases) {
    Registry registry;
    c.add(registry);
    EXPECT_EQ(registry.registration_status().code(), absl::StatusCode::kInvalidArgument)
        << c.message;
    EXPECT_THAT(registry.registration_status().message(), HasSubstr(c.message));
    EXPECT_EQ(registry.Render(), "");
  }
}

TEST(RegistryTest, SameRegistrationTwiceReturnsSameFamily) {
  Registry registry;
  auto& a = registry.AddHistogram("heteroaccel_h", "H.", {"m"}, {1, 2});
  auto& b = registry.AddHistogram("heteroaccel_h", "H.", {"m"}, {1, 2, INFINITY});
  EXPECT_EQ(&a, &b);
  EXPECT_TRUE(registry.registration_status().ok());
}

TEST(RegistryTest, ClashingRegistrationIsRejected) {
  Registry registry;
  registry.AddGauge("heteroaccel_x", "X.", {"a"}).WithLabels({"1"}).Set(1);
  auto& clash = registry.AddGauge("heteroaccel_x", "X.", {"b"});
  clash.WithLabels({"2"}).Set(2);
  EXPECT_EQ(registry.registration_status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Render(),
            "# HELP heteroaccel_x X.\n"
            "# TYPE heteroaccel_x gauge\n"
            "heteroaccel_x{a=\"1\"} 1\n");
}

TEST(RegistryTest, CollectHooksRunBeforeEachRender) {
  Registry registry;
  auto& gauge = registry.AddGauge("heteroaccel_renders", "Renders.", {});
  int calls = 0;
  registry.AddCollectHook([&] { gauge.WithLabels({}).Set(++calls); });
  EXPECT_THAT(registry.Render(), HasSubstr("heteroaccel_renders 1\n"));
  EXPECT_THAT(registry.Render(), HasSubstr("heteroaccel_renders 2\n"));
}

TEST(ExponentialBucketsTest, GrowsByFactor) {
  EXPECT_EQ(ExponentialBuckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
  EXPECT_TRUE(ExponentialBuckets(0, 2, 4).empty());
  EXPECT_TRUE(ExponentialBuckets(1, 1, 4).empty());
  EXPECT_TRUE(ExponentialBuckets(1, 2, 0).empty());
}

TEST(ConcurrencyTest, IncrementAndObserveFromFourThreadsSumExactly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200000;
  Registry registry;
  auto& counters = registry.AddCounter("heteroaccel_c_total", "C.", {"k"});
  auto& histograms = registry.AddHistogram("heteroaccel_h", "H.", {"k"}, {0.25, 1});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread looks the child up itself, so creation races too.
      Counter& counter = counters.WithLabels({"shared"});
      Histogram& histogram = histograms.WithLabels({"shared"});
      for (int i = 0; i < kPerThread; ++i) {
        counter.Increment();
        histogram.Observe(i % 2 == 0 ? 0.5 : 2.0);  // exact in binary, so sums are exact
      }
      counters.WithLabels({"thread" + std::to_string(t)}).Increment(kPerThread);
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(counters.WithLabels({"shared"}).Value(), kThreads * kPerThread);
  const Histogram::Snapshot s = histograms.WithLabels({"shared"}).Read();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{0, s.count / 2, s.count}));
  EXPECT_EQ(s.sum, kThreads * kPerThread / 2 * 2.5);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(counters.WithLabels({"thread" + std::to_string(t)}).Value(), kPerThread);
  }
}

TEST(ConcurrencyTest, RenderWhileUpdating) {
  Registry registry;
  auto& family = registry.AddHistogram("heteroaccel_h", "H.", {"k"}, {1});
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) family.WithLabels({std::to_string(i % 50)}).Observe(i);
  });
  for (int i = 0; i < 200; ++i) {
    const std::string text = registry.Render();
    EXPECT_TRUE(text.empty() || text.starts_with("# HELP heteroaccel_h H.\n"));
  }
  stop = true;
  writer.join();
}

// Runs `command` through the shell and returns its exit status and output.
std::pair<int, std::string> RunShell(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, output};
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(PromtoolTest, RenderedRegistryPassesCheckMetrics) {
  auto [which_status, promtool] = RunShell("which promtool 2>/dev/null");
  if (which_status != 0 || promtool.empty()) GTEST_SKIP() << "promtool not installed";
  promtool.erase(promtool.find_last_not_of('\n') + 1);

  Registry registry;
  auto& requests = registry.AddCounter("heteroaccel_requests_total",
                                       "Requests \"served\".\nBy model.", {"model", "code"});
  requests.WithLabels({"res\\net", "200"}).Increment(7);
  requests.WithLabels({"quote\"d\nnewline", "500"}).Increment();
  registry.AddCounter("heteroaccel_errors_total", "Errors.", {});
  auto& gauge = registry.AddGauge("heteroaccel_queue_depth", "Queued requests.", {"device"});
  gauge.WithLabels({"gpu0"}).Set(3);
  gauge.WithLabels({"inf"}).Set(INFINITY);
  gauge.WithLabels({"nan"}).Set(std::nan(""));
  gauge.WithLabels({"tiny"}).Set(5e-324);
  auto& latency = registry.AddHistogram("heteroaccel_request_duration_seconds", "Latency.",
                                        {"model"}, ExponentialBuckets(0.001, 2, 12));
  for (double v : {0.0005, 0.003, 0.2, 9.0}) latency.WithLabels({"resnet"}).Observe(v);
  registry.AddHistogram("heteroaccel_batch_size", "Batch size.", {}, {1, 2, 4, 8})
      .WithLabels({})
      .Observe(3);
  ASSERT_TRUE(registry.registration_status().ok()) << registry.registration_status();

  const std::string path =
      testing::TempDir() + "/metrics_promtool_test_" + std::to_string(getpid()) + ".prom";
  {
    std::ofstream file(path, std::ios::binary);
    file << registry.Render();
  }
  const auto [status, output] = RunShell(promtool + " check metrics < '" + path + "' 2>&1");
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << registry.Render();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace heteroaccel::metrics
