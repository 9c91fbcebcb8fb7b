// Tests of what distinguishes the three policies: which device each one picks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"
#include "scheduler/testing/cluster.h"
#include "common/fake_clock.h"

namespace heteroaccel::scheduler {
namespace {

using std::chrono::milliseconds;
using ::heteroaccel::FakeClock;
using testing::MakeDevice;
using testing::MakeRequest;

const DeviceKey kGpu{"n1", "gpu0"};
const DeviceKey kFpga{"n2", "fpga0"};
const DeviceKey kCpu{"n3", "cpu"};

// A fast GPU (2 ms), a slow FPGA (20 ms), both able to run "face"; the CPU runs
// only "text".
class PolicyTest : public ::testing::Test {
 protected:
  Scheduler Make(PolicyKind policy, int pipeline_depth = 1) {
    Options options;
    options.policy = policy;
    options.pipeline_depth = pipeline_depth;
    options.queue_capacity = 1000;
    Scheduler s(options, clock_);
    EXPECT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
    EXPECT_TRUE(
        s.UpsertDevice(MakeDevice("n2", "fpga0", "fpga", {{"face", milliseconds(20)}})).ok());
    EXPECT_TRUE(s.UpsertDevice(MakeDevice("n3", "cpu", "cpu", {{"text", milliseconds(8)}})).ok());
    return s;
  }
  void EnqueueFace(Scheduler& s, int count) {
    for (int i = 0; i < count; ++i) ASSERT_TRUE(s.Enqueue(MakeRequest(next_id_++, "face")).ok());
  }
  static int CountOn(const std::vector<Assignment>& a, const DeviceKey& key) {
    int n = 0;
    for (const Assignment& x : a) n += x.device == key ? 1 : 0;
    return n;
  }

  FakeClock clock_;
  uint64_t next_id_ = 1;
};

// --- static --------------------------------------------------------------------------

TEST_F(PolicyTest, StaticRunsOnlyOnTheConfiguredKind) {
  Options options;
  options.policy = PolicyKind::kStatic;
  options.static_kinds = {{"face", "fpga"}};
  Scheduler s(options, clock_);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "fpga0", "fpga", {{"face", milliseconds(20)}})).ok());
  EnqueueFace(s, 3);
  std::vector<Assignment> a = s.Dispatch();
  EXPECT_EQ(CountOn(a, kFpga), 2);
  EXPECT_EQ(CountOn(a, kGpu), 0);
}

TEST_F(PolicyTest, StaticWaitsWhileOtherKindsIdle) {
  Scheduler s = Make(PolicyKind::kStatic);  // face -> gpu by kind preference
  EnqueueFace(s, 5);
  std::vector<Assignment> a = s.Dispatch();
  EXPECT_EQ(CountOn(a, kGpu), 2) << "one running, one pipelined";
  EXPECT_EQ(s.in_flight(kFpga), 0);
  EXPECT_EQ(s.queued("face"), 3u) << "waits although the FPGA is idle";
  EXPECT_TRUE(s.Dispatch().empty());
  ASSERT_TRUE(s.Complete(a[0].request_id, milliseconds(2), true));
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, kGpu);
}

TEST_F(PolicyTest, StaticPicksTheLeastLoadedDeviceOfItsKind) {
  Options options;
  options.policy = PolicyKind::kStatic;
  options.pipeline_depth = 1;
  Scheduler s(options, clock_);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}}, 2)).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu1", "gpu", {{"face", milliseconds(9)}})).ok());
  EnqueueFace(s, 6);
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 5u);
  const DeviceKey gpu1{"n1", "gpu1"};
  EXPECT_EQ(a[0].device, kGpu);
  EXPECT_EQ(a[1].device, gpu1);
  EXPECT_EQ(a[2].device, kGpu) << "tie: key order";
  EXPECT_EQ(a[3].device, gpu1);
  EXPECT_EQ(a[4].device, kGpu) << "gpu1 is full at 1 slot + depth 1";
}

TEST_F(PolicyTest, StaticFallsBackToAnyKindThatCanRunTheType) {
  Scheduler s = Make(PolicyKind::kStatic);
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "text")).ok());  // only the CPU runs text
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, kCpu);
}

