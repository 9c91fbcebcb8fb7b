// Camera pipelines end to end: the real heteroaccel server and agent (the
// object detector on the CPU) as separate processes, a real mosquitto broker,
// the loopback RTSP server, over real sockets. Each test is bounded (< 60 s).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <thread>

#include "events/testing/mosquitto_broker.h"
#include "http/client.h"
#include "http/router.h"
#include "http/server.h"
#include "testing/subprocess.h"
#include "video/testing/rtsp_server.h"
#include "video/testing/test_video.h"

namespace heteroaccel {
namespace {

using heteroaccel::testing::HeteroaccelBinary;
using heteroaccel::testing::Subprocess;
using Clock = std::chrono::steady_clock;

constexpr const char* kAdmin = "adm1n";
constexpr const char* kViewer = "v1ewer";

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "/cameras_e2e_XXXXXX";
  return mkdtemp(tmpl.data());
}

// The first `frames` frames of vtest.avi, written as a short clip.
std::string CutClip(const std::string& dir, int frames) {
  cv::VideoCapture in(video::testing::TestVideoPath());
  const std::string path = dir + "/clip.avi";
  cv::VideoWriter out(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(768, 576));
  cv::Mat frame;
  for (int i = 0; i < frames && in.read(frame); ++i) out.write(frame);
  return path;
}

http::HeaderList Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

struct Reply {
  int status = 0;
  nlohmann::json json;
  std::string body;
  std::string content_type;
};

Reply Call(const std::string& url, const std::string& method, const std::string& path,
           const std::string& body = "", const std::string& token = kAdmin,
           const std::string& content_type = "application/json") {
  auto client = http::Client::Create(url);
  if (!client.ok()) return {};
  auto r = (*client)->Send(method, path, body.empty() && method == "GET" ? "" : content_type, body,
                           token.empty() ? http::HeaderList{} : Bearer(token));
  if (!r.ok()) return {};
  Reply reply{r->status, nlohmann::json::parse(r->body, nullptr, false), r->body, ""};
  for (const auto& [name, value] : r->headers) {
    if (name == "content-type") reply.content_type = value;
  }
  return reply;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

class CamerasE2ETest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir(); }
  void TearDown() override {
    server_.reset();
    agent_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {HeteroaccelBinary(), "server", "--listen",      "127.0.0.1:0",
                                     "--cluster-token",   "s3cret", "--admin-token", kAdmin,
                                     "--viewer-token",    kViewer};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto s = Subprocess::Start(argv);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    url_ = testing::WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
  }

  // An agent with the object detector on 2 CPU slots, registered and serving.
  void StartAgent() {
    auto p =
        Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0", "--models-dir",
                           testing::ModelsDir(), "--server", url_, "--cluster-token", "s3cret",
                           "--models", "object", "--no-opencl", "--cpu-slots", "2"});
    ASSERT_TRUE(p.ok());
    agent_ = std::move(*p);
    ASSERT_TRUE(agent_->WaitForLine("ready", std::chrono::seconds(50))) << agent_->Output();
    ASSERT_TRUE(WaitFor(
        [&] {
          Reply r = Call(url_, "GET", "/v2/models/object/ready", "", kViewer);
          return r.status == 200;
        },
        std::chrono::seconds(10)))
        << server_->Output();
  }

  nlohmann::json Camera(const std::string& id) {
    return Call(url_, "GET", "/v1/cameras/" + id, "", kViewer).json;
  }

  std::string dir_;
  std::unique_ptr<Subprocess> server_, agent_;
  std::string url_;
};

