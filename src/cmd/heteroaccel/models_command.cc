// `heteroaccel models ...`: the server's model repository
// (docs/model-repository.md) from the command line.
//   push FILE --name N --type T --variant V [--format onnx] [--accelerators gpu,cpu]
//        [--precision fp16] [--accuracy mAP=0.23,...] [--source S] [--licence L]
//        [--label 1.0.0] [--notes TEXT]     hashes the file, uploads it in chunks, commits
//   list [--name N] [--type T]               the stored versions
//   show NAME                                 versions and deployments of one model
//   pull NAME REF OUT                         downloads by ranges and checks the sha256
//   rm NAME REF                               deletes a version (not while deployed)
//   deploy NAME [REF] --target group/G|node/N [--base V] [--replaces FILE] [--serial]
//                                             installs the version on the target's nodes
//   rollback NAME --target group/G|node/N     restores the version deployed before there
// Every subcommand takes --server URL and --token (the admin token for changes;
// or the HETEROACCEL_TOKEN environment variable). Exit status: 0 done, 1 the
// server refused or failed (its message printed), 2 bad flags or files.

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cmd/heteroaccel/commands.h"
#include "http/client.h"
#include "repository/files.h"

namespace heteroaccel::cmd {
namespace {

constexpr size_t kChunk = 8u << 20;  // below the server's default max_body_bytes (16 MiB)

struct Common {
  std::string server = "http://127.0.0.1:8000";
  std::string token;
};

struct PushFlags {
  std::string file, name, type, variant, format = "onnx", accelerators, precision, accuracy,
      source, licence, label, notes;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "heteroaccel models: %s\n", message.c_str());
  return code;
}

// The server's error message when the body is its JSON error, else the body.
std::string ErrorOf(const http::ClientResponse& r) {
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    return absl::StrCat(r.status, ": ", body["error"].get<std::string>());
  }
  return absl::StrCat(r.status, ": ", r.body.substr(0, 200));
}

class Api {
 public:
  static absl::StatusOr<Api> Connect(const Common& common,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    auto client = http::Client::Create(common.server, timeout);
    if (!client.ok()) return client.status();
    std::string token = common.token;
    if (token.empty()) {
      if (const char* env = std::getenv("HETEROACCEL_TOKEN")) token = env;
    }
    Api api;
    api.client_ = *std::move(client);
    if (!token.empty()) api.auth_ = {{"Authorization", absl::StrCat("Bearer ", token)}};
    return api;
  }
  absl::StatusOr<http::ClientResponse> Call(std::string_view method, std::string_view path,
                                            std::string_view content_type = "",
                                            std::string_view body = "",
                                            http::HeaderList extra = {}) {
    for (const auto& h : auth_) extra.push_back(h);
    return client_->Send(method, path, content_type, body, extra);
  }

 private:
  std::unique_ptr<http::Client> client_;
  http::HeaderList auth_;
};


absl::StatusOr<nlohmann::json> Metadata(const PushFlags& f) {
  nlohmann::json m = {{"type", f.type}, {"variant", f.variant}, {"format", f.format}};
  if (!f.accelerators.empty()) {
    m["accelerators"] = std::vector<std::string>(absl::StrSplit(f.accelerators, ','));
  }
  if (!f.precision.empty()) m["precision"] = f.precision;
  if (!f.accuracy.empty()) {
    nlohmann::json acc = nlohmann::json::object();
    for (absl::string_view pair : absl::StrSplit(f.accuracy, ',')) {
      std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      double value = 0;
      if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--accuracy: '", pair, "' is not METRIC=NUMBER (mAP=0.23,recall=0.9)"));
      }
      acc[kv[0]] = value;
    }
    m["accuracy"] = acc;
  }
  for (const auto& [key, value] : {std::pair{"source", &f.source}, {"licence", &f.licence},
                                   {"label", &f.label}, {"notes", &f.notes}}) {
    if (!value->empty()) m[key] = *value;
  }
  return m;
}

