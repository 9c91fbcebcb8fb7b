#include "server/placement.h"

#include <gtest/gtest.h>

#include "common/fake_clock.h"
#include "server/dispatcher.h"
#include "server/testing/fake_agent_channel.h"

namespace heteroaccel::server {
namespace {

using testing::FakeAgentChannel;

Inventory TwoKinds() {
  Inventory inv;
  inv["face"]["gpu"] = {{"front", "back"}, 1};
  inv["face"]["cpu"] = {{"front", "back"}, 2};
  inv["object"]["cpu"] = {{"ssd"}, 2};
  return inv;
}

PlacementChange Change(const std::string& json) {
  auto change = ParsePlacementChange(json);
  EXPECT_TRUE(change.ok()) << change.status();
  return change.ok() ? *change : PlacementChange{};
}

TEST(PlacementTest, MalformedChangesNameTheField) {
  const struct {
    const char* body;
    const char* message;
  } cases[] = {
      {"[]", "JSON object"},
      {R"({"version":"3"})", "version"},
      {R"({"types":{"face":{"pin":3}}})", "types.face.pin"},
      {R"({"types":{"face":{"kinds":{"gpu":{"enabled":"no"}}}}})", "types.face.kinds.gpu.enabled"},
      {R"({"types":{"face":{"colour":1}}})", "unknown field 'colour'"},
      {R"({"polcy":"static"})", "unknown field 'polcy'"},
  };
  for (const auto& c : cases) {
    auto got = ParsePlacementChange(c.body);
    ASSERT_FALSE(got.ok()) << c.body;
    EXPECT_NE(got.status().message().find(c.message), std::string_view::npos)
        << c.body << " -> " << got.status().message();
  }
}

TEST(PlacementTest, PinDisableAndVariantAreAppliedAndChecked) {
  const PlacementState start{"earliest-finish", {}};
  auto pinned =
      ApplyPlacementChange(start, Change(R"({"types":{"face":{"pin":"gpu"}}})"), TwoKinds());
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(EffectiveVariant(pinned->registry, "face", "gpu", {"front", "back"}), "front");
  EXPECT_EQ(EffectiveVariant(pinned->registry, "face", "cpu", {"front", "back"}), std::nullopt);
  EXPECT_EQ(EffectiveVariant(pinned->registry, "object", "cpu", {"ssd"}), "ssd") << "untouched";

  // Setting one kind's variant keeps the other kinds running as they did.
  auto variant = ApplyPlacementChange(
      start, Change(R"({"types":{"face":{"kinds":{"cpu":{"variant":"back"}}}}})"), TwoKinds());
  ASSERT_TRUE(variant.ok()) << variant.status();
  EXPECT_EQ(EffectiveVariant(variant->registry, "face", "cpu", {"front", "back"}), "back");
  EXPECT_EQ(EffectiveVariant(variant->registry, "face", "gpu", {"front", "back"}), "front");

  auto disabled = ApplyPlacementChange(
      start, Change(R"({"types":{"face":{"kinds":{"gpu":{"enabled":false}}}}})"), TwoKinds());
  ASSERT_TRUE(disabled.ok());
  EXPECT_EQ(EffectiveVariant(disabled->registry, "face", "gpu", {"front"}), std::nullopt);
  auto enabled = ApplyPlacementChange(
      *disabled, Change(R"({"types":{"face":{"kinds":{"gpu":{"enabled":true}}}}})"), TwoKinds());
  ASSERT_TRUE(enabled.ok());
  EXPECT_EQ(EffectiveVariant(enabled->registry, "face", "gpu", {"front"}), "front");

  const struct {
    const char* body;
    const char* message;
  } refused[] = {
      {R"({"policy":"fastest"})", "unknown policy"},
      {R"({"types":{"pose":{"pin":"gpu"}}})", "no device has loaded 'pose'"},
      {R"({"types":{"object":{"pin":"gpu"}}})", "no gpu device has loaded 'object'"},
      {R"({"types":{"face":{"kinds":{"tpu":{"enabled":false}}}}})", "unknown kind"},
      {R"({"types":{"face":{"kinds":{"cpu":{"variant":"huge"}}}}})", "'huge' is not loaded"},
      {R"({"types":{"object":{"kinds":{"cpu":{"enabled":false}}}}})", "no kind to run on"},
      {R"({"types":{"face":{"pin":"gpu","kinds":{"gpu":{"enabled":false}}}}})",
       "no kind to run on"},
  };
  for (const auto& c : refused) {
    auto got = ApplyPlacementChange(start, Change(c.body), TwoKinds());
    ASSERT_FALSE(got.ok()) << c.body;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.message), std::string_view::npos)
        << c.body << " -> " << got.status().message();
  }
}

TEST(PlacementTest, DegradationIsSetCheckedAgainstTheInventoryAndLifted) {
  const PlacementState start{"earliest-finish", {}};
  auto set = ApplyPlacementChange(
      start,
      Change(
          R"({"types":{"face":{"degrade":{"floor":0.8,"variants":{"back":0.82,"front":0.9}}}}})"),
      TwoKinds());
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_TRUE(set->registry.at("face").degrade.has_value());
  EXPECT_DOUBLE_EQ(set->registry.at("face").degrade->floor, 0.8);
  EXPECT_EQ(PlacementJson(1, *set, TwoKinds())["types"]["face"]["degrade"]["variants"]["back"],
            0.82);
  auto lifted =
      ApplyPlacementChange(*set, Change(R"({"types":{"face":{"degrade":null}}})"), TwoKinds());
  ASSERT_TRUE(lifted.ok()) << lifted.status();
  EXPECT_FALSE(lifted->registry.at("face").degrade.has_value());

  auto unknown = ApplyPlacementChange(
      start, Change(R"({"types":{"face":{"degrade":{"floor":0.8,"variants":{"tiny":0.81}}}}})"),
      TwoKinds());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("types.face.degrade.variants.tiny"),
            std::string_view::npos)
      << unknown.status();
  auto malformed = ParsePlacementChange(R"({"types":{"face":{"degrade":{"floor":2}}}})");
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.status().message().find("types.face.degrade.floor"), std::string_view::npos)
      << malformed.status();
}

