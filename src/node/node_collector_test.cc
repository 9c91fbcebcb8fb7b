#include "node/node_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "node/internal/fake_tree.h"

namespace heteroaccel::node {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kMeminfo[] =
    "MemTotal:       16318412 kB\n"
    "MemFree:         1034040 kB\n"
    "MemAvailable:   11538284 kB\n"
    "Buffers:          423468 kB\n"
    "Cached:          9614216 kB\n"
    "HugePages_Total:       0\n";

constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 3267 29 0 0 0 0 0 0 3267 29 0 0 0 0 0 0\n"
    "  eth0: 987654321012 812345 0 12 0 0 0 1402 123456789 654321 0 0 0 0 0 0\n"
    " wlan0:      100       2    0    0    0     0          0         0      200       3    0"
    "    0    0     0       0          0\n";

MATCHER_P3(IsTemperature, chip, sensor, celsius, "") {
  return arg.chip == chip && arg.sensor == sensor && arg.celsius == celsius;
}

class NodeCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteStat(100, 0, 50, 800, 50);
    proc_.Write("meminfo", kMeminfo);
    proc_.Write("net/dev", kNetDev);
  }

  // The aggregate line plus one per-CPU line; guest time (already inside user)
  // is set to a large value that must not count.
  void WriteStat(int user, int nice, int system, int idle, int iowait) {
    proc_.Write("stat", absl::StrCat("cpu  ", user, " ", nice, " ", system, " ", idle, " ", iowait,
                                     " 0 0 0 7777 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2\n"));
  }

  NodeCollector::Options Options() const {
    return {.proc_root = proc_.root().string(), .sys_root = sys_.root().string()};
  }

  std::unique_ptr<NodeCollector> MustCreate() {
    absl::StatusOr<std::unique_ptr<NodeCollector>> collector =
        NodeCollector::Create(Options(), registry_);
    EXPECT_TRUE(collector.ok()) << collector.status();
    return collector.ok() ? *std::move(collector) : nullptr;
  }

  internal::FakeTree proc_;
  internal::FakeTree sys_;
  metrics::Registry registry_;
};

TEST_F(NodeCollectorTest, CpuUtilisationBetweenTwoSnapshotsIsExact) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  // +50 user, +25 system, +200 idle, +25 iowait: 75 busy of 300 ticks.
  WriteStat(150, 0, 75, 1000, 75);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(sample->cpu_utilisation_ratio, 0.25);
  EXPECT_THAT(registry_.Render(), HasSubstr("\nheteroaccel_node_cpu_utilisation_ratio 0.25\n"));
}

TEST_F(NodeCollectorTest, FirstSampleMeasuresSinceBootAndIdleIntervalKeepsLastValue) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  // 150 busy of 1000 ticks since boot; the scrape's own sample sees no new ticks.
  EXPECT_THAT(registry_.Render(), HasSubstr("\nheteroaccel_node_cpu_utilisation_ratio 0.15\n"));
}

TEST_F(NodeCollectorTest, ParsesMeminfo) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(sample->memory_total_bytes, int64_t{16318412} * 1024);
  EXPECT_EQ(sample->memory_available_bytes, int64_t{11538284} * 1024);
  const std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("\nheteroaccel_node_memory_total_bytes 16710053888\n"));
  EXPECT_THAT(text, HasSubstr("\nheteroaccel_node_memory_available_bytes 11815202816\n"));
}

TEST_F(NodeCollectorTest, ParsesNetDevAndSkipsLoopback) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_THAT(
      sample->interfaces,
      ElementsAre(AllOf(Field(&Interface::name, "eth0"), Field(&Interface::rx_bytes, 987654321012),
                        Field(&Interface::tx_bytes, 123456789)),
                  AllOf(Field(&Interface::name, "wlan0"), Field(&Interface::rx_bytes, 100),
                        Field(&Interface::tx_bytes, 200))));
  const std::string text = registry_.Render();
  EXPECT_THAT(text,
              HasSubstr("# TYPE heteroaccel_node_network_receive_bytes_total counter\n"
                        "heteroaccel_node_network_receive_bytes_total{device=\"eth0\"} "
                        "987654321012\n"
                        "heteroaccel_node_network_receive_bytes_total{device=\"wlan0\"} 100\n"));
  EXPECT_THAT(text,
              HasSubstr("heteroaccel_node_network_transmit_bytes_total{device=\"wlan0\"} 200\n"));
  EXPECT_THAT(text, Not(HasSubstr("device=\"lo\"")));
}