int Push(const Common& common, const PushFlags& f) {
  uint64_t size = 0;
  auto sha = repository::Sha256File(f.file, &size);
  if (!sha.ok()) return Fail(2, std::string(sha.status().message()));
  auto metadata = Metadata(f);
  if (!metadata.ok()) return Fail(2, std::string(metadata.status().message()));
  auto api = Api::Connect(common);
  if (!api.ok()) return Fail(2, std::string(api.status().message()));
  const nlohmann::json start = {{"metadata", *metadata}, {"sha256", *sha}, {"size", size}};
  auto opened = api->Call("POST", absl::StrCat("/v1/models/", f.name, "/uploads"),
                          "application/json", start.dump());
  if (!opened.ok()) return Fail(1, std::string(opened.status().message()));
  if (opened->status != 201) return Fail(1, ErrorOf(*opened));
  const std::string location =
      nlohmann::json::parse(opened->body, nullptr, false).value("location", "");
  if (location.empty()) return Fail(1, "the server did not say where to upload");
  std::ifstream in(f.file, std::ios::binary);
  std::string chunk(kChunk, '\0');
  uint64_t offset = 0;
  while (offset < size) {
    in.read(chunk.data(), static_cast<std::streamsize>(kChunk));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) return Fail(2, absl::StrCat(f.file, " changed while it was uploaded"));
    auto put = api->Call("PUT", absl::StrCat(location, "?offset=", offset),
                         "application/octet-stream", std::string_view(chunk.data(), n));
    if (!put.ok()) return Fail(1, std::string(put.status().message()));
    if (put->status != 200) return Fail(1, ErrorOf(*put));
    offset += n;
    std::fprintf(stderr, "\r%llu / %llu bytes", static_cast<unsigned long long>(offset),
                 static_cast<unsigned long long>(size));
  }
  if (size > 0) std::fprintf(stderr, "\n");
  auto committed = api->Call("POST", absl::StrCat(location, "/commit"));
  if (!committed.ok()) return Fail(1, std::string(committed.status().message()));
  if (committed->status != 201) return Fail(1, ErrorOf(*committed));
  const nlohmann::json v = nlohmann::json::parse(committed->body, nullptr, false);
  std::printf("%s version %lld sha256 %s (%llu bytes)\n", v.value("name", "").c_str(),
              static_cast<long long>(v.value("version", int64_t{0})), v.value("sha256", "").c_str(),
              static_cast<unsigned long long>(v.value("size", uint64_t{0})));
  return 0;
}

int List(const Common& common, const std::string& name, const std::string& type, bool json) {
  auto api = Api::Connect(common);
  if (!api.ok()) return Fail(2, std::string(api.status().message()));
  std::string path = "/v1/models?";
  if (!name.empty()) absl::StrAppend(&path, "name=", name, "&");
  if (!type.empty()) absl::StrAppend(&path, "type=", type);
  auto r = api->Call("GET", path);
  if (!r.ok()) return Fail(1, std::string(r.status().message()));
  if (r->status != 200) return Fail(1, ErrorOf(*r));
  const nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
  if (json) {
    std::printf("%s\n", body.dump(2).c_str());
    return 0;
  }
  std::printf("%-24s %7s %-10s %-12s %-24s %12s  %s\n", "NAME", "VERSION", "LABEL", "TYPE",
              "VARIANT", "BYTES", "SHA256");
  for (const nlohmann::json& v : body.value("versions", nlohmann::json::array())) {
    const nlohmann::json m = v.value("metadata", nlohmann::json::object());
    std::printf("%-24s %7lld %-10s %-12s %-24s %12llu  %.12s\n", v.value("name", "").c_str(),
                static_cast<long long>(v.value("version", int64_t{0})),
                m.value("label", "").c_str(), m.value("type", "").c_str(),
                m.value("variant", "").c_str(),
                static_cast<unsigned long long>(v.value("size", uint64_t{0})),
                v.value("sha256", "").c_str());
  }
  return 0;
}

int Show(const Common& common, const std::string& name) {
  auto api = Api::Connect(common);
  if (!api.ok()) return Fail(2, std::string(api.status().message()));
  auto r = api->Call("GET", absl::StrCat("/v1/models/", name));
  if (!r.ok()) return Fail(1, std::string(r.status().message()));
  if (r->status != 200) return Fail(1, ErrorOf(*r));
  std::printf("%s\n", nlohmann::json::parse(r->body, nullptr, false).dump(2).c_str());
  return 0;
}

