// `heteroaccel k8s render FILE [-o OUT]`: a service definition -> Kubernetes
// manifests (k8s/service/service_spec.h). Exit 0 on success, 2 for a file that
// cannot be read or is not a valid definition (the CLI's 4xx), 1 when OUT
// cannot be written.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cmd/heteroaccel/commands.h"
#include "k8s/service/service_spec.h"

namespace heteroaccel::cmd {
namespace {

struct RenderFlags {
  std::string file;    // "-" reads stdin
  std::string output;  // empty: stdout
};

int Fail(const RenderFlags& flags, int code, const std::string& message) {
  std::fprintf(stderr, "heteroaccel k8s render: %s: %s\n", flags.file.c_str(), message.c_str());
  return code;
}

// Reads at most kMaxSpecBytes + 1 bytes, so an oversized file is refused by the
// parser without being held whole.
bool ReadBounded(std::istream& in, std::string& text) {
  text.resize(k8s::kMaxSpecBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return !in.bad();
}

int RunRender(const RenderFlags& flags) {
  std::string text;
  if (flags.file == "-") {
    if (!ReadBounded(std::cin, text)) return Fail(flags, 2, "cannot read standard input");
  } else {
    std::ifstream in(flags.file, std::ios::binary);
    if (!in || !ReadBounded(in, text)) {
      return Fail(flags, 2, std::string("cannot read: ") + std::strerror(errno));
    }
  }
  absl::StatusOr<k8s::ServiceSpec> spec = k8s::ParseServiceSpec(text);
  if (!spec.ok()) return Fail(flags, 2, std::string(spec.status().message()));
  const std::string manifests = k8s::Render(*spec);
  if (flags.output.empty() || flags.output == "-") {
    std::fwrite(manifests.data(), 1, manifests.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream out(flags.output, std::ios::binary | std::ios::trunc);
  out << manifests;
  out.close();
  if (!out) {
    std::fprintf(stderr, "heteroaccel k8s render: %s: cannot write: %s\n", flags.output.c_str(),
                 std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace

void AddK8sCommand(CLI::App& app) {
  CLI::App* k8s = app.add_subcommand("k8s", "Kubernetes integration");
  k8s->require_subcommand(1);
  auto flags = std::make_shared<RenderFlags>();
  CLI::App* render = k8s->add_subcommand(
      "render",
      "Turn a service definition that asks for acceleration into a Deployment and a Service "
      "(docs/kubernetes.md)");
  render->add_option("file", flags->file, "Service definition (YAML); - for standard input")
      ->required();
  render->add_option("-o,--output", flags->output, "Write the manifests here instead of stdout");
  render->callback([flags] { std::exit(RunRender(*flags)); });
}

}  // namespace heteroaccel::cmd
