#include "server/cluster_view.h"

#include <gtest/gtest.h>

#include "common/fake_clock.h"

namespace heteroaccel::server {
namespace {

cluster::NodeReport Report(const std::string& url, std::vector<std::string> ids) {
  cluster::NodeReport r;
  r.node = "n1";
  r.url = url;
  for (const std::string& id : ids) {
    cluster::DeviceReport d;
    d.id = id;
    d.kind = id.rfind("gpu", 0) == 0 ? DeviceKind::kGpu : DeviceKind::kCpu;
    d.models = {{"face", "front"}, {"face", "back"}, {"object", "ssd"}};
    d.service_ms[{"face", "back"}] = 12;
    r.devices.push_back(d);
  }
  r.model_info = std::map<std::string, cluster::TypeInfo>{{"face", {}}};
  return r;
}

TEST(ClusterViewTest, RegistryPicksTheVariantPerKindElseTheAgentsDefault) {
  std::map<std::string, InferenceType> registry;
  registry["face"].variants = {{"gpu", "back"}};
  ClusterView view(registry);
  FakeClock clock;
  auto changes = view.ApplyHeartbeat(Report("http://a", {"cpu0", "gpu0"}), clock.Now());
  ASSERT_EQ(changes.devices.size(), 2u);
  const auto& cpu = changes.devices[0];
  const auto& gpu = changes.devices[1];
  EXPECT_EQ(cpu.variants.count("face"), 0u);  // the registry lists no cpu variant
  EXPECT_EQ(gpu.variants.at("face"), "back");
  EXPECT_EQ(gpu.reported_service.at("face"), std::chrono::milliseconds(12));
  EXPECT_EQ(cpu.variants.at("object"), "ssd");  // not in the registry: the default
  EXPECT_TRUE(changes.came_up);
  EXPECT_FALSE(changes.need_model_info);
}

TEST(ClusterViewTest, AssignedGroupsJoinTheReportedOneAndAssignedLabelsWin) {
  ClusterView view({});
  FakeClock clock;
  NodeSettings early;  // assigned before the node ever reports
  early.groups = {"dock"};
  view.SetNodeSettings("n1", early);
  cluster::NodeReport report = Report("http://a", {"cpu0"});
  report.group = "line-1";
  report.labels = {{"site", "north"}, {"rack", "2"}};
  auto changes = view.ApplyHeartbeat(report, clock.Now());
  ASSERT_EQ(changes.devices.size(), 1u);
  EXPECT_EQ(changes.devices[0].groups, (std::vector<std::string>{"dock", "line-1"}));

  NodeSettings settings;
  settings.groups = {"line-2", "line-1"};
  settings.labels = {{"site", "south"}};
  view.SetNodeSettings("n1", settings);
  std::vector<scheduler::DeviceInfo> devices = view.Rederive();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].groups, (std::vector<std::string>{"line-1", "line-2"}));
  const nlohmann::json nodes = view.NodesJson(clock.Now())["nodes"];
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["reported"]["group"], "line-1");
  EXPECT_EQ(nodes[0]["labels"], (nlohmann::json{{"site", "south"}, {"rack", "2"}}));
  EXPECT_EQ(nodes[0]["groups"], (nlohmann::json{"line-1", "line-2"}));

  view.SetNodeSettings("n1", {});  // cleared: back to what the node reports
  EXPECT_EQ(view.Rederive()[0].groups, std::vector<std::string>{"line-1"});
  EXPECT_EQ(view.node_settings("n1"), nullptr);
  view.SetNodeSettings("ghost", early);  // a node not seen yet is listed with its settings
  EXPECT_EQ(view.NodesJson(clock.Now())["nodes"].size(), 2u);
}

