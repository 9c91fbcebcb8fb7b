// The dashboard's API end to end: a real server with two agents (emulated GPU
// and NPU plus an emulated CPU each), the live stream read from a socket, an
// execution-interface change that moves the next requests, its audit entry
// and revert, tokens, the audit log across a restart, and a real Prometheus
// that discovers every node through the server and answers a history query.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "client/infer_client.h"
#include "http/client.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;
using Json = nlohmann::json;

constexpr const char* kAdmin = "admin-secret";

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/heteroaccel_dash_" + std::to_string(getpid()) + "_" + name;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  std::ofstream(path) << text;
  return path;
}

// Polls `check` every 100 ms until it is true or `timeout` passed.
template <typename Check>
bool WaitFor(Check check, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return check();
}

Json GetJson(const std::string& url, const std::string& path, const std::string& token = "") {
  auto http = http::Client::Create(url);
  if (!http.ok()) return nullptr;
  http::HeaderList headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  auto r = (*http)->Send("GET", path, "", "", headers);
  if (!r.ok() || r->status != 200) return nullptr;
  return Json::parse(r->body, nullptr, false);
}

class DashboardE2ETest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        HeteroaccelBinary(),    "server", "--listen",      "127.0.0.1:0",
        "--cluster-token",      "c",      "--admin-token", kAdmin,
        "--stream-interval-ms", "100"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto s = Subprocess::Start(argv);
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    url_ = testing::WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
  }

  void StartAgents() {
    const std::string gpu = WriteFile("gpu.yaml", R"(node: dash-gpu
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 30}}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 1, latency_ms: {face: 3}}
)");
    const std::string npu = WriteFile("npu.yaml", R"(node: dash-npu
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 30}}
devices:
  - {id: npu0, kind: npu, name: Test NPU, slots: 1, latency_ms: {face: 6}}
)");
    for (const std::string& config : {gpu, npu}) {
      auto a = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                                  "--models-dir", ModelsDir(), "--config", config, "--server", url_,
                                  "--cluster-token", "c", "--models", "face", "--group", "test"});
      ASSERT_TRUE(a.ok());
      ASSERT_TRUE((*a)->WaitForLine("ready", std::chrono::minutes(5)).has_value())
          << (*a)->Output();
      agents_.push_back(std::move(*a));
    }
    ASSERT_TRUE(WaitFor(
        [&] {
          const Json p = GetJson(url_, "/v1/placement");
          return p.is_object() && p["kinds"].size() == 3;  // cpu, gpu, npu
        },
        std::chrono::seconds(20)))
        << server_->Output();
  }

  // The device kinds that served `n` face requests.
  std::map<std::string, int> Serve(int n) {
    auto c = *client::InferClient::Create(url_);
    std::map<std::string, int> kinds;
    for (int i = 0; i < n; ++i) {
      auto r = c->Infer({"face", "", "", client::Protocol::kV1},
                        ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) ++kinds[r->served_by.value("device_kind", "?")];
    }
    return kinds;
  }

  absl::StatusOr<http::ClientResponse> Send(const std::string& method, const std::string& path,
                                            const std::string& body, const std::string& token) {
    auto http = http::Client::Create(url_);
    if (!http.ok()) return http.status();
    http::HeaderList headers = {{"X-HeteroAccel-User", "e2e"}};
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return (*http)->Send(method, path, "application/json", body, headers);
  }

  std::unique_ptr<Subprocess> server_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
  std::string url_;
};

TEST_F(DashboardE2ETest, StreamStartsWithASnapshotAndPatchesFollow) {
  StartAgents();
  const auto [host, port] = *http::ParseHostPort(url_);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string got;
  std::thread load([&] { Serve(10); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline &&
         (got.find("event: snapshot") == std::string::npos ||
          got.find("event: patch") == std::string::npos ||
          got.find("event: decisions") == std::string::npos)) {
    char buffer[65536];
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) got.append(buffer, static_cast<size_t>(n));
  }
  load.join();
  close(fd);
  EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got.substr(0, 300);
  const size_t snapshot = got.find("event: snapshot");
  ASSERT_NE(snapshot, std::string::npos) << got.substr(0, 500);
  EXPECT_NE(got.find("\"dash-gpu\"", snapshot), std::string::npos);
  EXPECT_NE(got.find("event: patch"), std::string::npos);
  EXPECT_NE(got.find("event: decisions"), std::string::npos) << "bindings are streamed";
  EXPECT_NE(got.find("\"candidates\""), std::string::npos);
}