TEST_F(CamerasE2ETest, FileCameraRaisesEventsStoredStreamedAndPublishedOverMqtt) {
  if (!events::testing::MosquittoBroker::Available()) GTEST_SKIP() << "no mosquitto";
  auto broker = events::testing::MosquittoBroker::Start();
  ASSERT_TRUE(broker.ok()) << broker.status();
  auto subscriber = events::testing::MqttSubscriber::Connect("127.0.0.1", (*broker)->port(),
                                                             "heteroaccel/events/#");
  ASSERT_TRUE(subscriber.ok()) << subscriber.status();
  // A webhook receiver: the project's HTTP server, recording what it is sent.
  std::mutex hook_mu;
  std::vector<nlohmann::json> hooked;
  http::Router router;
  router.Add("POST", "/hook",
             [&](http::Request&& request, const http::PathParams&, http::Responder respond) {
               {
                 std::lock_guard<std::mutex> lock(hook_mu);
                 hooked.push_back(nlohmann::json::parse(request.body, nullptr, false));
               }
               respond(http::Response{200, "application/json", {}, "{}"});
             });
  auto hook = http::Server::Create({}, std::move(router));
  ASSERT_TRUE(hook.ok()) << hook.status();
  (*hook)->Start();
  const std::string clip = CutClip(dir_, 60);
  const std::string cameras = dir_ + "/cameras.yaml";
  std::ofstream(cameras) << "cameras:\n"
                            "  - id: street\n"
                            "    group: test\n"
                            "    source: {type: file, path: \""
                         << clip
                         << "\"}\n"
                            "    zones:\n"
                            "      - {name: all, polygon: [[0, 0], [768, 0], [768, 576], "
                            "[0, 576]]}\n"
                            "    lines:\n"
                            "      - {name: mid, from: [384, 0], to: [384, 576]}\n"
                            "    pipeline:\n"
                            "      - {id: det, block: detect, input: source, type: "
                            "object, deadline_ms: 20000}\n"
                            "      - {id: people, block: filter, input: det, classes: "
                            "[person], min_score: 0.3}\n"
                            "      - {id: trk, block: track, input: people, min_hits: 2}\n"
                            "      - {id: cross, block: line_crossing, input: trk, line: "
                            "mid, classes: [person]}\n"
                            "      - {id: inside, block: zone_intrusion, input: trk, "
                            "zone: all, classes: [person], inertia: 2}\n"
                            "      - {id: out, block: sink, input: [cross, inside], mqtt: "
                            "true}\n"
                            "      - {id: hook, block: sink, input: inside, webhook: "
                            "\"http://"
                         << (*hook)->address() << "/hook\"}\n";
  const auto started = Clock::now();
  StartServer({"--cameras", cameras, "--mqtt", "127.0.0.1:" + std::to_string((*broker)->port()),
               "--state-dir", dir_ + "/state"});
  StartAgent();
  ASSERT_TRUE(WaitFor([&] { return Camera("street")["status"]["state"] == "ended"; },
                      std::chrono::seconds(40)))
      << Camera("street").dump() << server_->Output();
  std::printf("street: server start to the file's end: %.1f s (agent start included)\n",
              std::chrono::duration<double>(Clock::now() - started).count());
  const nlohmann::json status = Camera("street")["status"];
  const nlohmann::json frames = status["frames"];
  // For the record: what a frame costs here.
  std::printf(
      "street: %d frames processed; detection %.1f ms (mean, submit to answer); "
      "pipeline CPU %.2f ms/frame; %d events\n",
      frames["processed"].get<int>(), status["detection_ms"].get<double>(),
      status["cpu_ms_per_frame"].get<double>(), status["events"].get<int>());
  int skipped = 0;
  for (const auto& [reason, n] : frames["skipped"].items()) skipped += n.get<int>();
  EXPECT_EQ(frames["captured"], 60) << frames.dump();
  EXPECT_EQ(frames["captured"].get<int>(), frames["processed"].get<int>() + skipped)
      << frames.dump();
  EXPECT_GT(frames["processed"].get<int>(), 50) << frames.dump();

  Reply events = Call(url_, "GET", "/v1/events?camera=street&type=intrusion&limit=50", "", kViewer);
  ASSERT_EQ(events.status, 200) << events.body;
  ASSERT_GE(events.json["events"].size(), 1u)
      << events.body << Call(url_, "GET", "/v1/cameras/street/pipeline", "", kViewer).body;
  const nlohmann::json first = events.json["events"][0];
  EXPECT_EQ(first["camera"], "street");
  EXPECT_EQ(first["group"], "test");
  EXPECT_EQ(first["object"], "person");
  EXPECT_EQ(first["phase"], "ended");  // the file ended: open events end
  EXPECT_FALSE(first["provenance"]["node"].get<std::string>().empty()) << first.dump();
  ASSERT_TRUE(first.contains("snapshot_url")) << first.dump();
  Reply snapshot = Call(url_, "GET", first["snapshot_url"].get<std::string>(), "", kViewer);
  ASSERT_EQ(snapshot.status, 200);
  EXPECT_EQ(snapshot.content_type, "image/jpeg");
  EXPECT_EQ(snapshot.body.substr(0, 2), "\xFF\xD8");
  EXPECT_EQ(
      Call(url_, "GET", "/v1/events/" + first["id"].get<std::string>(), "", kViewer).json["id"],
      first["id"]);
  EXPECT_EQ(Call(url_, "GET", "/v1/events/nope", "", kViewer).status, 404);
  EXPECT_EQ(Call(url_, "GET", "/v1/events?limit=0", "", kViewer).status, 400);

  // Every intrusion was published when new and when it ended.
  const size_t expected = events.json["events"].size() * 2;
  EXPECT_TRUE((*subscriber)->WaitForCount(expected, std::chrono::seconds(10)));
  bool found = false;
  for (const auto& m : (*subscriber)->Messages()) {
    const nlohmann::json payload = nlohmann::json::parse(m.payload, nullptr, false);
    if (payload.value("id", "") == first["id"]) found = true;
    EXPECT_EQ(m.topic.rfind("heteroaccel/events/street/", 0), 0u) << m.topic;
  }
  EXPECT_TRUE(found);
  // The webhook got the same messages (intrusions only: its sink is fed by `inside`).
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(hook_mu);
        return hooked.size() >= expected;
      },
      std::chrono::seconds(10)));
  {
    std::lock_guard<std::mutex> lock(hook_mu);
    for (const nlohmann::json& m : hooked) {
      EXPECT_EQ(m.value("type", ""), "intrusion") << m.dump();
      EXPECT_TRUE(m.value("change", "") == "new" || m.value("change", "") == "end" ||
                  m.value("change", "") == "update")
          << m.dump();
    }
  }

  const std::string metrics = Call(url_, "GET", "/metrics", "", "").body;
  for (const char* series :
       {"heteroaccel_camera_frames_captured_total{camera=\"street\"} 60",
        "heteroaccel_camera_frames_processed_total{camera=\"street\"}",
        "heteroaccel_camera_detection_seconds_bucket{camera=\"street\"",
        "heteroaccel_camera_events_total{camera=\"street\",type=\"intrusion\"}",
        "heteroaccel_camera_frame_to_event_seconds_count{camera=\"street\"}",
        "heteroaccel_camera_up{camera=\"street\"}"}) {
    EXPECT_NE(metrics.find(series), std::string::npos) << series;
  }
  Reply pipeline = Call(url_, "GET", "/v1/cameras/street/pipeline", "", kViewer);
  ASSERT_EQ(pipeline.status, 200);
  EXPECT_EQ(pipeline.json["blocks"][0]["id"], "det");
  EXPECT_GT(pipeline.json["blocks"][0]["out"].get<int>(), 0);
  Reply frame = Call(url_, "GET", "/v1/cameras/street/frame.jpg", "", kViewer);
  EXPECT_EQ(frame.status, 200);
  EXPECT_EQ(frame.body.substr(0, 2), "\xFF\xD8");
}

