// Tests of the Scheduler's bookkeeping shared by every policy: admission errors,
// queue order, deadlines, failures, pins, estimates and the ideal throughput.
#include "scheduler/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/fake_clock.h"
#include "scheduler/testing/cluster.h"

namespace heteroaccel::scheduler {
namespace {

using ::heteroaccel::FakeClock;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeDevice;
using testing::MakeRequest;

std::vector<uint64_t> Ids(const std::vector<Assignment>& assignments) {
  std::vector<uint64_t> ids;
  ids.reserve(assignments.size());
  for (const Assignment& a : assignments) ids.push_back(a.request_id);
  return ids;
}

std::vector<uint64_t> Ids(const std::vector<Request>& requests) {
  std::vector<uint64_t> ids;
  ids.reserve(requests.size());
  for (const Request& r : requests) ids.push_back(r.id);
  return ids;
}

class SchedulerTest : public ::testing::Test {
 protected:
  Scheduler Make(PolicyKind policy, int pipeline_depth = 0) {
    Options options;
    options.policy = policy;
    options.pipeline_depth = pipeline_depth;
    options.queue_capacity = 4;
    return Scheduler(options, clock_);
  }
  FakeClock clock_;
};

TEST(ParsePolicyTest, ParsesTheThreeNamesAndRejectsOthers) {
  EXPECT_EQ(*ParsePolicy("static"), PolicyKind::kStatic);
  EXPECT_EQ(*ParsePolicy("idle-first"), PolicyKind::kIdleFirst);
  EXPECT_EQ(*ParsePolicy("earliest-finish"), PolicyKind::kEarliestFinish);
  absl::StatusOr<PolicyKind> bad = ParsePolicy("fastest");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("fastest"));
  EXPECT_EQ(PolicyName(PolicyKind::kIdleFirst), "idle-first");
}

TEST_F(SchedulerTest, UnknownTypeIsNotFoundAndListsKnownTypes) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu",
                                        {{"face", milliseconds(2)}, {"text", milliseconds(5)}}))
                  .ok());
  absl::Status status = s.Enqueue(MakeRequest(1, "pose"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'pose'"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("face, text"));
}

TEST_F(SchedulerTest, TypeOfADownDeviceIsStillAccepted) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  s.SetNodeUp("n1", false);
  EXPECT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  s.SetNodeUp("n1", true);
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(1));
}

// A node's devices are found by its exact name, not by names it is a prefix of
// ("n" is not "n-1" or "n1"), on failure and on the way back.
TEST_F(SchedulerTest, FailNodeAndSetNodeUpTouchOnlyThatNode) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  for (const std::string node : {"n", "n-1", "n1", "m"}) {
    for (const std::string device : {"gpu0", "gpu1"}) {
      ASSERT_TRUE(
          s.UpsertDevice(MakeDevice(node, device, "gpu", {{"face", milliseconds(2)}})).ok());
    }
  }
  std::map<uint64_t, DeviceKey> bound;
  for (uint64_t id = 1; id <= 8; ++id) {
    ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
    for (const Assignment& a : s.Dispatch()) bound[a.request_id] = a.device;
  }
  ASSERT_EQ(bound.size(), 8u);
  std::vector<uint64_t> on_n;
  for (const auto& [id, key] : bound) {
    if (key.node == "n") on_n.push_back(id);
  }
  ASSERT_EQ(on_n.size(), 2u);
  EXPECT_THAT(Ids(s.FailNode("n")), ::testing::UnorderedElementsAreArray(on_n));
  const auto up = [&s](const std::string& node) {
    std::vector<bool> out;
    for (const DeviceInfo& d : s.devices()) {
      if (d.key.node == node) out.push_back(d.up);
    }
    return out;
  };
  EXPECT_THAT(up("n"), ElementsAre(false, false));
  for (const std::string other : {"n-1", "n1", "m"})
    EXPECT_THAT(up(other), ElementsAre(true, true));
  s.SetNodeUp("n1", false);
  EXPECT_THAT(up("n1"), ElementsAre(false, false));
  EXPECT_THAT(up("n-1"), ElementsAre(true, true));
  s.SetNodeUp("n", true);
  EXPECT_THAT(up("n"), ElementsAre(true, true));
  EXPECT_THAT(up("n1"), ElementsAre(false, false));
  EXPECT_TRUE(s.FailNode("absent").empty());
}

TEST_F(SchedulerTest, FullQueueIsResourceExhaustedPerType) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu",
                                        {{"face", milliseconds(2)}, {"text", milliseconds(5)}}))
                  .ok());
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
  absl::Status status = s.Enqueue(MakeRequest(5, "face"));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'face'"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("capacity 4"));
  EXPECT_TRUE(s.Enqueue(MakeRequest(6, "text")).ok()) << "another type's queue is separate";
  EXPECT_EQ(s.queued("face"), 4u);
  EXPECT_EQ(s.queued_total(), 5u);
}

