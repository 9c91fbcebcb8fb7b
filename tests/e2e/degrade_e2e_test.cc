// Variant degradation end to end: a real server whose registry lets face
// degrade (floor 0.7: blazeface-front-128 0.9, blazeface-back-256 0.8) and a real
// agent whose emulated GPU runs the primary in 40 ms and the alternate in 8 ms
// (`variant_latency_ms`). At light load every answer is the primary's; under
// load with deadlines the scheduler sends some requests to the alternate and
// the answers say so (`degraded_from`), the server counts them, and a request
// that opts out (`degrade=false`) is never degraded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "client/infer_client.h"
#include "http/client.h"
#include "nlohmann/json.hpp"
#include "testing/metrics_text.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;
using testing::WriteTempFileOrDie;

constexpr char kPrimary[] = "blazeface-front-128";
constexpr char kAlternate[] = "blazeface-back-256";

class DegradeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string config = WriteTempFileOrDie("degrade_server.yaml", R"(
registry:
  face:
    variants: {gpu: blazeface-front-128}
    degrade:
      floor: 0.7
      variants: {blazeface-front-128: 0.9, blazeface-back-256: 0.8}
)");
    auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                "--cluster-token", "s3cret", "--config", config});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    url_ = WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
    const std::string agent_config = WriteTempFileOrDie("degrade_agent.yaml", R"(
node: node-a
opencl: false
cpu: {emulated: true, types: []}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 1, latency_ms: {face: 40},
     variant_latency_ms: {blazeface-back-256: 8}}
)");
    auto a = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                                "--models-dir", ModelsDir(), "--config", agent_config,
                                "--server", url_, "--cluster-token", "s3cret", "--models", "face"});
    ASSERT_TRUE(a.ok()) << a.status();
    agent_ = std::move(*a);
    ASSERT_TRUE(agent_->WaitForLine("ready", std::chrono::minutes(5)).has_value())
        << agent_->Output();
    // Served once the GPU lists the alternate as eligible.
    auto http = *http::Client::Create(url_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool eligible = false;
    while (!eligible && std::chrono::steady_clock::now() < deadline) {
      auto r = http->Get("/v2/models/face");
      if (r.ok() && r->status == 200) {
        eligible = r->body.find(kAlternate) != std::string::npos &&
                   r->body.find("\"eligible\":true") != std::string::npos;
      }
      if (!eligible) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(eligible) << "the GPU never listed " << kAlternate << " as eligible:\n"
                          << server_->Output();
    image_ = ReadFileOrDie(ModelsDir() + "/images/astronaut.png");
  }

  double DegradedCounter() {
    auto http = *http::Client::Create(url_);
    auto r = http->Get("/metrics");
    if (!r.ok()) return -1;
    return testing::MetricValue(
               r->body, std::string("heteroaccel_degraded_requests_total{type=\"face\",from=\"") +
                            kPrimary + "\",to=\"" + kAlternate + "\"}")
        .value_or(0);
  }

  std::unique_ptr<Subprocess> server_, agent_;
  std::string url_;
  std::string image_;
};

TEST_F(DegradeE2ETest, LightLoadRunsThePrimaryAndLoadDegradesWithinTheFloorSayingSo) {
  auto c = *client::InferClient::Create(url_);
  // Light load: one request at a time finds the GPU free; the primary meets
  // every deadline, so nothing degrades.
  for (int i = 0; i < 8; ++i) {
    client::InferOptions options{"face", "", "", client::Protocol::kV2Binary};
    options.timeout_ms = 300;
    auto r = c->Infer(options, image_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->served_by["variant"], kPrimary) << r->served_by.dump();
    EXPECT_FALSE(r->served_by.contains("degraded_from")) << r->served_by.dump();
  }
  EXPECT_EQ(DegradedCounter(), 0);

  // Load: 8 clients back to back, 200 ms deadlines, against one slot that runs
  // the primary 25 times a second; one more client opts out.
  std::mutex mu;
  std::map<std::string, int> answered;  // "variant<-from"
  int timed_out = 0, other_errors = 0, opted_out = 0, opted_out_degraded = 0;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      auto client = *client::InferClient::Create(url_);
      while (!stop) {
        client::InferOptions options{"face", "", "", client::Protocol::kV2Binary};
        options.timeout_ms = 200;
        auto r = client->Infer(options, image_);
        std::lock_guard lock(mu);
        if (r.ok()) {
          ++answered[r->served_by.value("variant", std::string()) + "<-" +
                     r->served_by.value("degraded_from", std::string())];
        } else if (absl::IsDeadlineExceeded(r.status())) {
          ++timed_out;
        } else {
          ++other_errors;
        }
      }
    });
  }
  clients.emplace_back([&] {
    auto http = *http::Client::Create(url_);
    while (!stop) {
      auto r = http->Post("/v1/infer/face?degrade=false&timeout_ms=400", "image/png", image_);
      if (!r.ok() || r->status != 200) continue;
      const nlohmann::json answer = nlohmann::json::parse(r->body, nullptr, false);
      std::lock_guard lock(mu);
      ++opted_out;
      if (answer.is_object() && answer.contains("served_by") &&
          (answer["served_by"].contains("degraded_from") ||
           answer["served_by"].value("variant", std::string()) != kPrimary)) {
        ++opted_out_degraded;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(4));
  stop = true;
  for (std::thread& t : clients) t.join();

  std::string summary;
  for (const auto& [what, n] : answered) summary += what + ": " + std::to_string(n) + "; ";
  std::printf("  answered %s504 %d, other errors %d; opted out %d (degraded %d); counter %.0f\n",
              summary.c_str(), timed_out, other_errors, opted_out, opted_out_degraded,
              DegradedCounter());
  const int degraded = answered[std::string(kAlternate) + "<-" + kPrimary];
  EXPECT_GT(degraded, 0) << summary;
  // Nothing else: the primary, or the alternate in its place.
  for (const auto& [what, n] : answered) {
    EXPECT_TRUE(what == std::string(kPrimary) + "<-" ||
                what == std::string(kAlternate) + "<-" + kPrimary)
        << summary;
  }
  EXPECT_EQ(other_errors, 0);
  EXPECT_GE(DegradedCounter(), degraded);
  EXPECT_GT(opted_out, 0);
  EXPECT_EQ(opted_out_degraded, 0);
}

}  // namespace
}  // namespace heteroaccel
