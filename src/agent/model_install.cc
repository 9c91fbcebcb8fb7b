#include "agent/model_install.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "http/client.h"
#include "repository/files.h"
#include "repository/model_store.h"

namespace heteroaccel::agent {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

absl::Status CheckFormat(std::string_view format) {
  const bool ok = !format.empty() && format.size() <= 16 &&
                  std::all_of(format.begin(), format.end(), [](char c) {
                    return absl::ascii_islower(static_cast<unsigned char>(c)) ||
                           absl::ascii_isdigit(static_cast<unsigned char>(c));
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError("format must be 1 to 16 lowercase letters or digits (onnx)");
}

std::string ModelFile(const InstallRequest& r) {
  return absl::StrCat(r.sha256, ".", r.format);
}

// Writes `text` to `path` through a temporary file and a rename.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return repository::ErrnoError("create", temp, errno);
  absl::Status status = repository::WriteAll(fd, text, temp);
  if (status.ok()) status = repository::FsyncFd(fd, temp);
  repository::CloseFd(fd);
  if (status.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    status = repository::ErrnoError("rename", temp, errno);
  }
  if (!status.ok()) {
    std::remove(temp.c_str());
    return status;
  }
  return repository::FsyncDir(fs::path(path).parent_path().string());
}

}  // namespace

absl::StatusOr<InstallRequest> ParseInstallRequest(std::string_view body) {
  const Json j = Json::parse(body.begin(), body.end(), nullptr, false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object {\"name\", \"version\", \"sha256\", \"size\", \"format\", "
        "\"type\", \"variant\", \"base\", \"replaces\"}");
  }
  static const char* const kFields[] = {"name", "version", "sha256", "size", "format",
                                        "type", "variant", "base",   "replaces"};
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    if (std::find_if(std::begin(kFields), std::end(kFields),
                     [&key](const char* f) { return key == f; }) == std::end(kFields)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field '", Json(key).dump(-1, ' ', false, Json::error_handler_t::replace),
          "'; allowed: ", absl::StrJoin(kFields, ", ")));
    }
  }
  auto text = [&](const char* key, bool required) -> absl::StatusOr<std::string> {
    if (!j.contains(key)) {
      if (required) return absl::InvalidArgumentError(absl::StrCat("'", key, "' is required"));
      return std::string();
    }
    if (!j[key].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be a string"));
    }
    return j[key].get<std::string>();
  };
  InstallRequest r;
  ASSIGN_OR_RETURN(r.name, text("name", true));
  ASSIGN_OR_RETURN(r.sha256, text("sha256", true));
  ASSIGN_OR_RETURN(r.format, text("format", true));
  ASSIGN_OR_RETURN(r.type, text("type", true));
  ASSIGN_OR_RETURN(r.variant, text("variant", true));
  ASSIGN_OR_RETURN(r.base, text("base", false));
  ASSIGN_OR_RETURN(r.replaces, text("replaces", false));
  if (!j.contains("version") || !j["version"].is_number_integer() ||
      j["version"].get<int64_t>() < 1) {
    return absl::InvalidArgumentError("'version' must be a version number (1, 2, ...)");
  }
  r.version = j["version"].get<int64_t>();
  if (!j.contains("size") || !j["size"].is_number_unsigned()) {
    return absl::InvalidArgumentError("'size' must be the artifact's length in bytes");
  }
  r.size = j["size"].get<uint64_t>();
  RETURN_IF_ERROR(repository::ValidateName("model name", r.name));
  RETURN_IF_ERROR(repository::ValidateName("inference type", r.type));
  RETURN_IF_ERROR(repository::ValidateName("variant", r.variant));
  if (!r.base.empty()) RETURN_IF_ERROR(repository::ValidateName("base variant", r.base));
  RETURN_IF_ERROR(repository::ValidateSha256(r.sha256));
  RETURN_IF_ERROR(CheckFormat(r.format));
  if (r.replaces.size() > 256 || r.replaces.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("'replaces' must name one of the base variant's files");
  }
  return r;
}