TEST_F(SchedulerTest, DuplicateIdIsAlreadyExists) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(7, "face")).ok());
  EXPECT_EQ(s.Enqueue(MakeRequest(7, "face")).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_EQ(s.Dispatch().size(), 1u);
  EXPECT_EQ(s.Enqueue(MakeRequest(7, "face")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(s.Complete(7, milliseconds(2), true));
  EXPECT_TRUE(s.Enqueue(MakeRequest(7, "face")).ok()) << "ids may be reused once done";
}

TEST_F(SchedulerTest, BadPinsAreInvalidArgument) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "cpu", "cpu", {{"text", milliseconds(9)}})).ok());

  Request missing = MakeRequest(1, "face");
  missing.pinned_device = DeviceKey{"n9", "gpu0"};
  absl::Status status = s.Enqueue(missing);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("n9/gpu0"));

  Request wrong_type = MakeRequest(2, "face");
  wrong_type.pinned_device = DeviceKey{"n1", "cpu"};
  status = s.Enqueue(wrong_type);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("cannot run"));

  Request wrong_kind = MakeRequest(3, "face");
  wrong_kind.pinned_kind = "fpga";
  status = s.Enqueue(wrong_kind);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'fpga'"));
  EXPECT_EQ(s.queued_total(), 0u);
}

TEST_F(SchedulerTest, InvalidDevicesAreRejected) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  DeviceInfo no_slots = MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}}, 0);
  EXPECT_EQ(s.UpsertDevice(no_slots).code(), absl::StatusCode::kInvalidArgument);
  DeviceInfo no_node = MakeDevice("", "gpu0", "gpu", {{"face", milliseconds(2)}});
  EXPECT_EQ(s.UpsertDevice(no_node).code(), absl::StatusCode::kInvalidArgument);
  DeviceInfo negative = MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}});
  negative.reported_service["face"] = milliseconds(-1);
  EXPECT_EQ(s.UpsertDevice(negative).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.devices().empty());
}

TEST_F(SchedulerTest, HigherPriorityFirstThenFifo) {
  for (PolicyKind policy :
       {PolicyKind::kStatic, PolicyKind::kIdleFirst, PolicyKind::kEarliestFinish}) {
    Scheduler s = Make(policy);
    ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
    ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face", 0)).ok());
    ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face", 5)).ok());
    ASSERT_TRUE(s.Enqueue(MakeRequest(3, "face", 1)).ok());
    ASSERT_TRUE(s.Enqueue(MakeRequest(4, "face", 5)).ok());
    std::vector<uint64_t> order;
    for (int i = 0; i < 4; ++i) {
      std::vector<Assignment> a = s.Dispatch();
      ASSERT_EQ(a.size(), 1u) << PolicyName(policy);
      order.push_back(a[0].request_id);
      s.Complete(a[0].request_id, milliseconds(2), true);
    }
    EXPECT_THAT(order, ElementsAre(2, 4, 3, 1)) << PolicyName(policy);
  }
}

TEST_F(SchedulerTest, PipelineDepthAllowsExtraRequestsPerDevice) {
  Scheduler s = Make(PolicyKind::kIdleFirst, /*pipeline_depth=*/2);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}}, 2)).ok());
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(9, "face")).code() == absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.Dispatch().size(), 4u);
  EXPECT_EQ(s.in_flight({"n1", "gpu0"}), 4);
  EXPECT_TRUE(s.Complete(1, milliseconds(2), true));
  EXPECT_FALSE(s.Complete(1, milliseconds(2), true)) << "already completed";
  EXPECT_FALSE(s.Complete(42, milliseconds(2), true)) << "never seen";
  EXPECT_EQ(s.in_flight({"n1", "gpu0"}), 3);
}

TEST_F(SchedulerTest, ExpireDeadlinesReturnsPassedRequestsOnly) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  s.SetNodeUp("n1", false);
  Request soon = MakeRequest(1, "face");
  soon.deadline = clock_.Now() + milliseconds(5);
  Request later = MakeRequest(2, "face");
  later.deadline = clock_.Now() + milliseconds(50);
  ASSERT_TRUE(s.Enqueue(soon).ok());
  ASSERT_TRUE(s.Enqueue(later).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(3, "face")).ok());
  EXPECT_TRUE(s.ExpireDeadlines().empty());
  clock_.Advance(milliseconds(5));
  EXPECT_THAT(Ids(s.ExpireDeadlines()), ElementsAre(1));
  EXPECT_EQ(s.queued_total(), 2u);
  s.SetNodeUp("n1", true);
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(2)) << "the earlier deadline goes first";
}

