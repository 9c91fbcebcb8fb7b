// The agent end to end: the real binary on port 0, real images over real
// sockets, on the CPU and on the OpenCL device (PoCL on machines without a GPU).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "client/infer_client.h"
#include "http/client.h"
#include "http/server.h"
#include "protocol/inference.h"
#include "testing/metrics_text.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::ModelsDir;
using testing::ReadFileOrDie;

std::string Image(const std::string& name) {
  return ReadFileOrDie(ModelsDir() + "/images/" + name);
}

// A running agent; the address it printed.
struct RunningAgent {
  std::unique_ptr<testing::Subprocess> process;
  std::string url;
};

RunningAgent StartAgent(std::vector<std::string> extra) {
  std::vector<std::string> argv = {testing::HeteroaccelBinary(),
                                   "agent",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--models-dir",
                                   ModelsDir()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto process = testing::Subprocess::Start(argv);
  EXPECT_TRUE(process.ok()) << process.status();
  RunningAgent agent{std::move(*process), ""};
  auto line = agent.process->WaitForLine("listening on http://", std::chrono::seconds(60));
  EXPECT_TRUE(line.has_value()) << agent.process->Output();
  if (!line) return agent;
  agent.url = line->substr(line->find("http://"));
  // OpenCL kernels compile during warm-up; that takes a while on PoCL.
  EXPECT_TRUE(agent.process->WaitForLine("ready", std::chrono::minutes(10)).has_value())
      << agent.process->Output();
  return agent;
}

class AgentE2ETest : public ::testing::Test {
 protected:
  // Face and object only: the other types have their own end-to-end test, and
  // warming every model up on PoCL's OpenCL device takes minutes.
  static void SetUpTestSuite() {
    agent_ = new RunningAgent(StartAgent({"--models", "face,object"}));
  }
  static void TearDownTestSuite() {
    delete agent_;
    agent_ = nullptr;
  }

  static std::string OpenClDevice() {
    auto http = http::Client::Create(agent_->url);
    auto node = (*http)->Get("/v1/node");
    auto json = nlohmann::json::parse(node->body);
    for (const auto& d : json["devices"]) {
      if (d.value("target", "") == "opencl") return d["id"];
    }
    return "";
  }

  static client::InferResult Infer(const std::string& model, const std::string& image,
                                   const std::string& device,
                                   client::Protocol protocol = client::Protocol::kV2Binary) {
    auto c = client::InferClient::Create(agent_->url);
    EXPECT_TRUE(c.ok()) << c.status();
    auto result = (*c)->Infer({model, "", device, protocol}, Image(image));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : client::InferResult{};
  }

  static RunningAgent* agent_;
};

RunningAgent* AgentE2ETest::agent_ = nullptr;

TEST_F(AgentE2ETest, HealthAndMetadata) {
  auto http = http::Client::Create(agent_->url);
  ASSERT_TRUE(http.ok());
  EXPECT_EQ((*http)->Get("/v2/health/live")->status, 200);
  EXPECT_EQ((*http)->Get("/v2/health/ready")->status, 200);
  auto server = nlohmann::json::parse((*http)->Get("/v2")->body);
  EXPECT_EQ(server["name"], "heteroaccel-agent");
  auto face = nlohmann::json::parse((*http)->Get("/v2/models/face")->body);
  EXPECT_EQ(face["inputs"][0]["datatype"], "BYTES");
  EXPECT_EQ(face["keypoint_names"].size(), 6u);
  EXPECT_EQ((*http)->Get("/v2/models/face/ready")->status, 200);
  EXPECT_EQ((*http)->Get("/v2/models/nope")->status, 404);
}

void ExpectAstronautFace(const client::InferResult& r) {
  ASSERT_EQ(r.detections.size(), 1u);
  const inference::Detection& face = r.detections[0];
  EXPECT_EQ(face.label, "face");
  EXPECT_GT(face.score, 0.8f);
  // Her face spans roughly x 175..275, y 80..175 in the 512x512 image.
  EXPECT_NEAR((face.box.x1 + face.box.x2) / 2, 225, 20);
  EXPECT_NEAR((face.box.y1 + face.box.y2) / 2, 128, 20);
  EXPECT_EQ(face.keypoints.size(), 6u);
}

void ExpectLabel(const client::InferResult& r, const std::string& label, float min_score) {
  bool found = false;
  for (const auto& d : r.detections) found |= d.label == label && d.score >= min_score;
  EXPECT_TRUE(found) << "no " << label;
}

TEST_F(AgentE2ETest, FaceAndObjectOnTheCpu) {
  for (auto protocol :
       {client::Protocol::kV2Binary, client::Protocol::kV2Json, client::Protocol::kV1}) {
    auto face = Infer("face", "astronaut.png", "cpu0", protocol);
    ExpectAstronautFace(face);
    EXPECT_EQ(face.served_by["device"], "cpu0");
    EXPECT_EQ(face.served_by["emulated"], false);
    EXPECT_GE(face.served_by["compute_ms"].get<double>(), 0.1);
  }
  ExpectLabel(Infer("object", "astronaut.png", "cpu0"), "Person", 0.5f);
  auto cat = Infer("object", "chelsea.png", "cpu0");
  ASSERT_FALSE(cat.detections.empty());
  EXPECT_EQ(cat.detections[0].label, "Cat");
}

TEST_F(AgentE2ETest, FaceAndObjectOnTheOpenClDevice) {
  const std::string device = OpenClDevice();
  if (device.empty()) GTEST_SKIP() << "this node has no OpenCL device";
  auto face = Infer("face", "astronaut.png", device);
  ExpectAstronautFace(face);
  EXPECT_EQ(face.served_by["device"], device);
  ExpectLabel(Infer("object", "astronaut.png", device), "Person", 0.5f);
  auto cat = Infer("object", "chelsea.png", device);
  ASSERT_FALSE(cat.detections.empty());
  EXPECT_EQ(cat.detections[0].label, "Cat");
}

TEST_F(AgentE2ETest, AcceptsRawRgbPixels) {
  // A UINT8 [H,W,3] tensor: a 64x48 grey image, so no face, but a valid answer.
  protocol::InferRequest request;
  std::string pixels(48 * 64 * 3, static_cast<char>(120));
  protocol::Tensor t;
  t.name = "image";
  t.datatype = protocol::DataType::kUint8;
  t.shape = {48, 64, 3};
  t.data = pixels;
  request.inputs.push_back(t);
  auto body = protocol::EncodeInferRequest(request, true);
  auto http = http::Client::Create(agent_->url);
  auto response = (*http)->Post(
      "/v2/models/face/infer", body.content_type, body.body,
      {{"Inference-Header-Content-Length", std::to_string(*body.json_header_length)}});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200) << response->body;
  auto json = nlohmann::json::parse(response->body);
  EXPECT_EQ(json["outputs"][0]["shape"][0], 0);
}

