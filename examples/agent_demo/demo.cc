// The demo: starts a real agent on this machine, sends every bundled image
// through every model on every device that can run it, and prints what was
// found where and how fast; then starts a server with two agents (the real CPU
// plus emulated accelerators), replays four cameras and prints the per-device
// split and latencies. Pictures of what each type found (drawn by the render
// component) go to PICTURES_DIR.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/infer_client.h"
#include "http/client.h"
#include "loadgen/bench.h"
#include "render/draw.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

std::string Summary(const client::InferResult& r) {
  std::map<std::string, int> counts;
  for (const auto& d : r.detections) ++counts[d.label];
  if (counts.empty()) return "nothing";
  std::vector<std::string> parts;
  for (const auto& [label, n] : counts) parts.push_back(absl::StrFormat("%d %s", n, label));
  return absl::StrJoin(parts, ", ");
}

// Writes IMAGE_TYPE.png under `dir` with the detections drawn; returns its path.
std::string WritePicture(const std::string& dir, const std::string& image, const std::string& type,
                         const std::string& bytes, const client::InferResult& r,
                         const inference::Skeleton& skeleton) {
  std::string stem = image.substr(0, image.rfind('.'));
  std::replace(stem.begin(), stem.end(), '/', '_');  // hands/nocurl -> hands_nocurl
  const std::string path = dir + "/" + stem + "_" + type + ".png";
  return render::DrawToFile(bytes, r.detections, skeleton, path).ok() ? path : "";
}

// A short text for a `text` result: the first recognised strings.
std::string TextSample(const client::InferResult& r) {
  std::string out;
  for (const auto& d : r.detections) {
    if (d.text.empty()) continue;
    if (out.size() + d.text.size() > 40) return out + " ...";
    out += (out.empty() ? "\"" : " \"") + d.text + "\"";
  }
  return out;
}

