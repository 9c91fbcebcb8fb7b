#include "node/internal/procfs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/internal/fake_tree.h"

namespace heteroaccel::node::internal {
namespace {

using ::testing::HasSubstr;

TEST(ParseProcStatTest, SumsTicksWithoutGuestAndCountsIowaitAsIdle) {
  absl::StatusOr<CpuTimes> times =
      ParseProcStat("cpu  10 20 30 400 50 6 7 8 1000 2000\ncpu0 1 1 1 1 1 1 1 1 1 1\n");
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_EQ(times->total, 531u);
  EXPECT_EQ(times->idle, 450u);
}

TEST(ParseProcStatTest, AcceptsOldKernelsWithFourFields) {
  absl::StatusOr<CpuTimes> times = ParseProcStat("cpu 1 2 3 4\n");
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_EQ(times->total, 10u);
  EXPECT_EQ(times->idle, 4u);
}

TEST(ParseProcStatTest, RejectsMalformedText) {
  EXPECT_EQ(ParseProcStat("cpu  1 x 3 4\n").status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(ParseProcStat("cpu0 1 2 3 4\n").status().message(), HasSubstr("no aggregate"));
  EXPECT_EQ(ParseProcStat("cpu 1 2\n").status().code(), absl::StatusCode::kInternal);
}

TEST(CpuUtilisationTest, ClampsAndRejectsEmptyIntervals) {
  EXPECT_EQ(CpuUtilisation({100, 50}, {200, 75}), 0.75);
  EXPECT_EQ(CpuUtilisation({100, 50}, {100, 50}), std::nullopt);
  EXPECT_EQ(CpuUtilisation({100, 50}, {90, 50}), std::nullopt);
  EXPECT_EQ(CpuUtilisation({100, 50}, {110, 45}), 1.0);  // iowait went backwards
  EXPECT_EQ(CpuUtilisation({100, 50}, {110, 70}), 0.0);
}

TEST(CountCpusTest, CountsNumberedCpuLines) {
  EXPECT_EQ(CountCpus("cpu  1 2 3 4\ncpu0 1\ncpu1 1\ncpu12 1\nintr 5\n"), 3);
  EXPECT_EQ(CountCpus(""), 0);
}

TEST(ParseMeminfoTest, FallsBackWithoutMemAvailable) {
  absl::StatusOr<MemInfo> info =
      ParseMeminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->total_bytes, 1024000);
  EXPECT_EQ(info->available_bytes, 420 * 1024);
}

TEST(ParseNetDevTest, AcceptsNameGluedToCounters) {
  absl::StatusOr<std::vector<Interface>> interfaces =
      ParseNetDev("h1\nh2\nenp3s0f1:123 4 0 0 0 0 0 0 456 7 0 0 0 0 0 0\n");
  ASSERT_TRUE(interfaces.ok()) << interfaces.status();
  ASSERT_EQ(interfaces->size(), 1u);
  EXPECT_EQ((*interfaces)[0].name, "enp3s0f1");
  EXPECT_EQ((*interfaces)[0].rx_bytes, 123);
  EXPECT_EQ((*interfaces)[0].tx_bytes, 456);
}

TEST(ParseNetDevTest, RejectsShortLine) {
  absl::StatusOr<std::vector<Interface>> interfaces = ParseNetDev("eth0: 1 2 3\n");
  EXPECT_EQ(interfaces.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(interfaces.status().message(), HasSubstr("eth0"));
}

TEST(ParseOsReleaseTest, UnquotesAndPrefersPrettyName) {
  EXPECT_EQ(ParseOsReleasePrettyName("NAME=Alpine\nPRETTY_NAME=\"Alpine \\\"edge\\\"\"\n"),
            "Alpine \"edge\"");
  EXPECT_EQ(ParseOsReleasePrettyName("NAME=Buildroot\n"), "Buildroot");
  EXPECT_EQ(ParseOsReleasePrettyName("ID=x\n"), std::nullopt);
}

TEST(ReadFileToStringTest, MapsErrnoToStatus) {
  FakeTree tree;
  EXPECT_EQ(ReadFileToString(tree.Path("absent")).status().code(), absl::StatusCode::kNotFound);
  tree.Write("dir/file", "x");
  EXPECT_EQ(ReadFileToString(tree.Path("dir")).status().code(),
            absl::StatusCode::kFailedPrecondition);  // EISDIR
  EXPECT_EQ(*ReadFileToString(tree.Path("dir/file")), "x");
}

}  // namespace
}  // namespace heteroaccel::node::internal
