#include "k8s/extender/extender.h"

#include <gtest/gtest.h>

namespace heteroaccel::k8s {
namespace {

using Json = nlohmann::json;

Json Pod(Json requests, std::optional<std::string> model = std::nullopt) {
  Json pod = {
      {"metadata", {{"name", "detector-0"}, {"namespace", "vision"}}},
      {"spec", {{"containers", {{{"name", "main"}, {"resources", {{"requests", requests}}}}}}}}};
  if (model) pod["metadata"]["annotations"] = {{std::string(kModelAnnotation), *model}};
  return pod;
}

std::string Args(Json pod, std::vector<std::string> names) {
  return Json{{"Pod", std::move(pod)}, {"Nodes", nullptr}, {"NodeNames", names}}.dump();
}

DeviceSnapshot Device(std::string id, DeviceKind kind, double face_ms, int work_ahead = 0) {
  DeviceSnapshot d;
  d.id = std::move(id);
  d.kind = kind;
  d.models = {{"face", "blazeface-front-128"}};
  d.service_ms[{"face", "blazeface-front-128"}] = face_ms;
  d.work_ahead = work_ahead;
  return d;
}

TEST(ResourceNamesTest, CoverEveryAdvertisedKindRealAndEmulated) {
  EXPECT_EQ(ResourceName(DeviceKind::kGpu, false), "heteroaccel.io/gpu");
  EXPECT_EQ(ResourceName(DeviceKind::kNpu, true), "heteroaccel.io/emulated-npu");
  EXPECT_EQ(ResourceName(DeviceKind::kCpu, false), std::nullopt);
  const std::vector<std::string> names = ManagedResourceNames();
  EXPECT_EQ(names.size(), 8u);
  for (const std::string& name : names) {
    auto r = ParseResourceName(name);
    ASSERT_TRUE(r.has_value()) << name;
    EXPECT_EQ(ResourceName(r->kind, r->emulated), name);
  }
  EXPECT_EQ(ParseResourceName("heteroaccel.io/cpu"), std::nullopt);
  EXPECT_EQ(ParseResourceName("nvidia.com/gpu"), std::nullopt);
  EXPECT_EQ(ParseResourceName("heteroaccel.io/emulated-"), std::nullopt);
}

TEST(ParseExtenderArgsTest, SumsContainersAndTakesTheLargerInitContainer) {
  Json pod = Pod({{"heteroaccel.io/gpu", "1"}, {"cpu", "500m"}});
  pod["spec"]["containers"].push_back(
      {{"name", "side"}, {"resources", {{"limits", {{"heteroaccel.io/gpu", "1"}}}}}});
  pod["spec"]["initContainers"] = {
      {{"name", "warm"}, {"resources", {{"requests", {{"heteroaccel.io/emulated-npu", "3"}}}}}}};
  auto args = ParseExtenderArgs(Args(pod, {"a"}));
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->pod, "vision/detector-0");
  EXPECT_EQ((args->requests.at({DeviceKind::kGpu, false})), 2);
  EXPECT_EQ((args->requests.at({DeviceKind::kNpu, true})), 3);
  EXPECT_TRUE(args->node_cache_capable);
}

TEST(ParseExtenderArgsTest, NamesTheFieldThatIsWrong) {
  struct Case {
    std::string body, field;
  };
  const std::vector<Case> cases = {
      {"{not json", "not JSON"},
      {"[]", "ExtenderArgs must be a JSON object"},
      {R"({"NodeNames": ["a"]})", "ExtenderArgs.Pod is missing"},
      {R"({"Pod": "x", "NodeNames": ["a"]})", "ExtenderArgs.Pod must be an object"},
      {Args(Pod({{"heteroaccel.io/gpu", "1.5"}}), {"a"}),
       "ExtenderArgs.Pod.spec.containers[0].resources.requests[\"heteroaccel.io/gpu\"]"},
      {Args(Pod({{"heteroaccel.io/gpu", "lots"}}), {"a"}), "is not a resource quantity"},
      {Args(Pod({{"heteroaccel.io/gpu", true}}), {"a"}), "must be a quantity string"},
      {Args(Pod({{"heteroaccel.io/gpu", "1"}}, "face/"), {"a"}),
       "annotations[\"heteroaccel.io/model\"] must be"},
      {Json{{"Pod", Pod({})}, {"NodeNames", {1}}}.dump(), "ExtenderArgs.NodeNames[0]"},
      {Json{{"Pod", Pod({})}}.dump(), "give NodeNames"},
      {Json{{"Pod", Pod({})}, {"Nodes", {{"items", {{{"metadata", Json::object()}}}}}}}.dump(),
       "ExtenderArgs.Nodes.items[0].metadata.name"},
  };
  for (const Case& c : cases) {
    auto args = ParseExtenderArgs(c.body);
    ASSERT_FALSE(args.ok()) << c.body;
    EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(args.status().message().find(c.field), std::string::npos)
        << args.status() << " wanted " << c.field;
  }
}

TEST(ParseExtenderArgsTest, AcceptsQuantitySpellings) {
  for (const auto& [text, count] : std::vector<std::pair<Json, int64_t>>{
           {"2", 2}, {"2000m", 2}, {"1k", 1000}, {3, 3}, {"0", 0}}) {
    auto args = ParseExtenderArgs(Args(Pod({{"heteroaccel.io/fpga", text}}), {"a"}));
    ASSERT_TRUE(args.ok()) << text << " " << args.status();
    auto it = args->requests.find({DeviceKind::kFpga, false});
    EXPECT_EQ(it == args->requests.end() ? 0 : it->second, count) << text;
  }
}

class ExtenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NodeSnapshot fast{true, {Device("gpu0", DeviceKind::kGpu, 5)}};
    NodeSnapshot slow{true, {Device("gpu0", DeviceKind::kGpu, 20)}};
    NodeSnapshot busy{true, {Device("gpu0", DeviceKind::kGpu, 5, /*work_ahead=*/3)}};
    NodeSnapshot taken{true, {Device("gpu0", DeviceKind::kGpu, 5)}};
    taken.devices[0].pod_assigned = true;
    NodeSnapshot sick{true, {Device("gpu0", DeviceKind::kGpu, 5)}};
    sick.devices[0].healthy = false;
    NodeSnapshot npu{true, {Device("npu0", DeviceKind::kNpu, 5)}};
    NodeSnapshot silent{false, {Device("gpu0", DeviceKind::kGpu, 5)}};
    cluster_.nodes = {{"fast", fast}, {"slow", slow}, {"busy", busy},    {"taken", taken},
                      {"sick", sick}, {"npu", npu},   {"silent", silent}};
  }
  ClusterSnapshot cluster_;
};