TEST_F(PolicyTest, StaticPinOverridesTheStaticKind) {
  Scheduler s = Make(PolicyKind::kStatic);
  Request r = MakeRequest(1, "face");
  r.pinned_kind = "fpga";
  ASSERT_TRUE(s.Enqueue(r).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, kFpga);
}

TEST_F(PolicyTest, StaticRejectsATypeWhoseConfiguredKindCannotRunIt) {
  Options options;
  options.policy = PolicyKind::kStatic;
  options.static_kinds = {{"face", "npu"}};
  Scheduler s(options, clock_);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  absl::Status status = s.Enqueue(MakeRequest(1, "face"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("static"));
}

// --- idle-first ------------------------------------------------------------------------

TEST_F(PolicyTest, IdleFirstIgnoresSpeed) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  EnqueueFace(s, 1);
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, kGpu) << "equal room and load: the preferred kind";
  // The GPU (1 in flight, would finish the next at +4 ms) now has less room than the
  // idle FPGA (+20 ms): idle-first sends the next request to the slow device.
  EnqueueFace(s, 1);
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, kFpga);
}

TEST_F(PolicyTest, IdleFirstBreaksTiesByKindPreferenceNotName) {
  Options options;
  options.policy = PolicyKind::kIdleFirst;
  options.kind_preference = {"gpu", "npu", "cpu", "fpga"};
  Scheduler s(options, clock_);
  // "a-node" sorts before "z-node": key order alone would pick the FPGA.
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("a-node", "fpga0", "fpga", {{"face", milliseconds(20)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("z-node", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, (DeviceKey{"z-node", "gpu0"}));
}

TEST_F(PolicyTest, IdleFirstFillsEveryDeviceWithRoom) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  EnqueueFace(s, 10);
  std::vector<Assignment> a = s.Dispatch();
  EXPECT_EQ(CountOn(a, kGpu), 2);
  EXPECT_EQ(CountOn(a, kFpga), 2);
  EXPECT_EQ(s.queued("face"), 6u);
}

// --- earliest-finish ------------------------------------------------------------------

TEST_F(PolicyTest, EarliestFinishPrefersBusyFastOverIdleSlow) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  EnqueueFace(s, 3);
  std::vector<Assignment> a = s.Dispatch();
  // +2 and +4 ms on the GPU; the third would finish at +6 ms there, +20 on the FPGA:
  // it waits for the GPU rather than start on the idle FPGA.
  EXPECT_EQ(CountOn(a, kGpu), 2);
  EXPECT_EQ(s.in_flight(kFpga), 0);
  EXPECT_EQ(s.queued("face"), 1u);
  EXPECT_EQ(a[1].expected_finish, clock_.Now() + milliseconds(4));

  clock_.Advance(milliseconds(2));
  ASSERT_TRUE(s.Complete(a[0].request_id, milliseconds(2), true));
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, kGpu);
}

TEST_F(PolicyTest, EarliestFinishUsesSlowDevicesAtSaturation) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  // The GPU would finish the k-th request at 2k ms: the tenth finishes as early on
  // the FPGA (20 ms), which has room, so it takes that one.
  EnqueueFace(s, 9);
  std::vector<Assignment> a = s.Dispatch();
  EXPECT_EQ(CountOn(a, kGpu), 2);
  EXPECT_EQ(CountOn(a, kFpga), 0);
  EnqueueFace(s, 2);
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request_id, 10u);
  EXPECT_EQ(a[0].device, kFpga);
  EXPECT_EQ(a[0].expected_finish, clock_.Now() + milliseconds(20));
  // Its second (pipelined) position finishes at +40 ms: the 21st request's turn.
  EnqueueFace(s, 9);
  EXPECT_TRUE(s.Dispatch().empty());
  EnqueueFace(s, 1);
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request_id, 21u);
  EXPECT_EQ(a[0].expected_finish, clock_.Now() + milliseconds(40));
  EXPECT_EQ(s.queued("face"), 17u);
}