struct BadCase {
  const char* what;
  const char* path;
  const char* content_type;
  std::string body;
  int status;
  const char* message;
};

TEST_F(AgentE2ETest, BadInputGetsAClearError) {
  const std::vector<BadCase> cases = {
      {"malformed JSON", "/v2/models/face/infer", "application/json", "{\"inputs\": [", 400, ""},
      {"no inputs", "/v2/models/face/infer", "application/json", "{\"inputs\": []}", 400, "input"},
      {"wrong datatype", "/v2/models/face/infer", "application/json",
       R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1],"data":[1.0]}]})", 400,
       "send BYTES"},
      {"shape mismatch", "/v2/models/face/infer", "application/json",
       R"({"inputs":[{"name":"image","datatype":"UINT8","shape":[2,2,3],"data":[1,2,3]}]})", 400,
       "12"},
      {"not an image", "/v1/infer/face", "image/png", "definitely not a png", 400,
       "neither JPEG nor PNG"},
      {"corrupt PNG", "/v1/infer/face", "image/png", Image("astronaut.png").substr(0, 2000), 400,
       "does not decode"},
      {"unknown model", "/v2/models/nope/infer", "application/json",
       R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["x"]}]})", 404,
       "unknown model 'nope'"},
      {"unknown device", "/v1/infer/face?device=fpga9", "image/png", Image("astronaut.png"), 404,
       "fpga9"},
      {"wrong content type", "/v1/infer/face", "text/plain", "hello", 415, "not an image"},
      {"too large", "/v1/infer/face", "image/png", std::string(17u << 20, 'x'), 413, ""},
  };
  for (const BadCase& c : cases) {
    auto http = http::Client::Create(agent_->url);
    auto response = (*http)->Post(c.path, c.content_type, c.body);
    ASSERT_TRUE(response.ok()) << c.what << ": " << response.status();
    EXPECT_EQ(response->status, c.status) << c.what << ": " << response->body;
    auto json = nlohmann::json::parse(response->body, nullptr, false);
    ASSERT_TRUE(json.is_object() && json.contains("error")) << c.what << ": " << response->body;
    EXPECT_NE(json["error"].get<std::string>().find(c.message), std::string::npos)
        << c.what << ": " << json["error"];
  }
  // The agent is still alive and serving.
  ExpectAstronautFace(Infer("face", "astronaut.png", "cpu0"));
}

