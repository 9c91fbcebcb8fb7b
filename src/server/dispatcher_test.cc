#include "server/dispatcher.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "common/fake_clock.h"
#include "server/testing/fake_agent_channel.h"

namespace heteroaccel::server {
namespace {

using std::chrono::milliseconds;
using testing::FakeAgentChannel;

cluster::NodeReport Report(const std::string& node, std::vector<std::string> device_ids,
                           int slots = 1) {
  cluster::NodeReport r;
  r.node = node;
  r.url = "http://" + node + ":8001";
  r.ready = true;
  for (const std::string& id : device_ids) {
    cluster::DeviceReport d;
    d.id = id;
    d.kind = DeviceKind::kCpu;
    d.slots = slots;
    d.models = {{"face", "blazeface-front-128"}};
    d.service_ms[{"face", "blazeface-front-128"}] = 5;
    r.devices.push_back(d);
  }
  return r;
}

// Collects every answer, counting how often each request was answered.
struct Answers {
  std::mutex mu;
  std::map<int, std::vector<InferResult>> by_request;

  InferDone For(int request) {
    return [this, request](InferResult r) {
      std::lock_guard<std::mutex> lock(mu);
      by_request[request].push_back(std::move(r));
    };
  }
  size_t count(int request) {
    std::lock_guard<std::mutex> lock(mu);
    return by_request[request].size();
  }
  InferResult only(int request) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(by_request[request].size(), 1u) << "request " << request;
    return by_request[request].empty() ? InferResult{} : by_request[request].front();
  }
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(); }

  void Make() {
    dispatcher_.reset();
    channel_ = std::make_unique<FakeAgentChannel>();
    registry_ = std::make_unique<metrics::Registry>();
    dispatcher_ = std::make_unique<Dispatcher>(config_, *registry_, clock_, *channel_);
  }

  void Beat(const cluster::NodeReport& report) { ASSERT_TRUE(dispatcher_->Heartbeat(report).ok()); }

  InferWork Work(Hints hints = {}) {
    InferWork w;
    w.model = "face";
    w.body = std::make_shared<const std::string>("image");
    w.content_type = "application/json";
    w.hints = std::move(hints);
    return w;
  }

  size_t FindCall(const std::string& node, const std::string& device = "") {
    const auto calls = channel_->calls();
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].device.node == node && (device.empty() || calls[i].device.device == device)) {
        return i;
      }
    }
    ADD_FAILURE() << "no call waiting on " << node << "/" << device;
    return 0;
  }

  Answers answers_;  // outlives the dispatcher, which may answer as it stops
  ServerConfig config_;
  FakeClock clock_;
  std::unique_ptr<FakeAgentChannel> channel_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, AnswersWithTheAgentsAnswerAndWhoServedIt) {
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  ASSERT_EQ(channel_->pending(), 1u);
  const AgentCall call = channel_->calls()[0];
  EXPECT_EQ(call.attempt, 1);
  EXPECT_EQ(call.variant, "blazeface-front-128");
  channel_->Reply(0, FakeAgentChannel::Answer(R"({"id":"x"})"));
  const InferResult r = answers_.only(1);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, R"({"id":"x"})");
  ASSERT_TRUE(r.served_by.has_value());
  EXPECT_EQ(r.served_by->ToString(), "n1/cpu0");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(dispatcher_->open_requests(), 0u);
}