TEST_F(CamerasE2ETest, RtspCameraReconnectsWhenItsServerRestarts) {
  if (absl::Status s = video::testing::RtspServerAvailable(); !s.ok()) GTEST_SKIP() << s;
  auto rtsp = video::testing::RtspServer::Start({.file = video::testing::TestVideoPath()});
  ASSERT_TRUE(rtsp.ok()) << rtsp.status();
  StartServer();
  StartAgent();
  const nlohmann::json camera = {
      {"id", "live"},
      {"source", {{"type", "rtsp"}, {"url", (*rtsp)->Url()}, {"fps", 5}}},
      {"pipeline",
       {{{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}},
        {{"id", "trk"}, {"block", "track"}, {"input", "det"}}}}};
  Reply created = Call(url_, "POST", "/v1/cameras", camera.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  auto processed = [&] { return Camera("live")["status"]["frames"]["processed"].get<int>(); };
  ASSERT_TRUE(WaitFor([&] { return processed() >= 5; }, std::chrono::seconds(20)))
      << Camera("live").dump();
  (*rtsp)->Stop();
  ASSERT_TRUE(WaitFor([&] { return Camera("live")["status"]["state"] == "reconnecting"; },
                      std::chrono::seconds(20)))
      << Camera("live").dump();
  const int before = processed();
  ASSERT_TRUE((*rtsp)->Restart().ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        const nlohmann::json c = Camera("live");
        return c["status"]["state"] == "running" &&
               c["status"]["frames"]["processed"].get<int>() >= before + 5;
      },
      std::chrono::seconds(30)))
      << Camera("live").dump();
  EXPECT_GE(Camera("live")["status"]["source"]["reconnects"].get<int>(), 1);
  const std::string metrics = Call(url_, "GET", "/metrics", "", "").body;
  EXPECT_NE(metrics.find("heteroaccel_camera_reconnects_total{camera=\"live\"}"),
            std::string::npos);
}