int Pull(const Common& common, const std::string& name, const std::string& ref,
         const std::string& out_path) {
  auto api = Api::Connect(common);
  if (!api.ok()) return Fail(2, std::string(api.status().message()));
  auto meta = api->Call("GET", absl::StrCat("/v1/models/", name, "/versions/", ref));
  if (!meta.ok()) return Fail(1, std::string(meta.status().message()));
  if (meta->status != 200) return Fail(1, ErrorOf(*meta));
  const nlohmann::json v = nlohmann::json::parse(meta->body, nullptr, false);
  const uint64_t size = v.value("size", uint64_t{0});
  const std::string sha = v.value("sha256", "");
  const std::string temp = out_path + ".part";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return Fail(2, absl::StrCat("cannot write ", temp));
    const std::string blob = absl::StrCat("/v1/models/", name, "/versions/",
                                          v.value("version", int64_t{0}), "/blob");
    for (uint64_t offset = 0; offset < size;) {
      const uint64_t last = std::min(size, offset + kChunk) - 1;
      auto r = api->Call("GET", blob, "", "", {{"Range", absl::StrCat("bytes=", offset, "-", last)}});
      if (!r.ok()) return Fail(1, std::string(r.status().message()));
      if (r->status != 206 || r->body.empty()) return Fail(1, ErrorOf(*r));
      out.write(r->body.data(), static_cast<std::streamsize>(r->body.size()));
      offset += r->body.size();
    }
    if (!out.flush()) return Fail(2, absl::StrCat("writing ", temp, " failed"));
  }
  uint64_t got = 0;
  auto check = repository::Sha256File(temp, &got);
  if (!check.ok() || *check != sha || got != size) {
    std::remove(temp.c_str());
    return Fail(1, absl::StrCat("the download's sha256 is ", check.ok() ? *check : "unreadable",
                                ", the repository's ", sha, "; nothing was written"));
  }
  if (std::rename(temp.c_str(), out_path.c_str()) != 0) {
    return Fail(2, absl::StrCat("cannot rename ", temp, " to ", out_path));
  }
  std::printf("%s (%llu bytes, sha256 %s)\n", out_path.c_str(),
              static_cast<unsigned long long>(size), sha.c_str());
  return 0;
}

int Remove(const Common& common, const std::string& name, const std::string& ref) {
  auto api = Api::Connect(common);
  if (!api.ok()) return Fail(2, std::string(api.status().message()));
  auto r = api->Call("DELETE", absl::StrCat("/v1/models/", name, "/versions/", ref));
  if (!r.ok()) return Fail(1, std::string(r.status().message()));
  if (r->status != 204) return Fail(1, ErrorOf(*r));
  return 0;
}

struct DeployFlags {
  std::string name;
  std::string ref = "latest";
  std::string target;
  std::string base;
  std::string replaces;
  bool serial = false;
  double timeout_seconds = 0;
};

// POST /v1/models/{name}/deploy or /rollback; prints each node's result as it is read.
int Deploy(const Common& common, const DeployFlags& f, bool rollback) {
  auto api = Api::Connect(common, std::chrono::minutes(30));
  if (!api.ok()) return Fail(2, std::string(api.status().message()));
  nlohmann::json body = {{"target", f.target}, {"serial", f.serial}};
  if (!rollback) {
    body["version"] = f.ref;
    if (!f.base.empty()) body["base"] = f.base;
    if (!f.replaces.empty()) body["replaces"] = f.replaces;
  }
  if (f.timeout_seconds > 0) body["timeout_seconds"] = f.timeout_seconds;
  auto r = api->Call("POST", absl::StrCat("/v1/models/", f.name, rollback ? "/rollback" : "/deploy"),
                     "application/json", body.dump());
  if (!r.ok()) return Fail(1, std::string(r.status().message()));
  if (r->status != 200) return Fail(1, ErrorOf(*r));
  int ok = 0, not_ok = 0;
  bool done = false;
  for (absl::string_view line : absl::StrSplit(r->body, '\n', absl::SkipEmpty())) {
    const nlohmann::json e = nlohmann::json::parse(line, nullptr, false);
    if (!e.is_object()) continue;
    const std::string event = e.value("event", "");
    if (event == "start") {
      std::printf("%s %s version %lld as %s on %s: %zu node(s)\n", e.value("action", "").c_str(),
                  f.name.c_str(), static_cast<long long>(e.value("version", int64_t{0})),
                  e.value("variant", "").c_str(), e.value("target", "").c_str(),
                  e.contains("nodes") ? e["nodes"].size() : size_t{0});
    } else if (event == "result") {
      const nlohmann::json data = e.value("data", nlohmann::json::object());
      std::string detail = e.value("error", "");
      if (detail.empty() && data.is_object() && data.contains("devices")) {
        detail = absl::StrCat(data["devices"].dump(), ", ", data.value("downloaded_bytes", 0),
                              " bytes downloaded, ", data.value("seconds", 0.0), " s");
      }
      std::printf("  %-20s %-12s %s\n", e.value("node", "").c_str(), e.value("status", "").c_str(),
                  detail.c_str());
    } else if (event == "done") {
      done = true;
      ok = e.value("ok", 0);
      not_ok = e.value("not_ok", 0);
      std::printf("%d ok, %d not ok\n", ok, not_ok);
    }
  }
  if (!done) return Fail(1, "the server's answer ended before the run did");
  return not_ok == 0 && ok > 0 ? 0 : 1;
}