Json ToJson(const InstallRequest& r) {
  Json j = {{"name", r.name},     {"version", r.version}, {"sha256", r.sha256},
            {"size", r.size},     {"format", r.format},   {"type", r.type},
            {"variant", r.variant}};
  if (!r.base.empty()) j["base"] = r.base;
  if (!r.replaces.empty()) j["replaces"] = r.replaces;
  return j;
}

ModelInstaller::ModelInstaller(InstallerOptions options, inference::Catalog& catalog)
    : options_(std::move(options)), catalog_(catalog), built_in_(catalog.specs()) {}

absl::StatusOr<inference::ModelSpec> ModelInstaller::SpecFor(const InstallRequest& r,
                                                             const std::string& path) const {
  const inference::ModelSpec* base = nullptr;
  std::vector<std::string> variants;
  for (const inference::ModelSpec& spec : built_in_) {
    if (spec.type != r.type) continue;
    variants.push_back(spec.variant);
    if (spec.variant == r.variant) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", r.variant, "' is a built-in variant of ", r.type,
          "; deploy under a variant name of its own (built-in variants are not replaced)"));
    }
    if (base == nullptr && (r.base.empty() || spec.variant == r.base)) base = &spec;
  }
  if (variants.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this node does not serve inference type '", r.type, "'"));
  }
  if (base == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("base variant '", r.base, "' is not one of ",
                                                   r.type, "'s: ", absl::StrJoin(variants, ", ")));
  }
  std::string replaces = r.replaces;
  if (replaces.empty()) {
    for (const std::string& f : base->model_files) {
      if (f.ends_with(".onnx")) replaces = f;
    }
  }
  if (std::find(base->model_files.begin(), base->model_files.end(), replaces) ==
      base->model_files.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'replaces' must name one of ", base->variant,
                     "'s files: ", absl::StrJoin(base->model_files, ", ")));
  }
  inference::ModelSpec spec = *base;
  spec.variant = r.variant;
  spec.description = absl::StrCat(base->description, " (", replaces, " from the repository: ",
                                  r.name, " version ", r.version, ", sha256 ",
                                  r.sha256.substr(0, 12), ")");
  spec.accuracy.clear();  // measured for the built-in weights only
  for (std::string& f : spec.model_files) {
    if (f == replaces) f = path;
  }
  spec.create = [create = base->create, replaces,
                 path](const inference::ModelOptions& options) {
    inference::ModelOptions with_file = options;
    with_file.files[replaces] = path;
    return create(with_file);
  };
  return spec;
}