TEST_F(NodeCollectorTest, VanishedInterfaceStopsBeingExported) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  EXPECT_THAT(registry_.Render(), HasSubstr("device=\"wlan0\""));
  proc_.Write("net/dev", "Inter-|\n face |\n  eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n");
  const std::string text = registry_.Render();
  EXPECT_THAT(text, Not(HasSubstr("device=\"wlan0\"")));
  EXPECT_THAT(text,
              HasSubstr("heteroaccel_node_network_transmit_bytes_total{device=\"eth0\"} 2\n"));
}

TEST_F(NodeCollectorTest, ReadsHwmonAndThermalZoneTemperatures) {
  sys_.Write("class/hwmon/hwmon0/name", "coretemp\n");
  sys_.Write("class/hwmon/hwmon0/temp1_input", "45000\n");
  sys_.Write("class/hwmon/hwmon0/temp1_label", "Package id 0\n");
  sys_.Write("class/hwmon/hwmon0/temp2_input", "43500\n");    // no label: "temp2"
  sys_.Write("class/hwmon/hwmon0/temp2_max", "100000\n");     // not an input
  sys_.Write("class/hwmon/hwmon0/temp3_input", "garbage\n");  // unreadable: skipped
  sys_.Write("class/hwmon/hwmon1/name", "nvme\n");
  sys_.Write("class/hwmon/hwmon1/temp1_input", "38850\n");
  sys_.Write("class/hwmon/hwmon1/temp1_label", "Composite\n");
  sys_.Write("class/thermal/thermal_zone0/type", "x86_pkg_temp\n");
  sys_.Write("class/thermal/thermal_zone0/temp", "-5500\n");
  sys_.Write("class/thermal/cooling_device0/type", "Processor\n");
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_THAT(sample->temperatures,
              ElementsAre(IsTemperature("coretemp", "Package id 0", 45.0),
                          IsTemperature("coretemp", "temp2", 43.5),
                          IsTemperature("nvme", "Composite", 38.85),
                          IsTemperature("thermal_zone0", "x86_pkg_temp", -5.5)));
  EXPECT_THAT(registry_.Render(),
              HasSubstr("# TYPE heteroaccel_node_temperature_celsius gauge\n"
                        "heteroaccel_node_temperature_celsius{chip=\"coretemp\","
                        "sensor=\"Package id 0\"} 45\n"
                        "heteroaccel_node_temperature_celsius{chip=\"coretemp\",sensor=\"temp2\"} "
                        "43.5\n"
                        "heteroaccel_node_temperature_celsius{chip=\"nvme\",sensor=\"Composite\"} "
                        "38.85\n"
                        "heteroaccel_node_temperature_celsius{chip=\"thermal_zone0\","
                        "sensor=\"x86_pkg_temp\"} -5.5\n"));
}

TEST_F(NodeCollectorTest, MaxTemperatureIsTheHottestSensor) {
  sys_.Write("class/hwmon/hwmon0/name", "coretemp\n");
  sys_.Write("class/hwmon/hwmon0/temp1_input", "45000\n");
  sys_.Write("class/hwmon/hwmon1/name", "nvme\n");
  sys_.Write("class/hwmon/hwmon1/temp1_input", "61250\n");
  sys_.Write("class/thermal/thermal_zone0/type", "acpitz\n");
  sys_.Write("class/thermal/thermal_zone0/temp", "27800\n");
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(sample->MaxTemperatureCelsius(), 61.25);
  EXPECT_EQ(NodeSample{}.MaxTemperatureCelsius(), std::nullopt);
}

