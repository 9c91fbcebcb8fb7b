// LiveStats fed by a real Dispatcher over the fake agent channel.
#include "server/live_stats.h"

#include <gtest/gtest.h>

#include "common/fake_clock.h"
#include "server/dispatcher.h"
#include "server/testing/fake_agent_channel.h"

namespace heteroaccel::server {
namespace {

using std::chrono::milliseconds;
using testing::FakeAgentChannel;

cluster::NodeReport Node(const std::string& node, DeviceKind kind, double service_ms) {
  cluster::NodeReport r;
  r.node = node;
  r.url = "http://" + node + ":8001";
  r.ready = true;
  cluster::DeviceReport d;
  d.id = "dev0";
  d.kind = kind;
  d.slots = 1;
  d.models = {{"face", "front"}, {"object", "ssd"}};
  d.service_ms[{"face", "front"}] = service_ms;
  d.service_ms[{"object", "ssd"}] = service_ms;
  r.devices.push_back(d);
  return r;
}

class LiveStatsTest : public ::testing::Test {
 protected:
  LiveStatsTest()
      : stats_(LiveStats::Options{}, clock_, registry_),
        dispatcher_(config_, registry_, clock_, channel_, &stats_) {}
  void Submit(const std::string& model) {
    InferWork w;
    w.model = model;
    w.body = std::make_shared<const std::string>("image");
    dispatcher_.Submit(std::move(w), [](InferResult) {});
  }

  FakeClock clock_;
  metrics::Registry registry_;
  ServerConfig config_;
  FakeAgentChannel channel_;
  LiveStats stats_;
  Dispatcher dispatcher_;
};

TEST_F(LiveStatsTest, DecisionsNameTheCandidatesTheWinnerAndTheActualTime) {
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("fast", DeviceKind::kGpu, 2)).ok());
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("slow", DeviceKind::kCpu, 20)).ok());
  Submit("face");
  ASSERT_EQ(channel_.pending(), 1u);
  EXPECT_EQ(channel_.calls()[0].device.node, "fast");
  clock_.Advance(milliseconds(3));
  channel_.Reply(0, FakeAgentChannel::Answer(R"({"outputs":[]})", 2));

  const nlohmann::json recent = stats_.RecentDecisions(10);
  ASSERT_EQ(recent.size(), 1u);
  const nlohmann::json& d = recent[0];
  EXPECT_EQ(d["winner"], "fast/dev0");
  EXPECT_EQ(d["kind"], "gpu");
  EXPECT_EQ(d["variant"], "front");
  ASSERT_EQ(d["candidates"].size(), 2u);
  EXPECT_EQ(d["candidates"][0]["device"], "fast/dev0");
  EXPECT_DOUBLE_EQ(d["candidates"][0]["predicted_ms"].get<double>(), 2);
  EXPECT_EQ(d["candidates"][1]["kind"], "cpu");
  EXPECT_DOUBLE_EQ(d["candidates"][1]["predicted_ms"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(d["predicted_ms"].get<double>(), 2);
  EXPECT_DOUBLE_EQ(d["actual_ms"].get<double>(), 3);
  EXPECT_EQ(d["outcome"], "ok");

  // Published once; |3 - 2| / 2 = 0.5 is the prediction error.
  size_t skipped = 0;
  EXPECT_EQ(stats_.TakeDecisionUpdates(50, skipped).size(), 1u);
  EXPECT_TRUE(stats_.TakeDecisionUpdates(50, skipped).empty());
  EXPECT_DOUBLE_EQ(stats_.PredictionJson()["fast/dev0/face"]["error"].get<double>(), 0.5);
}

TEST_F(LiveStatsTest, ServicesShowRatePercentilesErrorsAndTheSplit) {
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("a", DeviceKind::kGpu, 5)).ok());
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("b", DeviceKind::kGpu, 5)).ok());
  for (int i = 0; i < 4; ++i) {
    Submit("face");
    Submit("face");
    // Both devices take one each; answer them.
    ASSERT_EQ(channel_.pending(), 2u);
    clock_.Advance(milliseconds(10));
    channel_.Reply(0, FakeAgentChannel::Answer(R"({"outputs":[]})", 4));
    channel_.Reply(0, FakeAgentChannel::ClientError("image does not decode"));
  }
  const nlohmann::json services = stats_.ServicesJson();
  ASSERT_TRUE(services.contains("face"));
  const nlohmann::json& face = services["face"];
  EXPECT_DOUBLE_EQ(face["rate"].get<double>(), 0.8);  // 8 in the 10 s window
  EXPECT_DOUBLE_EQ(face["errors"]["400"].get<double>(), 0.4);
  ASSERT_EQ(face["latency_ms"]["compute"].size(), 3u);
  EXPECT_DOUBLE_EQ(face["latency_ms"]["compute"][0].get<double>(), 4);
  double share = 0;
  for (const auto& [route, s] : face["split"].items()) share += s.get<double>();
  EXPECT_NEAR(share, 1.0, 0.02);

  const auto mix = stats_.Mix();
  ASSERT_EQ(mix.size(), 1u);
  EXPECT_DOUBLE_EQ(mix.at("face"), 1.0);

  // Ten seconds later the window is empty again.
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_DOUBLE_EQ(stats_.ServicesJson()["face"]["rate"].get<double>(), 0);
}

TEST_F(LiveStatsTest, ExportsPhaseServedAndPredictionMetrics) {
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("a", DeviceKind::kGpu, 5)).ok());
  Submit("face");
  clock_.Advance(milliseconds(6));
  channel_.Reply(0, FakeAgentChannel::Answer(R"({"outputs":[]})", 5));
  const std::string text = registry_.Render();
  EXPECT_NE(text.find("heteroaccel_server_phase_seconds_count{model=\"face\",phase=\"compute\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("heteroaccel_server_served_total{model=\"face\",node=\"a\",device=\"dev0\","
                      "kind=\"gpu\",variant=\"front\",emulated=\"false\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("heteroaccel_server_prediction_error_ratio_count{model=\"face\",kind=\"gpu\"} 1"),
      std::string::npos)
      << text;
}

TEST_F(LiveStatsTest, PendingDecisionsArePublishedAfterTwoSeconds) {
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("a", DeviceKind::kGpu, 5)).ok());
  Submit("face");
  size_t skipped = 0;
  EXPECT_TRUE(stats_.TakeDecisionUpdates(50, skipped).empty());
  clock_.Advance(milliseconds(2100));
  const nlohmann::json pending = stats_.TakeDecisionUpdates(50, skipped);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(pending[0]["actual_ms"].is_null());
}

TEST_F(LiveStatsTest, UpdatesBeyondTheCapAreCountedAsSkipped) {
  ASSERT_TRUE(dispatcher_.Heartbeat(Node("a", DeviceKind::kGpu, 5)).ok());
  for (int i = 0; i < 5; ++i) {
    Submit("face");
    channel_.Reply(0, FakeAgentChannel::Answer());
  }
  size_t skipped = 0;
  const nlohmann::json got = stats_.TakeDecisionUpdates(3, skipped);
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(skipped, 2u);
}

}  // namespace
}  // namespace heteroaccel::server