TEST_F(DispatcherTest, RefusesBeforeAnyAgentRegistered) {
  dispatcher_->Submit(Work(), answers_.For(1));
  EXPECT_EQ(answers_.only(1).status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(DispatcherTest, RequestErrorFromTheAgentIsAnsweredAsIsWithoutRetry) {
  Beat(Report("n1", {"cpu0", "cpu1"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  channel_->Reply(0, FakeAgentChannel::ClientError("image does not decode"));
  const InferResult r = answers_.only(1);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message(), "image does not decode");
  EXPECT_EQ(channel_->sent(), 1);
}

TEST_F(DispatcherTest, BusyRequeueKeepsPinPriorityAndDeadline) {
  Beat(Report("n1", {"cpu0", "cpu1"}));
  Hints hints;
  hints.device = scheduler::DeviceKey{"n1", "cpu1"};
  hints.priority = 5;
  hints.timeout = milliseconds(500);
  dispatcher_->Submit(Work(hints), answers_.For(1));
  ASSERT_EQ(channel_->pending(), 1u);
  EXPECT_EQ(channel_->calls()[0].device.device, "cpu1");
  channel_->Reply(0, FakeAgentChannel::Busy());
  // Re-bound to the pinned device, not to the idle cpu0.
  ASSERT_EQ(channel_->pending(), 1u);
  EXPECT_EQ(channel_->calls()[0].device.device, "cpu1");
  EXPECT_EQ(channel_->calls()[0].attempt, 2);
  // The deadline still counts from arrival: past it, a busy answer cannot
  // re-queue it for ever.
  clock_.Advance(milliseconds(600));
  channel_->Reply(0, FakeAgentChannel::Busy());
  const InferResult r = answers_.only(1);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded) << r.status;
}

TEST_F(DispatcherTest, RequeueThatTheQueueCannotTakeIsAnsweredAtOnce) {
  config_.queue_capacity = 1;
  config_.pipeline_depth = 0;
  Make();
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));  // bound
  dispatcher_->Submit(Work(), answers_.For(2));  // waits, filling the queue
  ASSERT_EQ(channel_->pending(), 1u);
  channel_->Reply(0, FakeAgentChannel::Busy());
  const InferResult r = answers_.only(1);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted) << r.status;
  // The device is free again and takes the waiting request.
  ASSERT_EQ(channel_->pending(), 1u);
  channel_->Reply(0, FakeAgentChannel::Answer());
  EXPECT_TRUE(answers_.only(2).status.ok());
}