TEST(NodeSettingsTest, ParseChecksNamesLabelsAndFieldsAndTheStoreKeepsThem) {
  auto ok = ParseNodeSettings(R"({"groups": ["b", "a", "a"], "labels": {"site": "north"}})");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->groups, (std::vector<std::string>{"a", "b"}));
  for (const char* bad :
       {R"([1])", R"({"groups": "a"})", R"({"groups": ["a b"]})", R"({"groups": [""]})",
        R"({"labels": {"": "x"}})", R"({"labels": {"k": ""}})", R"({"labels": {"k": 1}})",
        R"({"shell": "rm -rf /"})",
        R"({"groups": ["1","2","3","4","5","6","7","8","9"]})"}) {
    EXPECT_EQ(ParseNodeSettings(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateNodeName("").ok());
  EXPECT_FALSE(ValidateNodeName("a b").ok());
  EXPECT_TRUE(ValidateNodeName("node-1.example").ok());

  const std::string path = ::testing::TempDir() + "/node_settings_test.db";
  std::remove(path.c_str());
  {
    auto store = NodeSettingsStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put("n1", *ok, "admin", 1).ok());
    ASSERT_TRUE((*store)->Put("n2", *ok, "admin", 2).ok());
    ASSERT_TRUE((*store)->Put("n2", {}, "admin", 3).ok());  // cleared
  }
  auto reopened = NodeSettingsStore::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto loaded = (*reopened)->Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->at("n1"), *ok);
  std::remove(path.c_str());
}

TEST(ClusterViewTest, ReportsRemovedDevicesRestartsAndSilence) {
  ClusterView view({});
  FakeClock clock;
  view.ApplyHeartbeat(Report("http://a", {"cpu0", "gpu0"}), clock.Now());
  cluster::NodeReport again = Report("http://b", {"cpu0"});
  again.model_info.reset();
  auto changes = view.ApplyHeartbeat(again, clock.Now());
  EXPECT_TRUE(changes.url_changed);
  EXPECT_TRUE(changes.need_model_info);  // a new agent describes its models afresh
  ASSERT_EQ(changes.removed.size(), 1u);
  EXPECT_EQ(changes.removed[0].device, "gpu0");
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(view.Silent(clock.Now(), std::chrono::seconds(1)), std::vector<std::string>{"n1"});
  EXPECT_TRUE(view.MarkDown("n1"));
  EXPECT_FALSE(view.MarkDown("n1"));
  EXPECT_FALSE(view.AnyUp());
  EXPECT_FALSE(view.CanRun("face"));
}

TEST(ClusterViewTest, DegradePolicyGivesEachDeviceItsLoadedLessAccurateAlternates) {
  std::map<std::string, InferenceType> registry;
  // "front" is the agent's default (primary); "huge" is more accurate and
  // "tiny" nowhere loaded: neither is an alternate. The floor goes along.
  registry["face"].degrade =
      DegradePolicy{0.7, {{"huge", 0.95}, {"front", 0.9}, {"back", 0.8}, {"tiny", 0.75}}};
  ClusterView view(registry);
  FakeClock clock;
  cluster::NodeReport report = Report("http://a", {"cpu0"});
  report.devices[0].models.push_back({"face", "huge"});
  const auto changes = view.ApplyHeartbeat(report, clock.Now());
  ASSERT_EQ(changes.devices.size(), 1u);
  const scheduler::DeviceInfo& cpu = changes.devices[0];
  EXPECT_EQ(cpu.variants.at("face"), "front");
  ASSERT_EQ(cpu.degrade.count("face"), 1u);
  const scheduler::Degradation& d = cpu.degrade.at("face");
  EXPECT_DOUBLE_EQ(d.floor, 0.7);
  ASSERT_EQ(d.alternates.size(), 1u);
  EXPECT_EQ(d.alternates[0].variant, "back");
  EXPECT_DOUBLE_EQ(d.alternates[0].accuracy, 0.8);
  EXPECT_EQ(d.alternates[0].reported_service, std::chrono::milliseconds(12));
  EXPECT_EQ(cpu.degrade.count("object"), 0u) << "no policy";
}

}  // namespace
}  // namespace heteroaccel::server
