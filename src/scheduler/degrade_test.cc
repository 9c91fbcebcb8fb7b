// Unit tests of variant degradation on the fake clock (DeviceInfo::degrade): the
// primary at light load, a faster variant within the accuracy floor when the
// primary cannot meet a deadline or the type's queue is backlogged, pins and
// opt-outs respected, and estimates kept per (device, variant).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "common/fake_clock.h"
#include "scheduler/scheduler.h"
#include "scheduler/testing/cluster.h"

namespace heteroaccel::scheduler {
namespace {

using ::heteroaccel::FakeClock;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeDevice;
using testing::MakeRequest;

constexpr char kPrimary[] = "text@gpu";  // MakeDevice's variant name
const DeviceKey kGpu{"n1", "gpu0"};

// A GPU running "text" in 40 ms with the given alternates under floor 0.80.
DeviceInfo TextDevice(std::vector<Alternate> alternates, double floor = 0.80) {
  DeviceInfo info = MakeDevice("n1", "gpu0", "gpu", {{"text", milliseconds(40)}});
  info.degrade["text"] = {floor, std::move(alternates)};
  return info;
}

Alternate Alt(const char* variant, double accuracy, milliseconds service) {
  return {variant, accuracy, service};
}

class DegradeTest : public ::testing::Test {
 protected:
  Scheduler Make(Options options = {}) {
    options.policy = PolicyKind::kEarliestFinish;
    options.pipeline_depth = 0;
    options.probe_interval = std::chrono::nanoseconds(0);
    return Scheduler(options, clock_);
  }
  Request WithDeadline(uint64_t id, milliseconds in) {
    Request r = MakeRequest(id, "text");
    r.deadline = clock_.Now() + in;
    return r;
  }
  FakeClock clock_;
};

TEST_F(DegradeTest, LightLoadRunsThePrimary) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  for (uint64_t id = 1; id <= 5; ++id) {
    ASSERT_TRUE(s.Enqueue(WithDeadline(id, milliseconds(200))).ok());
    const std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].variant, kPrimary);
    EXPECT_EQ(a[0].degraded_from, "");
    clock_.Advance(milliseconds(40));
    ASSERT_TRUE(s.Complete(id, milliseconds(40), true));
  }
}

TEST_F(DegradeTest, DeadlineThePrimaryCannotMeetRunsTheAlternate) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  const Request r = WithDeadline(1, milliseconds(25));
  ASSERT_TRUE(s.Enqueue(r).ok());
  EXPECT_TRUE(s.ExpireDeadlines().empty()) << "the alternate can still make it";
  const std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].variant, "text-mobile");
  EXPECT_EQ(a[0].degraded_from, kPrimary);
  EXPECT_LE(a[0].expected_finish, *r.deadline);
  clock_.Advance(milliseconds(15));
  EXPECT_TRUE(s.Complete(1, milliseconds(15), true));
  EXPECT_LE(clock_.Now(), *r.deadline) << "met";
}

TEST_F(DegradeTest, QueuedWorkThePrimaryCannotCarryDegradesOnlyAsMuchAsNeeded) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  // Each fits the primary alone (40 ms), but two primaries in a row end at
  // 80 ms, past the second deadline: one of the two runs the 15 ms variant.
  const Request first = WithDeadline(1, milliseconds(50));
  const Request second = WithDeadline(2, milliseconds(70));
  ASSERT_TRUE(s.Enqueue(first).ok());
  ASSERT_TRUE(s.Enqueue(second).ok());
  int degraded = 0;
  for (const Request& r : {first, second}) {
    const std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].request_id, r.id) << "earliest deadline first";
    const milliseconds service(a[0].degraded_from.empty() ? 40 : 15);
    degraded += a[0].degraded_from.empty() ? 0 : 1;
    clock_.Advance(service);
    ASSERT_TRUE(s.Complete(r.id, service, true));
    EXPECT_LE(clock_.Now(), *r.deadline) << "request " << r.id << " met";
  }
  EXPECT_EQ(degraded, 1);
}

TEST_F(DegradeTest, NeverBelowTheFloor) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15)),
                                         Alt("text-tiny", 0.70, milliseconds(5))}))
                  .ok());
  EXPECT_EQ(s.service_estimate("text", kGpu, "text-tiny"), std::nullopt) << "not eligible";
  // 20 ms: the mobile variant fits, and is taken though the tiny one is faster.
  ASSERT_TRUE(s.Enqueue(WithDeadline(1, milliseconds(20))).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].variant, "text-mobile");
  clock_.Advance(milliseconds(15));
  ASSERT_TRUE(s.Complete(1, milliseconds(15), true));
  // 10 ms: only the tiny one, below the floor, would fit: answered early instead.
  ASSERT_TRUE(s.Enqueue(WithDeadline(2, milliseconds(10))).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  const std::vector<Request> expired = s.ExpireDeadlines();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, 2u);
}