TEST_F(CamerasE2ETest, CrudValidationAndTokensOverHttp) {
  StartServer();
  nlohmann::json camera = {
      {"id", "door"},
      {"source", {{"type", "push"}}},
      {"zones", {{{"name", "z"}, {"polygon", {{0, 0}, {100, 0}, {100, 100}}}}}},
      {"pipeline",
       {{{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}},
        {{"id", "trk"}, {"block", "track"}, {"input", "det"}, {"min_hits", 0}}}}};
  // Tokens: reading needs the viewer (or admin) token, changes the admin token.
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras", "", "").status, 401);
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras", "", kViewer).status, 200);
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras", camera.dump(), kViewer).status, 401);
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras", camera.dump(), "").status, 401);
  // 400 names the camera, block and key.
  Reply bad = Call(url_, "POST", "/v1/cameras", camera.dump());
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.json["error"], "camera \"door\": block \"trk\": key \"min_hits\": must be >= 1");
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras", "{not json").status, 400);
  camera["pipeline"][1]["min_hits"] = 2;
  Reply created = Call(url_, "POST", "/v1/cameras", camera.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["spec"]["pipeline"][1]["min_hits"], 2);
  Reply duplicate = Call(url_, "POST", "/v1/cameras", camera.dump());
  EXPECT_EQ(duplicate.status, 409) << duplicate.body;
  EXPECT_TRUE(duplicate.json["error"].is_string());
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras/nope", "", kViewer).status, 404);
  EXPECT_EQ(Call(url_, "DELETE", "/v1/cameras/nope").status, 404);
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras/door/frame.jpg", "", kViewer).status, 404);
  // Geometry: removing a zone a rule needs is refused; moving it is fine.
  camera["pipeline"].push_back(
      {{"id", "in"}, {"block", "zone_intrusion"}, {"input", "trk"}, {"zone", "z"}});
  Reply replaced = Call(url_, "PUT", "/v1/cameras/door", camera.dump());
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  Reply geometry = Call(url_, "PUT", "/v1/cameras/door/geometry", R"({"zones": []})");
  EXPECT_EQ(geometry.status, 400) << geometry.body;
  geometry = Call(url_, "PUT", "/v1/cameras/door/geometry",
                  R"({"zones": [{"name": "z", "polygon": [[0,0],[200,0],[200,200]]}]})");
  EXPECT_EQ(geometry.status, 200) << geometry.body;
  EXPECT_EQ(geometry.json["spec"]["zones"][0]["polygon"][1][0], 200);
  // Stop and start.
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras/door/stop").json["status"]["state"], "stopped");
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras/door/start").status, 200);
  // Every change is in the audit log.
  Reply audit = Call(url_, "GET", "/v1/audit", "", kViewer);
  int camera_entries = 0;
  for (const auto& e : audit.json["audit"]) camera_entries += e["action"] == "camera" ? 1 : 0;
  EXPECT_EQ(camera_entries, 5) << audit.body;  // create, replace, geometry, stop, start
  // A camera change is not a placement: /v1/audit does not revert it.
  for (const auto& e : audit.json["audit"]) {
    if (e["action"] != "camera") continue;
    Reply revert =
        Call(url_, "POST", "/v1/audit/" + std::to_string(e["id"].get<int>()) + "/revert", "");
    EXPECT_EQ(revert.status, 400) << revert.body;
    EXPECT_NE(revert.body.find("only placement changes"), std::string::npos) << revert.body;
    break;
  }
  // The same document as YAML, the cameras file's syntax.
  Reply yaml = Call(url_, "POST", "/v1/cameras",
                    "id: gate\nsource: {type: push}\npipeline:\n"
                    "  - {id: det, block: detect, input: source, type: face}\n",
                    kAdmin, "application/yaml");
  EXPECT_EQ(yaml.status, 201) << yaml.body;
  Reply bad_yaml = Call(url_, "POST", "/v1/cameras", "id: [gate\n", kAdmin, "application/yaml");
  EXPECT_EQ(bad_yaml.status, 400) << bad_yaml.body;
  EXPECT_NE(bad_yaml.body.find("not valid YAML"), std::string::npos) << bad_yaml.body;
  EXPECT_EQ(Call(url_, "DELETE", "/v1/cameras/door").status, 200);
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras/door", "", kViewer).status, 404);
}

