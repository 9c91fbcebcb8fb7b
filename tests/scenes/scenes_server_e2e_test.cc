// The synthetic scenes through the serving path end to end: each scenario is
// rendered to a file, a real `heteroaccel server` runs it as a file camera
// (every frame, media time) from a --cameras file, a real `heteroaccel agent`
// (an emulated GPU and the machine's CPU, both computing the real object
// detector) serves the detections, and the events read back from
// GET /v1/events are scored against the scene's ground truth. Checks: line
// counts per direction exact; every rule's precision and recall >= 0.95 with
// start times within 1 s; every captured frame accounted for (processed or
// skipped by reason); every event has a JPEG snapshot. Each test is bounded
// (< 90 s).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <thread>

#include "http/client.h"
#include "scenes/evaluate.h"
#include "scenes/scenarios.h"
#include "testing/subprocess.h"

namespace heteroaccel::scenes {
namespace {

using heteroaccel::testing::HeteroaccelBinary;
using heteroaccel::testing::ModelsDir;
using heteroaccel::testing::Subprocess;
using Clock = std::chrono::steady_clock;

constexpr const char* kCamera = "scene";
constexpr size_t kMaxEventPages = 100;  // 500 events each: far more than any scene raises

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "/scenes_server_e2e_XXXXXX";
  const char* dir = mkdtemp(tmpl.data());
  return dir == nullptr ? "" : dir;
}

// Percent-encodes everything but unreserved characters (a cursor in a query).
std::string QueryEscape(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A count from the API; -1 when it is not a number.
int Count(const nlohmann::json& n) { return n.is_number_integer() ? n.get<int>() : -1; }

struct Reply {
  int status = 0;
  nlohmann::json json;
  std::string body;
  std::string content_type;
  std::string error;  // transport failure
};

Reply Get(const std::string& url, const std::string& path) {
  Reply reply;
  auto client = http::Client::Create(url);
  if (!client.ok()) {
    reply.error = client.status().ToString();
    return reply;
  }
  auto r = (*client)->Get(path);
  if (!r.ok()) {
    reply.error = r.status().ToString();
    return reply;
  }
  reply.status = r->status;
  reply.body = r->body;
  reply.json = nlohmann::json::parse(r->body, nullptr, false);
  for (const auto& [name, value] : r->headers) {
    if (name == "content-type") reply.content_type = value;
  }
  return reply;
}

// The emulated GPU holds its slot 10 ms past the real computation; results are
// never reused (every frame is computed).
constexpr const char* kAgentConfig = R"(node: scenes-agent
opencl: false
cpu: {slots: 1}
devices:
  - {id: gpu0, kind: gpu, name: Scene GPU, slots: 1, latency_ms: {object: 10}, reuse_results: false}
)";

class ScenesServerE2ETest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ASSERT_FALSE(dir_.empty()) << "mkdtemp failed";
  }
  void TearDown() override {
    agent_.reset();
    server_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  nlohmann::json Camera() {
    Reply r = Get(url_, std::string("/v1/cameras/") + kCamera);
    return r.status == 200 && r.json.is_object() ? r.json : nlohmann::json::object();
  }

  std::string dir_;
  std::unique_ptr<Subprocess> server_, agent_;
  std::string url_;
};