// A full queue: the camera holding the most of it gives way to one holding fewer,
// and a higher priority to the lowest; each displaced request is answered 429 once,
// saying which rule displaced it.
TEST_F(DispatcherTest, DisplacedRequestsAreAnsweredWithTheReason) {
  config_.queue_capacity = 3;
  config_.pipeline_depth = 0;
  Make();
  Beat(Report("n1", {"cpu0"}));
  const auto from = [](const char* camera, int priority = 0) {
    Hints h;
    h.camera = camera;
    h.priority = priority;
    return h;
  };
  for (int i = 1; i <= 4; ++i) dispatcher_->Submit(Work(from("a")), answers_.For(i));  // 1 bound
  dispatcher_->Submit(Work(from("b")), answers_.For(5));
  const InferResult displaced = answers_.only(4);
  EXPECT_EQ(displaced.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(displaced.status.message().find("camera 'a' held the most of the queue"),
            std::string::npos)
      << displaced.status;
  dispatcher_->Submit(Work(from("b")), answers_.For(6));  // a holds 2, b 1: no gain
  EXPECT_EQ(answers_.only(6).status.code(), absl::StatusCode::kResourceExhausted);
  dispatcher_->Submit(Work(from("c", 2)), answers_.For(7));
  const InferResult by_priority = answers_.only(3);
  EXPECT_EQ(by_priority.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(by_priority.status.message().find("gave its place to one of priority 2"),
            std::string::npos)
      << by_priority.status;
  // The rest are served, each answered once.
  for (int served = 0; served < 4; ++served) {
    ASSERT_EQ(channel_->pending(), 1u);
    channel_->Reply(0, FakeAgentChannel::Answer());
  }
  for (int i : {1, 2, 5, 7}) EXPECT_TRUE(answers_.only(i).status.ok()) << i;
  EXPECT_EQ(dispatcher_->open_requests(), 0u);
}

TEST_F(DispatcherTest, QueryOfDeathFailsAloneAndTakesNoNodeDown) {
  config_.max_attempts = 3;
  Make();
  Beat(Report("n1", {"cpu0"}));
  Beat(Report("n2", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(channel_->pending(), 1u) << attempt;
    EXPECT_EQ(channel_->calls()[0].attempt, attempt);
    channel_->Reply(0, FakeAgentChannel::Failed("segfault in the model"));
  }
  const InferResult r = answers_.only(1);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status.message().find("failed on 3 attempts"), std::string::npos) << r.status;
  EXPECT_NE(r.status.message().find("segfault in the model"), std::string::npos) << r.status;
  // Both nodes stay up and serve the next request.
  const nlohmann::json cluster = dispatcher_->ClusterJson();
  for (const auto& node : cluster["nodes"]) EXPECT_TRUE(node["up"].get<bool>());
  dispatcher_->Submit(Work(), answers_.For(2));
  ASSERT_EQ(channel_->pending(), 1u);
  channel_->Reply(0, FakeAgentChannel::Answer());
  EXPECT_TRUE(answers_.only(2).status.ok());
}

TEST_F(DispatcherTest, TimeoutOnOneDeviceIsRetriedElsewhere) {
  Beat(Report("n1", {"cpu0"}));
  Beat(Report("n2", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  const std::string first = channel_->calls()[0].device.node;
  channel_->Reply(0, FakeAgentChannel::TimedOut());
  ASSERT_EQ(channel_->pending(), 1u);
  channel_->Reply(0, FakeAgentChannel::Answer());
  const InferResult r = answers_.only(1);
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.attempts, 2);
}

TEST_F(DispatcherTest, UnreachableNodeGoesDownAndItsRequestsRunElsewhere) {
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  Beat(Report("n2", {"cpu0"}));
  ASSERT_EQ(channel_->calls()[0].device.node, "n1");
  channel_->Reply(0, FakeAgentChannel::Unreachable());
  ASSERT_EQ(channel_->pending(), 1u);
  EXPECT_EQ(channel_->calls()[0].device.node, "n2");
  channel_->Reply(0, FakeAgentChannel::Answer());
  EXPECT_TRUE(answers_.only(1).status.ok());
  bool n1_up = true;
  const nlohmann::json cluster = dispatcher_->ClusterJson();
  for (const auto& node : cluster["nodes"]) {
    if (node["node"] == "n1") n1_up = node["up"].get<bool>();
  }
  EXPECT_FALSE(n1_up);
}

TEST_F(DispatcherTest, SilentNodeIsFailedAndItsLateAnswerIgnored) {
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  const AgentCall lost = channel_->calls()[0];
  clock_.Advance(milliseconds(config_.node_timeout_ms / 2));
  Beat(Report("n2", {"cpu0"}));
  clock_.Advance(milliseconds(config_.node_timeout_ms));
  Beat(Report("n2", {"cpu0"}));
  dispatcher_->Tick();  // n1 silent past the timeout
  ASSERT_EQ(channel_->pending(), 2u);
  const size_t on_n2 = FindCall("n2");
  EXPECT_EQ(channel_->calls()[on_n2].attempt, 2);
  channel_->Reply(on_n2, FakeAgentChannel::Answer("second"));
  // The first attempt answers late: ignored.
  channel_->ReplyAgain(lost, FakeAgentChannel::Answer("first"));
  EXPECT_EQ(answers_.only(1).body, "second");
}

TEST_F(DispatcherTest, AnswerFromALostNodeBeforeRebindingIsTaken) {
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  clock_.Advance(milliseconds(config_.node_timeout_ms * 2));
  dispatcher_->Tick();  // n1 down; no other device: the request waits
  ASSERT_EQ(dispatcher_->open_requests(), 1u);
  channel_->Reply(0, FakeAgentChannel::Answer("late but good"));
  EXPECT_EQ(answers_.only(1).body, "late but good");
  EXPECT_EQ(dispatcher_->open_requests(), 0u);
}

TEST_F(DispatcherTest, AgentRestartRetriesWhatTheOldProcessHeld) {
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  const AgentCall old = channel_->calls()[0];
  cluster::NodeReport restarted = Report("n1", {"cpu0"});
  restarted.url = "http://n1:9001";
  Beat(restarted);
  const auto calls = channel_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].attempt, 2);
  channel_->ReplyAgain(old, FakeAgentChannel::Unreachable("connection reset"));
  channel_->Reply(1, FakeAgentChannel::Answer());
  EXPECT_TRUE(answers_.only(1).status.ok());
  // The new agent stays up: the old connection's reset was stale.
  EXPECT_TRUE(dispatcher_->ClusterJson()["nodes"][0]["up"].get<bool>());
}

TEST_F(DispatcherTest, StopAnswersEverythingStillOpen) {
  Beat(Report("n1", {"cpu0"}));
  dispatcher_->Submit(Work(), answers_.For(1));
  dispatcher_->Submit(Work(), answers_.For(2));
  dispatcher_->Submit(Work(), answers_.For(3));
  dispatcher_->Stop();
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(answers_.only(i).status.code(), absl::StatusCode::kUnavailable) << i;
  }
  dispatcher_->Submit(Work(), answers_.For(4));
  EXPECT_EQ(answers_.only(4).status.code(), absl::StatusCode::kUnavailable);
}

