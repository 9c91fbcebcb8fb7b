// Fleet operations end to end: a real server and two real agents (emulated
// devices, groups line-a and line-b) as separate processes; every action on a
// node, a group and all, through the HTTP API and the CLI; the package action
// refused without the agent's flag and a real dry run (apt-get --simulate on
// this machine's Debian tree) with it; wrong tokens; a killed agent.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "http/client.h"
#include "testing/cluster.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::Subprocess;
using testing::WriteTempFileOrDie;
using Json = nlohmann::json;

constexpr const char* kAdmin = "fleet-admin";
constexpr const char* kCluster = "fleet-cluster";

struct FleetRun {
  int status = 0;
  std::string body;
  Json start;
  std::map<std::string, Json> results;  // by node
  Json done;
};

class FleetE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                "--cluster-token", kCluster, "--admin-token", kAdmin});
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    url_ = testing::WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
    a_ = StartAgent("a", "line-a", true);
    b_ = StartAgent("b", "line-b", false);
    ASSERT_TRUE(a_ && b_);
    a_url_ = testing::WaitForListeningUrl(*a_);
    ASSERT_TRUE(testing::WaitForNodesUp(url_, 2, std::chrono::seconds(30))) << server_->Output();
  }

  std::unique_ptr<Subprocess> StartAgent(const std::string& name, const std::string& group,
                                         bool packages) {
    const std::string config = WriteTempFileOrDie(name + ".yaml", absl::StrCat(R"(
node: node-)", name, R"(
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 5}}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 1, latency_ms: {face: 5}}
)"));
    std::vector<std::string> argv = {HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                                     "--models-dir", ModelsDir(), "--models", "face",
                                     "--config", config, "--server", url_, "--cluster-token",
                                     kCluster, "--group", group, "--label", "site=north"};
    if (packages) argv.push_back("--allow-package-actions");
    auto p = Subprocess::Start(argv);
    EXPECT_TRUE(p.ok());
    return p.ok() ? std::move(*p) : nullptr;
  }

  // Until both nodes' models are loaded and reported: a face request restricted to
  // each group succeeds.
  bool WaitUntilBothGroupsServe(const std::string& image) {
    auto http = *http::Client::Create(url_);
    const auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (const char* group : {"line-a", "line-b"}) {
      while (true) {
        auto r = http->Post(absl::StrCat("/v1/infer/face?group=", group), "image/png", image);
        if (r.ok() && r->status == 200) break;
        if (std::chrono::steady_clock::now() >= ready_by) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    return true;
  }

  FleetRun Fleet(const std::string& action, const Json& body, const std::string& token = kAdmin) {
    FleetRun run;
    auto c = http::Client::Create(url_, std::chrono::seconds(60));
    EXPECT_TRUE(c.ok());
    auto r = (*c)->Send("POST", "/v1/fleet/" + action, "application/json", body.dump(),
                        {{"Authorization", absl::StrCat("Bearer ", token)}});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return run;
    run.status = r->status;
    run.body = r->body;
    if (r->status != 200) return run;
    EXPECT_EQ(r->Header("content-type"), "application/x-ndjson");
    for (absl::string_view line : absl::StrSplit(r->body, '\n', absl::SkipEmpty())) {
      Json event = Json::parse(line, nullptr, false);
      EXPECT_TRUE(event.is_object()) << line;
      const std::string kind = event.value("event", "");
      if (kind == "start") run.start = event;
      if (kind == "result") run.results[event["node"].get<std::string>()] = event;
      if (kind == "done") run.done = event;
    }
    EXPECT_FALSE(run.done.is_null()) << r->body;
    return run;
  }

  std::unique_ptr<Subprocess> server_, a_, b_;
  std::string url_, a_url_;
};

TEST_F(FleetE2ETest, EveryActionOnANodeAGroupAndAll) {
  // connectivity on all: both reachable on the management route and the data path.
  FleetRun run = Fleet("connectivity", {{"target", "all"}});
  ASSERT_EQ(run.status, 200) << run.body;
  ASSERT_EQ(run.results.size(), 2u) << run.body;
  for (const auto& [node, result] : run.results) {
    EXPECT_EQ(result["status"], "ok") << result.dump();
    EXPECT_EQ(result["data"]["reachable"], true);
    EXPECT_GT(result["data"]["control_rtt_ms"].get<double>(), 0);
    EXPECT_GT(result["data"]["data_rtt_ms"].get<double>(), 0);
    EXPECT_LT(result["data"]["heartbeat_age_seconds"].get<double>(), 5);
  }
  EXPECT_EQ(run.results["node-a"]["group"], "line-a");
  EXPECT_EQ(run.done["ok"], 2);

  // facts on a node: this machine's OS, kernel and CPU, and the emulated GPU.
  run = Fleet("facts", {{"target", "node/node-a"}});
  ASSERT_EQ(run.results.size(), 1u) << run.body;
  const Json facts = run.results["node-a"]["data"];
  EXPECT_EQ(run.results["node-a"]["status"], "ok") << run.body;
  EXPECT_FALSE(facts["os"]["pretty_name"].get<std::string>().empty());
  EXPECT_FALSE(facts["kernel"].get<std::string>().empty());
  EXPECT_GT(facts["cpu"]["threads"].get<int>(), 0);
  EXPECT_GT(facts["memory_total_bytes"].get<int64_t>(), 0);
  EXPECT_GT(facts["uptime_seconds"].get<double>(), 0);
  bool gpu = false;
  for (const Json& d : facts["devices"]) gpu |= d["id"] == "gpu0";
  EXPECT_TRUE(gpu) << facts.dump();

  // time on a group: same machine, same clock: the offset is within the error bound.
  run = Fleet("time", {{"target", "group/line-b"}, {"params", {{"samples", 8}, {"sync", true}}}});
  ASSERT_EQ(run.results.size(), 1u) << run.body;
  const Json time = run.results["node-b"]["data"];
  EXPECT_EQ(run.results["node-b"]["status"], "ok") << run.body;
  EXPECT_LE(std::abs(time["offset_seconds"].get<double>()),
            time["error_bound_seconds"].get<double>() + 0.001)
      << time.dump();
  EXPECT_EQ(time["alert"], false);
  // Sync now: node-b's agent was not started with --allow-time-sync, and says so.
  EXPECT_EQ(time["sync_now"]["synced"], false) << time.dump();
  EXPECT_NE(time["sync_now"].value("error", "").find("--allow-time-sync"), std::string::npos)
      << time.dump();
  EXPECT_TRUE(time["sync"].contains("kernel_synchronized")) << time.dump();
  auto metrics = (*http::Client::Create(url_))->Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("heteroaccel_server_node_clock_offset_seconds{node=\"node-b\"}"),
            std::string::npos);

  // speed on all, 1 MiB each way.
  run = Fleet("speed", {{"target", "all"}, {"params", {{"bytes", 1 << 20}}}});
  ASSERT_EQ(run.results.size(), 2u) << run.body;
  for (const auto& [node, result] : run.results) {
    EXPECT_EQ(result["status"], "ok") << result.dump();
    EXPECT_GT(result["data"]["downlink_mbit_per_second"].get<double>(), 1);
    EXPECT_GT(result["data"]["uplink_mbit_per_second"].get<double>(), 1);
  }

  // monitor on a group.
  run = Fleet("monitor", {{"target", "group/line-a"}});
  ASSERT_EQ(run.results.size(), 1u) << run.body;
  EXPECT_GT(run.results["node-a"]["data"]["memory_total_bytes"].get<int64_t>(), 0) << run.body;
  EXPECT_TRUE(run.results["node-a"]["data"]["cpu_utilisation_ratio"].is_number());

  // The audit log has one entry per run.
  auto audit = (*http::Client::Create(url_))->Send(
      "GET", "/v1/audit", "", "", {{"Authorization", absl::StrCat("Bearer ", kAdmin)}});
  ASSERT_TRUE(audit.ok());
  int fleet_entries = 0;
  const Json entries = Json::parse(audit->body, nullptr, false);
  ASSERT_TRUE(entries.is_object()) << audit->body;
  for (const Json& e : entries["audit"]) {
    if (e["action"] == "fleet") ++fleet_entries;
  }
  EXPECT_EQ(fleet_entries, 5) << audit->body;
}