TEST_F(DegradeTest, TakesTheMostAccurateAlternateTheDeadlineAdmits) {
  Scheduler s = Make();
  // Listed fastest first: the order tried is by accuracy.
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15)),
                                         Alt("text-small", 0.86, milliseconds(30))}))
                  .ok());
  ASSERT_TRUE(s.Enqueue(WithDeadline(1, milliseconds(35))).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].variant, "text-small");
  clock_.Advance(milliseconds(30));
  ASSERT_TRUE(s.Complete(1, milliseconds(30), true));
  ASSERT_TRUE(s.Enqueue(WithDeadline(2, milliseconds(20))).ok());
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].variant, "text-mobile");
}

TEST_F(DegradeTest, PinnedVariantAndOptOutAreNeverDegraded) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  Request pinned = WithDeadline(1, milliseconds(25));
  pinned.pinned_variant = kPrimary;
  Request opted_out = WithDeadline(2, milliseconds(25));
  opted_out.may_degrade = false;
  ASSERT_TRUE(s.Enqueue(pinned).ok());
  ASSERT_TRUE(s.Enqueue(opted_out).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  std::vector<uint64_t> expired;
  for (const Request& r : s.ExpireDeadlines()) expired.push_back(r.id);
  EXPECT_THAT(expired, ElementsAre(1u, 2u)) << "the primary cannot make 25 ms";
  // A pin to the alternate itself runs it, and is no degradation.
  Request on_mobile = WithDeadline(3, milliseconds(200));
  on_mobile.pinned_variant = "text-mobile";
  const absl::Status status = s.Enqueue(on_mobile);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << "only primaries serve pins";
}

TEST_F(DegradeTest, BacklogDegradesWithoutDeadlines) {
  Options options;
  options.queue_capacity = 4;
  options.degrade_backlog = 0.5;  // two waiting requests
  Scheduler s = Make(options);
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "text")).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].degraded_from, "") << "one waiting: no backlog";
  clock_.Advance(milliseconds(40));
  ASSERT_TRUE(s.Complete(1, milliseconds(40), true));
  for (uint64_t id = 2; id <= 4; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "text")).ok());
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].variant, "text-mobile");
  EXPECT_EQ(a[0].degraded_from, kPrimary);
}

TEST_F(DegradeTest, BacklogRuleOffKeepsThePrimary) {
  Options options;
  options.queue_capacity = 4;
  options.degrade_backlog = 0;
  Scheduler s = Make(options);
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "text")).ok());
  const std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].degraded_from, "");
}

TEST_F(DegradeTest, EstimatesPerVariantLearnSeparately) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  EXPECT_EQ(s.service_estimate("text", kGpu), milliseconds(40));
  EXPECT_EQ(s.service_estimate("text", kGpu, "text-mobile"), milliseconds(15));
  uint64_t id = 1;
  // The alternate runs at 22 ms (tight deadlines): only its estimate moves.
  for (int i = 0; i < 5; ++i, ++id) {
    ASSERT_TRUE(s.Enqueue(WithDeadline(id, milliseconds(35))).ok());
    const std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(a[0].variant, "text-mobile");
    clock_.Advance(milliseconds(22));
    ASSERT_TRUE(s.Complete(id, milliseconds(22), true));
  }
  EXPECT_EQ(s.service_estimate("text", kGpu, "text-mobile"), milliseconds(22));
  EXPECT_EQ(s.service_estimate("text", kGpu), milliseconds(40));
  // The primary runs at 60 ms (no deadline): only its estimate moves.
  for (int i = 0; i < 5; ++i, ++id) {
    ASSERT_TRUE(s.Enqueue(MakeRequest(id, "text")).ok());
    const std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(a[0].degraded_from, "");
    clock_.Advance(milliseconds(60));
    ASSERT_TRUE(s.Complete(id, milliseconds(60), true));
  }
  EXPECT_EQ(s.service_estimate("text", kGpu), milliseconds(60));
  EXPECT_EQ(s.service_estimate("text", kGpu, "text-mobile"), milliseconds(22));
  // A re-report (heartbeat) keeps both windows.
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  EXPECT_EQ(s.service_estimate("text", kGpu, "text-mobile"), milliseconds(22));
}

TEST_F(DegradeTest, InFlightAlternateHoldsItsSlotForItsOwnEstimate) {
  Options options;
  options.pipeline_depth = 1;  // a second request may wait on the device
  options.probe_interval = std::chrono::nanoseconds(0);
  Scheduler s(options, clock_);
  ASSERT_TRUE(s.UpsertDevice(TextDevice({Alt("text-mobile", 0.81, milliseconds(15))})).ok());
  ASSERT_TRUE(s.Enqueue(WithDeadline(1, milliseconds(20))).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);  // the alternate, busy until 15 ms
  // Waiting on the device behind it, the next one ends at 15 + 40 ms.
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "text")).ok());
  const std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].degraded_from, "");
  EXPECT_EQ(a[0].expected_finish, clock_.Now() + milliseconds(55));
}

TEST_F(DegradeTest, RejectsAlternatesOfATypeTheDeviceDoesNotRun) {
  Scheduler s = Make();
  DeviceInfo info = TextDevice({Alt("text-mobile", 0.81, milliseconds(15))});
  info.degrade["face"] = {0.5, {Alt("face-small", 0.9, milliseconds(1))}};
  const absl::Status status = s.UpsertDevice(info);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'face'"));
}

}  // namespace
}  // namespace heteroaccel::scheduler