// Many seeded schedules of faults: every request is answered exactly once,
// whatever the agents do, and nothing stays open once they behave.
TEST_F(DispatcherTest, RandomFaultSchedulesAnswerEveryRequestExactlyOnce) {
  config_.max_attempts = 3;
  config_.queue_capacity = 16;
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    Make();
    answers_.by_request.clear();
    std::mt19937 rng(seed);
    const std::vector<std::string> nodes = {"n1", "n2", "n3"};
    std::map<std::string, std::string> url;
    for (const auto& n : nodes) {
      url[n] = "http://" + n + ":8001";
      Beat(Report(n, {"cpu0", "gpu0"}));
    }
    int submitted = 0;
    std::vector<AgentCall> seen;  // for duplicate and late replies
    for (int step = 0; step < 300; ++step) {
      const int action = static_cast<int>(rng() % 100);
      if (action < 30) {
        Hints hints;
        if (rng() % 5 == 0) hints.timeout = milliseconds(50 + rng() % 400);
        if (rng() % 7 == 0) hints.device = scheduler::DeviceKey{nodes[rng() % 3], "gpu0"};
        hints.priority = static_cast<int>(rng() % 3);
        dispatcher_->Submit(Work(hints), answers_.For(++submitted));
      } else if (action < 75 && channel_->pending() > 0) {
        const size_t i = rng() % channel_->pending();
        seen.push_back(channel_->calls()[i]);
        switch (rng() % 6) {
          case 0:
          case 1:
            channel_->Reply(i, FakeAgentChannel::Answer());
            break;
          case 2:
            channel_->Reply(i, FakeAgentChannel::Busy());
            break;
          case 3:
            channel_->Reply(i, FakeAgentChannel::Failed());
            break;
          case 4:
            channel_->Reply(i, FakeAgentChannel::TimedOut());
            break;
          default:
            channel_->Reply(i, FakeAgentChannel::Unreachable());
        }
      } else if (action < 80 && !seen.empty()) {
        // A duplicate or late reply to an earlier attempt.
        channel_->ReplyAgain(seen[rng() % seen.size()],
                             rng() % 2 ? FakeAgentChannel::Answer() : FakeAgentChannel::Failed());
      } else if (action < 90) {
        clock_.Advance(milliseconds(rng() % 400));
        for (const auto& n : nodes) {
          if (rng() % 4 != 0) {  // some nodes miss their heartbeat
            cluster::NodeReport r = Report(n, {"cpu0", "gpu0"});
            if (rng() % 30 == 0) url[n] = "http://" + n + ":" + std::to_string(9000 + rng() % 100);
            r.url = url[n];
            Beat(r);
          }
        }
        dispatcher_->Tick();
      } else {
        clock_.Advance(milliseconds(rng() % 50));
        dispatcher_->Tick();
      }
    }
    // The agents recover and answer everything.
    for (int round = 0; round < 1000 && dispatcher_->open_requests() > 0; ++round) {
      for (const auto& n : nodes) {
        cluster::NodeReport r = Report(n, {"cpu0", "gpu0"});
        r.url = url[n];
        Beat(r);
      }
      dispatcher_->Tick();
      while (channel_->pending() > 0) channel_->Reply(0, FakeAgentChannel::Answer());
      clock_.Advance(milliseconds(10));
    }
    ASSERT_EQ(dispatcher_->open_requests(), 0u) << "seed " << seed;
    for (int i = 1; i <= submitted; ++i) {
      ASSERT_EQ(answers_.count(i), 1u) << "seed " << seed << " request " << i;
    }
  }
}