TEST_F(PolicyTest, EarliestFinishAccountsForElapsedWork) {
  Options options;
  options.pipeline_depth = 0;
  Scheduler s(options, clock_);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu", {{"face", milliseconds(12)}})).ok());
  const DeviceKey kCpuFace{"n2", "cpu"};
  EnqueueFace(s, 1);
  ASSERT_EQ(s.Dispatch()[0].device, kGpu);
  clock_.Advance(milliseconds(9));  // the GPU should be free in 1 ms
  EnqueueFace(s, 1);
  EXPECT_TRUE(s.Dispatch().empty()) << "+11 ms on the GPU beats +12 ms on the CPU";
  // The GPU overran its estimate: it is assumed free any moment. Request 2 would
  // finish there at +10 ms, request 3 at +20 ms, later than on the CPU (+12 ms).
  clock_.Advance(milliseconds(5));
  EnqueueFace(s, 1);
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request_id, 3u);
  EXPECT_EQ(a[0].device, kCpuFace);
  ASSERT_TRUE(s.Complete(1, milliseconds(14), true));
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request_id, 2u);
  EXPECT_EQ(a[0].device, kGpu);
  EXPECT_EQ(s.service_estimate("face", kGpu), milliseconds(10)) << "lower median of {10, 14}";
}

TEST_F(PolicyTest, EarliestFinishSkipsDevicesThatMissTheDeadline) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  EnqueueFace(s, 2);  // GPU busy until +4 ms
  ASSERT_EQ(s.Dispatch().size(), 2u);
  Request urgent = MakeRequest(100, "face");
  urgent.deadline = clock_.Now() + milliseconds(5);  // GPU: +6 ms, FPGA: +20 ms
  ASSERT_TRUE(s.Enqueue(urgent).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  std::vector<Request> expired = s.ExpireDeadlines();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, 100u);

  Request relaxed = MakeRequest(101, "face");
  relaxed.deadline = clock_.Now() + milliseconds(25);
  ASSERT_TRUE(s.Enqueue(relaxed).ok());
  EXPECT_TRUE(s.ExpireDeadlines().empty());
}

TEST_F(PolicyTest, EarliestFinishGivesTheDeadlineTheFastDevice) {
  Scheduler s = Make(PolicyKind::kEarliestFinish, /*pipeline_depth=*/0);
  // Ten requests compete; the one due in 3 ms goes first (same priority, earlier
  // deadline) and gets the GPU.
  EnqueueFace(s, 9);
  Request urgent = MakeRequest(100, "face");
  urgent.deadline = clock_.Now() + milliseconds(3);
  ASSERT_TRUE(s.Enqueue(urgent).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0].request_id, 100u);
  EXPECT_EQ(a[0].device, kGpu);
}

TEST_F(PolicyTest, EarliestFinishHonoursPriorityOverSpeedOrder) {
  Scheduler s = Make(PolicyKind::kEarliestFinish, /*pipeline_depth=*/0);
  for (uint64_t id = 1; id <= 12; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(50, "face", /*priority=*/3)).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0].request_id, 50u);
  EXPECT_EQ(a[0].device, kGpu);
}

TEST_F(PolicyTest, EarliestFinishBoundsTheWalk) {
  Options options;
  options.max_walk = 5;
  options.queue_capacity = 1000;
  Scheduler s(options, clock_);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "fpga0", "fpga", {{"face", milliseconds(20)}})).ok());
  EnqueueFace(s, 100);
  std::vector<Assignment> a = s.Dispatch();
  EXPECT_EQ(CountOn(a, kFpga), 0) << "the FPGA only wins past the tenth request";
  EXPECT_EQ(CountOn(a, kGpu), 2);
}

TEST_F(PolicyTest, AllPoliciesLeaveTheQueueAloneWhenEveryDeviceIsFull) {
  for (PolicyKind policy :
       {PolicyKind::kStatic, PolicyKind::kIdleFirst, PolicyKind::kEarliestFinish}) {
    Scheduler s = Make(policy, /*pipeline_depth=*/0);
    EnqueueFace(s, 20);
    s.Dispatch();
    const size_t queued = s.queued_total();
    EXPECT_TRUE(s.Dispatch().empty()) << PolicyName(policy);
    EXPECT_EQ(s.queued_total(), queued) << PolicyName(policy);
  }
}

}  // namespace
}  // namespace heteroaccel::scheduler
