// The server end to end: a real server and real agents (emulated accelerators
// plus the machine's CPU) as separate processes over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <thread>

#include "api/detections_codec.h"
#include "client/infer_client.h"
#include "grpc/client.h"
#include "http/client.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;
using testing::WriteTempFileOrDie;

std::unique_ptr<Subprocess> StartAgent(const std::string& server, const std::string& config) {
  auto p = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                              "--models-dir", ModelsDir(), "--config", config, "--server", server,
                              "--cluster-token", "s3cret", "--models", "face"});
  EXPECT_TRUE(p.ok());
  EXPECT_TRUE((*p)->WaitForLine("ready", std::chrono::minutes(5)).has_value()) << (*p)->Output();
  return std::move(*p);
}

// Waits until the server's cluster view has `n` nodes up, each with a device
// that has its models loaded.
bool WaitForNodesUp(const std::string& server, int n, std::chrono::seconds timeout) {
  auto http = *http::Client::Create(server);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = http->Get("/v1/cluster");
    if (r.ok()) {
      int up = 0;
      const nlohmann::json cluster = nlohmann::json::parse(r->body);
      for (const auto& node : cluster["nodes"]) {
        bool serving = false;
        for (const auto& d : node["devices"]) serving |= !d["variants"].empty();
        up += node["up"].get<bool>() && serving ? 1 : 0;
      }
      if (up == n) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class ServerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                "--grpc-listen", "127.0.0.1:0", "--cluster-token", "s3cret"});
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    url_ = WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
    auto grpc_line =
        server_->WaitForLine("gRPC (inference.GRPCInferenceService) on ", std::chrono::seconds(10));
    ASSERT_TRUE(grpc_line.has_value()) << server_->Output();
    grpc_target_ = grpc_line->substr(grpc_line->rfind(' ') + 1);
    fast_ = StartAgent(url_, WriteTempFileOrDie("fast.yaml", R"(
node: node-fast
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 80}}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 1, latency_ms: {face: 5}}
)"));
    slow_ = StartAgent(url_, WriteTempFileOrDie("slow.yaml", R"(
node: node-slow
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 80}}
devices:
  - {id: npu0, kind: npu, name: Test NPU, slots: 1, latency_ms: {face: 40}}
)"));
    ASSERT_TRUE(WaitForNodesUp(url_, 2, std::chrono::seconds(10))) << server_->Output();
  }

  std::unique_ptr<Subprocess> server_, fast_, slow_;
  std::string url_;
  std::string grpc_target_;
};

TEST_F(ServerE2ETest, RoutesToTheDevicesAndSaysWhoServed) {
  auto c = *client::InferClient::Create(url_);
  std::map<std::string, int> served;
  for (int i = 0; i < 20; ++i) {
    auto r = c->Infer({"face", "", "", client::Protocol::kV2Binary},
                      ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->detections.size(), 1u);
    ASSERT_EQ(r->detections[0].keypoints.size(), 6u);
    EXPECT_EQ(r->detections[0].keypoints[0].name, "right_eye");  // from the server's metadata
    EXPECT_TRUE(r->served_by.contains("server_queue_ms"));
    EXPECT_EQ(r->served_by["emulated"], true);
    ++served[r->served_by["node"].get<std::string>() + "/" +
             r->served_by["device"].get<std::string>()];
  }
  // Sequential requests always find the 5 ms GPU free: it finishes first. The
  // other two devices are idle and their estimates unconfirmed: each may be
  // probed until it has confirmed its estimate twice (scheduler Options::
  // confirming_samples), so at most 2 x 2 requests go elsewhere. The others
  // are 8x and 16x slower, so that neither the GPU's first run (the real model
  // on this machine's CPU, before its results are reused) nor a late wake-up
  // on a loaded machine makes another device look faster.
  EXPECT_GE(served["node-fast/gpu0"], 20 - 2 * 2) << served.size();
}