TEST_P(ScenesServerE2ETest, EventsThroughTheServerMatchTheGroundTruth) {
  const auto started = Clock::now();
  absl::StatusOr<const SpriteLibrary*> lib = SharedSpriteLibrary(ModelsDir());
  ASSERT_TRUE(lib.ok()) << lib.status();
  const Scenario sc = MakeScenario(GetParam(), **lib);
  ASSERT_EQ(sc.scene.name, GetParam());
  const std::string video = dir_ + "/scene.avi";
  absl::StatusOr<std::vector<GtFrame>> truth = RenderToFile(sc.scene, video);
  ASSERT_TRUE(truth.ok()) << truth.status();

  // The scenario's camera reading the file: not looping, not realtime.
  nlohmann::json camera = WithSource(sc, video);
  camera["id"] = kCamera;
  ASSERT_FALSE(camera["source"].value("loop", false));
  ASSERT_FALSE(camera["source"].value("realtime", false));
  const std::string cameras = dir_ + "/cameras.yaml";  // JSON is YAML's flow style
  std::ofstream(cameras) << nlohmann::json{{"cameras", {camera}}}.dump();
  const std::string agent_config = dir_ + "/agent.yaml";
  std::ofstream(agent_config) << kAgentConfig;

  auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                              "--cluster-token", "s3cret", "--cameras", cameras, "--state-dir",
                              dir_ + "/state"});
  ASSERT_TRUE(s.ok()) << s.status();
  server_ = std::move(*s);
  url_ = testing::WaitForListeningUrl(*server_, std::chrono::seconds(20));
  ASSERT_FALSE(url_.empty()) << server_->Output();
  auto a = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                              "--models-dir", ModelsDir(), "--config", agent_config, "--server",
                              url_, "--cluster-token", "s3cret", "--models", "object"});
  ASSERT_TRUE(a.ok()) << a.status();
  agent_ = std::move(*a);
  ASSERT_TRUE(agent_->WaitForLine("ready", std::chrono::seconds(30))) << agent_->Output();

  // The camera started with the server and waited for the cluster; the file's
  // end ends it. Bounded so the whole test stays under 90 s.
  const auto deadline = started + std::chrono::seconds(80);
  nlohmann::json state = Camera();
  while (state["status"].value("state", "") != "ended" && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    state = Camera();
  }
  ASSERT_EQ(state["status"].value("state", ""), "ended") << state.dump() << "\n"
                                                         << server_->Output();

  // Every frame of the file captured, and each one processed or skipped with a
  // reason; nothing left in flight.
  const nlohmann::json frames = state["status"]["frames"];
  ASSERT_TRUE(frames.is_object()) << state.dump();
  const nlohmann::json by_reason = frames.value("skipped", nlohmann::json::object());
  ASSERT_TRUE(by_reason.is_object()) << frames.dump();
  int skipped = 0;
  for (const auto& [reason, n] : by_reason.items()) {
    EXPECT_GE(Count(n), 0) << reason;
    skipped += Count(n);
  }
  EXPECT_EQ(Count(frames["captured"]), static_cast<int>(truth->size())) << frames.dump();
  EXPECT_EQ(Count(frames["captured"]), Count(frames["processed"]) + skipped) << frames.dump();
  EXPECT_EQ(Count(frames["pending"]), 0) << frames.dump();
  EXPECT_EQ(Count(frames["in_flight"]), 0) << frames.dump();

  // All of the camera's events, newest first, page by page.
  nlohmann::json body = {{"events", nlohmann::json::array()}};
  std::string cursor;
  size_t pages = 0;
  for (; pages < kMaxEventPages; ++pages) {
    std::string path = std::string("/v1/events?camera=") + kCamera + "&limit=500";
    if (!cursor.empty()) path += "&cursor=" + QueryEscape(cursor);
    Reply page = Get(url_, path);
    ASSERT_EQ(page.status, 200) << page.error << page.body;
    ASSERT_TRUE(page.json.is_object() && page.json["events"].is_array()) << page.body;
    for (const nlohmann::json& e : page.json["events"]) body["events"].push_back(e);
    cursor = page.json.value("next_cursor", "");
    if (cursor.empty()) break;
  }
  ASSERT_LT(pages, kMaxEventPages) << "next_cursor never ran out";

  // Every event has a snapshot, and it is a JPEG of the camera's frame.
  for (const nlohmann::json& e : body["events"]) {
    const std::string id = e.value("id", "");
    ASSERT_TRUE(e.contains("snapshot_url") && e["snapshot_url"].is_string()) << e.dump();
    Reply snapshot = Get(url_, e["snapshot_url"].get<std::string>());
    ASSERT_EQ(snapshot.status, 200) << id << " " << snapshot.error << snapshot.body;
    EXPECT_EQ(snapshot.content_type, "image/jpeg") << id;
    ASSERT_GE(snapshot.body.size(), 4U) << id;
    EXPECT_EQ(snapshot.body.substr(0, 2), "\xFF\xD8") << id;
    const cv::Mat image = cv::imdecode(
        cv::Mat(1, static_cast<int>(snapshot.body.size()), CV_8UC1, snapshot.body.data()),
        cv::IMREAD_COLOR);
    EXPECT_EQ(image.cols, sc.scene.background.cols) << id;
    EXPECT_EQ(image.rows, sc.scene.background.rows) << id;
  }

  const Evaluation ev = Evaluate(sc.expected, EventsFromJson(body), *truth);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("server scene %s (%zu events, frames %s, %.1f s):\n%s", GetParam().c_str(),
              body["events"].size(), frames.dump().c_str(), seconds, ev.Summary().c_str());
  for (const auto& [rule, score] : ev.rules) {
    EXPECT_GE(score.precision, 0.95) << rule << "\n" << ev.Summary();
    EXPECT_GE(score.recall, 0.95) << rule << "\n" << ev.Summary();
    EXPECT_LE(score.max_start_error, 1.0) << rule << "\n" << ev.Summary();
  }
  for (const auto& [key, n] : sc.line_counts) {
    auto it = ev.line_counts.find(key);
    EXPECT_EQ(it == ev.line_counts.end() ? 0 : it->second, n)
        << key.first << " " << key.second << "\n"
        << ev.Summary();
  }
  // No crossing of a line or direction the scene does not script.
  for (const auto& [key, n] : ev.line_counts) {
    EXPECT_TRUE(sc.line_counts.contains(key)) << key.first << " " << key.second << ": " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenesServerE2ETest, ::testing::ValuesIn(ScenarioNames()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace heteroaccel::scenes