TEST(PlacementTest, MatrixShowsEveryTypeAndKindPresent) {
  PlacementState state{"idle-first", {}};
  state.registry["face"].disabled = {"cpu"};
  const nlohmann::json m = PlacementJson(4, state, TwoKinds());
  EXPECT_EQ(m["version"], 4);
  EXPECT_EQ(m["policy"], "idle-first");
  EXPECT_EQ(m["kinds"], (nlohmann::json{"cpu", "gpu"}));
  EXPECT_EQ(m["types"]["face"]["kinds"]["cpu"]["enabled"], false);
  EXPECT_EQ(m["types"]["face"]["kinds"]["gpu"]["enabled"], true);
  EXPECT_EQ(m["types"]["face"]["kinds"]["cpu"]["devices"], 2);
  EXPECT_TRUE(m["types"]["face"]["pin"].is_null());
  EXPECT_EQ(m["types"]["object"]["kinds"]["cpu"]["variant"], "ssd");
}

TEST(PlacementTest, StateRoundTripsThroughJson) {
  PlacementState state{"static", {}};
  state.registry["face"].pin = "gpu";
  state.registry["face"].disabled = {"npu"};
  state.registry["face"].variants = {{"gpu", "front"}};
  auto back = ParsePlacementState(ToJson(state));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->policy, "static");
  EXPECT_EQ(back->registry["face"].pin, "gpu");
  EXPECT_EQ(back->registry["face"].disabled, std::set<std::string>{"npu"});
  EXPECT_FALSE(ParsePlacementState(nlohmann::json{{"policy", "x"}, {"registry", {}}}).ok());
}

// The dispatcher applies a placement to the very next requests.
class PlacementDispatchTest : public ::testing::Test {
 protected:
  PlacementDispatchTest() : dispatcher_(config_, registry_, clock_, channel_) {
    Beat("n1", DeviceKind::kGpu, 2);
    Beat("n2", DeviceKind::kCpu, 10);
  }
  void Beat(const std::string& node, DeviceKind kind, double ms) {
    cluster::NodeReport r;
    r.node = node;
    r.url = "http://" + node;
    r.ready = true;
    cluster::DeviceReport d;
    d.id = "d0";
    d.kind = kind;
    d.slots = 4;
    d.models = {{"face", "front"}};
    d.service_ms[{"face", "front"}] = ms;
    r.devices.push_back(d);
    ASSERT_TRUE(dispatcher_.Heartbeat(r).ok());
  }
  std::string SubmitAndWhere() {
    InferWork w;
    w.model = "face";
    w.body = std::make_shared<const std::string>("image");
    dispatcher_.Submit(std::move(w), [](InferResult) {});
    const auto calls = channel_.calls();
    EXPECT_FALSE(calls.empty());
    const std::string node = calls.empty() ? "" : calls.back().device.node;
    channel_.Reply(channel_.pending() - 1, FakeAgentChannel::Answer());
    return node;
  }

  FakeClock clock_;
  metrics::Registry registry_;
  ServerConfig config_;
  FakeAgentChannel channel_;
  Dispatcher dispatcher_;
};

TEST_F(PlacementDispatchTest, APinTakesEffectForTheNextRequestAndVersionsGuardConflicts) {
  EXPECT_EQ(SubmitAndWhere(), "n1") << "the GPU finishes first";
  auto applied = dispatcher_.ApplyPlacement(Change(R"({"types":{"face":{"pin":"cpu"}}})"));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->version, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(SubmitAndWhere(), "n2");
  EXPECT_EQ(applied->before_view["types"]["face"]["pin"], nullptr);
  EXPECT_EQ(applied->after_view["types"]["face"]["pin"], "cpu");

  // A change against an old version is refused; a revert to `before` works.
  auto stale = dispatcher_.ApplyPlacement(Change(R"({"version":0,"policy":"static"})"));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  auto reverted = dispatcher_.SetPlacement(applied->before, 1);
  ASSERT_TRUE(reverted.ok()) << reverted.status();
  EXPECT_EQ(SubmitAndWhere(), "n1");
  EXPECT_EQ(dispatcher_.PlacementJson()["version"], 2);
}

TEST_F(PlacementDispatchTest, WhatIfComparesIdealThroughputWithAndWithoutTheChange) {
  auto what_if = dispatcher_.WhatIf(Change(R"({"types":{"face":{"pin":"cpu"}}})"), {});
  ASSERT_TRUE(what_if.ok()) << what_if.status();
  // 4 slots at 2 ms + 4 slots at 10 ms = 2000 + 400 per second; the CPU alone 400.
  EXPECT_NEAR((*what_if)["current_rps"].get<double>(), 2400, 1);
  EXPECT_NEAR((*what_if)["proposed_rps"].get<double>(), 400, 1);
  EXPECT_EQ((*what_if)["served"]["face"], true);
  EXPECT_EQ(dispatcher_.PlacementJson()["version"], 0) << "a what-if changes nothing";
}

TEST_F(PlacementDispatchTest, PolicyChangeIsApplied) {
  auto applied = dispatcher_.ApplyPlacement(Change(R"({"policy":"static"})"));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(dispatcher_.PlacementJson()["policy"], "static");
  EXPECT_EQ(dispatcher_.ClusterJson()["policy"], "static");
}

}  // namespace
}  // namespace heteroaccel::server