void AddCommon(CLI::App* cmd, Common& common) {
  cmd->add_option("--server", common.server, "The server's URL")->capture_default_str();
  cmd->add_option("--token", common.token,
                  "The admin token (changes) or viewer token; default $HETEROACCEL_TOKEN");
}

}  // namespace

void AddModelsCommand(CLI::App& app) {
  CLI::App* models =
      app.add_subcommand("models", "The server's model repository (docs/model-repository.md)");
  models->require_subcommand(1);
  auto common = std::make_shared<Common>();

  auto push = std::make_shared<PushFlags>();
  CLI::App* p = models->add_subcommand("push", "Upload an artifact as a new version of a model");
  AddCommon(p, *common);
  p->add_option("file", push->file, "The artifact")->required()->check(CLI::ExistingFile);
  p->add_option("--name", push->name, "The model's name ([a-z0-9][a-z0-9._-]*)")->required();
  p->add_option("--type", push->type, "Inference type (face, pose, ...)")->required();
  p->add_option("--variant", push->variant, "Variant name")->required();
  p->add_option("--format", push->format, "onnx, tflite, openvino, tensorrt, torchscript, other")
      ->capture_default_str();
  p->add_option("--accelerators", push->accelerators, "Device kinds it is built for: gpu,cpu");
  p->add_option("--precision", push->precision, "fp32, fp16, int8, ...");
  p->add_option("--accuracy", push->accuracy, "Figures: mAP=0.23,recall@0.5=0.91");
  p->add_option("--source", push->source, "Where it came from");
  p->add_option("--licence", push->licence, "SPDX id");
  p->add_option("--label", push->label, "A version label (1.0.0)");
  p->add_option("--notes", push->notes, "Free text");
  p->callback([common, push] { std::exit(Push(*common, *push)); });

  auto list = std::make_shared<std::array<std::string, 2>>();
  auto json = std::make_shared<bool>(false);
  CLI::App* l = models->add_subcommand("list", "The stored versions, newest first");
  AddCommon(l, *common);
  l->add_option("--name", (*list)[0], "Only this model");
  l->add_option("--type", (*list)[1], "Only this inference type");
  l->add_flag("--json", *json, "Print the server's JSON");
  l->callback([common, list, json] { std::exit(List(*common, (*list)[0], (*list)[1], *json)); });

  auto args = std::make_shared<std::array<std::string, 3>>();
  CLI::App* s = models->add_subcommand("show", "One model's versions and deployments");
  AddCommon(s, *common);
  s->add_option("name", (*args)[0], "The model")->required();
  s->callback([common, args] { std::exit(Show(*common, (*args)[0])); });

  CLI::App* g = models->add_subcommand("pull", "Download a version, checking its sha256");
  AddCommon(g, *common);
  g->add_option("name", (*args)[0], "The model")->required();
  g->add_option("ref", (*args)[1], "Version number, label or latest")->required();
  g->add_option("out", (*args)[2], "Where to write it")->required();
  g->callback([common, args] { std::exit(Pull(*common, (*args)[0], (*args)[1], (*args)[2])); });

  CLI::App* r = models->add_subcommand("rm", "Delete a version (refused while it is deployed)");
  AddCommon(r, *common);
  r->add_option("name", (*args)[0], "The model")->required();
  r->add_option("ref", (*args)[1], "Version number or label")->required();
  r->callback([common, args] { std::exit(Remove(*common, (*args)[0], (*args)[1])); });

  for (const bool rollback : {false, true}) {
    auto flags = std::make_shared<DeployFlags>();
    CLI::App* d = models->add_subcommand(
        rollback ? "rollback" : "deploy",
        rollback ? "Restore the version deployed before on a group or node"
                 : "Install a version on every node of a group (or one node) and serve it");
    AddCommon(d, *common);
    d->add_option("name", flags->name, "The model")->required();
    if (!rollback) {
      d->add_option("ref", flags->ref, "Version number, label or latest")->capture_default_str();
      d->add_option("--base", flags->base,
                    "The built-in variant whose code runs it (default: the type's default)");
      d->add_option("--replaces", flags->replaces,
                    "Which of the base variant's files it stands for (default: its last .onnx)");
    }
    d->add_option("--target", flags->target, "group/NAME or node/NAME")->required();
    d->add_flag("--serial", flags->serial, "One node at a time, stopping at the first failure");
    d->add_option("--timeout", flags->timeout_seconds, "Seconds each node may take");
    d->callback([common, flags, rollback] { std::exit(Deploy(*common, *flags, rollback)); });
  }
}

}  // namespace heteroaccel::cmd
