// RunBench against bad options and unreachable targets, the report formats, and
// end to end against the real agent binary.
#include "loadgen/bench.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "http/server.h"
#include "testing/subprocess.h"

namespace heteroaccel::loadgen {
namespace {

using std::chrono::milliseconds;

BenchOptions ShortOptions(const std::string& target) {
  BenchOptions options;
  options.target = target;
  options.cameras = 2;
  options.mix = {"face"};
  options.duration = milliseconds(2'000);
  options.warmup = milliseconds(500);
  options.images_dir = testing::ModelsDir() + "/images";
  options.timeout = milliseconds(10'000);
  return options;
}

TEST(RunBenchTest, RejectsInvalidOptions) {
  BenchOptions options = ShortOptions("http://127.0.0.1:1");
  options.cameras = 0;
  auto report = RunBench(options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("--cameras"), std::string_view::npos);
}

TEST(RunBenchTest, RejectsImageFolderWithoutImages) {
  BenchOptions options = ShortOptions("http://127.0.0.1:1");
  // A folder of our own: the shared temporary folder may hold images.
  options.images_dir = ::testing::TempDir() + "/heteroaccel_no_images_" + std::to_string(getpid());
  std::filesystem::create_directories(options.images_dir);
  std::ofstream(options.images_dir + "/notes.txt") << "not an image";
  auto report = RunBench(options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("no .png or .jpg files"), std::string_view::npos)
      << report.status();
  options.images_dir = ::testing::TempDir() + "/does-not-exist";
  report = RunBench(options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("cannot list"), std::string_view::npos);
  std::filesystem::remove_all(::testing::TempDir() + "/heteroaccel_no_images_" +
                              std::to_string(getpid()));
}

TEST(RunBenchTest, UnreachableTargetIsUnavailableAfterTimeout) {
  if (!std::filesystem::exists(testing::ModelsDir() + "/images")) {
    GTEST_SKIP() << "no " << testing::ModelsDir() << "/images; run `make setup`";
  }
  BenchOptions options =
      ShortOptions("http://127.0.0.1:" + std::to_string(testing::UnusedLoopbackPort()));
  options.timeout = milliseconds(300);
  auto report = RunBench(options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(report.status().message().find("not ready after 300 ms"), std::string_view::npos)
      << report.status();
}

BenchReport SyntheticReport() {
  BenchReport r;
  r.target = "http://edge:8001";
  r.cameras = 4;
  r.mix = {"face", "object"};
  r.mode = "open-loop";
  r.rate = 40;
  r.protocol = "v2";
  r.duration_s = r.measured_s = 10;
  r.requests = 402;
  r.succeeded = 400;
  r.errors = 2;
  r.errors_by_kind = {{"429", 2}};
  r.error_examples = {{"429", "HTTP 429: queues full"}};
  r.throughput_rps = 40;
  r.latency = {400, 10, 20, 30, 12, 40};
  r.per_device["n1/cpu0"] = {"n1", "cpu0", "cpu", false, 300, 0.75, 8, 1};
  r.per_device["n1/npu0"] = {"n1", "npu0", "npu", true, 100, 0.25, 3, 0.5};
  r.per_type["face"] = {200, 0, {200, 9, 18, 25, 10, 30}};
  r.per_type["object"] = {200, 2, {200, 11, 22, 35, 14, 40}};
  return r;
}

TEST(FormatTest, JsonHasTheDocumentedShape) {
  const nlohmann::json json = ToJson(SyntheticReport());
  EXPECT_EQ(json["throughput_rps"], 40.0);
  EXPECT_EQ(json["latency_ms"]["p50"], 10.0);
  EXPECT_EQ(json["latency_ms"]["p99"], 30.0);
  EXPECT_EQ(json["errors"]["total"], 2);
  EXPECT_EQ(json["errors"]["by_kind"]["429"], 2);
  EXPECT_EQ(json["per_device"]["n1/npu0"]["share"], 0.25);
  EXPECT_EQ(json["per_device"]["n1/npu0"]["emulated"], true);
  EXPECT_EQ(json["per_device"]["n1/cpu0"]["device_kind"], "cpu");
  EXPECT_EQ(json["per_type"]["object"]["latency_ms"]["p99"], 35.0);
  EXPECT_EQ(json["config"]["mode"], "open-loop");
  EXPECT_EQ(json["config"]["mix"], (nlohmann::json{"face", "object"}));
}

TEST(FormatTest, TableListsDevicesSharesAndLatency) {
  const std::string table = FormatTable(SyntheticReport());
  EXPECT_NE(table.find("n1/cpu0"), std::string::npos) << table;
  EXPECT_NE(table.find("75.0%"), std::string::npos) << table;
  EXPECT_NE(table.find("npu*"), std::string::npos) << table;
  EXPECT_NE(table.find("p99 30.00"), std::string::npos) << table;
  EXPECT_NE(table.find("HTTP 429: queues full"), std::string::npos) << table;
}

TEST(FormatTest, DeadlineAttainmentAppearsOnlyWithADeadline) {
  BenchReport plain = SyntheticReport();
  const nlohmann::json no_deadline = ToJson(plain);
  EXPECT_TRUE(no_deadline["config"]["deadline_ms"].is_null());
  EXPECT_FALSE(no_deadline.contains("attainment"));
  EXPECT_FALSE(no_deadline.contains("within_deadline"));
  EXPECT_EQ(FormatTable(plain).find("attained"), std::string::npos);

  BenchReport r = SyntheticReport();
  r.deadline_ms = 300;
  r.within_deadline = 390;
  r.attainment = 390.0 / 402.0;
  const nlohmann::json json = ToJson(r);
  EXPECT_EQ(json["config"]["deadline_ms"], 300);
  EXPECT_EQ(json["within_deadline"], 390);
  EXPECT_DOUBLE_EQ(json["attainment"].get<double>(), 390.0 / 402.0);
  EXPECT_EQ(json["succeeded"], 400);  // the existing fields stay
  const std::string table = FormatTable(r);
  EXPECT_NE(
      table.find("deadline    300 ms: 97.0% attained (390 of 402 requests answered within it)"),
      std::string::npos)
      << table;
}

TEST(FormatTest, FailoverFiguresAppearOnlyWithSeveralTargets) {
  BenchReport single = SyntheticReport();
  single.per_target = {{"http://edge:8001", 3}};
  const nlohmann::json one = ToJson(single);
  EXPECT_FALSE(one.contains("failovers"));
  EXPECT_FALSE(one.contains("max_gap_ms"));
  EXPECT_EQ(FormatTable(single).find("failover"), std::string::npos);

  BenchReport multi = SyntheticReport();
  multi.per_target = {{"http://a:8000", 10}, {"http://b:8000", 20}};
  multi.failovers = 4;
  multi.failovers_by_kind = {{"transport", 4}};
  multi.max_gap_ms = 812.5;
  multi.max_camera_gap_ms = 900;
  const nlohmann::json two = ToJson(multi);
  EXPECT_EQ(two["failovers"], 4);
  EXPECT_EQ(two["failovers_by_kind"]["transport"], 4);
  EXPECT_EQ(two["duplicates"], 0);
  EXPECT_EQ(two["lost"], 0);
  EXPECT_EQ(two["max_gap_ms"], 812.5);
  EXPECT_EQ(two["per_target"]["http://b:8000"], 20);
  const std::string table = FormatTable(multi);
  EXPECT_NE(table.find("4 re-sent, 0 duplicate(s), 0 lost; longest gap without an answer 812.5 ms "
                       "(one camera: 900.0 ms)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("http://b:8000"), std::string::npos) << table;
}

// `heteroaccel bench` refuses arrival flags it cannot honour with exit 2 and a
// message naming the flag, before it contacts anything.
TEST(BenchCommandTest, RefusesBadArrivalFlags) {
  const std::string binary = testing::HeteroaccelBinary();
  if (!std::filesystem::exists(binary)) GTEST_SKIP() << "no binary at " << binary;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--arrivals", "burst", "--rate", "5"}, "use periodic, poisson or bursts"},
      {{"--arrivals", "poisson", "--rate", "5", "--on-ms", "100"}, "--on-ms and --off-ms apply"},
      {{"--arrivals", "bursts", "--rate", "5", "--off-ms", "-5"}, "--off-ms must be"},
      {{"--arrivals", "poisson"}, "--arrivals poisson needs --rate"},
      {{"--arrivals", "poisson", "--rate", "5", "--seed", "-3"}, "--seed must be 0"},
      {{"--camera-weights", "4,1,1,1"}, "--camera-weights needs --rate"},
      {{"--rate", "5", "--camera-weights", "4,1"}, "lists 2 weight(s) for 4 camera(s)"},
      {{"--rate", "5", "--camera-weights", "4,1,0,1"}, "camera 2's weight must be"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> argv = {binary, "bench", "--target", "http://127.0.0.1:1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto process = testing::Subprocess::Start(argv);
    ASSERT_TRUE(process.ok()) << process.status();
    EXPECT_TRUE((*process)->WaitForLine(message, std::chrono::seconds(30)).has_value())
        << (*process)->Output();
    EXPECT_EQ((*process)->Stop(0, std::chrono::seconds(30)), 2) << message;
  }
}

// The value of "camera" in a query ("" when absent).
std::string CameraOf(std::string_view query) {
  for (const absl::string_view pair :
       absl::StrSplit(absl::string_view(query.data(), query.size()), '&')) {
    if (pair.substr(0, 7) == "camera=") return std::string(pair.substr(7));
  }
  return "";
}

// A /v1 target that answers every face frame with no detections and counts the
// camera name each request carried ("" for none).
class NamingTarget {
 public:
  NamingTarget() {
    http::Router router;
    const auto ready = [](http::Request&&, const http::PathParams&, http::Responder respond) {
      respond(http::Response{.body = "{}"});
    };
    router.Add("GET", "/v2/health/ready", ready);
    router.Add("GET", "/v2/models/face/ready", ready);
    router.Add("POST", "/v1/infer/face",
               [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
                 {
                   std::lock_guard<std::mutex> lock(mu_);
                   ++cameras_[CameraOf(request.query)];
                 }
                 respond(http::Response{
                     .body = R"({"served_by":{"node":"fake","device":"cpu0","device_kind":"cpu",)"
                             R"("emulated":true,"compute_ms":1},"detections":[]})"});
               });
    auto server = http::Server::Create({}, std::move(router));
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
  }

  std::string url() const { return absl::StrCat("http://", server_->address()); }
  std::map<std::string, int> cameras() {
    std::lock_guard<std::mutex> lock(mu_);
    return cameras_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> cameras_;
  std::unique_ptr<http::Server> server_;
};

TEST(BenchCameraNameTest, EachCameraSendsItsNameFromEveryStream) {
  if (!std::filesystem::exists(testing::ModelsDir() + "/images")) {
    GTEST_SKIP() << "no " << testing::ModelsDir() << "/images; run `make setup`";
  }
  NamingTarget target;
  BenchOptions options = ShortOptions(target.url());
  options.protocol = client::Protocol::kV1;
  options.cameras = 3;
  options.inflight = 2;  // 6 streams, two per camera
  options.rate = 60;
  options.duration = milliseconds(1'000);
  options.warmup = milliseconds(0);
  options.camera_name = "gate";
  auto report = RunBench(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->errors, 0u) << FormatTable(*report);
  const std::map<std::string, int> seen = target.cameras();
  ASSERT_EQ(seen.size(), 3u) << ::testing::PrintToString(seen);
  int total = 0;
  for (const std::string name : {"gate-0", "gate-1", "gate-2"}) {
    ASSERT_TRUE(seen.contains(name)) << name;
    total += seen.at(name);
  }
  // Each camera sends a third of the frames (its two streams' share).
  for (const auto& [name, n] : seen) {
    EXPECT_NEAR(n, total / 3.0, 3.0) << name << " in " << ::testing::PrintToString(seen);
  }
  EXPECT_EQ(ToJson(*report)["config"]["camera_name"], "gate");
  EXPECT_NE(FormatTable(*report).find("3 camera(s) named gate-0..gate-2"), std::string::npos)
      << FormatTable(*report);

  // One camera: the name alone. None given: no camera parameter at all.
  NamingTarget single;
  options.target = single.url();
  options.cameras = 1;
  ASSERT_TRUE(RunBench(options).ok());
  EXPECT_EQ(single.cameras().size(), 1u);
  EXPECT_TRUE(single.cameras().contains("gate")) << ::testing::PrintToString(single.cameras());
  NamingTarget unnamed;
  options.target = unnamed.url();
  options.camera_name.clear();
  auto plain = RunBench(options);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(unnamed.cameras().size(), 1u);
  EXPECT_TRUE(unnamed.cameras().contains("")) << ::testing::PrintToString(unnamed.cameras());
  EXPECT_TRUE(ToJson(*plain)["config"]["camera_name"].is_null());
}

TEST(BenchCameraWeightsTest, EachCameraSendsItsShareOfTheRateAndIsReportedApart) {
  if (!std::filesystem::exists(testing::ModelsDir() + "/images")) {
    GTEST_SKIP() << "no " << testing::ModelsDir() << "/images; run `make setup`";
  }
  NamingTarget target;
  BenchOptions options = ShortOptions(target.url());
  options.protocol = client::Protocol::kV1;
  options.cameras = 3;
  options.inflight = 2;
  options.rate = 120;  // 80, 20 and 20 req/s
  options.camera_weights = {4, 1, 1};
  options.duration = milliseconds(1'500);
  options.warmup = milliseconds(0);
  options.camera_name = "cam";
  options.deadline_ms = 1'000;
  auto report = RunBench(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->errors, 0u) << FormatTable(*report);
  const std::map<std::string, int> seen = target.cameras();
  ASSERT_EQ(seen.size(), 3u) << ::testing::PrintToString(seen);
  // Periodic: 1.5 s x the camera's rate, give or take one per stream. Never
  // more; a few fewer on a loaded machine, where a stream still waiting for an
  // answer at the end has due requests left to send (late, never early).
  const auto expect_share = [](double sent, double due, const std::string& what) {
    EXPECT_LE(sent, due + 2) << what;
    EXPECT_GE(sent, 0.9 * due - 2) << what;
  };
  const std::string seen_text = ::testing::PrintToString(seen);
  expect_share(seen.at("cam-0"), 120, seen_text);
  expect_share(seen.at("cam-1"), 30, seen_text);
  expect_share(seen.at("cam-2"), 30, seen_text);
  // The report's own count of each camera's answers.
  ASSERT_EQ(report->per_camera.size(), 3u);
  const CameraStats& heavy = report->per_camera.at("cam-0");
  expect_share(static_cast<double>(heavy.succeeded), 120, "cam-0's answers");
  EXPECT_NEAR(heavy.throughput_rps, static_cast<double>(heavy.succeeded) / report->measured_s,
              1e-9);
  expect_share(static_cast<double>(report->per_camera.at("cam-2").succeeded), 30,
               "cam-2's answers");
  for (const auto& [name, camera] : report->per_camera) {
    EXPECT_EQ(camera.requests, camera.succeeded) << name;
    EXPECT_EQ(camera.within_deadline, camera.succeeded) << name;
    EXPECT_DOUBLE_EQ(camera.attainment, 1.0) << name;
  }
  EXPECT_DOUBLE_EQ(report->jain_attainment, 1.0);
  const nlohmann::json json = ToJson(*report);
  EXPECT_EQ(json["config"]["camera_weights"], nlohmann::json({4.0, 1.0, 1.0}));
  EXPECT_EQ(json["per_camera"]["cam-1"]["attainment"], 1.0);
  EXPECT_EQ(json["jain_attainment"], 1.0);
  const std::string table = FormatTable(*report);
  EXPECT_NE(table.find("Jain's index 1.0000"), std::string::npos) << table;
  EXPECT_NE(table.find("cam-0            weight 4"), std::string::npos) << table;
}

// The real agent serving `face` on its CPU only.
class BenchE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string binary = testing::HeteroaccelBinary();
    if (!std::filesystem::exists(binary)) {
      GTEST_SKIP() << "no agent binary at " << binary
                   << "; build `heteroaccel` or set HETEROACCEL_BINARY";
    }
    auto process =
        testing::Subprocess::Start({binary, "agent", "--listen", "127.0.0.1:0", "--no-opencl",
                                    "--models", "face", "--models-dir", testing::ModelsDir()});
    ASSERT_TRUE(process.ok()) << process.status();
    agent_ = std::move(*process);
    auto line = agent_->WaitForLine("listening on http://", std::chrono::seconds(60));
    ASSERT_TRUE(line.has_value()) << agent_->Output();
    url_ = line->substr(line->find("http://"));
  }

  std::unique_ptr<testing::Subprocess> agent_;
  std::string url_;
};

TEST_F(BenchE2ETest, ClosedLoopOnFaceUsesTheCpu) {
  auto report = RunBench(ShortOptions(url_));
  ASSERT_TRUE(report.ok()) << report.status() << "\n" << agent_->Output();
  EXPECT_GT(report->throughput_rps, 0);
  EXPECT_EQ(report->errors, 0u) << FormatTable(*report);
  EXPECT_EQ(report->mode, "closed-loop");
  ASSERT_EQ(report->per_device.size(), 1u) << FormatTable(*report);
  const auto& [key, device] = *report->per_device.begin();
  EXPECT_TRUE(key.ends_with("/cpu0")) << key;
  EXPECT_DOUBLE_EQ(device.share, 1.0);
  EXPECT_EQ(device.count, report->succeeded);
  EXPECT_GT(device.mean_compute_ms, 0);
  EXPECT_EQ(report->per_type.at("face").count, report->succeeded);
  EXPECT_GT(report->latency.p50, 0);
  EXPECT_LE(report->latency.p50, report->latency.p99);
}

TEST_F(BenchE2ETest, OpenLoopKeepsToTheRate) {
  BenchOptions options = ShortOptions(url_);
  options.rate = 20;
  options.protocol = client::Protocol::kV1;
  auto report = RunBench(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->mode, "open-loop");
  EXPECT_EQ(report->errors, 0u) << FormatTable(*report);
  // 20 req/s for 2 s: 40 due. Never more (one at each edge of the window); fewer
  // only if the CPU falls behind.
  EXPECT_GE(report->requests, 32u) << FormatTable(*report);
  EXPECT_LE(report->requests, 44u) << FormatTable(*report);
}

TEST_F(BenchE2ETest, OpenLoopPoissonArrivalsKeepToTheRateOnAverage) {
  BenchOptions options = ShortOptions(url_);
  options.rate = 20;
  options.arrivals = Arrivals::kPoisson;
  options.seed = 11;
  options.inflight = 4;  // gaps shorter than an answer do not wait behind it
  options.protocol = client::Protocol::kV1;
  auto report = RunBench(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->arrivals, "poisson");
  EXPECT_EQ(ToJson(*report)["config"]["arrivals"], "poisson");
  EXPECT_EQ(ToJson(*report)["config"]["seed"], 11u);
  EXPECT_NE(FormatTable(*report).find("(poisson, seed 11)"), std::string::npos);
  EXPECT_EQ(report->errors, 0u) << FormatTable(*report);
  // 40 due on average over 2 s; a Poisson count's standard deviation is ~6.3.
  EXPECT_GE(report->requests, 20u) << FormatTable(*report);
  EXPECT_LE(report->requests, 64u) << FormatTable(*report);
}

TEST_F(BenchE2ETest, TypeTheTargetDoesNotServeIsNotFound) {
  BenchOptions options = ShortOptions(url_);
  options.mix = {"face", "object"};
  auto report = RunBench(options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(report.status().message().find("'object'"), std::string_view::npos) << report.status();
}

}  // namespace
}  // namespace heteroaccel::loadgen