TEST_F(CamerasE2ETest, PushedFramesAreDetectedAndCamerasSurviveARestart) {
  const std::string state = dir_ + "/state";
  StartServer({"--state-dir", state});
  StartAgent();
  const nlohmann::json camera = {
      {"id", "pushed"},
      {"source", {{"type", "push"}}},
      {"pipeline",
       {{{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}}}}};
  ASSERT_EQ(Call(url_, "POST", "/v1/cameras", camera.dump()).status, 201);
  cv::VideoCapture in(video::testing::TestVideoPath());
  cv::Mat frame;
  ASSERT_TRUE(in.read(frame));
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", frame, jpeg);
  Reply pushed = Call(url_, "POST", "/v1/cameras/pushed/frames",
                      std::string(jpeg.begin(), jpeg.end()), kAdmin, "image/jpeg");
  ASSERT_EQ(pushed.status, 202) << pushed.body;
  ASSERT_TRUE(WaitFor([&] { return Camera("pushed")["status"]["frames"]["processed"] == 1; },
                      std::chrono::seconds(20)))
      << Camera("pushed").dump();
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras/pushed/frame.jpg", "", kViewer).status, 200);
  Reply pipeline = Call(url_, "GET", "/v1/cameras/pushed/pipeline", "", kViewer);
  EXPECT_GT(pipeline.json["blocks"][0]["out"].get<int>(), 0) << pipeline.body;  // people found
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras/pushed/frames", "garbage", kAdmin, "image/jpeg").status,
            400);
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras/pushed/frames", "", kAdmin, "image/jpeg").status, 400);
  const nlohmann::json file_camera = {
      {"id", "filed"},
      {"enabled", false},
      {"source", {{"type", "file"}, {"path", "/nonexistent.avi"}}},
      {"pipeline",
       {{{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}}}}};
  ASSERT_EQ(Call(url_, "POST", "/v1/cameras", file_camera.dump()).status, 201);
  EXPECT_EQ(Call(url_, "POST", "/v1/cameras/filed/frames", std::string(jpeg.begin(), jpeg.end()),
                 kAdmin, "image/jpeg")
                .status,
            409);

  // Restart the server on the same state directory: both cameras are back.
  server_->Stop(SIGTERM, std::chrono::seconds(10));
  StartServer({"--state-dir", state});
  EXPECT_EQ(Camera("pushed")["spec"]["source"]["type"], "push");
  EXPECT_EQ(Camera("filed")["spec"]["enabled"], false);
  EXPECT_EQ(Call(url_, "GET", "/v1/cameras", "", kViewer).json["cameras"].size(), 2u);
}

TEST_F(CamerasE2ETest, ChangesAreForbiddenOnAServerWithoutAnAdminToken) {
  auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(s.ok());
  const std::string url = testing::WaitForListeningUrl(**s);
  ASSERT_FALSE(url.empty()) << (*s)->Output();
  EXPECT_EQ(Call(url, "GET", "/v1/cameras", "", "").status, 200);  // reading is open
  Reply refused = Call(url, "POST", "/v1/cameras", R"({"id": "x"})", "anything");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.json["error"].get<std::string>().find("--admin-token"), std::string::npos);
  EXPECT_EQ(Call(url, "GET", "/v1/events", "", "").json["events"].size(), 0u);
}

TEST_F(CamerasE2ETest, ABadCamerasFileStopsTheStartWithTheValidatorsMessage) {
  const std::string cameras = dir_ + "/bad.yaml";
  std::ofstream(cameras) << "cameras:\n  - id: c1\n    source: {type: push}\n    pipeline:\n"
                            "      - {id: det, block: detector, input: source}\n";
  auto s = Subprocess::Start(
      {HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0", "--cameras", cameras});
  ASSERT_TRUE(s.ok());
  EXPECT_NE((*s)->Stop(0, std::chrono::seconds(20)), 0);  // waits for the exit
  EXPECT_NE((*s)->Output().find("unknown block type \"detector\""), std::string::npos)
      << (*s)->Output();
}

}  // namespace
}  // namespace heteroaccel