TEST_F(ExtenderTest, FilterKeepsNodesWithAFreeHealthyDeviceAndSaysWhyOthersFail) {
  auto args = ParseExtenderArgs(Args(Pod({{"heteroaccel.io/gpu", "1"}}, "face"),
                                     {"fast", "taken", "sick", "npu", "silent", "ghost"}));
  ASSERT_TRUE(args.ok()) << args.status();
  const FilterResult r = Filter(*args, cluster_);
  EXPECT_EQ(r.passed, std::vector<std::string>{"fast"});
  // Evicting the pod that holds it would free the device: resolvable.
  EXPECT_NE(r.failed.at("taken").find("1 assigned to pods"), std::string::npos);
  EXPECT_NE(r.failed_unresolvable.at("sick").find("1 unhealthy"), std::string::npos);
  EXPECT_NE(r.failed_unresolvable.at("npu").find("no heteroaccel.io/gpu device"),
            std::string::npos);
  EXPECT_NE(r.failed_unresolvable.at("silent").find("stopped reporting"), std::string::npos);
  EXPECT_NE(r.failed_unresolvable.at("ghost").find("no HeteroAccel agent"), std::string::npos);
}

TEST_F(ExtenderTest, FilterNeedsTheAnnotatedVariantAndTheRequestedCount) {
  auto variant = ParseExtenderArgs(
      Args(Pod({{"heteroaccel.io/gpu", "1"}}, "face/blazeface-back-256"), {"fast"}));
  ASSERT_TRUE(variant.ok());
  const FilterResult r = Filter(*variant, cluster_);
  EXPECT_TRUE(r.passed.empty());
  EXPECT_NE(r.failed_unresolvable.at("fast").find("face/blazeface-back-256 loaded"),
            std::string::npos)
      << r.failed_unresolvable.at("fast");
  auto two = ParseExtenderArgs(Args(Pod({{"heteroaccel.io/gpu", "2"}}), {"fast"}));
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE(Filter(*two, cluster_).passed.empty());
  auto emulated = ParseExtenderArgs(Args(Pod({{"heteroaccel.io/emulated-gpu", "1"}}), {"fast"}));
  ASSERT_TRUE(emulated.ok());
  EXPECT_TRUE(Filter(*emulated, cluster_).passed.empty());  // a real GPU is not an emulated one
}