TEST_F(FleetE2ETest, PackagesNeedTheAgentsFlagAndDryRunOnARealDebianTree) {
  // node-b was started without --allow-package-actions.
  FleetRun run = Fleet("packages", {{"target", "node/node-b"}, {"params", {{"op", "list"}}}});
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.results["node-b"]["status"], "refused") << run.body;
  EXPECT_NE(run.results["node-b"]["error"].get<std::string>().find("--allow-package-actions"),
            std::string::npos);
  // Straight to the agent: 403 naming the flag (with the right token), 401 without it.
  auto direct = *http::Client::Create(a_url_);
  auto r = direct->Post("/v1/fleet/packages", "application/json", "{}",
                        {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;

  if (!std::filesystem::exists("/usr/bin/apt-get")) GTEST_SKIP() << "no apt-get on this machine";
  // node-a allows them: a dry-run upgrade on this machine's apt.
  run = Fleet("packages", {{"target", "all"}, {"params", {{"op", "upgrade"}}}, {"timeout_seconds", 50}});
  ASSERT_EQ(run.results.size(), 2u) << run.body;
  EXPECT_EQ(run.start["serial"], true);
  const Json a = run.results["node-a"];
  ASSERT_EQ(a["status"], "ok") << a.dump();
  EXPECT_EQ(a["data"]["dry_run"], true);
  EXPECT_EQ(a["data"]["exit_code"], 0);
  EXPECT_EQ(a["data"]["argv"][1], "--simulate");
  EXPECT_NE(a["data"]["output"].get<std::string>().find("Reading package lists"), std::string::npos);
  EXPECT_TRUE(a["data"]["upgradable"].is_array());
  EXPECT_EQ(run.results["node-b"]["status"], "refused");

  // Names outside Debian's grammar never leave the server.
  run = Fleet("packages", {{"target", "all"},
                           {"params", {{"op", "upgrade"}, {"packages", {"zip; reboot"}}}}});
  EXPECT_EQ(run.status, 400) << run.body;
  EXPECT_NE(run.body.find("Debian Policy"), std::string::npos) << run.body;
}

// The group hint: requests restricted to a group run only on its nodes, over
// the v1 query and the v2 parameters; a group nobody is in is a 404 naming the
// groups that run the type; a bad group name is a 400.
TEST_F(FleetE2ETest, RequestsRestrictedToAGroupRunOnlyOnItsNodes) {
  const std::string image = testing::ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  auto http = *http::Client::Create(url_);
  ASSERT_TRUE(WaitUntilBothGroupsServe(image));
  std::map<std::string, int> served;
  for (int i = 0; i < 12; ++i) {
    auto r = http->Post(absl::StrCat("/v1/infer/face?group=line-b&camera=c", i % 3), "image/png",
                        image);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
    const Json answer = Json::parse(r->body, nullptr, false);
    ++served[answer["served_by"].value("node", "")];
  }
  EXPECT_EQ(served, (std::map<std::string, int>{{"node-b", 12}}));
  // The v2 parameters carry the same hint: a group nobody is in is refused
  // before any agent sees the request.
  const Json v2 = {{"inputs", Json::array({{{"name", "image"},
                                             {"datatype", "BYTES"},
                                             {"shape", {1}},
                                             {"data", Json::array({"x"})}}})},
                   {"parameters", {{"group", "line-z"}}}};
  auto refused = http->Post("/v2/models/face/infer", "application/json", v2.dump());
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 404) << refused->body;
  EXPECT_NE(refused->body.find("in group 'line-z'"), std::string::npos) << refused->body;
  // And the other group.
  served.clear();
  for (int i = 0; i < 6; ++i) {
    auto r = http->Post("/v1/infer/face?group=line-a", "image/png", image);
    ASSERT_TRUE(r.ok() && r->status == 200);
    ++served[Json::parse(r->body, nullptr, false)["served_by"].value("node", "")];
  }
  EXPECT_EQ(served, (std::map<std::string, int>{{"node-a", 6}}));
  auto none = http->Post("/v1/infer/face?group=line-z", "image/png", image);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 404) << none->body;
  EXPECT_NE(none->body.find("groups with devices that run it: line-a, line-b"), std::string::npos)
      << none->body;
  auto bad = http->Post("/v1/infer/face?group=a%20b", "image/png", image);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("'group'"), std::string::npos) << bad->body;
}