absl::Status ModelInstaller::Download(const InstallRequest& r, const std::string& part,
                                      uint64_t& downloaded) {
  if (options_.servers.empty()) {
    return absl::FailedPreconditionError(
        "this agent has no server to download from (start it with --server)");
  }
  const std::string path =
      absl::StrCat("/v1/models/", r.name, "/versions/", r.version, "/blob");
  const std::string etag = absl::StrCat("\"sha256:", r.sha256, "\"");
  http::HeaderList auth;
  if (!options_.cluster_token.empty()) {
    auth.emplace_back("Authorization", "Bearer " + options_.cluster_token);
  }
  absl::Status last = absl::UnavailableError("no server answered");
  for (const std::string& server : options_.servers) {
    auto client = http::Client::Create(server, options_.request_timeout);
    if (!client.ok()) {
      last = client.status();
      continue;
    }
    // Resume a partial download of the same digest (the file name holds it).
    uint64_t have = 0;
    if (auto size = repository::FileSize(part); size.ok() && *size <= r.size) have = *size;
    const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return repository::ErrnoError("create", part, errno);
    if (::ftruncate(fd, static_cast<off_t>(have)) != 0 ||
        ::lseek(fd, static_cast<off_t>(have), SEEK_SET) < 0) {
      repository::CloseFd(fd);
      return repository::ErrnoError("seek", part, errno);
    }
    absl::Status status = absl::OkStatus();
    while (have < r.size && status.ok()) {
      const uint64_t last_byte = std::min(r.size, have + options_.chunk_bytes) - 1;
      http::HeaderList headers = auth;
      headers.emplace_back("Range", absl::StrCat("bytes=", have, "-", last_byte));
      absl::StatusOr<http::ClientResponse> got = (*client)->Send("GET", path, "", "", headers);
      if (!got.ok()) {
        status = got.status();
      } else if (got->status != 206 && !(got->status == 200 && have == 0)) {
        const Json body = Json::parse(got->body, nullptr, false);
        status = absl::UnavailableError(absl::StrCat(
            "the server answered ", got->status, " for ", path, ": ",
            body.is_object() && body.contains("error") && body["error"].is_string()
                ? body["error"].get<std::string>()
                : std::string("(no message)")));
      } else if (got->Header("etag") != etag) {
        status = absl::DataLossError(absl::StrCat("the server's ETag ", std::string(got->Header("etag")),
                                                  " is not the expected ", etag));
      } else if (got->body.empty() || got->body.size() > r.size - have) {
        status = absl::DataLossError(absl::StrCat("the server sent ", got->body.size(),
                                                  " bytes at offset ", have, " of ", r.size));
      } else {
        status = repository::WriteAll(fd, got->body, part);
        have += got->body.size();
        downloaded += got->body.size();
      }
    }
    if (status.ok()) status = repository::FsyncFd(fd, part);
    repository::CloseFd(fd);
    if (status.ok()) return status;
    last = absl::Status(status.code(), absl::StrCat(server, ": ", status.message()));
    if (status.code() == absl::StatusCode::kDataLoss) break;  // not a server's hiccup
  }
  return last;
}

absl::StatusOr<std::string> ModelInstaller::Fetch(const InstallRequest& r, uint64_t& downloaded,
                                                  bool& reused) {
  if (r.size > options_.max_artifact_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("the artifact is ", r.size,
                                                     " bytes; this agent takes at most ",
                                                     options_.max_artifact_bytes));
  }
  const std::string dir =
      (fs::path(options_.dir) / r.name / std::to_string(r.version)).string();
  const std::string final_path = (fs::path(dir) / ModelFile(r)).string();
  uint64_t size = 0;
  if (auto sha = repository::Sha256File(final_path, &size);
      sha.ok() && *sha == r.sha256 && size == r.size) {
    reused = true;
    return final_path;
  }
  RETURN_IF_ERROR(repository::MakeDirs(dir));
  const std::string part = final_path + ".part";
  RETURN_IF_ERROR(Download(r, part, downloaded));
  absl::StatusOr<std::string> sha = repository::Sha256File(part, &size);
  if (!sha.ok()) return sha.status();
  if (*sha != r.sha256 || size != r.size) {
    std::remove(part.c_str());
    return absl::DataLossError(absl::StrCat("the download's sha256 is ", *sha, " (", size,
                                            " bytes), the repository's ", r.sha256, " (", r.size,
                                            " bytes); it was removed and nothing changed"));
  }
  if (std::rename(part.c_str(), final_path.c_str()) != 0) {
    return repository::ErrnoError("rename", part, errno);
  }
  RETURN_IF_ERROR(repository::FsyncDir(dir));
  return final_path;
}

std::vector<ModelInstaller::Installed> ModelInstaller::ReadRecord() const {
  std::vector<Installed> installed;
  std::ifstream in(fs::path(options_.dir) / "installed.json");
  if (!in) return installed;
  const Json j = Json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("variants") || !j["variants"].is_array()) return installed;
  for (const Json& v : j["variants"]) {
    if (!v.is_object() || !v.contains("request") || !v.contains("path")) continue;
    auto request = ParseInstallRequest(v["request"].dump());
    if (!request.ok() || !v["path"].is_string()) continue;
    installed.push_back({*std::move(request), v["path"].get<std::string>()});
  }
  return installed;
}