TEST_F(SchedulerTest, ExpiredRequestsAreNotDispatched) {
  Scheduler s = Make(PolicyKind::kStatic);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  Request r = MakeRequest(1, "face");
  r.deadline = clock_.Now();
  ASSERT_TRUE(s.Enqueue(r).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  EXPECT_THAT(Ids(s.ExpireDeadlines()), ElementsAre(1));
}

TEST_F(SchedulerTest, EarliestFinishExpiresRequestsNoDeviceCanFinishInTime) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);  // busy until +10 ms
  Request tight = MakeRequest(2, "face");
  tight.deadline = clock_.Now() + milliseconds(15);  // cannot finish before +20 ms
  Request loose = MakeRequest(3, "face");
  loose.deadline = clock_.Now() + milliseconds(25);
  ASSERT_TRUE(s.Enqueue(tight).ok());
  ASSERT_TRUE(s.Enqueue(loose).ok());
  EXPECT_THAT(Ids(s.ExpireDeadlines()), ElementsAre(2));
  EXPECT_EQ(s.queued_total(), 1u);
}

TEST_F(SchedulerTest, FailDeviceRequeuesAtFrontAndRetriesElsewhere) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "npu0", "npu", {{"face", milliseconds(4)}})).ok());
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
  std::vector<Assignment> first = s.Dispatch();
  ASSERT_EQ(first.size(), 2u);
  const DeviceKey lost = first[0].device;
  const uint64_t lost_id = first[0].request_id;
  const uint64_t survivor_id = first[1].request_id;

  std::vector<Request> requeued = s.FailDevice(lost);
  ASSERT_THAT(Ids(requeued), ElementsAre(lost_id));
  EXPECT_EQ(requeued[0].retries, 1);
  EXPECT_EQ(s.in_flight(lost), 0);
  EXPECT_EQ(s.queued_total(), 3u);
  EXPECT_FALSE(s.Complete(lost_id, milliseconds(2), true)) << "a late result is not counted";

  ASSERT_TRUE(s.Complete(survivor_id, milliseconds(4), true));
  std::vector<Assignment> retry = s.Dispatch();
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].request_id, lost_id) << "re-queued at the front";
  EXPECT_NE(retry[0].device, lost);
}

TEST_F(SchedulerTest, RequeuedRequestsStayBehindHigherPriority) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face", 0)).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face", 9)).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(3, "face", 0)).ok());
  EXPECT_THAT(Ids(s.FailDevice({"n1", "gpu0"})), ElementsAre(1));
  s.SetNodeUp("n1", true);
  std::vector<uint64_t> order;
  for (int i = 0; i < 3; ++i) {
    std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    order.push_back(a[0].request_id);
    s.Complete(a[0].request_id, milliseconds(2), true);
  }
  EXPECT_THAT(order, ElementsAre(2, 1, 3));
}

TEST_F(SchedulerTest, FailNodeRequeuesEveryDeviceOfTheNode) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "npu0", "npu", {{"face", milliseconds(4)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu", {{"face", milliseconds(9)}})).ok());
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
  ASSERT_EQ(s.Dispatch().size(), 3u);
  EXPECT_EQ(s.FailNode("n1").size(), 2u);
  EXPECT_EQ(s.queued_total(), 3u);
  for (const DeviceInfo& d : s.devices()) EXPECT_EQ(d.up, d.key.node != "n1") << d.key.ToString();
  EXPECT_TRUE(s.Dispatch().empty()) << "n2/cpu is busy with request 3";
  s.SetNodeUp("n1", true);
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(1, 2)) << "re-queued ahead of request 4";
}

TEST_F(SchedulerTest, NodeDownStopsDispatchUntilUp) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu", {{"face", milliseconds(50)}})).ok());
  s.SetNodeUp("n1", false);
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, (DeviceKey{"n2", "cpu"})) << "the only up device, slow as it is";
  s.SetNodeUp("n2", false);
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face")).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  EXPECT_TRUE(s.Complete(1, milliseconds(50), true)) << "in-flight work on a down node completes";
  s.SetNodeUp("n1", true);
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, (DeviceKey{"n1", "gpu0"}));
}

