#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/infer_client.h"
#include "cmd/heteroaccel/commands.h"
#include "render/draw.h"

namespace heteroaccel::cmd {
namespace {

struct InferFlags {
  std::string target = "http://127.0.0.1:8001";
  std::string model;
  std::string variant;
  std::string device;
  std::string protocol = "v2";
  std::vector<std::string> images;
  std::string draw;  // output picture; with several images, a suffix -N per image
};

// Where the picture of the i-th of n images goes: out.png, or out-1.png, ...
std::string DrawPath(const std::string& draw, size_t index, size_t count) {
  if (count == 1) return draw;
  const size_t dot = draw.rfind('.');
  const size_t slash = draw.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  const std::string stem = has_ext ? draw.substr(0, dot) : draw;
  return absl::StrCat(stem, "-", index + 1, has_ext ? draw.substr(dot) : ".png");
}

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
  for (size_t index = 0; index < flags.images.size(); ++index) {
    const std::string& path = flags.images[index];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read\n", path.c_str());
      ++failures;
      continue;
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    std::string image = bytes.str();
    auto result = (*client)->Infer({flags.model, flags.variant, flags.device, *protocol}, image);
    if (!result.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   std::string(result.status().message()).c_str());
      ++failures;
      continue;
    }
    std::printf("%s: %zu detection(s), %s", path.c_str(), result->detections.size(),
                client::FormatDetections(*result).c_str());
    if (!flags.draw.empty()) {
      const std::string out = DrawPath(flags.draw, index, flags.images.size());
      absl::StatusOr<inference::Skeleton> skeleton = (*client)->Skeleton(flags.model);
      absl::Status drawn = skeleton.status();
      if (drawn.ok()) drawn = render::DrawToFile(image, result->detections, *skeleton, out);
      if (!drawn.ok()) {
        std::fprintf(stderr, "%s\n", std::string(drawn.message()).c_str());
        ++failures;
      } else {
        std::printf("  drawn to %s\n", out.c_str());
      }
    }
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
  cmd->add_option("--draw", flags->draw,
                  "Write the image with the detections drawn on it (PNG/JPEG by extension; "
                  "several images: NAME-1.png, NAME-2.png, ...)");
  cmd->add_option("images", flags->images, "JPEG or PNG files")->required();
  cmd->callback([flags] { std::exit(RunInfer(*flags)); });
}

}  // namespace heteroaccel::cmd
