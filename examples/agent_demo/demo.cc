// The agent demo: starts a real agent on this machine, sends every bundled image
// through every model on every device that can run it, and prints what was
// found where and how fast.
#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/infer_client.h"
#include "http/client.h"
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

int Run(const std::string& binary, const std::string& models_dir) {
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
  for (const auto& d : node["devices"]) {
    std::printf("  %-22s %-5s %-11s %s%s\n", d["id"].get<std::string>().c_str(),
                d["kind"].get<std::string>().c_str(), d["state"].get<std::string>().c_str(),
                d["name"].get<std::string>().c_str(),
                d["emulated"].get<bool>() ? " (EMULATED)" : "");
    if (d.contains("models")) runnable.emplace_back(d["id"], d["models"]);
  }
  std::printf("\n%-14s %-7s %-20s %-22s %10s %10s  %s\n", "image", "model", "variant", "device",
              "compute ms", "total ms", "found");
  auto c = *client::InferClient::Create(url);
  int failures = 0;
  for (const char* image : {"astronaut.png", "chelsea.png", "coffee.png", "camera.png"}) {
    const std::string bytes = testing::ReadFileOrDie(models_dir + "/images/" + image);
    for (const auto& [device, models] : runnable) {
      for (const std::string& key : models) {
        const std::string type = key.substr(0, key.find('/'));
        const std::string variant = key.substr(key.find('/') + 1);
        auto r = c->Infer({type, variant, device, client::Protocol::kV2Binary}, bytes);
        if (!r.ok()) {
          ++failures;
          std::printf("%-14s %-7s %-20s %-22s  error: %s\n", image, type.c_str(), variant.c_str(),
                      device.c_str(), std::string(r.status().message()).c_str());
          continue;
        }
        std::printf("%-14s %-7s %-20s %-22s %10.1f %10.1f  %s\n", image, type.c_str(),
                    variant.c_str(), device.c_str(), r->served_by.value("compute_ms", 0.0),
                    r->round_trip_ms, Summary(*r).c_str());
      }
    }
  }
  std::printf("\nmetrics: %s/metrics   node: %s/v1/node\n", url.c_str(), url.c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: agent_demo HETEROACCEL_BINARY MODELS_DIR\n");
    return 2;
  }
  return heteroaccel::Run(argv[1], argv[2]);
}
