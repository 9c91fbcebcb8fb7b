// The model repository end to end: a real server with a state directory,
// `heteroaccel models push|list|pull|rm` against it with a real model file,
// ranged reads, a resumable upload's offsets, a wrong digest, names that try
// to escape, the tokens (admin, viewer-less reads, agents with the cluster
// token), the audit log, and the repository across a restart.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "http/client.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;
using Json = nlohmann::json;

constexpr const char* kAdmin = "repo-admin";
constexpr const char* kCluster = "repo-cluster";

std::string Sha256(const std::string& bytes) {
  unsigned char digest[32];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) absl::StrAppend(&hex, absl::Hex(digest[i], absl::kZeroPad2));
  return hex;
}

class RepositoryE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/heteroaccel_repo_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    model_path_ = ModelsDir() + "/face/blazeface_front_128.onnx";
    model_ = ReadFileOrDie(model_path_);
    StartServer();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void StartServer() {
    server_.reset();
    auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                "--cluster-token", kCluster, "--admin-token", kAdmin,
                                "--state-dir", dir_ + "/state"});
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    url_ = testing::WaitForListeningUrl(*server_);
    ASSERT_FALSE(url_.empty()) << server_->Output();
  }

  http::ClientResponse Call(const std::string& method, const std::string& path,
                            const std::string& token = kAdmin, const std::string& body = "",
                            http::HeaderList headers = {}) {
    auto c = http::Client::Create(url_);
    EXPECT_TRUE(c.ok());
    if (!token.empty()) headers.emplace_back("Authorization", absl::StrCat("Bearer ", token));
    auto r = (*c)->Send(method, path, body.empty() ? "" : "application/json", body, headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : http::ClientResponse{};
  }

  // Runs `heteroaccel models ARGS --server URL --token admin`; its exit status.
  int Cli(std::vector<std::string> args, std::string* output = nullptr) {
    std::vector<std::string> argv = {HeteroaccelBinary(), "models"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--server", url_, "--token", kAdmin});
    auto p = Subprocess::Start(argv);
    EXPECT_TRUE(p.ok());
    const int status = (*p)->Stop(0, std::chrono::seconds(60));
    (*p)->WaitForLine("\x01 (to the end of its output)", std::chrono::seconds(5));
    if (output != nullptr) *output = (*p)->Output();
    return status;
  }

  static void ExpectJsonError(const http::ClientResponse& r, int status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    const Json body = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_NE(body.value("error", "").find(words), std::string::npos) << r.body;
  }

  std::string dir_, url_, model_path_, model_;
  std::unique_ptr<Subprocess> server_;
};

TEST_F(RepositoryE2ETest, PushListPullRangesRestartAndDelete) {
  std::string out;
  ASSERT_EQ(Cli({"push", model_path_, "--name", "blazeface", "--type", "face", "--variant",
                 "blazeface-front-128", "--accelerators", "cpu,gpu", "--precision", "fp32",
                 "--accuracy", "ap=0.9", "--licence", "Apache-2.0", "--label", "1.0.0"},
                &out),
            0)
      << out;
  const std::string sha = Sha256(model_);
  EXPECT_NE(out.find(sha), std::string::npos) << out;

  // Listed with what was pushed, the digest computed by the server.
  Json list = Json::parse(Call("GET", "/v1/models?type=face").body, nullptr, false);
  ASSERT_EQ(list["versions"].size(), 1u) << list.dump();
  const Json& v = list["versions"][0];
  EXPECT_EQ(v["sha256"], sha);
  EXPECT_EQ(v["size"], model_.size());
  EXPECT_EQ(v["version"], 1);
  EXPECT_EQ(v["metadata"]["variant"], "blazeface-front-128");
  EXPECT_EQ(v["metadata"]["label"], "1.0.0");
  EXPECT_EQ(list["usage"]["total_bytes"], model_.size());

  // Pulled back whole (by ranges, checked by the CLI), equal byte for byte.
  const std::string pulled = dir_ + "/pulled.onnx";
  ASSERT_EQ(Cli({"pull", "blazeface", "1.0.0", pulled}, &out), 0) << out;
  EXPECT_EQ(ReadFileOrDie(pulled), model_);

  // Ranges: a middle slice, a suffix, one past the end (416, valid JSON).
  const std::string blob = "/v1/models/blazeface/versions/latest/blob";
  http::ClientResponse r = Call("GET", blob, kAdmin, "", {{"Range", "bytes=100-199"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, model_.substr(100, 100));
  EXPECT_EQ(r.Header("content-range"), absl::StrCat("bytes 100-199/", model_.size()));
  r = Call("GET", blob, kAdmin, "", {{"Range", "bytes=-10"}});
  EXPECT_EQ(r.body, model_.substr(model_.size() - 10));
  ExpectJsonError(Call("GET", blob, kAdmin, "", {{"Range", absl::StrCat("bytes=", model_.size(), "-")}}),
                  416, "Range must be");
  // The whole artifact without a range (it is small), with its digest.
  r = Call("GET", blob);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("x-content-sha256"), sha);
  EXPECT_EQ(Sha256(r.body), sha);

  // Agents read with the cluster token; it grants no change.
  EXPECT_EQ(Call("GET", blob, kCluster, "", {{"Range", "bytes=0-9"}}).status, 206);
  EXPECT_EQ(Call("DELETE", "/v1/models/blazeface/versions/1", kCluster).status, 401);
  EXPECT_EQ(Call("POST", "/v1/models/x/uploads", "", R"({"metadata":{}})").status, 401);

  // The change is audited, by who.
  const Json audit = Json::parse(Call("GET", "/v1/audit?limit=10").body, nullptr, false);
  bool stored = false;
  for (const Json& e : audit["audit"]) {
    if (e.is_object() && e.value("action", "") == "model" &&
        e.value("comment", "").find("stored model blazeface version 1") != std::string::npos) {
      stored = true;
    }
  }
  EXPECT_TRUE(stored) << audit.dump();

  // A restart keeps the repository.
  server_->Stop(SIGTERM, std::chrono::seconds(10));
  StartServer();
  r = Call("GET", blob, kAdmin, "", {{"Range", "bytes=0-63"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, model_.substr(0, 64));

  // Deleted: gone from the list and the disk's accounting.
  ASSERT_EQ(Cli({"rm", "blazeface", "1"}, &out), 0) << out;
  list = Json::parse(Call("GET", "/v1/models").body, nullptr, false);
  EXPECT_TRUE(list["versions"].empty()) << list.dump();
  EXPECT_EQ(list["usage"]["total_bytes"], 0);
  ExpectJsonError(Call("GET", blob), 404, "blazeface");
}

TEST_F(RepositoryE2ETest, UploadsCheckOffsetsDigestsNamesAndFields) {
  const Json metadata = {{"type", "face"}, {"variant", "v"}, {"format", "onnx"}};
  auto open = [&](const std::string& name, const Json& extra) {
    Json body = {{"metadata", metadata}};
    if (extra.is_object()) body.update(extra);
    return Call("POST", absl::StrCat("/v1/models/", name, "/uploads"), kAdmin, body.dump());
  };

  // A chunk at the wrong offset: 409 naming the offset to resume from.
  http::ClientResponse r = open("m", {{"size", 6}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string location = Json::parse(r.body)["location"];
  EXPECT_EQ(Call("PUT", location + "?offset=0", kAdmin, "abc").status, 200);
  r = Call("PUT", location + "?offset=0", kAdmin, "abc");
  ExpectJsonError(r, 409, "send from offset 3");
  EXPECT_EQ(r.Header("upload-offset"), "3");
  EXPECT_EQ(Json::parse(Call("GET", location).body)["offset"], 3);
  ExpectJsonError(Call("PUT", location, kAdmin, "def"), 400, "offset=N is required");
  // More than declared: refused, and the upload is gone.
  ExpectJsonError(Call("PUT", location + "?offset=3", kAdmin, "defg"), 400, "");
  ExpectJsonError(Call("PUT", location + "?offset=3", kAdmin, "def"), 404, "no upload");

  // A wrong digest: 400 naming both, nothing stored.
  r = open("m", {{"sha256", std::string(64, 'a')}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string second = Json::parse(r.body)["location"];
  EXPECT_EQ(Call("PUT", second + "?offset=0", kAdmin, "hello").status, 200);
  ExpectJsonError(Call("POST", second + "/commit"), 400, "sha256 mismatch");
  EXPECT_TRUE(Json::parse(Call("GET", "/v1/models").body)["versions"].empty());

  // Aborted uploads are gone.
  r = open("m", {});
  const std::string third = Json::parse(r.body)["location"];
  EXPECT_EQ(Call("DELETE", third).status, 204);
  EXPECT_EQ(Call("GET", third).status, 404);

  // Names that try to escape, bad fields, bad JSON: 400 with what to fix.
  ExpectJsonError(open("..", {}), 400, "model name");
  ExpectJsonError(open("..%2F..%2Fetc", {}), 400, "model name");
  ExpectJsonError(open("Upper", {}), 400, "model name");
  ExpectJsonError(open("m", {{"sizes", 1}}), 400, "unknown field \"sizes\"");
  ExpectJsonError(open("m", {{"sha256", "xyz"}}), 400, "sha256");
  ExpectJsonError(Call("POST", "/v1/models/m/uploads", kAdmin, "{not json"), 400, "JSON object");
  ExpectJsonError(Call("POST", "/v1/models/m/uploads", kAdmin, R"({"metadata": {"type": "face"}})"),
                  400, "");
  ExpectJsonError(Call("GET", "/v1/models/m/versions/7"), 404, "");
  ExpectJsonError(Call("GET", "/v1/deployments?target=cluster/x"), 400, "");
  // The server still answers.
  EXPECT_EQ(Call("GET", "/v2/health/live").status, 200);
}

}  // namespace
}  // namespace heteroaccel