TEST_F(ServerE2ETest, RegistryListsVariantsWithLatencyPerKindAndAccuracy) {
  auto http = *http::Client::Create(url_);
  // Nodes are up before each of their devices has measured its first run:
  // wait (bounded) until all four devices report a time for the variant.
  absl::StatusOr<http::ClientResponse> r;
  nlohmann::json face;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    r = http->Get("/v1/registry/variants");
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    face = nlohmann::json::parse(r->body)["types"]["face"];
    size_t devices = 0;
    for (const auto& v : face.is_array() ? face : nlohmann::json::array()) {
      if (v.value("variant", "") != "blazeface-front-128") continue;
      const nlohmann::json by_kind = v.value("latency_by_kind", nlohmann::json::object());
      for (const auto& [kind, l] : by_kind.items()) devices += l.value("devices", 0u);
    }
    if (devices >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(face.is_array()) << r->body;
  const nlohmann::json* front = nullptr;
  for (const auto& v : face) {
    if (v["variant"] == "blazeface-front-128") front = &v;
  }
  ASSERT_NE(front, nullptr) << r->body;
  EXPECT_FALSE((*front)["accuracy"].get<std::string>().empty());
  // The emulated profiles: gpu 5 ms, npu 40 ms, the two emulated CPUs 80 ms.
  const auto& latency = (*front)["latency_by_kind"];
  EXPECT_NEAR(latency["gpu (emulated)"]["median_ms"].get<double>(), 5, 0.5) << latency;
  EXPECT_NEAR(latency["npu (emulated)"]["median_ms"].get<double>(), 40, 0.5) << latency;
  EXPECT_EQ(latency["cpu (emulated)"]["devices"], 2) << latency;

  // The server's model metadata declares the same outputs as the agents'.
  const auto metadata = nlohmann::json::parse(http->Get("/v2/models/face")->body);
  ASSERT_EQ(metadata["outputs"].size(), 7u) << metadata;
  EXPECT_EQ(metadata["outputs"][5]["name"], "keypoint_scores");
  EXPECT_EQ(metadata["outputs"][5]["shape"], nlohmann::json({-1, 6}));
  EXPECT_EQ(metadata["keypoint_names"].size(), 6u);
}

TEST_F(ServerE2ETest, ServesTheKServeGrpcProtocol) {
  auto grpc = grpcfront::GrpcClient::Create(grpc_target_);
  ASSERT_TRUE(grpc.ok()) << grpc.status();
  EXPECT_EQ((*grpc)->ServerLive().value_or(false), true);
  EXPECT_EQ((*grpc)->ServerReady().value_or(false), true);
  EXPECT_EQ((*grpc)->ModelReady("face").value_or(false), true);
  protocol::InferRequest request;
  request.inputs.push_back(
      protocol::Tensor::FromBytes("image", {ReadFileOrDie(ModelsDir() + "/images/astronaut.png")}));
  auto response = (*grpc)->Infer("face", "", request);
  ASSERT_TRUE(response.ok()) << response.status();
  auto faces = api::DetectionsFromTensors(response->outputs, {});
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 1u);
  EXPECT_NEAR(((*faces)[0].box.x1 + (*faces)[0].box.x2) / 2, 225, 20);
  EXPECT_TRUE(response->parameters.contains("device"));
  auto unknown = (*grpc)->Infer("nope", "", request);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  // Hints are read by the same parser as over HTTP: a bad one is rejected
  // with the same message, over both front doors.
  request.parameters = {{"timeout_ms", "soon"}};
  auto bad_hint = (*grpc)->Infer("face", "", request);
  EXPECT_EQ(bad_hint.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_hint.status().message().find("'timeout_ms'"), std::string::npos)
      << bad_hint.status();
  auto http = *http::Client::Create(url_);
  auto over_http = http->Post("/v1/infer/face?timeout_ms=0", "image/png",
                              ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
  ASSERT_TRUE(over_http.ok());
  EXPECT_EQ(over_http->status, 400);
  EXPECT_NE(over_http->body.find("'timeout_ms'"), std::string::npos) << over_http->body;
  // The answer says who served it, the server's queue time and the attempts,
  // written by the agent (the server passes the answer on unchanged).
  request.parameters = nlohmann::json::object();
  auto served = (*grpc)->Infer("face", "", request);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->parameters.value("attempts", 0), 1) << served->parameters;
  EXPECT_TRUE(served->parameters.contains("server_queue_ms")) << served->parameters;
}