TEST_F(SchedulerTest, PinnedDeviceAndKindRestrictCandidates) {
  for (PolicyKind policy :
       {PolicyKind::kStatic, PolicyKind::kIdleFirst, PolicyKind::kEarliestFinish}) {
    Scheduler s = Make(policy);
    ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
    ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu", {{"face", milliseconds(50)}})).ok());
    ASSERT_TRUE(s.UpsertDevice(MakeDevice("n3", "cpu", "cpu", {{"face", milliseconds(60)}})).ok());
    Request to_device = MakeRequest(1, "face");
    to_device.pinned_device = DeviceKey{"n3", "cpu"};
    Request to_kind = MakeRequest(2, "face");
    to_kind.pinned_kind = "cpu";
    ASSERT_TRUE(s.Enqueue(to_device).ok());
    ASSERT_TRUE(s.Enqueue(to_kind).ok());
    std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 2u) << PolicyName(policy);
    EXPECT_EQ(a[0].device, (DeviceKey{"n3", "cpu"})) << PolicyName(policy);
    EXPECT_EQ(a[1].device, (DeviceKey{"n2", "cpu"})) << PolicyName(policy);
    EXPECT_EQ(a[1].variant, "face@cpu");

    Request waits = MakeRequest(3, "face");
    waits.pinned_device = DeviceKey{"n3", "cpu"};
    ASSERT_TRUE(s.Enqueue(waits).ok());
    EXPECT_TRUE(s.Dispatch().empty()) << PolicyName(policy) << ": its device is full";
    s.Complete(1, milliseconds(60), true);
    a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u) << PolicyName(policy);
    EXPECT_EQ(a[0].request_id, 3u);
  }
}

TEST_F(SchedulerTest, CancelRemovesOnlyWaitingRequests) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face")).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  EXPECT_FALSE(s.Cancel(1).has_value()) << "in flight";
  std::optional<Request> cancelled = s.Cancel(2);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->type, "face");
  EXPECT_FALSE(s.Cancel(2).has_value());
  EXPECT_EQ(s.queued("face"), 0u);
}

TEST_F(SchedulerTest, RemoveDeviceRequeuesItsWorkAndForgetsItsTypes) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu", {{"text", milliseconds(9)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  EXPECT_THAT(Ids(s.RemoveDevice({"n1", "gpu0"})), ElementsAre(1));
  EXPECT_EQ(s.queued("face"), 1u) << "waits for a device that can run it";
  EXPECT_EQ(s.Enqueue(MakeRequest(2, "face")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.devices().size(), 1u);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(1));
}

TEST_F(SchedulerTest, DevicesAreSortedByKey) {
  Scheduler s = Make(PolicyKind::kIdleFirst);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "a", "cpu", {{"x", milliseconds(1)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "b", "cpu", {{"x", milliseconds(1)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "a", "cpu", {{"x", milliseconds(1)}})).ok());
  std::vector<std::string> keys;
  for (const DeviceInfo& d : s.devices()) keys.push_back(d.key.ToString());
  EXPECT_THAT(keys, ElementsAre("n1/a", "n1/b", "n2/a"));
}

TEST_F(SchedulerTest, EstimateIsTheMedianOfRecentRunsWithTheReportAsOneVote) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  const DeviceKey gpu{"n1", "gpu0"};
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(10));
  auto run = [&](uint64_t id, milliseconds took, bool ok) {
    ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
    ASSERT_EQ(s.Dispatch().size(), 1u);
    ASSERT_TRUE(s.Complete(id, took, ok));
  };
  run(1, milliseconds(20), true);
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(10)) << "lower median of {10, 20}";
  run(2, milliseconds(30), true);
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(20)) << "median of {10, 20, 30}";
  run(3, milliseconds(500), false);
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(20)) << "failures do not count";
  // A later report replaces the earlier one as the one vote it is.
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(1)}})).ok());
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(20)) << "median of {1, 20, 30}";
  // Measurements older than the horizon are forgotten: the report is what is left.
  clock_.Advance(Options{}.estimate_horizon + milliseconds(1));
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(1)}})).ok());
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(1));
  EXPECT_EQ(s.service_estimate("text", gpu), std::nullopt);
  EXPECT_EQ(s.service_estimate("face", DeviceKey{"n9", "x"}), std::nullopt);
}

