#include "node/node_facts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/internal/fake_tree.h"

namespace heteroaccel::node {
namespace {

using ::testing::HasSubstr;

class ReadNodeFactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("proc/meminfo", "MemTotal:        7999912 kB\nMemFree: 1 kB\n");
    root_.Write("proc/stat",
                "cpu  1 2 3 4 5 6 7 8 0 0\n"
                "cpu0 1 2 3 4 5 6 7 8 0 0\ncpu1 1 2 3 4 5 6 7 8 0 0\n"
                "cpu2 1 2 3 4 5 6 7 8 0 0\ncpu3 1 2 3 4 5 6 7 8 0 0\n"
                "intr 12 3\nctxt 99\n");
    root_.Write("proc/sys/kernel/hostname", "edge-01\n");
    root_.Write("proc/sys/kernel/osrelease", "6.1.0-18-arm64\n");
    root_.Write("proc/sys/kernel/arch", "aarch64\n");
  }

  internal::FakeTree root_;
};

TEST_F(ReadNodeFactsTest, ReadsFakeRoot) {
  root_.Write("etc/os-release",
              "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
              "ID=debian\n");
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts(root_.root().string());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->hostname, "edge-01");
  EXPECT_EQ(facts->os_pretty_name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(facts->kernel_release, "6.1.0-18-arm64");
  EXPECT_EQ(facts->machine, "aarch64");
  EXPECT_EQ(facts->memory_total_bytes, int64_t{7999912} * 1024);
  EXPECT_EQ(facts->cpu_count, 4);
}

TEST_F(ReadNodeFactsTest, OsIdUptimeAndCpuTopologyFromSysfs) {
  root_.Write("etc/os-release", "PRETTY_NAME=\"Raspbian GNU/Linux 11 (bullseye)\"\nID=raspbian\n"
                                "VERSION_ID=\"11\"\n");
  root_.Write("proc/uptime", "12345.67 40000.00\n");
  // Two sockets, two cores each, two threads per core.
  for (int cpu = 0; cpu < 8; ++cpu) {
    const std::string dir = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    root_.Write(dir + "physical_package_id", std::to_string(cpu / 4) + "\n");
    root_.Write(dir + "core_id", std::to_string(cpu % 2) + "\n");
  }
  root_.Write("sys/devices/system/cpu/cpufreq/policy0/scaling_max_freq", "1\n");  // not a cpuN
  root_.Write("proc/cpuinfo",
              "processor\t: 0\nvendor_id\t: GenuineIntel\n"
              "model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\nprocessor\t: 1\n");
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts(root_.root().string());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->os_id, "raspbian");
  EXPECT_EQ(facts->os_version_id, "11");
  EXPECT_DOUBLE_EQ(facts->uptime_seconds, 12345.67);
  EXPECT_EQ(facts->cpu.model, "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz");
  EXPECT_EQ(facts->cpu.sockets, 2);
  EXPECT_EQ(facts->cpu.cores, 4);
  EXPECT_EQ(facts->cpu.threads, 8);
}

TEST_F(ReadNodeFactsTest, RaspberryPiCpuinfoWithoutTopology) {
  root_.Write("proc/cpuinfo",
              "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd08\n\n"
              "processor\t: 1\nBogoMIPS\t: 108.00\n\n"
              "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n");
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts(root_.root().string());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->cpu.model, "Raspberry Pi 4 Model B Rev 1.4");
  EXPECT_EQ(facts->cpu.sockets, 0);  // unknown: cpuinfo says nothing of sockets here
  EXPECT_EQ(facts->cpu.cores, 0);
  EXPECT_EQ(facts->cpu.threads, 2);
  EXPECT_EQ(facts->uptime_seconds, 0);  // no proc/uptime in this tree
}

TEST_F(ReadNodeFactsTest, X86CpuinfoTopologyWithoutSysfs) {
  root_.Write("proc/cpuinfo",
              "processor: 0\nmodel name: EPYC\nphysical id: 0\ncore id: 0\n\n"
              "processor: 1\nmodel name: EPYC\nphysical id: 0\ncore id: 0\n\n"
              "processor: 2\nmodel name: EPYC\nphysical id: 0\ncore id: 1\n\n");
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts(root_.root().string());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->cpu.model, "EPYC");
  EXPECT_EQ(facts->cpu.sockets, 1);
  EXPECT_EQ(facts->cpu.cores, 2);
  EXPECT_EQ(facts->cpu.threads, 3);
}

TEST_F(ReadNodeFactsTest, FallsBackToUsrLibOsReleaseThenLinux) {
  root_.Write("usr/lib/os-release", "NAME='Yocto Linux'\n");
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts(root_.root().string());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->os_pretty_name, "Yocto Linux");

  internal::FakeTree bare;
  bare.Write("proc/meminfo", "MemTotal: 1024 kB\n");
  facts = ReadNodeFacts(bare.root().string());
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->os_pretty_name, "Linux");
  // No kernel files under this root: uname(2) of the running host.
  EXPECT_FALSE(facts->hostname.empty());
  EXPECT_FALSE(facts->kernel_release.empty());
  EXPECT_FALSE(facts->machine.empty());
  EXPECT_GT(facts->cpu_count, 0);
}

TEST_F(ReadNodeFactsTest, MissingMeminfoIsNotFound) {
  internal::FakeTree empty;
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts(empty.root().string());
  EXPECT_EQ(facts.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(facts.status().message(), HasSubstr("proc/meminfo"));
}

TEST(ReadNodeFactsRealTest, ReadsThisHost) {
  absl::StatusOr<NodeFacts> facts = ReadNodeFacts();
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_FALSE(facts->hostname.empty());
  EXPECT_FALSE(facts->kernel_release.empty());
  EXPECT_FALSE(facts->os_pretty_name.empty());
  EXPECT_GT(facts->memory_total_bytes, 0);
  EXPECT_GT(facts->cpu_count, 0);
  EXPECT_GT(facts->uptime_seconds, 0);
  EXPECT_GT(facts->cpu.threads, 0);
  EXPECT_FALSE(facts->os_id.empty());
}

}  // namespace
}  // namespace heteroaccel::node
