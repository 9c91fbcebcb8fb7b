#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "client/infer_client.h"
#include "cmd/heteroaccel/commands.h"

namespace heteroaccel::cmd {
namespace {

struct InferFlags {
  std::string target = "http://127.0.0.1:8001";
  std::string model;
  std::string variant;
  std::string device;
  std::string protocol = "v2";
  std::vector<std::string> images;
};

int RunInfer(const InferFlags& flags) {
  auto protocol = client::ParseProtocol(flags.protocol);
  if (!protocol.ok()) {
    std::fprintf(stderr, "%s\n", std::string(protocol.status().message()).c_str());
    return 2;
  }
  auto client = client::InferClient::Create(flags.target);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", std::string(client.status().message()).c_str());
    return 1;
  }
  int failures = 0;
  for (const std::string& path : flags.images) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read\n", path.c_str());
      ++failures;
      continue;
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    auto result =
        (*client)->Infer({flags.model, flags.variant, flags.device, *protocol}, bytes.str());
    if (!result.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   std::string(result.status().message()).c_str());
      ++failures;
      continue;
    }
    std::printf("%s: %zu detection(s), %s", path.c_str(), result->detections.size(),
                client::FormatDetections(*result).c_str());
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void AddInferCommand(CLI::App& app) {
  auto flags = std::make_shared<InferFlags>();
  CLI::App* cmd = app.add_subcommand("infer", "Send images to an agent and print the detections");
  cmd->add_option("--target", flags->target, "Agent or server URL")->capture_default_str();
  cmd->add_option("--model", flags->model, "Inference type, e.g. face or object")->required();
  cmd->add_option("--variant", flags->variant, "Model variant (default: the type's default)");
  cmd->add_option("--device", flags->device, "Run on this device id (default: agent chooses)");
  cmd->add_option("--protocol", flags->protocol, "v2 (binary tensors), v2-json or v1")
      ->capture_default_str();
  cmd->add_option("images", flags->images, "JPEG or PNG files")->required();
  cmd->callback([flags] { std::exit(RunInfer(*flags)); });
}

}  // namespace heteroaccel::cmd
