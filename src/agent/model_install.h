// ModelInstaller: the agent's side of deploying a model version from the server's
// repository (docs/model-repository.md, "The agent's install flow").
//
// Install() downloads the artifact from the server the agent registered with (by
// ranges, with the cluster token, resuming a partial download), checks its size
// and SHA-256, installs it atomically under
//   <dir>/<name>/<version>/<sha256>.<format>
// and serves it as a variant of its inference type: the code of a built-in
// variant (`base`) runs it in place of one of that variant's files (`replaces`).
// The variant is put in the catalog and loaded on every slot that runs the type,
// each between two jobs, so no request is dropped; a variant deployed before is
// replaced in place, which is also how a rollback restores an earlier version.
// Whatever fails (transfer, digest, load), the node keeps serving what it had and
// the error says why.
//
// What is installed is recorded in <dir>/installed.json (written atomically);
// Restore() puts those variants back in the catalog at start, after checking each
// file's digest, so a restarted agent serves what was deployed to it.
//
// One Install at a time (the caller serialises); thread-safe otherwise as its
// catalog and executor are.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/catalog.h"
#include "runtime/executor.h"

namespace heteroaccel::agent {

struct InstallRequest {
  std::string name;  // the repository's model name
  int64_t version = 0;
  std::string sha256;  // 64 lowercase hex digits
  uint64_t size = 0;
  std::string format;   // the file's extension: onnx, tflite, ...
  std::string type;     // inference type it serves
  std::string variant;  // the variant it is served as (not a built-in one)
  std::string base;     // built-in variant whose code runs it ("" = the type's default)
  std::string replaces;  // which of base's files it stands for ("" = base's last .onnx)
};

// {"name", "version", "sha256", "size", "format", "type", "variant", "base"?, "replaces"?};
// InvalidArgument saying which field is wrong.
absl::StatusOr<InstallRequest> ParseInstallRequest(std::string_view body);
nlohmann::json ToJson(const InstallRequest& request);

struct InstallerOptions {
  std::string dir;                   // where deployed artifacts live
  std::vector<std::string> servers;  // base URLs to download from, tried in order
  std::string cluster_token;
  std::chrono::milliseconds load_timeout{std::chrono::minutes(2)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  uint64_t chunk_bytes = uint64_t{8} << 20;
  uint64_t max_artifact_bytes = uint64_t{2} << 30;
};

class ModelInstaller {
 public:
  ModelInstaller(InstallerOptions options, inference::Catalog& catalog);

  // Puts the recorded variants whose files are intact in the catalog (before the
  // executor is created, so its slots load them with the rest). One line per
  // variant skipped, for the log.
  std::vector<std::string> Restore();

  // Download, verify, install, load: {"variant": "type/variant", "devices": [...],
  // "downloaded_bytes", "reused_file", "replaced", "seconds", ...}.
  absl::StatusOr<nlohmann::json> Install(const InstallRequest& request,
                                         runtime::Executor& executor);

 private:
  struct Installed {
    InstallRequest request;
    std::string path;
  };
  absl::StatusOr<inference::ModelSpec> SpecFor(const InstallRequest& request,
                                               const std::string& path) const;
  // The artifact's final path, downloading it when it is not there yet.
  absl::StatusOr<std::string> Fetch(const InstallRequest& request, uint64_t& downloaded,
                                    bool& reused);
  absl::Status Download(const InstallRequest& request, const std::string& part, uint64_t& downloaded);
  absl::Status Record(const InstallRequest& request, const std::string& path);
  std::vector<Installed> ReadRecord() const;

  const InstallerOptions options_;
  inference::Catalog& catalog_;
  // The built-in variants (base specs) as the catalog had them at construction.
  const std::vector<inference::ModelSpec> built_in_;
};

}  // namespace heteroaccel::agent