TEST_F(SchedulerTest, AVariantPinKeepsARequestOnDevicesServingThatVariant) {
  for (PolicyKind policy :
       {PolicyKind::kEarliestFinish, PolicyKind::kIdleFirst, PolicyKind::kStatic}) {
    Scheduler s = Make(policy);
    DeviceInfo gpu = MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(5)}});
    gpu.variants["face"] = "face-small";
    DeviceInfo cpu = MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(50)}});
    cpu.variants["face"] = "face-large";
    ASSERT_TRUE(s.UpsertDevice(gpu).ok());
    ASSERT_TRUE(s.UpsertDevice(cpu).ok());
    Request large = MakeRequest(1, "face");
    large.pinned_variant = "face-large";
    ASSERT_TRUE(s.Enqueue(large).ok());
    std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u) << PolicyName(policy);
    EXPECT_EQ(a[0].device, (DeviceKey{"n2", "cpu0"})) << PolicyName(policy);
    EXPECT_EQ(a[0].variant, "face-large");
    // Waits for that device rather than running elsewhere.
    Request second = MakeRequest(2, "face");
    second.pinned_variant = "face-large";
    ASSERT_TRUE(s.Enqueue(second).ok());
    EXPECT_TRUE(s.Dispatch().empty()) << PolicyName(policy);
    ASSERT_TRUE(s.Complete(1, milliseconds(50), true));
    a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].device, (DeviceKey{"n2", "cpu0"}));
    // A variant nobody serves is refused, naming what is served.
    Request none = MakeRequest(3, "face");
    none.pinned_variant = "face-huge";
    absl::Status status = s.Enqueue(none);
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(status.message()), HasSubstr("face-large, face-small"));
    // Nor with a pin that excludes every device serving it.
    Request both = MakeRequest(4, "face");
    both.pinned_variant = "face-large";
    both.pinned_kind = "gpu";
    EXPECT_EQ(s.Enqueue(both).code(), absl::StatusCode::kNotFound);
  }
}

TEST_F(SchedulerTest, AGroupKeepsARequestOnItsNodesUnderEveryPolicy) {
  for (PolicyKind policy :
       {PolicyKind::kEarliestFinish, PolicyKind::kIdleFirst, PolicyKind::kStatic}) {
    Scheduler s = Make(policy);
    // The fast GPU is in "line-1"; the slow CPUs in "line-2" (one also in "lab").
    DeviceInfo gpu = MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}});
    gpu.groups = {"line-1"};
    DeviceInfo cpu2 = MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(50)}});
    cpu2.groups = {"line-2", "lab"};
    DeviceInfo cpu3 = MakeDevice("n3", "cpu0", "cpu", {{"face", milliseconds(60)}});
    cpu3.groups = {"line-2"};
    for (const DeviceInfo& d : {gpu, cpu2, cpu3}) ASSERT_TRUE(s.UpsertDevice(d).ok());
    Request a = MakeRequest(1, "face");
    a.group = "line-2";
    Request b = MakeRequest(2, "face");
    b.group = "line-2";
    Request c = MakeRequest(3, "face");
    c.group = "line-2";
    if (policy == PolicyKind::kStatic) {
      // Static confines face to the GPU's kind, which line-2 lacks: refused.
      absl::Status refused = s.Enqueue(a);
      EXPECT_EQ(refused.code(), absl::StatusCode::kNotFound);
      EXPECT_THAT(std::string(refused.message()), HasSubstr("no gpu device"));
      Request on_gpu = MakeRequest(7, "face");
      on_gpu.group = "line-1";
      ASSERT_TRUE(s.Enqueue(on_gpu).ok());
      std::vector<Assignment> out = s.Dispatch();
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].device.node, "n1");
      continue;
    }
    for (const Request& r : {a, b, c}) ASSERT_TRUE(s.Enqueue(r).ok()) << PolicyName(policy);
    std::vector<Assignment> out = s.Dispatch();
    // Two slots in line-2 (one each); the idle GPU outside the group takes none.
    ASSERT_EQ(out.size(), 2u) << PolicyName(policy);
    for (const Assignment& x : out) EXPECT_NE(x.device.node, "n1") << PolicyName(policy);
    ASSERT_TRUE(s.Complete(out[0].request_id, milliseconds(50), true));
    out = s.Dispatch();
    ASSERT_EQ(out.size(), 1u) << PolicyName(policy);
    EXPECT_EQ(out[0].request_id, 3u);
    EXPECT_NE(out[0].device.node, "n1");
    // A group with a kind: both must hold.
    Request lab = MakeRequest(4, "face");
    lab.group = "lab";
    lab.pinned_kind = "gpu";
    absl::Status status = s.Enqueue(lab);
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << PolicyName(policy);
    EXPECT_THAT(std::string(status.message()), HasSubstr("of the pin in group 'lab'"));
    // A group nobody is in: refused, naming the groups that run the type.
    Request none = MakeRequest(5, "face");
    none.group = "line-9";
    status = s.Enqueue(none);
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(status.message()), HasSubstr("lab, line-1, line-2"));
    // A node that leaves the group takes the group's requests with it.
    cpu3.groups = {};
    cpu2.groups = {};
    ASSERT_TRUE(s.UpsertDevice(cpu2).ok());
    ASSERT_TRUE(s.UpsertDevice(cpu3).ok());
    Request gone = MakeRequest(6, "face");
    gone.group = "line-2";
    EXPECT_EQ(s.Enqueue(gone).code(), absl::StatusCode::kNotFound) << PolicyName(policy);
  }
}