// A node whose one CPU runs "text" with ppocr (40 ms) and ppocr-mobile (15 ms).
cluster::NodeReport TextReport() {
  cluster::NodeReport r = Report("n1", {"cpu0"});
  cluster::DeviceReport& d = r.devices[0];
  d.models = {{"text", "ppocr"}, {"text", "ppocr-mobile"}, {"text", "ppocr-tiny"}};
  d.service_ms = {
      {{"text", "ppocr"}, 40}, {{"text", "ppocr-mobile"}, 15}, {{"text", "ppocr-tiny"}, 5}};
  return r;
}

TEST_F(DispatcherTest, DegradesATightDeadlineWithinTheFloorAndSaysSo) {
  config_.registry["text"].degrade =
      DegradePolicy{0.8, {{"ppocr", 0.86}, {"ppocr-mobile", 0.81}, {"ppocr-tiny", 0.6}}};
  Make();
  Beat(TextReport());
  InferWork loose = Work({.timeout = milliseconds(500)});
  loose.model = "text";
  dispatcher_->Submit(std::move(loose), answers_.For(1));
  ASSERT_EQ(channel_->pending(), 1u);
  EXPECT_EQ(channel_->calls()[0].variant, "ppocr");
  EXPECT_EQ(channel_->calls()[0].degraded_from, "");
  channel_->Reply(0, FakeAgentChannel::Answer("{}"));

  InferWork tight = Work({.timeout = milliseconds(25)});
  tight.model = "text";
  dispatcher_->Submit(std::move(tight), answers_.For(2));
  ASSERT_EQ(channel_->pending(), 1u);
  const AgentCall call = channel_->calls().back();
  EXPECT_EQ(call.variant, "ppocr-mobile") << "the tiny one is below the floor";
  EXPECT_EQ(call.degraded_from, "ppocr");
  const nlohmann::json model = dispatcher_->ModelJson("text");
  const nlohmann::json& alternates = model["devices"][0]["degrade"]["alternates"];
  ASSERT_EQ(alternates.size(), 2u) << model.dump();
  EXPECT_EQ(alternates[0]["variant"], "ppocr-mobile");
  EXPECT_EQ(alternates[0]["eligible"], true);
  EXPECT_EQ(alternates[0]["service_ms"], 15.0);
  EXPECT_EQ(alternates[1]["variant"], "ppocr-tiny");
  EXPECT_EQ(alternates[1]["eligible"], false);
  EXPECT_NE(
      registry_->Render().find(
          R"(heteroaccel_degraded_requests_total{type="text",from="ppocr",to="ppocr-mobile"} 1)"),
      std::string::npos)
      << registry_->Render();
}

TEST_F(DispatcherTest, AClientOptOutKeepsThePrimary) {
  config_.registry["text"].degrade = DegradePolicy{0.8, {{"ppocr", 0.86}, {"ppocr-mobile", 0.81}}};
  Make();
  Beat(TextReport());
  InferWork tight = Work({.timeout = milliseconds(25), .degrade = false});
  tight.model = "text";
  dispatcher_->Submit(std::move(tight), answers_.For(1));
  EXPECT_EQ(channel_->pending(), 0u);
  const InferResult r = answers_.only(1);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDeadlineExceeded) << r.status;
}

}  // namespace
}  // namespace heteroaccel::server