TEST_F(ServerE2ETest, AModelVersionPinsTheVariant) {
  auto c = *client::InferClient::Create(url_);
  const std::string image = ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  auto any = c->Infer({"face", "", "", client::Protocol::kV2Binary}, image);
  ASSERT_TRUE(any.ok()) << any.status();
  const std::string variant = any->served_by["variant"].get<std::string>();
  for (int i = 0; i < 3; ++i) {
    auto pinned = c->Infer({"face", variant, "", client::Protocol::kV2Binary}, image);
    ASSERT_TRUE(pinned.ok()) << pinned.status();
    EXPECT_EQ(pinned->served_by["variant"], variant);
  }
  auto http = *http::Client::Create(url_);
  auto none = http->Post("/v2/models/face/versions/no-such-build/infer", "application/json",
                         R"({"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["x"]}]})");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 404) << none->body;
  EXPECT_NE(none->body.find("serves variant 'no-such-build'"), std::string::npos) << none->body;
  EXPECT_NE(none->body.find(variant), std::string::npos) << "names what is served: " << none->body;
}

// The client sends a camera's name as the scheduling hint in every protocol: a
// valid one is served, one the server refuses comes back as a 400 naming it.
TEST_F(ServerE2ETest, ACameraNameReachesTheServerInEveryProtocol) {
  auto c = *client::InferClient::Create(url_);
  const std::string image = ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  for (const client::Protocol protocol :
       {client::Protocol::kV2Binary, client::Protocol::kV2Json, client::Protocol::kV1}) {
    client::InferOptions options{"face", "", "", protocol};
    options.camera = "gate-1";
    auto named = c->Infer(options, image);
    ASSERT_TRUE(named.ok()) << named.status();
    options.camera = "gate 1";
    auto refused = c->Infer(options, image);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
    EXPECT_NE(refused.status().message().find("camera"), std::string_view::npos)
        << refused.status();
  }
}