TEST_F(ExtenderTest, PodWithoutOurResourcesPassesEverywhereAndScoresZero) {
  auto args = ParseExtenderArgs(Args(Pod({{"cpu", "1"}}, "face"), {"fast", "ghost"}));
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(Filter(*args, cluster_).passed, (std::vector<std::string>{"fast", "ghost"}));
  for (const HostPriority& p : Prioritize(*args, cluster_)) EXPECT_EQ(p.score, 0) << p.host;
}

TEST_F(ExtenderTest, PrioritizeScalesByExpectedFinish) {
  auto args = ParseExtenderArgs(
      Args(Pod({{"heteroaccel.io/gpu", "1"}}, "face"), {"fast", "slow", "busy", "sick", "ghost"}));
  ASSERT_TRUE(args.ok());
  const std::vector<HostPriority> p = Prioritize(*args, cluster_);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].score, 10);  // 5 ms
  EXPECT_EQ(p[1].score, 3);   // 20 ms: round(10 × 5/20) = round(2.5) = 3
  EXPECT_EQ(p[2].score, 3);   // 5 ms behind 3 on one slot: 20 ms
  EXPECT_EQ(p[3].score, 0);   // no eligible device
  EXPECT_EQ(p[4].score, 0);   // unknown
}

TEST_F(ExtenderTest, PrioritizeWithoutAnnotationAveragesTheEligibleDevices) {
  cluster_.nodes["fast"].devices.push_back(Device("gpu1", DeviceKind::kGpu, 15));  // mean 10
  auto args = ParseExtenderArgs(Args(Pod({{"heteroaccel.io/gpu", "1"}}), {"fast", "slow"}));
  ASSERT_TRUE(args.ok());
  const std::vector<HostPriority> p = Prioritize(*args, cluster_);
  EXPECT_EQ(p[0].score, 10);
  EXPECT_EQ(p[1].score, 5);  // 20 ms against 10
}

TEST(ExpectedFinishTest, CountsWholeRoundsOfSlotsAhead) {
  DeviceSnapshot d = Device("gpu0", DeviceKind::kGpu, 4);
  d.slots = 2;
  d.work_ahead = 1;
  EXPECT_DOUBLE_EQ(*ExpectedFinishMs(d, {"face", ""}), 4);  // a slot is free
  d.work_ahead = 2;
  EXPECT_DOUBLE_EQ(*ExpectedFinishMs(d, {"face", ""}), 8);
  d.work_ahead = 5;
  EXPECT_DOUBLE_EQ(*ExpectedFinishMs(d, {"face", "blazeface-front-128"}), 12);
  EXPECT_EQ(ExpectedFinishMs(d, {"pose", ""}), std::nullopt);
  d.service_ms.clear();
  d.work_ahead = 0;
  EXPECT_DOUBLE_EQ(*ExpectedFinishMs(d, {"face", ""}), kDefaultServiceMs);
}

TEST(FilterResultJsonTest, EchoesTheNodeObjectsInListMode) {
  const Json node_a = {{"metadata", {{"name", "a"}, {"labels", {{"zone", "1"}}}}},
                       {"status", {{"allocatable", {{"heteroaccel.io/gpu", "1"}}}}}};
  const Json node_b = {{"metadata", {{"name", "b"}}}};
  const std::string body = Json{
      {"Pod", Pod({{"heteroaccel.io/gpu", "1"}})},
      {"Nodes", {{"metadata", Json::object()}, {"items", {node_a, node_b}}}},
      {"NodeNames", nullptr}}.dump();
  auto args = ParseExtenderArgs(body);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_FALSE(args->node_cache_capable);
  FilterResult r;
  r.passed = {"a"};
  r.failed_unresolvable["b"] = "why";
  const Json out = FilterResultJson(*args, r);
  EXPECT_EQ(out["Nodes"]["items"], Json::array({node_a}));
  EXPECT_TRUE(out["NodeNames"].is_null());
  EXPECT_EQ(out["FailedAndUnresolvableNodes"]["b"], "why");
  EXPECT_EQ(out["Error"], "");
}

}  // namespace
}  // namespace heteroaccel::k8s
