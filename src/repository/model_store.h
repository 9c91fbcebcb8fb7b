// ModelStore: the server's model repository. Model artifacts (ONNX, TFLite,
// ... files) are kept content-addressed by their SHA-256 under a root
// directory, with versions and metadata in SQLite, and a `deployments` table
// saying which version is meant for (or installed on) which node group or node.
//
// Layout of a root directory (docs/model-repository.md):
//   <root>/.lock                     flock: one process owns a root at a time
//   <root>/repository.db             SQLite (WAL): blobs, models, versions,
//                                    deployments
//   <root>/blobs/sha256/<hex>        one file per distinct content; <hex> is the
//                                    digest the store computed itself (64
//                                    lowercase hex digits); no input ever
//                                    becomes part of a path
//   <root>/blobs/sha256/.upload-*    uploads in progress (removed by Open)
//
// Versions: each model name has versions 1, 2, 3, ... assigned in commit
// order; a number is never reused, even after its version was deleted. A
// version may also carry a label ("1.2.0", "2024-05-rc1"), unique per model,
// which Resolve accepts in place of the number.
//
// Uploads are streamed: BeginUpload -> Append ... -> Commit. Bytes go to a
// temporary file beside the blobs while the SHA-256 is computed; Commit checks
// the size and the expected hash, fsyncs the file, renames it to its digest
// (unless that content is already stored: identical content is kept once) and
// then records the version. An upload dropped without Commit (Abort, the
// destructor, an error, or a crash of the process) leaves nothing behind: its
// temporary file is removed at once or by the next Open. After a crash between
// the rename and the database commit, the blob has no row and Open removes it.
//
// Deployments: per target (a group or a node) and model, at most one version
// is kDeployed; marking another deployed retires the one before. PreviousVersion
// is the version deployed there before the current one: what a rollback
// restores. A version that is pending or deployed anywhere cannot be deleted.
//
// Quotas: an artifact is at most max_artifact_bytes; all stored blobs together
// at most max_total_bytes (ResourceExhausted naming the limit). An upload must
// fit in the free space while it arrives, even if it turns out to be a copy of
// stored content.
//
// Time: created_ms and updated_ms are wall-clock milliseconds: the system
// clock read once at Open, advanced by the injected Clock since then (so tests
// with a FakeClock see exact differences).
//
// Ownership and threading: Open returns the owner. Every ModelStore method is
// thread-safe (one mutex around the database, the blob directory's renames and
// removals, and the byte accounting). An Upload belongs to one thread at a
// time; Append writes its temporary file without the store's lock, Commit takes
// it. Every Upload must be destroyed before its store. A Blob is an open file
// descriptor: it stays readable even if its version is deleted meanwhile.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/device_kind.h"

struct sqlite3;