TEST_F(AgentE2ETest, MetricsPassPromtool) {
  Infer("face", "astronaut.png", "cpu0");
  auto http = http::Client::Create(agent_->url);
  auto metrics = (*http)->Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->Header("content-type").find("version=0.0.4"), std::string::npos);
  const std::string& text = metrics->body;
  for (
      const char* series :
      {"heteroaccel_device_info{", "heteroaccel_slot_allocated{", "heteroaccel_slot_queue_depth{",
       "heteroaccel_inferences_total{model=\"face\"", "heteroaccel_inference_queue_seconds_bucket{",
       "heteroaccel_inference_compute_seconds_bucket{", "heteroaccel_node_cpu_utilisation_ratio",
       "heteroaccel_node_memory_available_bytes", "heteroaccel_node_network_receive_bytes_total",
       "heteroaccel_device_busy_seconds_total{device=\"cpu0\",kind=\"cpu\",emulated=\"false\"} "}) {
    EXPECT_NE(text.find(series), std::string::npos) << series;
  }
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "no promtool";
  const std::string out =
      ::testing::TempDir() + "/heteroaccel_promtool_" + std::to_string(getpid()) + ".out";
  FILE* pipe = popen(("promtool check metrics > " + out + " 2>&1").c_str(), "w");
  ASSERT_NE(pipe, nullptr);
  fwrite(text.data(), 1, text.size(), pipe);
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << ReadFileOrDie(out);
}

TEST(AgentOverloadTest, FullQueuesAnswer429WithRetryAfterAndLoseNothing) {
  RunningAgent agent = StartAgent(
      {"--no-opencl", "--cpu-slots", "1", "--queue-capacity", "1", "--models", "object"});
  ASSERT_FALSE(agent.url.empty());
  const std::string image = Image("chelsea.png");
  std::atomic<int> ok{0}, overloaded{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto http = http::Client::Create(agent.url);
      for (int i = 0; i < 4; ++i) {
        auto r = (*http)->Post("/v1/infer/object", "image/png", image);
        if (r.ok() && r->status == 200) {
          ++ok;
        } else if (r.ok() && r->status == 429 && !r->Header("retry-after").empty()) {
          ++overloaded;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok + overloaded, 32);
  EXPECT_EQ(other, 0);
  EXPECT_GT(overloaded, 0);
  EXPECT_GT(ok, 0);
}

// Stands in for the server's heartbeat endpoint and keeps what agents report.
class HeartbeatSink {
 public:
  HeartbeatSink() {
    http::Router router;
    router.Add("POST", "/v1/cluster/heartbeat",
               [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
                 nlohmann::json report = nlohmann::json::parse(request.body, nullptr, false);
                 if (report.is_object()) {
                   absl::MutexLock lock(&mu_);
                   reports_.push_back(std::move(report));
                 }
                 http::Response response;
                 response.body = R"({"ok":true,"send_model_info":false})";
                 respond(std::move(response));
               });
    auto server = http::Server::Create({}, std::move(router));
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
  }

  std::string url() const { return "http://" + server_->address(); }

  // The first report (from the oldest kept) for which `wanted` holds, waiting
  // up to `timeout` for one to arrive; null when none did.
  nlohmann::json WaitFor(const std::function<bool(const nlohmann::json&)>& wanted,
                         std::chrono::seconds timeout) {
    absl::MutexLock lock(&mu_);
    size_t seen = 0;
    auto found = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (; seen < reports_.size(); ++seen) {
        if (wanted(reports_[seen])) return true;
      }
      return false;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&found), absl::FromChrono(timeout))) return nullptr;
    return reports_[seen];
  }

 private:
  absl::Mutex mu_;
  std::vector<nlohmann::json> reports_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<http::Server> server_;
};

// The reported device `id`, or null.
nlohmann::json ReportedDevice(const nlohmann::json& report, const std::string& id) {
  for (const auto& d : report.value("devices", nlohmann::json::array())) {
    if (d.value("id", "") == id) return d;
  }
  return nullptr;
}

double BusySeconds(const nlohmann::json& report, const std::string& id) {
  const nlohmann::json device = ReportedDevice(report, id);
  return device.is_object() ? device.value("busy_seconds", -1.0) : -1.0;
}