TEST_F(SchedulerTest, AGroupedRequestExpiresOnlyByItsGroupsDevices) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  DeviceInfo gpu = MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}});
  gpu.groups = {"fast"};
  DeviceInfo cpu = MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(80)}});
  cpu.groups = {"slow"};
  ASSERT_TRUE(s.UpsertDevice(gpu).ok());
  ASSERT_TRUE(s.UpsertDevice(cpu).ok());
  // The slow group's device is busy for 80 ms; a 50 ms deadline cannot be met
  // there, although the fast group's device is idle.
  Request first = MakeRequest(1, "face");
  first.group = "slow";
  ASSERT_TRUE(s.Enqueue(first).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  Request late = MakeRequest(2, "face");
  late.group = "slow";
  late.deadline = clock_.Now() + milliseconds(50);
  ASSERT_TRUE(s.Enqueue(late).ok());
  EXPECT_TRUE(s.Dispatch().empty());
  EXPECT_THAT(Ids(s.ExpireDeadlines()), ElementsAre(2u));
}

TEST_F(SchedulerTest, OneSlowRunDoesNotMoveAnEstimate) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(5)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "npu0", "npu", {{"face", milliseconds(10)}})).ok());
  const DeviceKey gpu{"n1", "gpu0"};
  // The first run on the GPU compiles its kernels: 800 ms, once.
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, gpu);
  ASSERT_TRUE(s.Complete(1, milliseconds(800), true));
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(5));
  for (uint64_t id = 2; id < 10; ++id) {
    ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
    a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].device, gpu) << "request " << id;
    ASSERT_TRUE(s.Complete(id, milliseconds(5), true));
  }
}

TEST_F(SchedulerTest, AnEstimateLearnedFromOneSlowRunIsProbedAndCorrected) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  // No report from the GPU: its estimate is what it measures.
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(0)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(40)}})).ok());
  const DeviceKey gpu{"n1", "gpu0"}, cpu{"n2", "cpu0"};
  Request first = MakeRequest(1, "face");
  first.pinned_device = gpu;
  ASSERT_TRUE(s.Enqueue(first).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  ASSERT_TRUE(s.Complete(1, milliseconds(900), true));  // a first run, slow once
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(900));
  auto next = [&](uint64_t id, milliseconds took_on_gpu) {
    EXPECT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
    std::vector<Assignment> a = s.Dispatch();
    EXPECT_EQ(a.size(), 1u);
    if (a.empty()) return DeviceKey{};
    s.Complete(id, a[0].device == gpu ? took_on_gpu : milliseconds(40), true);
    return a[0].device;
  };
  // Within the probe interval the CPU serves: the GPU looks slower.
  EXPECT_EQ(next(2, milliseconds(5)), cpu);
  // Past it, the idle, unconfirmed GPU is probed once, and its estimate corrects.
  clock_.Advance(Options{}.probe_interval + milliseconds(1));
  EXPECT_EQ(next(3, milliseconds(5)), gpu);
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(5)) << "lower median of {900, 5}";
  // From then on the GPU serves, but for one probe of the CPU, which has not
  // confirmed its own estimate either.
  int on_gpu = 0;
  for (uint64_t id = 4; id < 10; ++id) on_gpu += next(id, milliseconds(5)) == gpu ? 1 : 0;
  EXPECT_GE(on_gpu, 5);
}

TEST_F(SchedulerTest, ADeviceThatSlowsDownAndSpeedsUpAgainIsServedAgain) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "npu0", "npu", {{"face", milliseconds(30)}})).ok());
  const DeviceKey gpu{"n1", "gpu0"}, npu{"n2", "npu0"};
  milliseconds gpu_takes{10};
  uint64_t id = 0;
  auto next = [&]() {
    ++id;
    EXPECT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
    std::vector<Assignment> a = s.Dispatch();
    EXPECT_EQ(a.size(), 1u);
    if (a.empty()) return DeviceKey{};
    clock_.Advance(milliseconds(50));
    s.Complete(id, a[0].device == gpu ? gpu_takes : milliseconds(30), true);
    return a[0].device;
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(next(), gpu);
  gpu_takes = milliseconds(100);  // thermal throttling
  std::map<std::string, int> served;
  for (int i = 0; i < 20; ++i) ++served[next().ToString()];
  EXPECT_LE(served["n1/gpu0"], 8) << "the slowdown is learned after a few runs";
  EXPECT_GE(s.service_estimate("face", gpu), milliseconds(100));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(next(), npu);
  gpu_takes = milliseconds(10);  // cooled down
  // Its slow runs age out; the GPU is probed and wins again.
  clock_.Advance(Options{}.estimate_horizon);
  int back = 0;
  for (int i = 0; i < 10; ++i) back += next() == gpu ? 1 : 0;
  EXPECT_GE(back, 9);
  EXPECT_EQ(s.service_estimate("face", gpu), milliseconds(10));
}