namespace heteroaccel::repository {

struct Options {
  std::string root_dir;                      // created if missing
  uint64_t max_artifact_bytes = 4ull << 30;  // one artifact
  uint64_t max_total_bytes = 64ull << 30;    // all blobs together
};

// Bounds on metadata (each over its bound is InvalidArgument).
inline constexpr size_t kMaxNameBytes = 64;
inline constexpr size_t kMaxLabelBytes = 64;
inline constexpr size_t kMaxWhoBytes = 128;
inline constexpr size_t kMaxSourceBytes = 1024;
inline constexpr size_t kMaxLicenceBytes = 128;
inline constexpr size_t kMaxNotesBytes = 4096;
inline constexpr size_t kMaxAccuracyFigures = 16;
inline constexpr size_t kMaxDetailBytes = 1024;

// The one check for model, inference type, variant and target names:
// [a-z0-9][a-z0-9._-]{0,63} without "..". `what` names the field in the
// message ("model name"), which says what is allowed.
absl::Status ValidateName(std::string_view what, std::string_view name);
// 64 lowercase hex digits.
absl::Status ValidateSha256(std::string_view hex);

// What is known about one version's artifact.
struct ModelMetadata {
  std::string type;                        // inference type ("face"); a name
  std::string variant;                     // a name; the cluster's variant key is "type/variant"
  std::vector<DeviceKind> accelerators;    // kinds it is built for; empty: any
  std::string precision;                   // "", or [a-z0-9]{1,16}: "fp32", "fp16", "int8", ...
  std::map<std::string, double> accuracy;  // metric ([A-Za-z0-9@._-]{1,32}) -> finite value
  std::string source;                      // where it came from (URL, package@version, ...)
  std::string licence;                     // SPDX id or text
  std::string format;  // "onnx", "tflite", "openvino", "tensorrt", "torchscript" or "other"
  std::string notes;   // free text
  std::string label;   // optional version label: "" or [A-Za-z0-9][A-Za-z0-9.+_-]{0,63}
};

// InvalidArgument naming the first field that is wrong and what it allows.
absl::Status ValidateMetadata(const ModelMetadata& metadata);

// The API's metadata object, the one reader of it (the HTTP layer's upload
// route): {"type", "variant", "accelerators": ["gpu", ...], "precision",
// "accuracy": {"mAP": 0.23}, "source", "licence", "format", "notes",
// "label"}; type, variant and format are required. Unknown fields are
// InvalidArgument (a misspelt field is not silently dropped). Validated.
absl::StatusOr<ModelMetadata> ParseMetadata(const nlohmann::json& json);
nlohmann::json ToJson(const ModelMetadata& metadata);

struct ModelVersion {
  std::string name;
  int64_t version = 0;
  std::string sha256;
  uint64_t size = 0;
  int64_t created_ms = 0;
  std::string who;
  ModelMetadata metadata;
};

// {"name", "version", "sha256", "size", "created_ms", "who", "metadata": {...}}
nlohmann::json ToJson(const ModelVersion& version);

struct UploadRequest {
  std::string name;  // the model's name
  std::string who;   // who uploads (the audit's who), at most kMaxWhoBytes
  ModelMetadata metadata;
  std::optional<std::string> expected_sha256;  // checked at Commit when given
  std::optional<uint64_t> declared_size;       // Content-Length; exact when given
};

class ModelStore;

// One streamed upload. Not thread-safe (one thread at a time); see the store's
// header paragraph. Any failed Append or Commit aborts the upload (its
// temporary file is removed); later calls are FailedPrecondition.
class Upload {
 public:
  ~Upload();  // aborts unless committed
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // ResourceExhausted past max_artifact_bytes or the free space;
  // InvalidArgument past declared_size; Unavailable when the disk fails.
  absl::Status Append(std::string_view bytes);
  // Verifies and stores. InvalidArgument for a hash mismatch (naming both
  // hashes) or a size other than the declared one; AlreadyExists for a label
  // the model already has; ResourceExhausted when the content no longer fits.
  absl::StatusOr<ModelVersion> Commit();
  // Removes the temporary file. Idempotent.
  void Abort();

  uint64_t bytes_received() const { return received_; }

 private:
  friend class ModelStore;
  struct Hasher;
  Upload(ModelStore& store, UploadRequest request, int fd, std::string temp_path);

  ModelStore& store_;
  const UploadRequest request_;
  int fd_;
  std::string temp_path_;
  std::unique_ptr<Hasher> hasher_;
  uint64_t received_ = 0;
  bool finished_ = false;
};

// A stored artifact opened for reading (downloads, with ranges). Movable;
// closes its descriptor.
class Blob {
 public:
  Blob(int fd, uint64_t size, std::string sha256)
      : fd_(fd), size_(size), sha256_(std::move(sha256)) {}
  ~Blob();
  Blob(Blob&& other) noexcept;
  Blob& operator=(Blob&& other) noexcept;
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;

  int fd() const { return fd_; }  // for sendfile/pread; owned by the Blob
  uint64_t size() const { return size_; }
  const std::string& sha256() const { return sha256_; }
  // Up to max_bytes from offset (fewer at the end). OutOfRange for an offset
  // past the end (offset == size gives ""); DataLoss when the file is shorter
  // than recorded.
  absl::StatusOr<std::string> ReadAt(uint64_t offset, size_t max_bytes) const;

 private:
  int fd_;
  uint64_t size_;
  std::string sha256_;
};

struct ListFilter {
  std::string name;  // "" = any; likewise type
  std::string type;
};

enum class TargetKind { kGroup, kNode };
struct DeploymentTarget {
  TargetKind kind = TargetKind::kGroup;
  std::string name;  // a name (ValidateName)