TEST_F(FleetE2ETest, GroupsAssignedThroughTheApiReachTheSchedulerAndFleetRuns) {
  const std::string image = testing::ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  auto http = *http::Client::Create(url_);
  ASSERT_TRUE(WaitUntilBothGroupsServe(image));
  auto put = [&](const std::string& node, const std::string& body, const std::string& token) {
    auto c = *http::Client::Create(url_);
    return *c->Send(body.empty() ? "DELETE" : "PUT", "/v1/nodes/" + node,
                    body.empty() ? "" : "application/json", body,
                    {{"Authorization", absl::StrCat("Bearer ", token)}});
  };
  EXPECT_EQ(put("node-a", R"({"groups": ["line-b"]})", kCluster).status, 401);
  EXPECT_EQ(put("node-a", R"({"groups": ["a b"]})", kAdmin).status, 400);
  EXPECT_EQ(put("node-a", R"({"labels": {"site": ""}})", kAdmin).status, 400);
  auto changed = put("node-a", R"({"groups": ["line-b"], "labels": {"site": "south", "rack": "2"}})",
                     kAdmin);
  ASSERT_EQ(changed.status, 200) << changed.body;
  const Json node = Json::parse(changed.body, nullptr, false);
  EXPECT_EQ(node["groups"], (Json{"line-a", "line-b"})) << changed.body;
  EXPECT_EQ(node["labels"], (Json{{"rack", "2"}, {"site", "south"}})) << changed.body;
  EXPECT_EQ(node["reported"]["labels"], (Json{{"site", "north"}})) << changed.body;

  // node-a now serves group line-b too: requests restricted to it reach both nodes.
  std::map<std::string, int> served;
  for (int i = 0; i < 40 && served.size() < 2; ++i) {
    auto r = http->Post(absl::StrCat("/v1/infer/face?group=line-b&camera=c", i % 4), "image/png",
                        image);
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    ++served[Json::parse(r->body, nullptr, false)["served_by"].value("node", "")];
  }
  EXPECT_EQ(served.size(), 2u) << "served by node-a: " << served["node-a"];
  // A fleet run on the group reaches both, and the audit log has the change.
  FleetRun run = Fleet("connectivity", {{"target", "group/line-b"}});
  EXPECT_EQ(run.results.size(), 2u) << run.body;
  auto audit = http->Get("/v1/audit?limit=5");
  ASSERT_TRUE(audit.ok());
  EXPECT_NE(audit->body.find("set node node-a's groups and labels"), std::string::npos)
      << audit->body;

  // Cleared: back to what the node reports.
  ASSERT_EQ(put("node-a", "", kAdmin).status, 200);
  served.clear();
  for (int i = 0; i < 12; ++i) {
    auto r = http->Post("/v1/infer/face?group=line-b", "image/png", image);
    ASSERT_TRUE(r.ok() && r->status == 200);
    ++served[Json::parse(r->body, nullptr, false)["served_by"].value("node", "")];
  }
  EXPECT_EQ(served, (std::map<std::string, int>{{"node-b", 12}}));
  auto nodes = http->Get("/v1/nodes");
  ASSERT_TRUE(nodes.ok() && nodes->status == 200);
  EXPECT_EQ(Json::parse(nodes->body)["nodes"].size(), 2u) << nodes->body;
}

