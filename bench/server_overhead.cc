// server_overhead: what routing through the server costs, against calling the
// agent directly, in one run on the same machine.
//
// One agent whose devices are all emulated with zero latency (results are
// reused for the replayed frame, so the model costs ~nothing), one server in
// front of it. Measured:
//   1. open loop at --rate req/s straight to the agent: latency p50/p99;
//   2. the same load through the server: latency p50/p99, and the difference;
//   3. closed loop through the server with many connections: routed req/s.
// Targets (issue 3): added p50 <= 0.150 ms, added p99 <= 1 ms at 1,000 req/s;
// >= 10,000 req/s routed on a 2-core machine.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "loadgen/bench.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

std::string UrlOf(testing::Subprocess& p) {
  auto line = p.WaitForLine("listening on http://", std::chrono::seconds(60));
  if (!line) return "";
  std::string url = line->substr(line->find("http://"));
  return url.substr(0, url.find(' '));
}

loadgen::BenchReport Bench(const std::string& url, const std::string& images, int cameras,
                           std::optional<double> rate, double seconds) {
  loadgen::BenchOptions o;
  o.target = url;
  o.cameras = cameras;
  o.mix = {"face"};
  o.rate = rate;
  o.duration = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  o.warmup = std::chrono::milliseconds(1000);
  o.images_dir = images;
  auto r = loadgen::RunBench(o);
  if (!r.ok()) {
    std::fprintf(stderr, "bench failed: %s\n", std::string(r.status().message()).c_str());
    std::exit(1);
  }
  return *r;
}

int Run(double rate, double seconds, int connections, bool json) {
  const std::string dir = std::filesystem::temp_directory_path() / "heteroaccel_server_overhead";
  std::filesystem::create_directories(dir + "/images");
  cv::imwrite(dir + "/images/frame.png", cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 120, 150)));
  std::ofstream(dir + "/agent.yaml") << R"(node: zero-node
opencl: false
cpu: {slots: 2, emulated: true, default_latency_ms: 0}
devices:
  - {id: zero0, kind: gpu, name: Zero-cost device, slots: 4, default_latency_ms: 0}
)";
  const std::string binary = testing::HeteroaccelBinary();
  auto server = *testing::Subprocess::Start(
      {binary, "server", "--listen", "127.0.0.1:0", "--queue-capacity", "4096"});
  const std::string server_url = UrlOf(*server);
  auto agent = *testing::Subprocess::Start({binary, "agent", "--listen", "127.0.0.1:0", "--config",
                                            dir + "/agent.yaml", "--models", "face", "--models-dir",
                                            testing::ModelsDir(), "--server", server_url,
                                            "--queue-capacity", "4096"});
  const std::string agent_url = UrlOf(*agent);
  if (server_url.empty() || agent_url.empty() ||
      !agent->WaitForLine("ready", std::chrono::minutes(2))) {
    std::fprintf(stderr, "start-up failed\n%s\n%s", server->Output().c_str(),
                 agent->Output().c_str());
    return 1;
  }
  const loadgen::BenchReport direct = Bench(agent_url, dir + "/images", 8, rate, seconds);
  const loadgen::BenchReport routed = Bench(server_url, dir + "/images", 8, rate, seconds);
  const loadgen::BenchReport max =
      Bench(server_url, dir + "/images", connections, std::nullopt, seconds);
  const loadgen::BenchReport max_direct =
      Bench(agent_url, dir + "/images", connections, std::nullopt, seconds);
  nlohmann::json out = {
      {"rate_rps", rate},
      {"direct_ms", {{"p50", direct.latency.p50}, {"p99", direct.latency.p99}}},
      {"via_server_ms", {{"p50", routed.latency.p50}, {"p99", routed.latency.p99}}},
      {"added_ms",
       {{"p50", routed.latency.p50 - direct.latency.p50},
        {"p99", routed.latency.p99 - direct.latency.p99}}},
      {"errors", {{"direct", direct.errors}, {"via_server", routed.errors}, {"max", max.errors}}},
      {"max_routed_rps", max.throughput_rps},
      {"max_direct_rps", max_direct.throughput_rps},
      {"connections", connections}};
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("open loop %.0f req/s, %.0f s each:\n", rate, seconds);
    std::printf("  direct to agent   p50 %.3f ms  p99 %.3f ms\n", direct.latency.p50,
                direct.latency.p99);
    std::printf("  through server    p50 %.3f ms  p99 %.3f ms\n", routed.latency.p50,
                routed.latency.p99);
    std::printf("  added by server   p50 %.3f ms  p99 %.3f ms\n",
                routed.latency.p50 - direct.latency.p50, routed.latency.p99 - direct.latency.p99);
    std::printf("closed loop, %d connections: %.0f req/s routed (agent alone: %.0f req/s)\n",
                connections, max.throughput_rps, max_direct.throughput_rps);
  }
  return 0;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  double rate = 1000, seconds = 10;
  int connections = 32;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--json")
      json = true;
    else if (a == "--rate")
      rate = std::stod(next());
    else if (a == "--seconds")
      seconds = std::stod(next());
    else if (a == "--connections")
      connections = std::stoi(next());
    else {
      std::fprintf(stderr,
                   "usage: server_overhead [--rate R] [--seconds S] [--connections N] [--json]\n");
      return 2;
    }
  }
  return heteroaccel::Run(rate, seconds, connections, json);
}