TEST_F(SchedulerTest, AProbeNeverTakesARequestItsDeadlineForbids) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(0)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(40)}})).ok());
  const DeviceKey gpu{"n1", "gpu0"}, cpu{"n2", "cpu0"};
  Request first = MakeRequest(1, "face");
  first.pinned_device = gpu;
  ASSERT_TRUE(s.Enqueue(first).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  ASSERT_TRUE(s.Complete(1, milliseconds(900), true));
  clock_.Advance(Options{}.probe_interval + milliseconds(1));
  Request tight = MakeRequest(2, "face");
  tight.deadline = clock_.Now() + milliseconds(100);
  ASSERT_TRUE(s.Enqueue(tight).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, cpu) << "the GPU's best is 900 ms, past the deadline";
}

TEST_F(SchedulerTest, EstimateFallsBackToSameKindThenAnyKindThenDefault) {
  Options options;
  options.default_service = milliseconds(7);
  Scheduler s(options, clock_);
  const auto none = std::chrono::nanoseconds(0);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", none}})).ok());
  EXPECT_EQ(s.service_estimate("face", {"n1", "gpu0"}), milliseconds(7)) << "default";

  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(40)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n3", "cpu0", "cpu", {{"face", milliseconds(60)}})).ok());
  EXPECT_EQ(s.service_estimate("face", {"n1", "gpu0"}), milliseconds(50)) << "any kind";

  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n4", "gpu0", "gpu", {{"face", milliseconds(4)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n5", "gpu0", "gpu", {{"face", milliseconds(6)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n6", "gpu0", "gpu", {{"face", milliseconds(9)}})).ok());
  EXPECT_EQ(s.service_estimate("face", {"n1", "gpu0"}), milliseconds(6)) << "same kind";

  // The fallback follows measurements made elsewhere.
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].device, (DeviceKey{"n4", "gpu0"}));
  ASSERT_TRUE(s.Complete(1, milliseconds(104), true));
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face")).ok());
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].device, (DeviceKey{"n4", "gpu0"})) << "one slow run does not count";
  ASSERT_TRUE(s.Complete(2, milliseconds(104), true));  // median of {4, 104, 104}
  EXPECT_EQ(s.service_estimate("face", {"n4", "gpu0"}), milliseconds(104));
  EXPECT_EQ(s.service_estimate("face", {"n1", "gpu0"}), milliseconds(9)) << "{6, 9, 104}";
}

TEST_F(SchedulerTest, AssignmentCarriesVariantAndExpectedFinish) {
  Scheduler s = Make(PolicyKind::kEarliestFinish, /*pipeline_depth=*/1);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face")).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].variant, "face@gpu");
  EXPECT_EQ(a[0].expected_finish, clock_.Now() + milliseconds(2));
  EXPECT_EQ(a[1].expected_finish, clock_.Now() + milliseconds(4)) << "waits for the slot";
}

TEST_F(SchedulerTest, IdealThroughputSumsDevicesForOneType) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}}, 2)).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu", {{"face", milliseconds(10)}})).ok());
  EXPECT_NEAR(s.IdealThroughput({{"face", 1.0}}), 2 / 0.002 + 1 / 0.010, 1e-6);
  EXPECT_EQ(s.IdealThroughput({{"pose", 1.0}}), 0.0);
  s.SetNodeUp("n1", false);
  EXPECT_NEAR(s.IdealThroughput({{"face", 1.0}}), 100, 1e-6);
}

TEST_F(SchedulerTest, IdealThroughputUsesComparativeAdvantage) {
  // The GPU is 10x faster at face and only 2x faster at text: the optimum gives the
  // CPU all the text work it can take.
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu",
                                        {{"face", milliseconds(1)}, {"text", milliseconds(5)}}))
                  .ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu", "cpu",
                                        {{"face", milliseconds(10)}, {"text", milliseconds(10)}}))
                  .ok());
  // CPU: text only, 100/s. Rate r, half text: text r/2 = 100 + x_gpu_text;
  // GPU time: (r/2) * 1 ms + (r/2 - 100) * 5 ms = 1 s  ->  r = 2 * 1.5 / 0.006 = 500.
  EXPECT_NEAR(s.IdealThroughput({{"face", 1}, {"text", 1}}), 500, 1e-6);
}