TEST_F(FleetE2ETest, TokensTargetsAndAKilledAgent) {
  EXPECT_EQ(Fleet("facts", {{"target", "all"}}, "wrong").status, 401);
  FleetRun bad = Fleet("facts", {{"target", "group/nope"}});
  EXPECT_EQ(bad.status, 404);
  EXPECT_NE(bad.body.find("known groups: line-a, line-b"), std::string::npos) << bad.body;
  EXPECT_EQ(Fleet("reboot", {{"target", "all"}}).status, 404);
  EXPECT_EQ(Fleet("facts", {{"target", "rack/1"}}).status, 400);

  // The agent accepts fleet calls only with the cluster token.
  auto direct = *http::Client::Create(a_url_);
  auto r = direct->Get("/v1/fleet/facts");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);

  b_->Stop(SIGKILL, std::chrono::seconds(5));
  FleetRun run = Fleet("connectivity", {{"target", "all"}});
  ASSERT_EQ(run.results.size(), 2u) << run.body;
  EXPECT_EQ(run.results["node-b"]["status"], "unreachable") << run.body;
  EXPECT_EQ(run.results["node-b"]["data"]["reachable"], false);
  EXPECT_EQ(run.results["node-a"]["status"], "ok") << run.body;
  EXPECT_EQ(run.done["not_ok"], 1);

  // The CLI prints each node as it arrives and exits 1 when one is not ok.
  auto cli = Subprocess::Start({HeteroaccelBinary(), "fleet", "connectivity", "--target", "all",
                                "--server", url_, "--token", kAdmin});
  ASSERT_TRUE(cli.ok());
  EXPECT_EQ((*cli)->Stop(0, std::chrono::seconds(30)), 1);
  (*cli)->WaitForLine("\x01 (to the end of its output)", std::chrono::seconds(2));
  const std::string out = (*cli)->Output();
  EXPECT_NE(out.find("node-a"), std::string::npos) << out;
  EXPECT_NE(out.find("unreachable"), std::string::npos) << out;
  EXPECT_NE(out.find("1 ok, 1 not ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace heteroaccel
