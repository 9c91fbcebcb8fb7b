// The scheduler extender against recorded kube-scheduler request/response
// pairs (fixtures/*.json), through k8s::Answer: the same function the server's
// routes call, so a fixture is what kube-scheduler would get back over HTTP.
// The cluster is fixtures/cluster.json: agents' heartbeats in the contract's
// format (cluster/contract.h).
//
// A fixture: {"description", "verb", "request" (JSON) or "request_body"
// (text), "status", "response"}. With HETEROACCEL_UPDATE_FIXTURES=1 the
// answers are written into the files (review the diff); otherwise they must
// match exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/contract.h"
#include "k8s/extender/extender.h"

namespace heteroaccel::k8s {
namespace {

using Json = nlohmann::json;

std::filesystem::path FixtureDir() {
  const char* source = std::getenv("HETEROACCEL_SOURCE_DIR");
  return std::filesystem::path(source != nullptr ? source : ".") / "tests/k8s/extender/fixtures";
}

Json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str(), nullptr, false);
}

ClusterSnapshot Cluster() {
  ClusterSnapshot out;
  const Json file = ReadJson(FixtureDir() / "cluster.json");
  EXPECT_TRUE(file.is_object()) << "cluster.json is not JSON";
  for (const Json& json : file.value("reports", Json::array())) {
    auto report = cluster::ParseNodeReport(json);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) continue;
    NodeSnapshot& node = out.nodes[report->node];
    node.up = true;
    for (const cluster::DeviceReport& d : report->devices) {
      node.devices.push_back(DeviceSnapshotFromReport(d));
    }
  }
  return out;
}

std::vector<std::filesystem::path> Fixtures() {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(FixtureDir())) {
    if (entry.path().extension() == ".json" && entry.path().filename() != "cluster.json") {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ExtenderFixturesTest, AnswersMatchTheRecordedPairs) {
  const ClusterSnapshot cluster = Cluster();
  ASSERT_EQ(cluster.nodes.size(), 4u);
  const std::vector<std::filesystem::path> fixtures = Fixtures();
  ASSERT_GE(fixtures.size(), 16u) << FixtureDir();
  const bool update = std::getenv("HETEROACCEL_UPDATE_FIXTURES") != nullptr;
  int filter = 0, prioritize = 0, errors = 0;
  for (const std::filesystem::path& path : fixtures) {
    SCOPED_TRACE(path.filename().string());
    Json fixture = ReadJson(path);
    ASSERT_TRUE(fixture.is_object());
    const std::string verb = fixture.at("verb").get<std::string>();
    const std::string body = fixture.contains("request_body")
                                 ? fixture["request_body"].get<std::string>()
                                 : fixture.at("request").dump();
    std::vector<std::string> asked;
    const ExtenderAnswer answer = Answer(verb, body, [&](const std::vector<std::string>& nodes) {
      asked = nodes;
      ClusterSnapshot some;
      for (const std::string& n : nodes) {
        if (auto it = cluster.nodes.find(n); it != cluster.nodes.end()) some.nodes.insert(*it);
      }
      return some;
    });
    // Whatever the input, the answer is JSON of the verb's shape.
    ASSERT_TRUE(answer.body.is_object() || answer.body.is_array());
    if (update) {
      fixture["status"] = answer.status;
      fixture["response"] = answer.body;
      std::ofstream(path) << fixture.dump(2) << "\n";
      continue;
    }
    EXPECT_EQ(answer.status, fixture.at("status").get<int>());
    EXPECT_EQ(answer.body, fixture.at("response")) << answer.body.dump(2);
    (verb == "filter" ? filter : prioritize) += 1;
    errors += answer.status != 200 ? 1 : 0;
  }
  if (update) GTEST_SKIP() << "fixtures rewritten";
  EXPECT_GE(filter, 8);
  EXPECT_GE(prioritize, 5);
  EXPECT_GE(errors, 5);
}

}  // namespace
}  // namespace heteroaccel::k8s