TEST_F(DashboardE2ETest, APinMovesTheNextRequestsAndARevertRestoresIt) {
  StartAgents();
  const std::map<std::string, int> before = Serve(8);
  EXPECT_GT(before.count("gpu"), 0u) << "the GPU finishes first";

  const std::string pin = R"({"types":{"face":{"pin":"npu"}},"comment":"e2e"})";
  auto what_if = Send("POST", "/v1/placement/whatif", pin, "");
  ASSERT_TRUE(what_if.ok());
  ASSERT_EQ(what_if->status, 200) << what_if->body;
  const Json w = Json::parse(what_if->body);
  EXPECT_GT(w["current_rps"].get<double>(), w["proposed_rps"].get<double>()) << w.dump();

  auto refused = Send("PUT", "/v1/placement", pin, "");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 401) << refused->body;
  auto wrong = Send("PUT", "/v1/placement", pin, "nope");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  EXPECT_TRUE(GetJson(url_, "/v1/placement")["types"]["face"]["pin"].is_null()) << "not applied";

  auto applied = Send("PUT", "/v1/placement", pin, kAdmin);
  ASSERT_TRUE(applied.ok());
  ASSERT_EQ(applied->status, 200) << applied->body;
  const std::map<std::string, int> pinned = Serve(6);
  EXPECT_EQ(pinned, (std::map<std::string, int>{{"npu", 6}}));

  const Json audit = GetJson(url_, "/v1/audit");
  ASSERT_EQ(audit["audit"].size(), 1u) << audit.dump();
  const Json& entry = audit["audit"][0];
  EXPECT_EQ(entry["who"], "admin (e2e)");
  EXPECT_EQ(entry["comment"], "e2e");
  EXPECT_EQ(entry["after"]["types"]["face"]["pin"], "npu");

  auto bad = Send("PUT", "/v1/placement", R"({"types":{"face":{"pin":"fpga"}}})", kAdmin);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("no fpga device"), std::string::npos) << bad->body;

  auto reverted =
      Send("POST", "/v1/audit/" + std::to_string(entry["id"].get<int>()) + "/revert", "", kAdmin);
  ASSERT_TRUE(reverted.ok());
  ASSERT_EQ(reverted->status, 200) << reverted->body;
  EXPECT_TRUE(GetJson(url_, "/v1/placement")["types"]["face"]["pin"].is_null()) << "unpinned";
  // Unpinned, requests leave the NPU again: for the GPU that finishes first, or
  // for the idle devices the scheduler probes. (Which one on a loaded machine
  // depends on the times it measures; under the pin, every one was the NPU's.)
  const std::map<std::string, int> unpinned = Serve(16);
  EXPECT_LT(unpinned.count("npu") ? unpinned.at("npu") : 0, 16) << "back off the pin";
  const Json after = GetJson(url_, "/v1/audit");
  ASSERT_EQ(after["audit"].size(), 2u);
  EXPECT_EQ(after["audit"][0]["reverted_by"], after["audit"][1]["id"]);
  auto again =
      Send("POST", "/v1/audit/" + std::to_string(entry["id"].get<int>()) + "/revert", "", kAdmin);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 409) << again->body;
}