absl::Status ModelInstaller::Record(const InstallRequest& r, const std::string& path) {
  std::vector<Installed> installed = ReadRecord();
  std::erase_if(installed, [&](const Installed& i) {
    return i.request.type == r.type && i.request.variant == r.variant;
  });
  installed.push_back({r, path});
  Json variants = Json::array();
  for (const Installed& i : installed) {
    variants.push_back({{"request", ToJson(i.request)}, {"path", i.path}});
  }
  return WriteFileAtomically((fs::path(options_.dir) / "installed.json").string(),
                             Json{{"variants", variants}}.dump(2));
}

std::vector<std::string> ModelInstaller::Restore() {
  std::vector<std::string> skipped;
  for (const Installed& i : ReadRecord()) {
    uint64_t size = 0;
    absl::StatusOr<std::string> sha = repository::Sha256File(i.path, &size);
    if (!sha.ok() || *sha != i.request.sha256 || size != i.request.size) {
      skipped.push_back(absl::StrCat(i.request.type, "/", i.request.variant, ": ", i.path,
                                     sha.ok() ? " does not match its sha256" : " is unreadable"));
      continue;
    }
    absl::StatusOr<inference::ModelSpec> spec = SpecFor(i.request, i.path);
    if (!spec.ok()) {
      skipped.push_back(absl::StrCat(i.request.type, "/", i.request.variant, ": ",
                                     spec.status().message()));
      continue;
    }
    catalog_.Put(*std::move(spec));
  }
  return skipped;
}

absl::StatusOr<Json> ModelInstaller::Install(const InstallRequest& r,
                                             runtime::Executor& executor) {
  const auto start = std::chrono::steady_clock::now();
  // Checked before any transfer: a request this node cannot serve fails fast.
  RETURN_IF_ERROR(SpecFor(r, "").status());
  uint64_t downloaded = 0;
  bool reused = false;
  ASSIGN_OR_RETURN(const std::string path, Fetch(r, downloaded, reused));
  ASSIGN_OR_RETURN(inference::ModelSpec spec, SpecFor(r, path));
  absl::StatusOr<const inference::ModelSpec*> previous = catalog_.Find(r.type, r.variant);
  std::optional<inference::ModelSpec> before;
  if (previous.ok()) before = **previous;
  const bool replaced = catalog_.Put(std::move(spec));
  absl::StatusOr<std::vector<std::string>> devices =
      executor.LoadVariant(r.type, r.variant, options_.load_timeout);
  if (!devices.ok()) {
    // Back to what the node served: the slots that failed kept it, the others load it again.
    if (before) {
      catalog_.Put(*std::move(before));
      if (auto restored = executor.LoadVariant(r.type, r.variant, options_.load_timeout);
          !restored.ok()) {
        spdlog::warn("restoring {}/{} after a failed install: {}", r.type, r.variant,
                     restored.status().ToString());
      }
    } else {
      catalog_.Remove(r.type, r.variant);
    }
    return devices.status();
  }
  RETURN_IF_ERROR(Record(r, path));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("installed {} version {} as {}/{} on {} ({} bytes downloaded, {:.2f} s)", r.name,
               r.version, r.type, r.variant, absl::StrJoin(*devices, ", "), downloaded, seconds);
  return Json{{"variant", absl::StrCat(r.type, "/", r.variant)},
              {"name", r.name},
              {"version", r.version},
              {"sha256", r.sha256},
              {"devices", *devices},
              {"downloaded_bytes", downloaded},
              {"reused_file", reused},
              {"replaced", replaced},
              {"seconds", seconds}};
}

}  // namespace heteroaccel::agent
