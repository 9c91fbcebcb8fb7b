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
}

}  // namespace
}  // namespace heteroaccel::node