TEST_F(DashboardE2ETest, TheDashboardIsServedAndTheViewerTokenGuardsReading) {
  server_.reset();
  StartServer({"--viewer-token", "look"});
  auto http = *http::Client::Create(url_);
  auto page = http->Get("/");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  auto cluster = http->Get("/v1/cluster");
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(cluster->status, 401);
  EXPECT_EQ(cluster->Header("www-authenticate"), "Bearer");
  EXPECT_TRUE(Json::parse(cluster->body, nullptr, false).contains("error"));
  EXPECT_TRUE(GetJson(url_, "/v1/placement", "look").is_object());
  EXPECT_TRUE(GetJson(url_, "/v1/state?token=look").is_object());
  EXPECT_TRUE(GetJson(url_, "/v1/state", kAdmin).is_object()) << "the admin token reads too";
  for (const char* path : {"/v1/audit?limit=ten&token=look", "/v1/decisions?limit=-1&token=look"}) {
    auto bad = http->Get(path);
    ASSERT_TRUE(bad.ok());
    EXPECT_EQ(bad->status, 400) << path;
    EXPECT_NE(bad->body.find("limit must be a whole number"), std::string::npos) << bad->body;
  }
}

TEST_F(DashboardE2ETest, ThePlacementSurvivesARestartThroughTheAuditLog) {
  server_.reset();
  const std::string state = TempPath("state");
  std::filesystem::remove_all(state);
  StartServer({"--state-dir", state});
  StartAgents();
  auto applied = Send("PUT", "/v1/placement", R"({"policy":"idle-first"})", kAdmin);
  ASSERT_TRUE(applied.ok());
  ASSERT_EQ(applied->status, 200) << applied->body;
  server_.reset();
  agents_.clear();
  StartServer({"--state-dir", state});
  const Json placement = GetJson(url_, "/v1/placement");
  EXPECT_EQ(placement["policy"], "idle-first");
  EXPECT_EQ(placement["version"], 1);
  EXPECT_EQ(GetJson(url_, "/v1/audit")["audit"].size(), 1u);
  std::filesystem::remove_all(state);
}

TEST_F(DashboardE2ETest, PrometheusDiscoversEveryNodeThroughTheServerAndAnswersHistory) {
  const std::string prometheus = "/usr/bin/prometheus";
  ASSERT_TRUE(std::filesystem::exists(prometheus))
      << "Prometheus is needed (apt-get install prometheus; make setup does)";
  const int port = testing::UnusedLoopbackPort();
  server_.reset();
  StartServer({"--prometheus", "http://127.0.0.1:" + std::to_string(port)});
  StartAgents();
  const std::string data = TempPath("tsdb");
  std::filesystem::remove_all(data);
  const std::string config = WriteFile("prometheus.yml", R"(global: {scrape_interval: 1s}
scrape_configs:
  - job_name: heteroaccel
    http_sd_configs:
      - url: )" + url_ + R"(/v1/sd/targets
        refresh_interval: 1s
)");
  auto p = Subprocess::Start({prometheus, "--config.file=" + config, "--storage.tsdb.path=" + data,
                              "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(p.ok());
  const std::string prom_url = "http://127.0.0.1:" + std::to_string(port);
  // Every agent and the server, up.
  Json targets;
  const bool up = WaitFor(
      [&] {
        targets = GetJson(prom_url, "/api/v1/targets?state=active");
        if (!targets.is_object()) return false;
        int healthy = 0;
        for (const Json& t : targets["data"]["activeTargets"]) healthy += t["health"] == "up";
        return healthy == 3;
      },
      std::chrono::seconds(60));
  ASSERT_TRUE(up) << targets.dump() << "\n" << (*p)->Output();
  std::map<std::string, std::string> jobs;
  for (const Json& t : targets["data"]["activeTargets"]) {
    jobs[t["labels"].value("node", "server")] = t["labels"]["job"];
  }
  EXPECT_EQ(jobs["dash-gpu"], "heteroaccel-agent");
  EXPECT_EQ(jobs["dash-npu"], "heteroaccel-agent");
  EXPECT_EQ(jobs["server"], "heteroaccel-server");

  // The dashboard's history: a range query through the server.
  Serve(5);
  Json history;
  const bool answered = WaitFor(
      [&] {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        history =
            GetJson(url_, "/v1/history/query_range?query=up&start=" + std::to_string(now - 60) +
                              "&end=" + std::to_string(now) + "&step=1");
        return history.is_object() && history["status"] == "success" &&
               history["data"]["result"].size() == 3;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(answered) << history.dump();
  auto bad = http::Client::Create(url_);
  auto refused = (*bad)->Get("/v1/history/query_range?start=1");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 400) << refused->body;
  std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace heteroaccel