TEST_F(NodeCollectorTest, RecentReusesAYoungSampleWhoeverTookIt) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<NodeCollector>> collector =
      NodeCollector::Create(Options(), registry_, clock);
  ASSERT_TRUE(collector.ok()) << collector.status();
  // Create's sample (150 busy of 1000 ticks since boot) is still young.
  WriteStat(150, 0, 75, 1000, 75);
  absl::StatusOr<NodeSample> recent = (*collector)->Recent(std::chrono::seconds(1));
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(recent->cpu_utilisation_ratio, 0.15);
  // Once it is older than asked for, Recent samples: 75 busy of 300 ticks.
  clock.Advance(std::chrono::milliseconds(1001));
  recent = (*collector)->Recent(std::chrono::seconds(1));
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(recent->cpu_utilisation_ratio, 0.25);
  // A scrape's sample counts as the latest, and Recent returns it without
  // reading the node again.
  clock.Advance(std::chrono::seconds(5));
  WriteStat(200, 0, 100, 1050, 100);  // 75 busy of 150 ticks
  EXPECT_THAT(registry_.Render(), HasSubstr("\nheteroaccel_node_cpu_utilisation_ratio 0.5\n"));
  WriteStat(300, 0, 100, 1050, 100);  // would be 1.0 if sampled again
  recent = (*collector)->Recent(std::chrono::seconds(1));
  ASSERT_TRUE(recent.ok()) << recent.status();
  EXPECT_EQ(recent->cpu_utilisation_ratio, 0.5);
}

