#include "server/request_tracker.h"

#include <gtest/gtest.h>

#include "common/fake_clock.h"
#include "server/testing/fake_agent_channel.h"

namespace heteroaccel::server {
namespace {

using testing::FakeAgentChannel;

class RequestTrackerTest : public ::testing::Test {
 protected:
  uint64_t Admit(Hints hints = {}) {
    InferWork w;
    w.model = "face";
    w.body = std::make_shared<const std::string>("x");
    w.hints = std::move(hints);
    return tracker_.Admit(std::move(w), [this](InferResult r) { results_.push_back(r); }).id;
  }
  AgentCall Bind(uint64_t id, const std::string& node = "n1") {
    return tracker_.Bind({id, {node, "cpu0"}, "v1", clock_.Now()});
  }

  FakeClock clock_;
  RequestTracker tracker_{3, clock_};
  std::vector<InferResult> results_;
};

TEST_F(RequestTrackerTest, KeepsHintsInTheRequestForEveryRequeue) {
  Hints hints;
  hints.priority = 7;
  hints.timeout = std::chrono::milliseconds(100);
  hints.device = scheduler::DeviceKey{"n1", "cpu0"};
  hints.device_kind = "cpu";
  hints.camera = "gate-1";
  const uint64_t id = Admit(hints);
  const scheduler::Request* r = tracker_.request(id);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->priority, 7);
  EXPECT_EQ(*r->deadline, r->arrival + std::chrono::milliseconds(100));
  EXPECT_EQ(r->pinned_device->ToString(), "n1/cpu0");
  EXPECT_EQ(r->pinned_kind, "cpu");
  EXPECT_EQ(r->tenant, "gate-1");
}

TEST_F(RequestTrackerTest, CountsAttemptsAndGivesUpWithTheLastError) {
  const uint64_t id = Admit();
  for (int i = 1; i <= 2; ++i) {
    const AgentCall call = Bind(id);
    EXPECT_EQ(call.attempt, i);
    EXPECT_EQ(tracker_.OnReply(call, FakeAgentChannel::Failed("boom")),
              RequestTracker::Verdict::kRetry);
  }
  const AgentCall last = Bind(id);
  EXPECT_EQ(tracker_.OnReply(last, FakeAgentChannel::Busy()), RequestTracker::Verdict::kGiveUp);
  const absl::Status s = tracker_.GiveUpStatus(id);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("failed on 3 attempts"), std::string::npos) << s;
}

TEST_F(RequestTrackerTest, RepliesToOldAttemptsAreStale) {
  const uint64_t id = Admit();
  const AgentCall first = Bind(id);
  tracker_.OnRequeued(id, "node lost");
  const AgentCall second = Bind(id);
  EXPECT_EQ(tracker_.OnReply(first, FakeAgentChannel::Answer()), RequestTracker::Verdict::kStale);
  EXPECT_EQ(tracker_.OnReply(second, FakeAgentChannel::Answer()), RequestTracker::Verdict::kAnswer);
}

TEST_F(RequestTrackerTest, UnreachableAsksForTheNodeToFail) {
  const uint64_t id = Admit();
  const AgentCall call = Bind(id);
  EXPECT_EQ(tracker_.OnReply(call, FakeAgentChannel::Unreachable()),
            RequestTracker::Verdict::kNodeLost);
}

TEST_F(RequestTrackerTest, RequeuedRequestsOutOfAttemptsAreExhausted) {
  const uint64_t id = Admit();
  for (int i = 0; i < 3; ++i) {
    Bind(id);
    tracker_.OnRequeued(id, "node lost");
  }
  EXPECT_EQ(tracker_.Exhausted(), std::vector<uint64_t>{id});
  EXPECT_EQ(tracker_.GiveUpStatus(id).code(), absl::StatusCode::kUnavailable);
}

TEST_F(RequestTrackerTest, FinishRemovesOnceAndReportsTheAttempt) {
  const uint64_t id = Admit();
  clock_.Advance(std::chrono::milliseconds(40));
  Bind(id);
  auto f = tracker_.Finish(id, FakeAgentChannel::Answer("body"));
  ASSERT_TRUE(f.done);
  EXPECT_EQ(f.result.body, "body");
  EXPECT_EQ(f.result.attempts, 1);
  EXPECT_DOUBLE_EQ(f.result.queue_ms, 40);
  EXPECT_FALSE(tracker_.Finish(id, absl::InternalError("again")).done);
  EXPECT_EQ(tracker_.size(), 0u);
}

}  // namespace
}  // namespace heteroaccel::server
