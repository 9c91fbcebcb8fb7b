// Reproduces the paper's experiment on one machine: a server and three agents
// (node G: Iris Xe GPU, node F: Arria 10 FPGA, node N: NCS2 NPU, each with its
// CPU; all emulated with latency profiles derived from the paper) as separate
// processes, four cameras replaying real images, one run per policy. Prints the
// comparison with the paper's numbers beside it, or one JSON object (--json)
// with a key per policy holding that run's bench JSON, and ideal_rps.
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "http/client.h"
#include "loadgen/bench.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

struct Flags {
  std::string binary = "build/bin/heteroaccel";
  std::string dir = "examples/paper";
  std::string models = "models";
  std::vector<std::string> mix = {"face", "pose", "text", "hand"};  // the paper's four types
  int cameras = 4;
  int inflight = 8;  // frames a camera may have outstanding
  double seconds = 20;
  double rate = 1000.0 / 21.8;  // the paper's interval between requests in run B
  bool json = false;
};

bool WaitForDevices(const std::string& url, size_t devices) {
  auto http = *http::Client::Create(url);
  for (int i = 0; i < 600; ++i) {
    auto r = http->Get("/v1/cluster");
    if (r.ok()) {
      const nlohmann::json cluster = nlohmann::json::parse(r->body);
      size_t up = 0;
      for (const auto& node : cluster["nodes"]) {
        if (!node["up"].get<bool>()) continue;
        for (const auto& d : node["devices"]) up += d["variants"].empty() ? 0 : 1;
      }
      if (up >= devices) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

absl::StatusOr<nlohmann::json> RunPolicy(const Flags& f, const std::string& policy,
                                         double* ideal_rps) {
  const std::string token = "paper-cluster";
  auto server = testing::Subprocess::Start({f.binary, "server", "--config", f.dir + "/server.yaml",
                                            "--policy", policy, "--cluster-token", token});
  if (!server.ok()) return server.status();
  const std::string url = testing::WaitForListeningUrl(**server);
  if (url.empty()) return absl::InternalError("server did not start: " + (*server)->Output());
  std::vector<std::unique_ptr<testing::Subprocess>> agents;
  for (const char* node : {"node-g", "node-f", "node-n"}) {
    auto agent = testing::Subprocess::Start(
        {f.binary, "agent", "--listen", "127.0.0.1:0", "--config", f.dir + "/" + node + ".yaml",
         "--models-dir", f.models, "--models", absl::StrJoin(f.mix, ","), "--server", url,
         "--cluster-token", token});
    if (!agent.ok()) return agent.status();
    agents.push_back(std::move(*agent));
  }
  if (!WaitForDevices(url, 6)) {
    return absl::InternalError("the cluster did not come up: " + (*server)->Output());
  }
  auto http = *http::Client::Create(url);
  std::string mix_query;
  for (const std::string& type : f.mix)
    absl::StrAppend(&mix_query, mix_query.empty() ? "" : ",", type, ":1");
  auto capacity = http->Get("/v1/cluster/capacity?mix=" + mix_query);
  if (capacity.ok() && capacity->status == 200) {
    *ideal_rps = nlohmann::json::parse(capacity->body)["ideal_rps"].get<double>();
  }
  loadgen::BenchOptions options;
  options.target = url;
  options.cameras = f.cameras;
  options.inflight = f.inflight;
  options.mix = f.mix;
  options.duration = std::chrono::milliseconds(static_cast<int64_t>(f.seconds * 1000));
  options.warmup = std::chrono::milliseconds(3000);
  options.rate = f.rate;
  options.images_dir = f.models + "/images";
  auto report = loadgen::RunBench(options);
  if (!report.ok()) return report.status();
  return loadgen::ToJson(*report);
}

void PrintTable(const nlohmann::json& all) {
  const double ideal = all["ideal_rps"];
  const double base = all["static"]["throughput_rps"];
  std::printf("\n%-16s %9s %9s %8s %9s %9s %8s  %s\n", "policy", "req/s", "vs static", "of ideal",
              "p50 ms", "p99 ms", "errors", "per-device split");
  for (const char* policy : {"static", "idle-first", "earliest-finish"}) {
    const nlohmann::json& r = all[policy];
    std::vector<std::string> split;
    for (const auto& [key, d] : r["per_device"].items()) {
      split.push_back(absl::StrCat(key, " ", d["count"].get<uint64_t>()));
    }
    std::printf("%-16s %9.1f %8.2fx %7.0f%% %9.1f %9.1f %8llu  %s\n", policy,
                r["throughput_rps"].get<double>(), r["throughput_rps"].get<double>() / base,
                100 * r["throughput_rps"].get<double>() / ideal,
                r["latency_ms"]["p50"].get<double>(), r["latency_ms"]["p99"].get<double>(),
                static_cast<unsigned long long>(r["errors"]["total"].get<uint64_t>()),
                absl::StrJoin(split, ", ").c_str());
  }
  std::printf("%-16s %9.1f\n", "ideal", ideal);
  std::printf(
      "\npaper (Table 4): A (GPU only) 260 in 19.672 s = 13.2/s; B (HeteroAccel) 326 in 19.542 s "
      "= 16.7/s, 1.25x; B split GPU 154, NPU 134, CPU 37, FPGA 1\n");
}

int Run(const Flags& f) {
  nlohmann::json all;
  double ideal = 0;
  for (const char* policy : {"static", "idle-first", "earliest-finish"}) {
    if (!f.json) std::fprintf(stderr, "running %s for %.0f s ...\n", policy, f.seconds);
    auto result = RunPolicy(f, policy, &ideal);
    if (!result.ok()) {
      std::fprintf(stderr, "%s: %s\n", policy, std::string(result.status().message()).c_str());
      return 1;
    }
    all[policy] = *result;
  }
  all["ideal_rps"] = ideal;
  all["paper"] = {{"static_rps", 260 / 19.672},
                  {"idle_first_rps", 326 / 19.542},
                  {"idle_first_split", {{"gpu", 154}, {"npu", 134}, {"cpu", 37}, {"fpga", 1}}}};
  if (f.json) {
    std::printf("%s\n", all.dump(2).c_str());
  } else {
    PrintTable(all);
  }
  return 0;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  heteroaccel::Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--json")
      f.json = true;
    else if (a == "--binary")
      f.binary = next();
    else if (a == "--dir")
      f.dir = next();
    else if (a == "--models-dir")
      f.models = next();
    else if (a == "--seconds")
      f.seconds = std::stod(next());
    else if (a == "--rate")
      f.rate = std::stod(next());
    else if (a == "--cameras")
      f.cameras = std::stoi(next());
    else if (a == "--inflight")
      f.inflight = std::stoi(next());
    else if (a == "--mix")
      f.mix = absl::StrSplit(next(), ',');
    else {
      std::fprintf(stderr,
                   "usage: paper_run [--json] [--seconds S] [--rate R] [--cameras N] "
                   "[--inflight N] [--mix face,pose,text,hand] [--binary PATH] [--dir DIR] "
                   "[--models-dir DIR]\n");
      return 2;
    }
  }
  return heteroaccel::Run(f);
}
