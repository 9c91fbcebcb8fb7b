// Deploying a model version from the server's repository to a group of agents, end
// to end: a real server with a state directory, two real agents of one group and one
// of another, real model files pushed with `heteroaccel models push`, installed with
// `heteroaccel models deploy` while requests flow (none fails), served once the
// placement points the type at the new variant, replaced by a second version of a
// different architecture, rolled back (from the files kept on the nodes, nothing
// downloaded), a corrupted download refused with the previous version still serving,
// and the deployed variant served again after an agent restarts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/infer_client.h"
#include "http/client.h"
#include "testing/cluster.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;
using Json = nlohmann::json;

constexpr const char* kAdmin = "deploy-admin";
constexpr const char* kCluster = "deploy-cluster";

class DeployE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/heteroaccel_deploy_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                "--cluster-token", kCluster, "--admin-token", kAdmin,
                                "--state-dir", dir_ + "/state"});
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    url_ = testing::WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
    a_ = StartAgent("a", "line-a");
    b_ = StartAgent("b", "line-a");
    c_ = StartAgent("c", "line-b");
    ASSERT_TRUE(a_ && b_ && c_);
    a_url_ = testing::WaitForListeningUrl(*a_);
    ASSERT_TRUE(testing::WaitForNodesUp(url_, 3, std::chrono::seconds(60))) << server_->Output();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Subprocess> StartAgent(const std::string& name, const std::string& group) {
    auto p = Subprocess::Start(
        {HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0", "--models-dir", ModelsDir(),
         "--models", "face", "--no-opencl", "--cpu-slots", "1", "--node", "node-" + name,
         "--deployed-models-dir", dir_ + "/deployed-" + name, "--server", url_,
         "--cluster-token", kCluster, "--group", group});
    EXPECT_TRUE(p.ok());
    return p.ok() ? std::move(*p) : nullptr;
  }

  http::ClientResponse Call(const std::string& method, const std::string& path,
                            const std::string& body = "", const std::string& token = kAdmin) {
    auto c = http::Client::Create(url_, std::chrono::seconds(120));
    EXPECT_TRUE(c.ok());
    http::HeaderList headers;
    if (!token.empty()) headers.emplace_back("Authorization", absl::StrCat("Bearer ", token));
    auto r = (*c)->Send(method, path, body.empty() ? "" : "application/json", body, headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : http::ClientResponse{};
  }

  // `heteroaccel models ARGS --server URL --token admin`: its exit status and output.
  int Cli(std::vector<std::string> args, std::string* output = nullptr) {
    std::vector<std::string> argv = {HeteroaccelBinary(), "models"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--server", url_, "--token", kAdmin});
    auto p = Subprocess::Start(argv);
    EXPECT_TRUE(p.ok());
    const int status = (*p)->Stop(0, std::chrono::seconds(120));
    (*p)->WaitForLine("\x01 (to the end of its output)", std::chrono::seconds(5));
    if (output != nullptr) *output = (*p)->Output();
    return status;
  }

  // The version deployed on `target` for `model`, 0 when none.
  int64_t Deployed(const std::string& target, const std::string& model) {
    auto r = Call("GET", "/v1/deployments?target=" + target + "&name=" + model);
    const Json body = Json::parse(r.body, nullptr, false);
    for (const Json& d : body.value("deployments", Json::array())) {
      if (d.value("state", "") == "deployed") return d.value("version", int64_t{0});
    }
    return 0;
  }

  // Infers `variant` of face on astronaut.png through the server; the answer's variant.
  absl::StatusOr<client::InferResult> Infer(const std::string& variant) {
    auto c = client::InferClient::Create(url_);
    if (!c.ok()) return c.status();
    client::InferOptions o;
    o.model = "face";
    o.variant = variant;
    return (*c)->Infer(o, ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
  }

  std::string dir_, url_, a_url_;
  std::unique_ptr<Subprocess> server_, a_, b_, c_;
};

TEST_F(DeployE2ETest, DeployServeReplaceRollBackRefuseACorruptDownloadAndRestart) {
  const std::string front = ModelsDir() + "/face/blazeface_front_128.onnx";
  const std::string back = ModelsDir() + "/face/blazeface_back_256.onnx";
  ASSERT_EQ(Cli({"push", front, "--name", "face-line", "--type", "face", "--variant", "line",
                 "--label", "front"}),
            0);
  ASSERT_EQ(Cli({"push", back, "--name", "face-line", "--type", "face", "--variant", "line",
                 "--label", "back"}),
            0);

  // Up is not serving: wait until the agents' models have loaded.
  for (int i = 0; i < 600 && !Infer("").ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(Infer("").ok());
  // Requests for the type keep flowing through every change below; none may fail.
  testing::RequestLoop load([this]() -> std::string {
    auto r = Infer("");
    return r.ok() ? "" : r.status().ToString();
  });

  // Version 1 (BlazeFace front 128 weights, run by that variant's code) on group line-a.
  std::string out;
  ASSERT_EQ(Cli({"deploy", "face-line", "front", "--target", "group/line-a", "--base",
                 "blazeface-front-128"},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("2 ok, 0 not ok"), std::string::npos) << out;
  EXPECT_EQ(Deployed("group/line-a", "face-line"), 1);
  EXPECT_EQ(Deployed("node/node-a", "face-line"), 1);
  EXPECT_EQ(Deployed("node/node-c", "face-line"), 0);  // another group

  // The placement points the CPUs at the new variant once the agents' heartbeats have
  // reported it (a placement naming a variant no device loaded is refused). node-c
  // (line-b) has not loaded it: it gets it too, so that every CPU can run it.
  auto r = Call("POST", "/v1/models/face-line/deploy",
                R"({"target": "node/node-c", "version": "front", "base": "blazeface-front-128"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(testing::RunResults(r.body)[""].value("ok", 0), 1) << r.body;
  http::ClientResponse placed;
  for (int i = 0; i < 100; ++i) {
    placed = Call("PUT", "/v1/placement",
                  R"({"types": {"face": {"kinds": {"cpu": {"variant": "line"}}}}})");
    if (placed.status == 200) break;
    EXPECT_NE(placed.body.find("not loaded"), std::string::npos) << placed.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(placed.status, 200) << placed.body;
  absl::StatusOr<client::InferResult> served;
  for (int i = 0; i < 100; ++i) {  // the placement reaches the scheduler with the next heartbeat
    served = Infer("line");
    if (served.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->served_by.value("variant", ""), "line");
  EXPECT_EQ(served->detections.size(), 1u);

  // Version 2 (the back-camera network, 256×256, another base) replaces it in place.
  auto second = Call("POST", "/v1/models/face-line/deploy",
                     R"({"target": "group/line-a", "version": "back", "base": "blazeface-back-256"})");
  ASSERT_EQ(second.status, 200) << second.body;
  auto results = testing::RunResults(second.body);
  EXPECT_EQ(results[""].value("ok", 0), 2) << second.body;
  EXPECT_GT(results["node-a"]["data"].value("downloaded_bytes", 0), 0) << second.body;
  EXPECT_EQ(Deployed("group/line-a", "face-line"), 2);
  served = Infer("line");
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->detections.size(), 1u);

  // Rollback: version 1 again, from the files each node kept.
  ASSERT_EQ(Cli({"rollback", "face-line", "--target", "group/line-a"}, &out), 0) << out;
  EXPECT_NE(out.find("0 bytes downloaded"), std::string::npos) << out;
  EXPECT_EQ(Deployed("group/line-a", "face-line"), 1);
  EXPECT_EQ(Deployed("node/node-b", "face-line"), 1);

  // A third version whose download arrives corrupted: refused, version 1 still serving.
  const std::string third_path = dir_ + "/third.onnx";
  {
    std::ofstream third(third_path, std::ios::binary);
    third << ReadFileOrDie(front) << std::string(16, '\0');  // other bytes, same network
  }
  ASSERT_EQ(Cli({"push", third_path, "--name", "face-line", "--type", "face", "--variant", "line",
                 "--label", "third"},
                &out),
            0)
      << out;
  auto version = Json::parse(Call("GET", "/v1/models/face-line/versions/third").body);
  const std::string blob = dir_ + "/state/models/blobs/sha256/" + version["sha256"].get<std::string>();
  ASSERT_TRUE(std::filesystem::exists(blob));
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x5a');  // same size: the server serves it, the agent's digest check catches it
  }
  auto corrupt = Call("POST", "/v1/models/face-line/deploy",
                      R"({"target": "node/node-a", "version": "third", "base": "blazeface-front-128"})");
  ASSERT_EQ(corrupt.status, 200) << corrupt.body;
  results = testing::RunResults(corrupt.body);
  EXPECT_EQ(results["node-a"].value("status", ""), "failed") << corrupt.body;
  EXPECT_NE(results["node-a"].value("error", "").find("sha256"), std::string::npos) << corrupt.body;
  EXPECT_EQ(Deployed("node/node-a", "face-line"), 1);
  served = Infer("line");
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->detections.size(), 1u);

  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.first_error();
  EXPECT_GT(load.ok(), 10);

  // A restarted agent serves what was deployed to it without the server's help.
  ASSERT_EQ(a_->Stop(SIGTERM, std::chrono::seconds(20)), 0);
  a_ = StartAgent("a", "line-a");
  ASSERT_TRUE(a_);
  const std::string a_url = testing::WaitForListeningUrl(*a_);
  ASSERT_FALSE(a_url.empty()) << a_->Output();
  auto direct = client::InferClient::Create(a_url);
  ASSERT_TRUE(direct.ok());
  absl::StatusOr<client::InferResult> after;
  for (int i = 0; i < 100; ++i) {
    client::InferOptions o;
    o.model = "face";
    o.variant = "line";
    after = (*direct)->Infer(o, ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
    if (after.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(after.ok()) << after.status() << a_->Output();
  EXPECT_EQ(after->detections.size(), 1u);
}

TEST_F(DeployE2ETest, NodeSettingsOutliveAServerRestart) {
  auto r = Call("PUT", "/v1/nodes/node-c", R"({"groups": ["line-a"], "labels": {"site": "b"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("PUT", "/v1/nodes/not-seen-yet", R"({"groups": ["line-z"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(server_->Stop(SIGTERM, std::chrono::seconds(20)), 0);
  auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                              "--cluster-token", kCluster, "--admin-token", kAdmin, "--state-dir",
                              dir_ + "/state"});
  ASSERT_TRUE(s.ok());
  server_ = std::move(*s);
  url_ = testing::WaitForListeningUrl(*server_);
  ASSERT_FALSE(url_.empty()) << server_->Output();
  const Json nodes = Json::parse(Call("GET", "/v1/nodes").body)["nodes"];
  std::map<std::string, Json> by_name;
  for (const Json& n : nodes) by_name[n["node"].get<std::string>()] = n;
  ASSERT_EQ(by_name.count("node-c"), 1u) << nodes.dump();
  EXPECT_EQ(by_name["node-c"]["assigned"]["groups"], (Json{"line-a"}));
  EXPECT_EQ(by_name["node-c"]["assigned"]["labels"], (Json{{"site", "b"}}));
  EXPECT_EQ(by_name["not-seen-yet"]["seen"], false);
}

TEST_F(DeployE2ETest, BadRequestsAreRefusedWithWhatToFix) {
  ASSERT_EQ(Cli({"push", ModelsDir() + "/face/blazeface_front_128.onnx", "--name", "face-line",
                 "--type", "face", "--variant", "blazeface-front-128"}),
            0);
  auto expect = [&](const std::string& path, const std::string& body, int status,
                    const std::string& words, const std::string& token = kAdmin) {
    auto r = Call("POST", path, body, token);
    EXPECT_EQ(r.status, status) << path << " " << body << " -> " << r.body;
    const Json j = Json::parse(r.body, nullptr, false);
    if (status != 200) {
      ASSERT_TRUE(j.is_object()) << r.body;
      EXPECT_NE(j.value("error", "").find(words), std::string::npos) << r.body;
    } else {
      EXPECT_NE(r.body.find(words), std::string::npos) << r.body;
    }
  };
  expect("/v1/models/face-line/deploy", R"({"target": "group/line-a"})", 401, "", "");
  expect("/v1/models/face-line/deploy", R"({"target": "group/line-a"})", 401, "", kCluster);
  expect("/v1/models/face-line/deploy", R"({"target": "all"})", 400, "group/");
  expect("/v1/models/face-line/deploy", R"({"target": "group/nowhere"})", 404, "line-a");
  expect("/v1/models/face-line/deploy", R"({"target": "group/line-a", "version": 9})", 404, "");
  expect("/v1/models/face-line/deploy", R"({"target": "group/line-a", "shell": "rm -rf /"})", 400,
         "unknown field");
  expect("/v1/models/..%2Fx/deploy", R"({"target": "group/line-a"})", 400, "model name");
  expect("/v1/models/face-line/rollback", R"({"target": "group/line-a"})", 404, "");
  // A built-in variant's name is not replaced: each node refuses, saying why.
  expect("/v1/models/face-line/deploy", R"({"target": "group/line-a"})", 200,
         "deploy under a variant name of its own");
  // The generic fleet route does not run installs.
  expect("/v1/fleet/model-install", R"({"target": "all"})", 400, "/deploy");
  // An agent refuses an install without the cluster token.
  auto agent = http::Client::Create(a_url_);
  ASSERT_TRUE(agent.ok());
  auto r = (*agent)->Post("/v1/fleet/models/install", "application/json", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;
}

}  // namespace
}  // namespace heteroaccel