TEST_F(ServerE2ETest, RejectsBadInputAndUnknownModels) {
  auto http = *http::Client::Create(url_);
  auto bad = http->Post("/v2/models/face/infer", "application/json", "{\"inputs\": [");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  auto unknown = http->Post("/v1/infer/nope", "image/png",
                            ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  auto not_image = http->Post("/v1/infer/face", "image/png", "not a png");
  EXPECT_EQ(not_image->status, 400) << not_image->body;
  EXPECT_NE(not_image->body.find("neither JPEG nor PNG"), std::string::npos);
  auto forged = http->Post("/v1/cluster/heartbeat", "application/json",
                           R"({"node":"evil","url":"http://127.0.0.1:1","devices":[]})");
  EXPECT_EQ(forged->status, 401);
}

TEST_F(ServerE2ETest, ModelDescriptionsAreSentOnceAndKept) {
  auto http = *http::Client::Create(url_);
  const http::HeaderList auth = {{"Authorization", "Bearer s3cret"}};
  auto beat = [&](const std::string& url, bool with_info) {
    nlohmann::json state = {{"node", "ghost"}, {"url", url}, {"devices", nlohmann::json::array()}};
    if (with_info) state["model_info"] = {{"face", {{"keypoint_names", {"a", "b"}}}}};
    auto r = http->Post("/v1/cluster/heartbeat", "application/json", state.dump(), auth);
    EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    const nlohmann::json reply = nlohmann::json::parse(r.ok() ? r->body : "{}");
    return reply.value("send_model_info", false);
  };
  EXPECT_TRUE(beat("http://127.0.0.1:1", false));  // unknown: asked for its description
  EXPECT_FALSE(beat("http://127.0.0.1:1", true));
  EXPECT_FALSE(beat("http://127.0.0.1:1", false));  // kept
  EXPECT_TRUE(beat("http://127.0.0.1:2", false));   // a restarted agent describes itself again

  // The real agents described face once, several heartbeats ago: the server's
  // metadata still names its six keypoints.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  auto meta = http->Get("/v2/models/face");
  ASSERT_TRUE(meta.ok() && meta->status == 200);
  const nlohmann::json metadata = nlohmann::json::parse(meta->body);
  EXPECT_EQ(metadata.value("keypoint_names", nlohmann::json::array()).size(), 6u) << meta->body;
}

TEST_F(ServerE2ETest, KilledAgentUnderLoadLosesNothing) {
  const std::string image = ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  std::atomic<int> ok{0}, errors{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> error_messages;
  std::vector<std::thread> cameras;
  for (int t = 0; t < 4; ++t) {
    cameras.emplace_back([&] {
      auto c = *client::InferClient::Create(url_);
      while (!stop) {
        auto r = c->Infer({"face", "", "", client::Protocol::kV2Binary}, image);
        if (r.ok() && r->detections.size() == 1) {
          ++ok;
        } else {
          ++errors;
          std::lock_guard<std::mutex> lock(mu);
          error_messages.push_back(r.ok() ? "wrong result" : std::string(r.status().message()));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int before = ok;
  fast_->Stop(SIGKILL, std::chrono::seconds(5));
  // The server notices within a second and keeps serving on the other node.
  ASSERT_TRUE(WaitForNodesUp(url_, 1, std::chrono::seconds(2)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (auto& t : cameras) t.join();
  EXPECT_GT(before, 0);
  EXPECT_GT(ok, before);
  EXPECT_EQ(errors, 0) << (error_messages.empty() ? "" : error_messages[0]);
}

TEST_F(ServerE2ETest, AgentCutOffUnderLoadLosesNothing) {
  // SIGSTOP freezes the agent with its connections open: requests in flight
  // there get no answer and its heartbeats stop, as when a node is cut off.
  const std::string image = ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  std::atomic<int> ok{0}, errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> cameras;
  for (int t = 0; t < 4; ++t) {
    cameras.emplace_back([&] {
      auto c = *client::InferClient::Create(url_);
      while (!stop) {
        auto r = c->Infer({"face", "", "", client::Protocol::kV2Binary}, image);
        (r.ok() && r->detections.size() == 1 ? ok : errors)++;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(fast_->pid(), SIGSTOP);
  const bool marked_down = WaitForNodesUp(url_, 1, std::chrono::seconds(3));
  const int at_down = ok;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (auto& t : cameras) t.join();
  kill(fast_->pid(), SIGCONT);
  EXPECT_TRUE(marked_down);
  EXPECT_GT(ok, at_down);  // still serving on the other node
  EXPECT_EQ(errors, 0);
}

TEST_F(ServerE2ETest, NodeThatComesBackRejoins) {
  slow_->Stop(SIGKILL, std::chrono::seconds(5));
  ASSERT_TRUE(WaitForNodesUp(url_, 1, std::chrono::seconds(2)));
  slow_ = StartAgent(url_, WriteTempFileOrDie("slow2.yaml", R"(
node: node-slow
opencl: false
devices:
  - {id: npu0, kind: npu, name: Test NPU, slots: 1, latency_ms: {face: 10}}
)"));
  EXPECT_TRUE(WaitForNodesUp(url_, 2, std::chrono::seconds(5)));
}

}  // namespace
}  // namespace heteroaccel