  std::string ToString() const;  // "group/<name>" or "node/<name>"
  // InvalidArgument unless "group/<name>" or "node/<name>" with a valid name.
  static absl::StatusOr<DeploymentTarget> Parse(std::string_view text);
  friend bool operator==(const DeploymentTarget&, const DeploymentTarget&) = default;
};

enum class DeploymentState {
  kPending,   // asked for; agents installing (blocks Delete)
  kDeployed,  // installed and loaded (blocks Delete); one per target and model
  kFailed,    // an agent reported failure (detail says why)
  kRetired,   // was deployed; another version replaced it
};
std::string_view StateName(DeploymentState state);  // "pending", "deployed", ...
absl::StatusOr<DeploymentState> ParseState(std::string_view name);

struct Deployment {
  DeploymentTarget target;
  std::string name;
  int64_t version = 0;
  DeploymentState state = DeploymentState::kPending;
  int64_t updated_ms = 0;
  std::string detail;  // why it failed, or what an agent reported
};
// {"target": "group/x", "name", "version", "state", "updated_ms", "detail"}
nlohmann::json ToJson(const Deployment& deployment);

struct Usage {
  uint64_t total_bytes = 0;  // all blobs
  uint64_t max_total_bytes = 0;
  uint64_t blobs = 0;
  uint64_t versions = 0;
  uint64_t uploads_in_progress = 0;
};

// What Open found and repaired.
struct Recovery {
  uint64_t temp_files_removed = 0;         // uploads a crash interrupted
  uint64_t orphan_blobs_removed = 0;       // blob files no version row references
  std::vector<std::string> missing_blobs;  // rows whose file is gone or has the wrong size
};

class ModelStore {
 public:
  // Creates the layout if needed, takes the root's lock, opens the database,
  // removes temporary files and orphan blobs. Unavailable naming the path when
  // something cannot be created or opened; FailedPrecondition when another
  // process holds the root; InvalidArgument for zero limits.
  static absl::StatusOr<std::unique_ptr<ModelStore>> Open(Options options, Clock& clock);
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  // Validates the name, metadata and who, and opens the temporary file.
  // ResourceExhausted when declared_size is over a limit.
  absl::StatusOr<std::unique_ptr<Upload>> BeginUpload(UploadRequest request);

  // Newest version first within each name; names in order.
  absl::StatusOr<std::vector<ModelVersion>> List(const ListFilter& filter);
  // `version` omitted: the latest. NotFound naming the model (and version).
  absl::StatusOr<ModelVersion> Get(std::string_view name, std::optional<int64_t> version);
  // `ref`: "" or "latest", a version number, or a label.
  absl::StatusOr<ModelVersion> Resolve(std::string_view name, std::string_view ref);
  // NotFound when no version references the digest; DataLoss when its file is
  // missing.
  absl::StatusOr<Blob> OpenBlob(std::string_view sha256);
  // FailedPrecondition naming the targets where it is pending or deployed.
  // Removes its deployment history and, when no other version references it,
  // its blob.
  absl::Status Delete(std::string_view name, int64_t version);

  // NotFound for an unknown version. Deployed retires the target's previous
  // deployed version of the model.
  absl::Status SetDeployment(const DeploymentTarget& target, std::string_view name, int64_t version,
                             DeploymentState state, std::string_view detail = "");
  // Filtered by target and/or model name when given; by target, name, version.
  absl::StatusOr<std::vector<Deployment>> Deployments(const std::optional<DeploymentTarget>& target,
                                                      std::string_view name = "");
  // The version deployed on `target` before the current deployed one (or the
  // newest formerly deployed one when none is deployed now), if it still
  // exists. NotFound saying so otherwise.
  absl::StatusOr<int64_t> PreviousVersion(const DeploymentTarget& target, std::string_view name);

  Usage usage();
  const Recovery& recovery() const { return recovery_; }
  const Options& options() const { return options_; }

 private:
  friend class Upload;
  ModelStore(Options options, Clock& clock, sqlite3* db, int lock_fd, std::string blob_dir);

  int64_t NowMs() const;
  std::string BlobPath(std::string_view sha256) const;  // sha256 already validated
  // Space an upload of `bytes` would need beyond what is stored.
  absl::Status CheckFits(uint64_t bytes);
  absl::StatusOr<ModelVersion> CommitUpload(const UploadRequest& request, const std::string& temp,
                                            const std::string& sha256, uint64_t size);
  absl::StatusOr<ModelVersion> InsertVersionLocked(const UploadRequest& request,
                                                   const std::string& sha256, uint64_t size,
                                                   bool new_blob)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RecoverLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UploadEnded();

  const Options options_;
  Clock& clock_;
  const Clock::TimePoint opened_at_;
  const int64_t opened_at_ms_;
  const int lock_fd_;
  const std::string blob_dir_;

  std::mutex mu_;
  sqlite3* const db_;  // guarded by mu_
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t uploads_ ABSL_GUARDED_BY(mu_) = 0;
  Recovery recovery_;  // written by Open only
};

}  // namespace heteroaccel::repository
