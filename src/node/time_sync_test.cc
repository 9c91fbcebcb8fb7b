#include "node/time_sync.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/timex.h>

#include <cerrno>

#include "node/internal/fake_tree.h"

namespace heteroaccel::node {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

// Two clocks on a simulated path: the agent's runs `offset` ahead of the
// server's; the request takes `out` and the reply `back`; the agent holds it
// for `hold`.
TimeExchange Simulate(int64_t server_send, int64_t offset, int64_t out, int64_t back,
                      int64_t hold) {
  TimeExchange e;
  e.t0 = server_send;
  e.t1 = server_send + out + offset;
  e.t2 = e.t1 + hold;
  e.t3 = server_send + out + hold + back;
  return e;
}

TEST(TimeExchangeTest, SymmetricPathGivesExactOffsetAndDelay) {
  const TimeExchange e = Simulate(1'700'000'000 * kSecond, 250 * kMs, 3 * kMs, 3 * kMs, 1 * kMs);
  EXPECT_NEAR(e.OffsetSeconds(), 0.250, 1e-9);
  EXPECT_NEAR(e.DelaySeconds(), 0.006, 1e-9);
}

TEST(TimeExchangeTest, AgentBehindGivesNegativeOffset) {
  const TimeExchange e = Simulate(1'700'000'000 * kSecond, -2 * kSecond, kMs, kMs, 0);
  EXPECT_NEAR(e.OffsetSeconds(), -2.0, 1e-9);
  EXPECT_NEAR(e.DelaySeconds(), 0.002, 1e-9);
}

TEST(TimeExchangeTest, AsymmetricPathErrsByAtMostHalfTheDelay) {
  // 9 ms out, 1 ms back: the offset is off by (9 - 1) / 2 = 4 ms, within delay / 2.
  const TimeExchange e = Simulate(1'700'000'000 * kSecond, 100 * kMs, 9 * kMs, 1 * kMs, 0);
  EXPECT_NEAR(e.OffsetSeconds(), 0.104, 1e-9);
  EXPECT_LE(std::abs(e.OffsetSeconds() - 0.100), e.DelaySeconds() / 2 + 1e-12);
}

TEST(BestExchangeTest, PicksLowestDelayAndSkipsInconsistent) {
  const int64_t base = 1'700'000'000 * kSecond;
  std::vector<TimeExchange> exchanges = {
      Simulate(base, 50 * kMs, 20 * kMs, 2 * kMs, 0),          // delay 22 ms, offset off by 9 ms
      Simulate(base + kSecond, 50 * kMs, kMs, kMs, 5 * kMs),   // delay 2 ms: the best
      Simulate(base + 2 * kSecond, 50 * kMs, 5 * kMs, 5 * kMs, 0),
  };
  TimeExchange broken;  // the reply arrived before the request left
  broken.t0 = base + 10;
  broken.t3 = base;
  exchanges.push_back(broken);
  std::optional<TimeExchange> best = BestExchange(exchanges);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->t0, base + kSecond);
  EXPECT_NEAR(best->OffsetSeconds(), 0.050, 1e-9);
  EXPECT_FALSE(BestExchange({}).has_value());
  EXPECT_FALSE(BestExchange({broken}).has_value());
}

TEST(SystemWallClockTest, AdvancesAndIsNearTheEpochNow) {
  const int64_t a = SystemWallClock().NowNanos();
  const int64_t b = SystemWallClock().NowNanos();
  EXPECT_GE(b, a);
  EXPECT_GT(a, int64_t{1'600'000'000} * kSecond);  // after 2020
}

TEST(ReadSyncStateTest, TimesyncdSynchronisedAndKernelSynchronised) {
  internal::FakeTree root;
  root.Write("run/systemd/timesync/synchronized", "");
  SyncState s = ReadSyncState(root.root().string(), [](struct timex* tx) {
    tx->status = STA_PLL;
    tx->esterror = 1500;  // us
    tx->maxerror = 20000;
    return TIME_OK;
  });
  EXPECT_EQ(s.service, "systemd-timesyncd");
  EXPECT_EQ(s.timesyncd_synchronized, true);
  EXPECT_EQ(s.kernel_synchronized, true);
  EXPECT_DOUBLE_EQ(s.kernel_estimated_error_seconds, 0.0015);
  EXPECT_DOUBLE_EQ(s.kernel_max_error_seconds, 0.02);
  EXPECT_TRUE(s.error.empty());
}

TEST(ReadSyncStateTest, ChronyUnsynchronisedKernel) {
  internal::FakeTree root;
  root.Write("run/chrony/chronyd.pid", "42\n");
  SyncState s = ReadSyncState(root.root().string(), [](struct timex* tx) {
    tx->status = STA_UNSYNC;
    return TIME_ERROR;
  });
  EXPECT_EQ(s.service, "chronyd");
  EXPECT_FALSE(s.timesyncd_synchronized.has_value());
  EXPECT_EQ(s.kernel_synchronized, false);
}

TEST(ReadSyncStateTest, NoServiceAndFailingSyscall) {
  internal::FakeTree root;
  root.Write("run/systemd/timesync/.keep", "");
  SyncState s = ReadSyncState(root.root().string(), [](struct timex*) {
    errno = EPERM;
    return -1;
  });
  EXPECT_EQ(s.service, "systemd-timesyncd");
  EXPECT_EQ(s.timesyncd_synchronized, false);  // the flag file is absent
  EXPECT_FALSE(s.kernel_synchronized.has_value());
  EXPECT_THAT(s.error, ::testing::HasSubstr("ntp_adjtime"));

  internal::FakeTree bare;
  EXPECT_EQ(ReadSyncState(bare.root().string(), [](struct timex*) { return TIME_OK; }).service,
            "");
}

TEST(ReadSyncStateTest, RealSyscallAnswersWithoutPrivileges) {
  SyncState s = ReadSyncState("/");
  EXPECT_TRUE(s.kernel_synchronized.has_value()) << s.error;
}

}  // namespace
}  // namespace heteroaccel::node