int Run(const std::string& binary, const std::string& models_dir, const std::string& pictures_dir) {
  std::filesystem::create_directories(pictures_dir);
  std::printf("starting %s agent (models in %s) ...\n", binary.c_str(), models_dir.c_str());
  auto agent = testing::Subprocess::Start(
      {binary, "agent", "--listen", "127.0.0.1:0", "--models-dir", models_dir});
  if (!agent.ok()) return 1;
  auto line = (*agent)->WaitForLine("listening on http://", std::chrono::seconds(60));
  if (!line || !(*agent)->WaitForLine("ready", std::chrono::minutes(10))) {
    std::fprintf(stderr, "agent did not become ready:\n%s", (*agent)->Output().c_str());
    return 1;
  }
  const std::string url = line->substr(line->find("http://"));
  std::printf("agent at %s\n", url.c_str());
  auto http = *http::Client::Create(url);
  auto node = nlohmann::json::parse(http->Get("/v1/node")->body);
  std::printf("node %s: %s, %s\n\ndevices:\n", node["hostname"].get<std::string>().c_str(),
              node["os"].get<std::string>().c_str(), node["kernel"].get<std::string>().c_str());
  std::vector<std::pair<std::string, std::vector<std::string>>> runnable;
  std::string picture_device;  // the first CPU device draws the pictures
  for (const auto& d : node["devices"]) {
    std::printf("  %-22s %-5s %-11s %s%s\n", d["id"].get<std::string>().c_str(),
                d["kind"].get<std::string>().c_str(), d["state"].get<std::string>().c_str(),
                d["name"].get<std::string>().c_str(),
                d["emulated"].get<bool>() ? " (EMULATED)" : "");
    if (!d.contains("models")) continue;
    runnable.emplace_back(d["id"], d["models"]);
    if (picture_device.empty() && d["kind"] == "cpu") picture_device = d["id"];
  }
  std::printf("\n%-14s %-7s %-20s %-22s %10s %10s  %s\n", "image", "model", "variant", "device",
              "compute ms", "total ms", "found");
  auto c = *client::InferClient::Create(url);
  int failures = 0;
  // Each type's default variant: the first the agent lists in /v1/models.
  std::map<std::string, std::string> defaults;
  // A named document: a range-for over a member of a temporary would dangle.
  const nlohmann::json listed = nlohmann::json::parse(http->Get("/v1/models")->body);
  for (const auto& m : listed["models"]) {
    defaults.emplace(m["name"].get<std::string>(), m["variant"].get<std::string>());
  }
  int pictures = 0;
  for (const std::string image : {"astronaut.png", "chelsea.png", "coffee.png", "camera.png",
                                  "page.png", "hands/nocurl.jpg", "hands/fullcurl.jpg"}) {
    const std::string bytes = testing::ReadFileOrDie(models_dir + "/images/" + image);
    for (const auto& [device, models] : runnable) {
      for (const std::string& key : models) {
        const std::string type = key.substr(0, key.find('/'));
        const std::string variant = key.substr(key.find('/') + 1);
        const bool is_default = defaults[type] == variant;
        // PoCL's OpenCL device is 10-35x slower than the CPU: defaults only there.
        if (!is_default && device.rfind("opencl", 0) == 0) continue;
        auto r = c->Infer({type, variant, device, client::Protocol::kV2Binary}, bytes);
        if (!r.ok()) {
          ++failures;
          std::printf("%-14s %-7s %-20s %-22s  error: %s\n", image.c_str(), type.c_str(),
                      variant.c_str(), device.c_str(), std::string(r.status().message()).c_str());
          continue;
        }
        std::printf("%-14s %-7s %-20s %-22s %10.1f %10.1f  %s %s\n", image.c_str(), type.c_str(),
                    variant.c_str(), device.c_str(), r->served_by.value("compute_ms", 0.0),
                    r->round_trip_ms, Summary(*r).c_str(), TextSample(*r).c_str());
        if (is_default && device == picture_device) {
          auto skeleton = c->Skeleton(type);
          if (skeleton.ok() &&
              !WritePicture(pictures_dir, image, type, bytes, *r, *skeleton).empty()) {
            ++pictures;
          }
        }
      }
    }
  }
  std::printf("\n%d pictures with the detections drawn in %s/\n", pictures, pictures_dir.c_str());
  std::printf("metrics: %s/metrics   node: %s/v1/node\n", url.c_str(), url.c_str());
  return failures == 0 ? 0 : 1;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

std::string UrlOf(testing::Subprocess& p) {
  auto line = p.WaitForLine("listening on http://", std::chrono::seconds(60));
  if (!line) return "";
  std::string url = line->substr(line->find("http://"));
  return url.substr(0, url.find(' '));
}

// A small cluster on this machine: a server, one agent with the real CPU plus
// an emulated GPU, one with an emulated NPU and FPGA; four cameras for 10 s.
int RunCluster(const std::string& binary, const std::string& models_dir) {
  std::printf("\n=== a cluster: server + 2 agents (real CPU, emulated GPU/NPU/FPGA) ===\n");
  auto server = *testing::Subprocess::Start(
      {binary, "server", "--listen", "127.0.0.1:0", "--cluster-token", "demo"});
  const std::string url = UrlOf(*server);
  const std::string gpu_node = WriteFile("heteroaccel_demo_gpu.yaml", R"(node: edge-1
opencl: false
devices:
  - {id: gpu0, kind: gpu, name: Demo GPU, slots: 1, latency_ms: {face: 4, object: 12}}
)");
  const std::string npu_node = WriteFile("heteroaccel_demo_npu.yaml", R"(node: edge-2
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 15, object: 60}}
devices:
  - {id: npu0, kind: npu, name: Demo NPU, slots: 1, latency_ms: {face: 8, object: 20}}
  - {id: fpga0, kind: fpga, name: Demo FPGA, slots: 1, latency_ms: {face: 25, object: 40}}
)");
  std::vector<std::unique_ptr<testing::Subprocess>> agents;
  for (const std::string& config : {gpu_node, npu_node}) {
    agents.push_back(*testing::Subprocess::Start(
        {binary, "agent", "--listen", "127.0.0.1:0", "--config", config, "--models-dir", models_dir,
         "--models", "face,object", "--server", url, "--cluster-token", "demo"}));
    if (!agents.back()->WaitForLine("ready", std::chrono::minutes(5))) {
      std::fprintf(stderr, "agent did not start:\n%s", agents.back()->Output().c_str());
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // two heartbeats
  loadgen::BenchOptions options;
  options.target = url;
  options.cameras = 4;
  options.mix = {"face", "object"};
  options.duration = std::chrono::seconds(10);
  options.images_dir = models_dir + "/images";
  auto report = loadgen::RunBench(options);
  if (!report.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  std::printf("%s", loadgen::FormatTable(*report).c_str());
  return report->succeeded > 0 ? 0 : 1;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: agent_demo HETEROACCEL_BINARY MODELS_DIR PICTURES_DIR\n");
    return 2;
  }
  const int agent = heteroaccel::Run(argv[1], argv[2], argv[3]);
  const int cluster = heteroaccel::RunCluster(argv[1], argv[2]);
  return agent != 0 ? agent : cluster;
}