TEST_F(NodeCollectorTest, RecentFailsLikeSampleWhenNothingYoungIsLeft) {
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<NodeCollector>> collector =
      NodeCollector::Create(Options(), registry_, clock);
  ASSERT_TRUE(collector.ok()) << collector.status();
  std::filesystem::remove(proc_.Path("meminfo"));
  EXPECT_TRUE((*collector)->Recent(std::chrono::seconds(1)).ok());  // still young
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ((*collector)->Recent(std::chrono::seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(NodeCollectorTest, RepeatedChipNamesAndLabelsStayDistinct) {
  for (const char* dir : {"hwmon2", "hwmon10"}) {
    sys_.Write(absl::StrCat("class/hwmon/", dir, "/name"), "nvme\n");
    sys_.Write(absl::StrCat("class/hwmon/", dir, "/temp1_input"), "30000\n");
    sys_.Write(absl::StrCat("class/hwmon/", dir, "/temp1_label"), "Composite\n");
    sys_.Write(absl::StrCat("class/hwmon/", dir, "/temp2_input"), "31000\n");
    sys_.Write(absl::StrCat("class/hwmon/", dir, "/temp2_label"), "Composite\n");
  }
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_THAT(sample->temperatures, ElementsAre(IsTemperature("nvme_hwmon10", "Composite", 30.0),
                                                IsTemperature("nvme_hwmon10", "temp2", 31.0),
                                                IsTemperature("nvme_hwmon2", "Composite", 30.0),
                                                IsTemperature("nvme_hwmon2", "temp2", 31.0)));
}

TEST_F(NodeCollectorTest, MissingSensorsMeanNoTemperatureSeriesAndNoError) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_THAT(sample->temperatures, IsEmpty());
  EXPECT_THAT(registry_.Render(), Not(HasSubstr("temperature")));
}

TEST_F(NodeCollectorTest, RemovedSensorStopsBeingExported) {
  sys_.Write("class/thermal/thermal_zone0/type", "acpitz\n");
  sys_.Write("class/thermal/thermal_zone0/temp", "27800\n");
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  EXPECT_THAT(registry_.Render(), HasSubstr("sensor=\"acpitz\"} 27.8\n"));
  std::filesystem::remove_all(sys_.Path("class/thermal/thermal_zone0"));
  EXPECT_THAT(registry_.Render(), Not(HasSubstr("temperature")));
}

TEST_F(NodeCollectorTest, MissingNetDevMeansNoInterfaces) {
  std::filesystem::remove(proc_.Path("net/dev"));
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  absl::StatusOr<NodeSample> sample = collector->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_THAT(sample->interfaces, IsEmpty());
}

TEST_F(NodeCollectorTest, CreateFailsWithoutProcStat) {
  std::filesystem::remove(proc_.Path("stat"));
  absl::StatusOr<std::unique_ptr<NodeCollector>> collector =
      NodeCollector::Create(Options(), registry_);
  EXPECT_EQ(collector.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(collector.status().message(), HasSubstr("stat"));
}

TEST_F(NodeCollectorTest, CreateFailsOnMalformedMeminfo) {
  proc_.Write("meminfo", "MemFree: 12 kB\n");
  absl::StatusOr<std::unique_ptr<NodeCollector>> collector =
      NodeCollector::Create(Options(), registry_);
  EXPECT_EQ(collector.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(collector.status().message(), HasSubstr("MemTotal"));
}

TEST_F(NodeCollectorTest, CreateFailsWhenNamesClash) {
  registry_.AddCounter("heteroaccel_node_network_receive_bytes_total", "Other.", {"iface"});
  absl::StatusOr<std::unique_ptr<NodeCollector>> collector =
      NodeCollector::Create(Options(), registry_);
  EXPECT_EQ(collector.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(NodeCollectorTest, FailedSamplesAreCountedAndKeepLastValues) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  std::filesystem::remove(proc_.Path("meminfo"));
  absl::StatusOr<NodeSample> sample = collector->Sample();
  EXPECT_EQ(sample.status().code(), absl::StatusCode::kNotFound);
  const std::string text = registry_.Render();  // its hook fails once more
  EXPECT_THAT(text, HasSubstr("\nheteroaccel_node_sample_errors_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nheteroaccel_node_memory_total_bytes 16710053888\n"));
}

TEST_F(NodeCollectorTest, HookDoesNothingAfterCollectorIsDestroyed) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  collector.reset();
  WriteStat(150, 0, 75, 1000, 75);
  EXPECT_THAT(registry_.Render(), HasSubstr("\nheteroaccel_node_cpu_utilisation_ratio 0.15\n"));
}

TEST_F(NodeCollectorTest, ConcurrentSamplesAndRenders) {
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(collector->Sample().ok());
        EXPECT_THAT(registry_.Render(), HasSubstr("heteroaccel_node_memory_total_bytes"));
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST_F(NodeCollectorTest, RenderedNodeMetricsPassPromtool) {
  FILE* which = popen("which promtool 2>/dev/null", "r");
  char path[512] = {};
  const bool found = which != nullptr && fgets(path, sizeof(path), which) != nullptr;
  if (which != nullptr) pclose(which);
  if (!found) GTEST_SKIP() << "promtool not installed";
  std::string promtool(path);
  promtool.erase(promtool.find_last_not_of('\n') + 1);

  sys_.Write("class/hwmon/hwmon0/name", "coretemp\n");
  sys_.Write("class/hwmon/hwmon0/temp1_input", "45000\n");
  sys_.Write("class/hwmon/hwmon0/temp1_label", "Core \"0\"\\\n");
  auto collector = MustCreate();
  ASSERT_NE(collector, nullptr);
  internal::FakeTree out;
  out.Write("node.prom", registry_.Render());
  FILE* pipe = popen(
      (promtool + " check metrics < '" + out.Path("node.prom").string() + "' 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "");
}

TEST(NodeCollectorRealTest, SamplesThisHost) {
  metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<NodeCollector>> collector = NodeCollector::Create({}, registry);
  ASSERT_TRUE(collector.ok()) << collector.status();
  absl::StatusOr<NodeSample> sample = (*collector)->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_GT(sample->memory_total_bytes, 0);
  EXPECT_GE(sample->memory_available_bytes, 0);
  EXPECT_GE(sample->cpu_utilisation_ratio, 0.0);
  EXPECT_LE(sample->cpu_utilisation_ratio, 1.0);
  EXPECT_TRUE(registry.registration_status().ok());
  EXPECT_THAT(registry.Render(), HasSubstr("heteroaccel_node_memory_total_bytes "));
}

}  // namespace
}  // namespace heteroaccel::node