TEST(AgentHeartbeatTest, ReportsGroupNodeStatsAndBusySecondsThatGrowUnderLoad) {
  HeartbeatSink sink;
  const std::string config =
      ::testing::TempDir() + "/heteroaccel_busy_" + std::to_string(getpid()) + ".yaml";
  {
    std::ofstream out(config);
    out << "devices:\n"
           "  - {id: npu0, kind: npu, name: Test NPU, slots: 2, latency_ms: {face: 60}}\n";
  }
  RunningAgent agent =
      StartAgent({"--no-opencl", "--cpu-slots", "1", "--models", "face", "--config", config,
                  "--group", "demo", "--server", sink.url(), "--cluster-token", "t"});
  std::remove(config.c_str());
  ASSERT_FALSE(agent.url.empty());

  const nlohmann::json idle = sink.WaitFor(
      [](const nlohmann::json& r) {
        return r.value("ready", false) && ReportedDevice(r, "npu0").is_object();
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(idle.is_object()) << agent.process->Output();
  EXPECT_EQ(idle.value("group", ""), "demo");
  // Warm-up runs are not requests: nothing counts as busy yet.
  EXPECT_EQ(BusySeconds(idle, "npu0"), 0.0);
  EXPECT_EQ(BusySeconds(idle, "cpu0"), 0.0);
  const nlohmann::json stats = idle.value("stats", nlohmann::json::object());
  ASSERT_TRUE(stats.contains("cpu_utilisation")) << idle.dump();
  EXPECT_GE(stats["cpu_utilisation"].get<double>(), 0.0);
  EXPECT_LE(stats["cpu_utilisation"].get<double>(), 1.0);
  EXPECT_GT(stats.value("memory_total_bytes", 0.0), 0.0);
  EXPECT_GT(stats.value("memory_available_bytes", 0.0), 0.0);
  EXPECT_LE(stats.value("memory_available_bytes", 0.0), stats.value("memory_total_bytes", 0.0));

  // Eight requests held 60 ms each on the emulated NPU's two slots: at least
  // 0.48 slot-seconds, whichever slots took them; and a little on the CPU.
  const std::string image = Image("astronaut.png");
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto http = http::Client::Create(agent.url);
      for (int i = 0; i < 2; ++i) {
        auto r = (*http)->Post("/v1/infer/face?device=npu0", "image/png", image);
        answered += r.ok() && r->status == 200 ? 1 : 0;
      }
    });
  }
  for (auto& c : clients) c.join();
  ASSERT_EQ(answered, 8);
  auto http = http::Client::Create(agent.url);
  ASSERT_EQ((*http)->Post("/v1/infer/face?device=cpu0", "image/png", image)->status, 200);

  const nlohmann::json busy = sink.WaitFor(
      [](const nlohmann::json& r) {
        return BusySeconds(r, "npu0") >= 0.48 && BusySeconds(r, "cpu0") > 0;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(busy.is_object()) << "no heartbeat carried the busy time";
  EXPECT_LT(BusySeconds(busy, "npu0"), 0.48 + 2.0);  // holds, plus decoding on a loaded machine

  // The metric is the same measurement (added up in another order, hence the
  // tolerance); it never goes back.
  auto metrics = (*http)->Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  const double npu_metric =
      testing::MetricValue(
          metrics->body,
          "heteroaccel_device_busy_seconds_total{device=\"npu0\",kind=\"npu\",emulated=\"true\"}")
          .value_or(-1);
  EXPECT_GE(npu_metric, BusySeconds(busy, "npu0") - 1e-9);
  EXPECT_GT(testing::MetricValue(metrics->body,
                                 "heteroaccel_device_busy_seconds_total{device=\"cpu0\","
                                 "kind=\"cpu\",emulated=\"false\"}")
                .value_or(-1),
            0.0);
  EXPECT_EQ(testing::MetricValue(metrics->body, "heteroaccel_device_slots{device=\"npu0\"}"), 2.0);
  auto node = nlohmann::json::parse((*http)->Get("/v1/node")->body);
  EXPECT_EQ(node["group"], "demo");
}

TEST(AgentFlagsTest, ABadGroupIsRefusedWithAClearError) {
  auto process = testing::Subprocess::Start(
      {testing::HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0", "--group", "line 3"});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE((*process)
                  ->WaitForLine("--group 'line 3' must be at most 63 letters, digits",
                                std::chrono::seconds(30))
                  .has_value())
      << (*process)->Output();
  EXPECT_EQ((*process)->Stop(SIGTERM, std::chrono::seconds(10)), 1);
}

}  // namespace
}  // namespace heteroaccel
