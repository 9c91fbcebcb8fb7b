// The scheduler extender end to end: a real `heteroaccel server` and two real
// agents with emulated accelerators, as separate processes; the test plays
// kube-scheduler and posts ExtenderArgs to /k8s/extender/{filter,prioritize}.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <thread>

#include "http/client.h"
#include "k8s/extender/extender.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using Json = nlohmann::json;
using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::Subprocess;
using testing::WriteTempFileOrDie;

Json Pod(const std::string& resource, const std::string& model) {
  Json pod = {
      {"kind", "Pod"},
      {"apiVersion", "v1"},
      {"metadata", {{"name", "detector-0"}, {"namespace", "vision"}}},
      {"spec",
       {{"schedulerName", "default-scheduler"},
        {"containers",
         {{{"name", "detector"},
           {"image", "registry.example/detector:1"},
           {"resources", {{"limits", {{resource, "1"}}}, {"requests", {{resource, "1"}}}}}}}}}},
      {"status", {{"phase", "Pending"}}}};
  if (!model.empty()) pod["metadata"]["annotations"] = {{"heteroaccel.io/model", model}};
  return pod;
}

class ExtenderE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Reading the cluster needs the viewer token; the extender routes do not.
    auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                "--cluster-token", "s3cret", "--viewer-token", "v1ew"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    url_ = testing::WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
    fast_ = StartAgent(WriteTempFileOrDie("fast.yaml", R"(
node: node-fast
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 30}}
devices:
  - {id: gpu0, kind: gpu, name: Fast GPU, slots: 1, latency_ms: {face: 4}}
)"));
    slow_ = StartAgent(WriteTempFileOrDie("slow.yaml", R"(
node: node-slow
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 30}}
devices:
  - {id: gpu0, kind: gpu, name: Slow GPU, slots: 1, latency_ms: {face: 40}}
  - {id: npu0, kind: npu, name: Test NPU, slots: 1, latency_ms: {face: 10}}
)"));
    http_ = *http::Client::Create(url_);
    ASSERT_TRUE(WaitForBothNodes()) << server_->Output();
  }

  // Polls filter until both agents' nodes pass for an emulated GPU with face, and
  // node-slow for its NPU (the agents are "ready" before the server has their first
  // heartbeat, and a heartbeat sent while one slot was still loading reports that
  // device unhealthy).
  bool WaitForBothNodes() {
    const std::string gpu = Json{{"Pod", Pod("heteroaccel.io/emulated-gpu", "face")},
                                 {"NodeNames", {"node-fast", "node-slow"}}}
                                .dump();
    const std::string npu = Json{{"Pod", Pod("heteroaccel.io/emulated-npu", "face")},
                                 {"NodeNames", {"node-slow"}}}
                                .dump();
    auto passing = [this](const std::string& body) {
      auto r = http_->Post("/k8s/extender/filter", "application/json", body);
      if (!r.ok() || r->status != 200) return size_t{0};
      return Json::parse(r->body, nullptr, false).value("NodeNames", Json()).size();
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (passing(gpu) == 2 && passing(npu) == 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::unique_ptr<Subprocess> StartAgent(const std::string& config) {
    auto p = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                                "--models-dir", ModelsDir(), "--config", config, "--server", url_,
                                "--cluster-token", "s3cret", "--models", "face"});
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return nullptr;
    EXPECT_TRUE((*p)->WaitForLine("ready", std::chrono::minutes(5)).has_value()) << (*p)->Output();
    return std::move(*p);
  }

  // POSTs to a verb; the status and the parsed body (discarded if not JSON).
  std::pair<int, Json> Post(const std::string& verb, const std::string& body) {
    auto r = http_->Post("/k8s/extender/" + verb, "application/json", body);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {0, Json()};
    return {r->status, Json::parse(r->body, nullptr, false)};
  }

  // Polls prioritize until `done` holds for its answer, or 20 s pass: the
  // agents report their devices' measured times a heartbeat or two after
  // they are up.
  Json PrioritizeUntil(const std::string& body, const std::function<bool(const Json&)>& done) {
    Json last;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto [status, answer] = Post("prioritize", body);
      last = answer;
      if (status == 200 && done(answer)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
  }

  static std::map<std::string, int64_t> Scores(const Json& list) {
    std::map<std::string, int64_t> out;
    if (!list.is_array()) return out;
    for (const Json& p : list) out[p.value("Host", "")] = p.value("Score", int64_t{-1});
    return out;
  }

  std::unique_ptr<Subprocess> server_, fast_, slow_;
  std::string url_;
  std::unique_ptr<http::Client> http_;
};

TEST_F(ExtenderE2ETest, FiltersByKindModelAndKnownNodesWithoutAToken) {
  auto [status, answer] =
      Post("filter", Json{{"Pod", Pod("heteroaccel.io/emulated-gpu", "face")},
                          {"Nodes", nullptr},
                          {"NodeNames", {"node-fast", "node-slow", "node-ghost"}}}
                         .dump());
  ASSERT_EQ(status, 200) << answer;
  EXPECT_EQ(answer["NodeNames"], Json({"node-fast", "node-slow"})) << answer;
  EXPECT_EQ(answer["Error"], "");
  EXPECT_NE(
      answer["FailedAndUnresolvableNodes"].value("node-ghost", "").find("no HeteroAccel agent"),
      std::string::npos)
      << answer;

  // Only node-slow has an NPU; neither has a real (non-emulated) GPU.
  auto [npu_status, npu] = Post("filter", Json{{"Pod", Pod("heteroaccel.io/emulated-npu", "face")},
                                               {"NodeNames", {"node-fast", "node-slow"}}}
                                              .dump());
  ASSERT_EQ(npu_status, 200);
  EXPECT_EQ(npu["NodeNames"], Json({"node-slow"})) << npu;
  EXPECT_NE(npu["FailedAndUnresolvableNodes"]["node-fast"].get<std::string>().find(
                "no heteroaccel.io/emulated-npu device"),
            std::string::npos)
      << npu;
  auto [real_status, real] = Post(
      "filter", Json{{"Pod", Pod("heteroaccel.io/gpu", "")}, {"NodeNames", {"node-fast"}}}.dump());
  ASSERT_EQ(real_status, 200);
  EXPECT_TRUE(real["NodeNames"].empty()) << real;

  // A variant nobody loaded.
  auto [variant_status, variant] =
      Post("filter", Json{{"Pod", Pod("heteroaccel.io/emulated-gpu", "face/no-such-variant")},
                          {"NodeNames", {"node-fast", "node-slow"}}}
                         .dump());
  ASSERT_EQ(variant_status, 200);
  EXPECT_TRUE(variant["NodeNames"].empty()) << variant;
  EXPECT_EQ(variant["FailedAndUnresolvableNodes"].size(), 2u) << variant;
}

TEST_F(ExtenderE2ETest, NodeListModeEchoesTheNodeObjects) {
  const Json fast = {{"metadata", {{"name", "node-fast"}, {"labels", {{"zone", "a"}}}}},
                     {"status", {{"allocatable", {{"heteroaccel.io/emulated-gpu", "1"}}}}}};
  const Json ghost = {{"metadata", {{"name", "node-ghost"}}}};
  const std::string body = Json{
      {"Pod", Pod("heteroaccel.io/emulated-gpu", "face")},
      {"Nodes", {{"metadata", Json::object()}, {"items", {fast, ghost}}}},
      {"NodeNames", nullptr}}.dump();
  auto [status, answer] = Post("filter", body);
  ASSERT_EQ(status, 200) << answer;
  EXPECT_EQ(answer["Nodes"]["items"], Json::array({fast})) << answer;
  EXPECT_TRUE(answer["NodeNames"].is_null());
  EXPECT_TRUE(answer["FailedAndUnresolvableNodes"].contains("node-ghost"));
}

TEST_F(ExtenderE2ETest, PrioritizeFavoursTheNodeThatFinishesFirst) {
  const std::string body = Json{{"Pod", Pod("heteroaccel.io/emulated-gpu", "face")},
                                {"NodeNames", {"node-fast", "node-slow", "node-ghost"}}}
                               .dump();
  // 4 ms against 40 ms once both GPUs reported their measured times.
  const Json answer = PrioritizeUntil(body, [](const Json& list) {
    auto s = Scores(list);
    return s["node-fast"] == 10 && s["node-slow"] >= 1 && s["node-slow"] <= 2;
  });
  auto scores = Scores(answer);
  EXPECT_EQ(scores["node-fast"], 10) << answer;
  EXPECT_GE(scores["node-slow"], 1) << answer;
  EXPECT_LE(scores["node-slow"], 2) << answer;
  EXPECT_EQ(scores["node-ghost"], 0) << answer;
  ASSERT_EQ(answer.size(), 3u);
  EXPECT_EQ(answer[0]["Host"], "node-fast");  // in the order given
}

TEST_F(ExtenderE2ETest, MalformedBodiesGetA400WithTheFieldNamed) {
  auto [status, answer] = Post("filter", "{\"NodeNames\": [\"node-fast\"]}");
  EXPECT_EQ(status, 400);
  EXPECT_NE(answer.value("Error", "").find("ExtenderArgs.Pod is missing"), std::string::npos)
      << answer;
  auto [bad_status, bad] = Post("prioritize", "\xff\xfe not json");
  EXPECT_EQ(bad_status, 400);
  ASSERT_TRUE(bad.is_object());
  EXPECT_NE(bad.value("Error", "").find("not JSON"), std::string::npos) << bad;
  auto get = http_->Get("/k8s/extender/filter");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 405);
  // The cluster view itself still needs the viewer token.
  auto cluster = http_->Get("/v1/cluster");
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(cluster->status, 401);
}

}  // namespace
}  // namespace heteroaccel