// A heartbeat upserts every device of its node with the agent's report. When
// the report says what the device already was (its measured times aside), the
// fluid LP and the lists derived from the topology stay as they are; a change
// of shape, a node going down and the steering interval passing re-solve it.
TEST_F(SchedulerTest, RepeatedReportsDoNotReSolveTheSteering) {
  Options options;
  options.steering_interval = milliseconds(500);
  Scheduler s(options, clock_);
  const DeviceInfo gpu =
      MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}, {"pose", milliseconds(10)}});
  const DeviceInfo npu =
      MakeDevice("n2", "npu0", "npu", {{"face", milliseconds(10)}, {"pose", milliseconds(40)}});
  ASSERT_TRUE(s.UpsertDevice(gpu).ok());
  ASSERT_TRUE(s.UpsertDevice(npu).ok());
  uint64_t id = 1;
  // One request, placed and completed: the Dispatch that placed it refreshed
  // the steering.
  auto serve = [&] {
    ASSERT_TRUE(s.Enqueue(MakeRequest(id, id % 2 == 0 ? "face" : "pose")).ok());
    const std::vector<Assignment> placed = s.Dispatch();
    ASSERT_EQ(placed.size(), 1u);
    s.Complete(placed[0].request_id, milliseconds(10), true);
    ++id;
  };
  serve();
  ASSERT_EQ(s.steering_solves(), 1u);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(milliseconds(100));
    ASSERT_TRUE(s.UpsertDevice(gpu).ok());
    DeviceInfo measured = npu;  // the agent's own measurement moved
    measured.reported_service["pose"] = milliseconds(38 + i);
    ASSERT_TRUE(s.UpsertDevice(measured).ok());
    serve();
  }
  EXPECT_EQ(s.steering_solves(), 1u) << "heartbeats that repeat the devices re-solved the LP";
  DeviceInfo wider = gpu;
  wider.slots = 2;
  ASSERT_TRUE(s.UpsertDevice(wider).ok());
  serve();
  EXPECT_EQ(s.steering_solves(), 2u) << "a device with more slots";
  s.SetNodeUp("n2", false);
  serve();
  EXPECT_EQ(s.steering_solves(), 3u) << "a node down";
  clock_.Advance(milliseconds(500));
  serve();
  EXPECT_EQ(s.steering_solves(), 4u) << "the steering interval passed";
}

}  // namespace

TEST_F(SchedulerTest, AssignmentsCarryTheWeighedCandidatesWhenAsked) {
  for (PolicyKind policy :
       {PolicyKind::kEarliestFinish, PolicyKind::kIdleFirst, PolicyKind::kStatic}) {
    Options options;
    options.policy = policy;
    options.pipeline_depth = 0;
    options.record_candidates = true;
    options.static_kinds = {{"face", "gpu"}};
    Scheduler s(options, clock_);
    ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
    ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(9)}})).ok());
    ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
    const std::vector<Assignment> out = s.Dispatch();
    ASSERT_EQ(out.size(), 1u) << PolicyName(policy);
    const Assignment& a = out[0];
    ASSERT_FALSE(a.candidates.empty()) << PolicyName(policy);
    // Best first; the winner is among them with the finish it was bound with.
    for (size_t i = 1; i < a.candidates.size(); ++i) {
      EXPECT_LE(a.candidates[i - 1].expected_finish, a.candidates[i].expected_finish);
    }
    const auto winner =
        std::find_if(a.candidates.begin(), a.candidates.end(),
                     [&](const CandidateFinish& c) { return c.device == a.device; });
    ASSERT_NE(winner, a.candidates.end()) << PolicyName(policy);
    EXPECT_EQ(winner->expected_finish, a.expected_finish) << PolicyName(policy);
    if (policy == PolicyKind::kStatic) {
      EXPECT_EQ(a.candidates.size(), 1u) << "static weighs only the type's kind";
    } else {
      ASSERT_EQ(a.candidates.size(), 2u) << PolicyName(policy);
      EXPECT_EQ(a.candidates[0].device.device, "gpu0");
      EXPECT_EQ(a.candidates[1].expected_finish - clock_.Now(), milliseconds(9));
    }
  }
}

TEST_F(SchedulerTest, CandidatesAreNotRecordedByDefault) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  const std::vector<Assignment> out = s.Dispatch();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].candidates.empty());
}

TEST_F(SchedulerTest, PolicyCanBeSwitchedBetweenDispatches) {
  Scheduler s = Make(PolicyKind::kEarliestFinish);
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "cpu0", "cpu", {{"face", milliseconds(50)}})).ok());
  s.SetPolicy(PolicyKind::kStatic);
  EXPECT_EQ(s.options().policy, PolicyKind::kStatic);
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(s.Enqueue(MakeRequest(id, "face")).ok());
  for (const Assignment& a : s.Dispatch()) EXPECT_EQ(a.device.device, "gpu0") << "static: gpu only";
}

}  // namespace heteroaccel::scheduler
