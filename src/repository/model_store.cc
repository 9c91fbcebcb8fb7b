#include "repository/model_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "repository/files.h"
#include "repository/internal/metadata.h"
#include "repository/internal/sqlite.h"
#include "repository/internal/strings.h"

namespace heteroaccel::repository {
namespace {

using internal::Statement;
using internal::Sv;
using internal::Transaction;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS blobs (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY,
  next_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  label TEXT,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  who TEXT NOT NULL,
  type TEXT NOT NULL,
  variant TEXT NOT NULL,
  accelerators TEXT NOT NULL,
  precision TEXT NOT NULL,
  accuracy TEXT NOT NULL,
  source TEXT NOT NULL,
  licence TEXT NOT NULL,
  format TEXT NOT NULL,
  notes TEXT NOT NULL,
  PRIMARY KEY (name, version));
CREATE UNIQUE INDEX IF NOT EXISTS versions_label ON versions(name, label) WHERE label IS NOT NULL;
CREATE INDEX IF NOT EXISTS versions_sha256 ON versions(sha256);
CREATE INDEX IF NOT EXISTS versions_type ON versions(type, name, version);
CREATE TABLE IF NOT EXISTS deployments (
  target TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  detail TEXT NOT NULL,
  deployed_seq INTEGER,
  PRIMARY KEY (target, name, version));
)sql";

constexpr const char* kVersionColumns =
    "name, version, label, sha256, size, created_ms, who, type, variant, accelerators, precision, "
    "accuracy, source, licence, format, notes";
constexpr std::string_view kTempPrefix = ".upload-";

ModelVersion ReadVersion(const Statement& s) {
  ModelVersion v;
  v.name = s.Text(0);
  v.version = s.Int(1);
  v.metadata.label = s.Text(2);
  v.sha256 = s.Text(3);
  v.size = static_cast<uint64_t>(s.Int(4));
  v.created_ms = s.Int(5);
  v.who = s.Text(6);
  v.metadata.type = s.Text(7);
  v.metadata.variant = s.Text(8);
  v.metadata.accelerators = internal::ParseAcceleratorsText(s.Text(9));
  v.metadata.precision = s.Text(10);
  v.metadata.accuracy = internal::ParseAccuracyText(s.Text(11));
  v.metadata.source = s.Text(12);
  v.metadata.licence = s.Text(13);
  v.metadata.format = s.Text(14);
  v.metadata.notes = s.Text(15);
  return v;
}

absl::Status CheckWho(std::string_view who) {
  bool ok = who.size() <= kMaxWhoBytes;
  for (char c : who) ok = ok && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("who must be at most ", kMaxWhoBytes, " bytes without control characters"));
}

absl::Status CheckDetail(std::string_view detail) {
  bool ok = detail.size() <= kMaxDetailBytes;
  for (char c : detail)
    ok = ok && (static_cast<unsigned char>(c) >= 0x20 || c == '\n') && c != 0x7f;
  if (ok && nlohmann::json::accept(absl::StrCat("\"", Sv(detail), "\""))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("deployment detail must be at most ", kMaxDetailBytes,
                   " bytes of UTF-8 text without control characters other than newline"));
}

std::string Describe(std::string_view name, int64_t version) {
  return absl::StrCat("model \"", Sv(name), "\" version ", version);
}

}  // namespace

// ---------------------------------------------------------------------------
// Upload

struct Upload::Hasher {
  Sha256 sha256;
  void Update(std::string_view bytes) { sha256.Update(bytes); }
  std::string HexDigest() { return sha256.HexDigest(); }
};

Upload::Upload(ModelStore& store, UploadRequest request, int fd, std::string temp_path)
    : store_(store),
      request_(std::move(request)),
      fd_(fd),
      temp_path_(std::move(temp_path)),
      hasher_(std::make_unique<Hasher>()) {}

Upload::~Upload() { Abort(); }

void Upload::Abort() {
  if (finished_) return;
  finished_ = true;
  CloseFd(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
  store_.UploadEnded();
}

absl::Status Upload::Append(std::string_view bytes) {
  if (finished_) return absl::FailedPreconditionError("this upload has already ended");
  const uint64_t total = received_ + bytes.size();
  absl::Status s;
  if (total > store_.options_.max_artifact_bytes) {
    s = absl::ResourceExhaustedError(absl::StrCat("the model artifact is over max_artifact_bytes (",
                                                  store_.options_.max_artifact_bytes, " bytes)"));
  } else if (request_.declared_size && total > *request_.declared_size) {
    s = absl::InvalidArgumentError(absl::StrCat("the upload sent more than its declared size of ",
                                                *request_.declared_size, " bytes"));
  } else {
    s = store_.CheckFits(total);
  }
  if (s.ok()) s = WriteAll(fd_, bytes, temp_path_);
  if (!s.ok()) {
    Abort();
    return s;
  }
  hasher_->Update(bytes);
  received_ = total;
  return absl::OkStatus();
}

absl::StatusOr<ModelVersion> Upload::Commit() {
  if (finished_) return absl::FailedPreconditionError("this upload has already ended");
  const std::string sha256 = hasher_->HexDigest();
  absl::Status s;
  if (request_.declared_size && received_ != *request_.declared_size) {
    s = absl::InvalidArgumentError(absl::StrCat("the upload ended after ", received_,
                                                " bytes; its declared size is ",
                                                *request_.declared_size));
  } else if (request_.expected_sha256 && *request_.expected_sha256 != sha256) {
    s = absl::InvalidArgumentError(absl::StrCat("sha256 mismatch: expected ",
                                                *request_.expected_sha256, ", the upload's is ",
                                                sha256, "; nothing was stored"));
  } else {
    s = FsyncFd(fd_, temp_path_);
  }
  if (!s.ok()) {
    Abort();
    return s;
  }
  CloseFd(fd_);
  fd_ = -1;
  // CommitUpload renames the temporary file or removes it, whatever happens.
  absl::StatusOr<ModelVersion> version =
      store_.CommitUpload(request_, temp_path_, sha256, received_);
  finished_ = true;
  store_.UploadEnded();
  return version;
}

// ---------------------------------------------------------------------------
// Blob

Blob::~Blob() { CloseFd(fd_); }

Blob::Blob(Blob&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), sha256_(std::move(other.sha256_)) {}

Blob& Blob::operator=(Blob&& other) noexcept {
  if (this != &other) {
    CloseFd(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    sha256_ = std::move(other.sha256_);
  }
  return *this;
}

absl::StatusOr<std::string> Blob::ReadAt(uint64_t offset, size_t max_bytes) const {
  if (offset > size_) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is past the end of the artifact (", size_, " bytes)"));
  }
  const size_t length = static_cast<size_t>(std::min<uint64_t>(max_bytes, size_ - offset));
  ASSIGN_OR_RETURN(std::string bytes, repository::ReadAt(fd_, offset, length));
  if (bytes.size() != length) {
    return absl::DataLossError(
        absl::StrCat("blob ", sha256_, " is shorter than its recorded ", size_, " bytes"));
  }
  return bytes;
}

// ---------------------------------------------------------------------------
// ModelStore: opening and recovery

absl::StatusOr<std::unique_ptr<ModelStore>> ModelStore::Open(Options options, Clock& clock) {
  if (options.root_dir.empty()) {
    return absl::InvalidArgumentError("the model repository needs a root directory");
  }
  if (options.max_artifact_bytes == 0 || options.max_total_bytes == 0) {
    return absl::InvalidArgumentError(
        "the model repository's max_artifact_bytes and max_total_bytes must be above 0");
  }
  const std::string blob_dir = options.root_dir + "/blobs/sha256";
  RETURN_IF_ERROR(MakeDirs(blob_dir));
  const std::string lock_path = options.root_dir + "/.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return ErrnoError("opening", lock_path, errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("the model repository ", options.root_dir,
                                                        " is in use by another store or process"));
    }
    return ErrnoError("locking", lock_path, err);
  }
  const std::string db_path = options.root_dir + "/repository.db";
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    ::close(lock_fd);
    return absl::UnavailableError(absl::StrCat("cannot open ", db_path, ": ", why));
  }
  // synchronous=FULL: a version Commit reported stays after a power cut.
  absl::Status s = internal::Exec(
      db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
  if (s.ok()) s = internal::Exec(db, kSchema);
  if (!s.ok()) {
    sqlite3_close(db);
    ::close(lock_fd);
    return absl::UnavailableError(absl::StrCat("cannot set up ", db_path, ": ", s.message()));
  }
  std::unique_ptr<ModelStore> store(
      new ModelStore(std::move(options), clock, db, lock_fd, blob_dir));
  {
    std::lock_guard<std::mutex> lock(store->mu_);
    RETURN_IF_ERROR(store->RecoverLocked());
  }
  return store;
}

ModelStore::ModelStore(Options options, Clock& clock, sqlite3* db, int lock_fd,
                       std::string blob_dir)
    : options_(std::move(options)),
      clock_(clock),
      opened_at_(clock.Now()),
      opened_at_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count()),
      lock_fd_(lock_fd),
      blob_dir_(std::move(blob_dir)),
      db_(db) {}

ModelStore::~ModelStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (uploads_ > 0) {
      spdlog::error("model repository closed with {} uploads still open", uploads_);
    }
  }
  sqlite3_close(db_);
  ::close(lock_fd_);  // releases the flock
}

absl::Status ModelStore::RecoverLocked() {
  std::set<std::string> known;
  {
    Statement s(db_, "SELECT sha256, size FROM blobs");
    RETURN_IF_ERROR(s.status());
    while (s.Step() == SQLITE_ROW) {
      const std::string sha256 = s.Text(0);
      const auto size = static_cast<uint64_t>(s.Int(1));
      known.insert(sha256);
      total_bytes_ += size;
      absl::StatusOr<uint64_t> on_disk = FileSize(BlobPath(sha256));
      if (!on_disk.ok() || *on_disk != size) {
        spdlog::error("model repository: blob {} is {}", sha256,
                      on_disk.ok() ? "not of its recorded size" : "missing");
        recovery_.missing_blobs.push_back(sha256);
      }
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListFiles(blob_dir_));
  for (const std::string& file : files) {
    const bool temp = file.compare(0, kTempPrefix.size(), kTempPrefix) == 0;
    const bool orphan = !temp && ValidateSha256(file).ok() && known.count(file) == 0;
    if (!temp && !orphan) continue;  // not the store's: left alone
    if (::unlink((blob_dir_ + "/" + file).c_str()) != 0) continue;
    ++(temp ? recovery_.temp_files_removed : recovery_.orphan_blobs_removed);
  }
  if (recovery_.temp_files_removed + recovery_.orphan_blobs_removed > 0) {
    spdlog::info("model repository: removed {} interrupted uploads and {} unreferenced blobs",
                 recovery_.temp_files_removed, recovery_.orphan_blobs_removed);
    RETURN_IF_ERROR(FsyncDir(blob_dir_));
  }
  return absl::OkStatus();
}

int64_t ModelStore::NowMs() const {
  return opened_at_ms_ +
         std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - opened_at_).count();
}

std::string ModelStore::BlobPath(std::string_view sha256) const {
  return absl::StrCat(blob_dir_, "/", Sv(sha256));
}

absl::Status ModelStore::CheckFits(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_bytes_ + bytes <= options_.max_total_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("the model repository is full: ", total_bytes_, " bytes stored, ", bytes,
                   " more would pass max_total_bytes (", options_.max_total_bytes,
                   " bytes); delete unused versions"));
}

void ModelStore::UploadEnded() {
  std::lock_guard<std::mutex> lock(mu_);
  --uploads_;
}

// ---------------------------------------------------------------------------
// Writing

absl::StatusOr<std::unique_ptr<Upload>> ModelStore::BeginUpload(UploadRequest request) {
  RETURN_IF_ERROR(ValidateName("model name", request.name));
  RETURN_IF_ERROR(ValidateMetadata(request.metadata));
  RETURN_IF_ERROR(CheckWho(request.who));
  if (request.expected_sha256) RETURN_IF_ERROR(ValidateSha256(*request.expected_sha256));
  if (request.declared_size) {
    if (*request.declared_size > options_.max_artifact_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the model artifact's ", *request.declared_size,
                       " bytes are over max_artifact_bytes (", options_.max_artifact_bytes, ")"));
    }
    RETURN_IF_ERROR(CheckFits(*request.declared_size));
  }
  std::lock_guard<std::mutex> lock(mu_);  // see CommitUpload: temp names are made under mu_
  std::string temp = absl::StrCat(blob_dir_, "/", Sv(kTempPrefix), "XXXXXX");
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoError("creating a temporary file in", blob_dir_, errno);
  ::fchmod(fd, 0644);
  ++uploads_;
  return std::unique_ptr<Upload>(new Upload(*this, std::move(request), fd, std::move(temp)));
}

absl::StatusOr<ModelVersion> ModelStore::CommitUpload(const UploadRequest& request,
                                                      const std::string& temp,
                                                      const std::string& sha256, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  // Runs before the lock is released, so mkostemp cannot have reused the name.
  struct RemoveTemp {
    const std::string& path;
    ~RemoveTemp() { ::unlink(path.c_str()); }
  } remove_temp{temp};

  Transaction tx(db_);
  RETURN_IF_ERROR(tx.status());
  const std::string& label = request.metadata.label;
  if (!label.empty()) {
    Statement s(db_, "SELECT version FROM versions WHERE name = ?1 AND label = ?2");
    RETURN_IF_ERROR(s.status());
    s.Bind(1, request.name).Bind(2, label);
    if (s.Step() == SQLITE_ROW) {
      return absl::AlreadyExistsError(absl::StrCat("model \"", request.name,
                                                   "\" already has label \"", label, "\" (version ",
                                                   s.Int(0), ")"));
    }
  }
  const std::string path = BlobPath(sha256);
  bool recorded = false;
  {
    Statement s(db_, "SELECT size FROM blobs WHERE sha256 = ?1");
    RETURN_IF_ERROR(s.status());
    recorded = s.Bind(1, sha256).Step() == SQLITE_ROW;
  }
  // A recorded blob whose file is missing or damaged is repaired by this copy.
  const absl::StatusOr<uint64_t> on_disk = FileSize(path);
  const bool intact = recorded && on_disk.ok() && *on_disk == size;
  bool new_file = false;
  if (!intact) {
    if (!recorded && total_bytes_ + size > options_.max_total_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the model repository is full: ", total_bytes_, " bytes stored, ", size,
                       " more would pass max_total_bytes (", options_.max_total_bytes, " bytes)"));
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      return ErrnoError("storing the blob", path, errno);
    }
    new_file = !recorded;
    RETURN_IF_ERROR(FsyncDir(blob_dir_));
  }
  absl::StatusOr<ModelVersion> version = InsertVersionLocked(request, sha256, size, !recorded);
  if (version.ok()) {
    absl::Status committed = tx.Commit();
    if (!committed.ok()) version = committed;
  }
  if (!version.ok()) {
    if (new_file) ::unlink(path.c_str());
    return version.status();
  }
  if (!recorded) total_bytes_ += size;
  return version;
}

absl::StatusOr<ModelVersion> ModelStore::InsertVersionLocked(const UploadRequest& request,
                                                             const std::string& sha256,
                                                             uint64_t size, bool new_blob) {
  ModelVersion v;
  v.name = request.name;
  v.sha256 = sha256;
  v.size = size;
  v.created_ms = NowMs();
  v.who = request.who;
  v.metadata = request.metadata;
  if (new_blob) {
    Statement s(db_, "INSERT INTO blobs (sha256, size, created_ms) VALUES (?1, ?2, ?3)");
    RETURN_IF_ERROR(s.status());
    s.Bind(1, sha256).Bind(2, static_cast<int64_t>(size)).Bind(3, v.created_ms);
    RETURN_IF_ERROR(s.Run("recording a blob"));
  }
  {
    Statement s(db_,
                "INSERT INTO models (name, next_version) VALUES (?1, 2) ON CONFLICT(name) DO "
                "UPDATE SET next_version = next_version + 1 RETURNING next_version - 1");
    RETURN_IF_ERROR(s.status());
    if (s.Bind(1, v.name).Step() != SQLITE_ROW)
      return internal::DbError(db_, "numbering a version");
    v.version = s.Int(0);
  }
  Statement s(db_, absl::StrCat("INSERT INTO versions (", kVersionColumns,
                                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                                "?14, ?15, ?16)")
                       .c_str());
  RETURN_IF_ERROR(s.status());
  const ModelMetadata& m = v.metadata;
  s.Bind(1, v.name).Bind(2, v.version).Bind(4, sha256).Bind(5, static_cast<int64_t>(size));
  if (m.label.empty()) {
    s.BindNull(3);
  } else {
    s.Bind(3, m.label);
  }
  s.Bind(6, v.created_ms).Bind(7, v.who).Bind(8, m.type).Bind(9, m.variant);
  s.Bind(10, internal::AcceleratorsText(m.accelerators)).Bind(11, m.precision);
  s.Bind(12, internal::AccuracyText(m.accuracy)).Bind(13, m.source).Bind(14, m.licence);
  s.Bind(15, m.format).Bind(16, m.notes);
  RETURN_IF_ERROR(s.Run("recording a version"));
  return v;
}

// ---------------------------------------------------------------------------
// Reading and deleting

absl::StatusOr<std::vector<ModelVersion>> ModelStore::List(const ListFilter& filter) {
  if (!filter.name.empty()) RETURN_IF_ERROR(ValidateName("model name", filter.name));
  if (!filter.type.empty()) RETURN_IF_ERROR(ValidateName("inference type", filter.type));
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_, absl::StrCat("SELECT ", kVersionColumns,
                                " FROM versions WHERE (?1 = '' OR name = ?1) AND (?2 = '' OR type "
                                "= ?2) ORDER BY name, version DESC")
                       .c_str());
  RETURN_IF_ERROR(s.status());
  s.Bind(1, filter.name).Bind(2, filter.type);
  std::vector<ModelVersion> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadVersion(s));
  if (rc != SQLITE_DONE) return internal::DbError(db_, "listing versions");
  return out;
}

absl::StatusOr<ModelVersion> ModelStore::Get(std::string_view name,
                                             std::optional<int64_t> version) {
  RETURN_IF_ERROR(ValidateName("model name", name));
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_, absl::StrCat("SELECT ", kVersionColumns,
                                " FROM versions WHERE name = ?1 AND (?2 IS NULL OR version = ?2) "
                                "ORDER BY version DESC LIMIT 1")
                       .c_str());
  RETURN_IF_ERROR(s.status());
  s.Bind(1, name);
  if (version) {
    s.Bind(2, *version);
  } else {
    s.BindNull(2);
  }
  if (s.Step() == SQLITE_ROW) return ReadVersion(s);
  if (version)
    return absl::NotFoundError(absl::StrCat(Describe(name, *version), " does not exist"));
  return absl::NotFoundError(absl::StrCat("no model named \"", Sv(name), "\" is stored"));
}

absl::StatusOr<ModelVersion> ModelStore::Resolve(std::string_view name, std::string_view ref) {
  if (ref.empty() || ref == "latest") return Get(name, std::nullopt);
  int64_t number = 0;
  if (ref.size() <= 18 && absl::SimpleAtoi(absl::string_view(ref.data(), ref.size()), &number) &&
      ref.find_first_not_of("0123456789") == std::string_view::npos) {
    return Get(name, number);
  }
  RETURN_IF_ERROR(ValidateName("model name", name));
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(
      db_, absl::StrCat("SELECT ", kVersionColumns, " FROM versions WHERE name = ?1 AND label = ?2")
               .c_str());
  RETURN_IF_ERROR(s.status());
  if (s.Bind(1, name).Bind(2, ref).Step() == SQLITE_ROW) return ReadVersion(s);
  return absl::NotFoundError(absl::StrCat(
      "model \"", Sv(name), "\" has no version labelled \"",
      absl::CHexEscape(absl::string_view(ref.data(), std::min<size_t>(ref.size(), 64))),
      "\": use latest, a version number or a label"));
}

absl::StatusOr<Blob> ModelStore::OpenBlob(std::string_view sha256) {
  RETURN_IF_ERROR(ValidateSha256(sha256));
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_, "SELECT size FROM blobs WHERE sha256 = ?1");
  RETURN_IF_ERROR(s.status());
  if (s.Bind(1, sha256).Step() != SQLITE_ROW) {
    return absl::NotFoundError(absl::StrCat("no stored artifact has sha256 ", Sv(sha256)));
  }
  const auto size = static_cast<uint64_t>(s.Int(0));
  const std::string path = BlobPath(sha256);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != size) {
    CloseFd(fd);
    return absl::DataLossError(absl::StrCat("the artifact with sha256 ", Sv(sha256),
                                            " is missing or damaged on the server's disk; upload "
                                            "it again"));
  }
  return Blob(fd, size, std::string(sha256));
}

absl::Status ModelStore::Delete(std::string_view name, int64_t version) {
  RETURN_IF_ERROR(ValidateName("model name", name));
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_);
  RETURN_IF_ERROR(tx.status());
  std::string sha256;
  uint64_t size = 0;
  {
    Statement s(db_, "SELECT sha256, size FROM versions WHERE name = ?1 AND version = ?2");
    RETURN_IF_ERROR(s.status());
    if (s.Bind(1, name).Bind(2, version).Step() != SQLITE_ROW) {
      return absl::NotFoundError(absl::StrCat(Describe(name, version), " does not exist"));
    }
    sha256 = s.Text(0);
    size = static_cast<uint64_t>(s.Int(1));
  }
  {
    Statement s(db_,
                "SELECT target, state FROM deployments WHERE name = ?1 AND version = ?2 AND state "
                "IN ('pending', 'deployed') ORDER BY target");
    RETURN_IF_ERROR(s.status());
    s.Bind(1, name).Bind(2, version);
    std::vector<std::string> where;
    while (s.Step() == SQLITE_ROW) where.push_back(absl::StrCat(s.Text(1), " on ", s.Text(0)));
    if (!where.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(Describe(name, version), " is ", absl::StrJoin(where, ", "),
                       ": deploy another version or roll back first"));
    }
  }
  for (const char* sql : {"DELETE FROM deployments WHERE name = ?1 AND version = ?2",
                          "DELETE FROM versions WHERE name = ?1 AND version = ?2"}) {
    Statement s(db_, sql);
    RETURN_IF_ERROR(s.status());
    RETURN_IF_ERROR(s.Bind(1, name).Bind(2, version).Run("deleting a version"));
  }
  bool unreferenced = false;
  {
    Statement s(db_, "SELECT COUNT(*) FROM versions WHERE sha256 = ?1");
    RETURN_IF_ERROR(s.status());
    unreferenced = s.Bind(1, sha256).Step() == SQLITE_ROW && s.Int(0) == 0;
  }
  if (unreferenced) {
    Statement s(db_, "DELETE FROM blobs WHERE sha256 = ?1");
    RETURN_IF_ERROR(s.status());
    RETURN_IF_ERROR(s.Bind(1, sha256).Run("deleting a blob"));
  }
  RETURN_IF_ERROR(tx.Commit());
  if (unreferenced) {
    total_bytes_ -= std::min(total_bytes_, size);
    // A failure here leaves an orphan file, which the next Open removes.
    if (::unlink(BlobPath(sha256).c_str()) != 0) {
      spdlog::warn("model repository: cannot remove blob {}: {}", sha256, std::strerror(errno));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Deployments

absl::Status ModelStore::SetDeployment(const DeploymentTarget& target, std::string_view name,
                                       int64_t version, DeploymentState state,
                                       std::string_view detail) {
  RETURN_IF_ERROR(
      ValidateName(target.kind == TargetKind::kGroup ? "group name" : "node name", target.name));
  RETURN_IF_ERROR(ValidateName("model name", name));
  RETURN_IF_ERROR(CheckDetail(detail));
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_);
  RETURN_IF_ERROR(tx.status());
  {
    Statement s(db_, "SELECT 1 FROM versions WHERE name = ?1 AND version = ?2");
    RETURN_IF_ERROR(s.status());
    if (s.Bind(1, name).Bind(2, version).Step() != SQLITE_ROW) {
      return absl::NotFoundError(absl::StrCat(Describe(name, version), " does not exist"));
    }
  }
  const std::string target_text = target.ToString();
  const int64_t now = NowMs();
  const bool deployed = state == DeploymentState::kDeployed;
  if (deployed) {
    Statement s(db_,
                "UPDATE deployments SET state = 'retired', updated_ms = ?4 WHERE target = ?1 AND "
                "name = ?2 AND version <> ?3 AND state = 'deployed'");
    RETURN_IF_ERROR(s.status());
    s.Bind(1, target_text).Bind(2, name).Bind(3, version).Bind(4, now);
    RETURN_IF_ERROR(s.Run("retiring the deployed version"));
  }
  // deployed_seq orders the versions a target had deployed; it is what
  // PreviousVersion walks back through.
  Statement s(db_,
              "INSERT INTO deployments (target, name, version, state, updated_ms, detail, "
              "deployed_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?7 THEN (SELECT "
              "COALESCE(MAX(deployed_seq), 0) + 1 FROM deployments) END) ON CONFLICT(target, "
              "name, version) DO UPDATE SET state = excluded.state, updated_ms = "
              "excluded.updated_ms, detail = excluded.detail, deployed_seq = "
              "COALESCE(excluded.deployed_seq, deployments.deployed_seq)");
  RETURN_IF_ERROR(s.status());
  s.Bind(1, target_text).Bind(2, name).Bind(3, version).Bind(4, StateName(state));
  s.Bind(5, now).Bind(6, detail).Bind(7, static_cast<int64_t>(deployed));
  RETURN_IF_ERROR(s.Run("recording a deployment"));
  return tx.Commit();
}

absl::StatusOr<std::vector<Deployment>> ModelStore::Deployments(
    const std::optional<DeploymentTarget>& target, std::string_view name) {
  if (!name.empty()) RETURN_IF_ERROR(ValidateName("model name", name));
  std::lock_guard<std::mutex> lock(mu_);
  Statement s(db_,
              "SELECT target, name, version, state, updated_ms, detail FROM deployments WHERE (?1 "
              "= '' OR target = ?1) AND (?2 = '' OR name = ?2) ORDER BY target, name, version");
  RETURN_IF_ERROR(s.status());
  s.Bind(1, target ? target->ToString() : std::string()).Bind(2, name);
  std::vector<Deployment> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    absl::StatusOr<DeploymentTarget> parsed = DeploymentTarget::Parse(s.Text(0));
    absl::StatusOr<DeploymentState> state = ParseState(s.Text(3));
    if (!parsed.ok() || !state.ok()) continue;  // written by a newer store
    out.push_back({*parsed, s.Text(1), s.Int(2), *state, s.Int(4), s.Text(5)});
  }
  if (rc != SQLITE_DONE) return internal::DbError(db_, "listing deployments");
  return out;
}

absl::StatusOr<int64_t> ModelStore::PreviousVersion(const DeploymentTarget& target,
                                                    std::string_view name) {
  RETURN_IF_ERROR(ValidateName("model name", name));
  std::lock_guard<std::mutex> lock(mu_);
  const std::string target_text = target.ToString();
  std::optional<int64_t> current_seq;
  int64_t current = 0;
  {
    Statement s(db_,
                "SELECT version, deployed_seq FROM deployments WHERE target = ?1 AND name = ?2 "
                "AND state = 'deployed'");
    RETURN_IF_ERROR(s.status());
    if (s.Bind(1, target_text).Bind(2, name).Step() == SQLITE_ROW) {
      current = s.Int(0);
      current_seq = s.OptionalInt(1);
    }
  }
  Statement s(db_,
              "SELECT version FROM deployments WHERE target = ?1 AND name = ?2 AND deployed_seq "
              "IS NOT NULL AND state <> 'deployed' AND (?3 IS NULL OR deployed_seq < ?3) ORDER BY "
              "deployed_seq DESC LIMIT 1");
  RETURN_IF_ERROR(s.status());
  s.Bind(1, target_text).Bind(2, name);
  if (current_seq) {
    s.Bind(3, *current_seq);
  } else {
    s.BindNull(3);
  }
  if (s.Step() == SQLITE_ROW) return s.Int(0);
  return absl::NotFoundError(
      absl::StrCat("no earlier version of model \"", Sv(name), "\" was deployed on ", target_text,
                   current_seq ? absl::StrCat(" before version ", current) : std::string(),
                   ": there is nothing to roll back to"));
}

Usage ModelStore::usage() {
  std::lock_guard<std::mutex> lock(mu_);
  Usage u;
  u.total_bytes = total_bytes_;
  u.max_total_bytes = options_.max_total_bytes;
  u.uploads_in_progress = uploads_;
  Statement blobs(db_, "SELECT COUNT(*) FROM blobs");
  if (blobs.status().ok() && blobs.Step() == SQLITE_ROW)
    u.blobs = static_cast<uint64_t>(blobs.Int(0));
  Statement versions(db_, "SELECT COUNT(*) FROM versions");
  if (versions.status().ok() && versions.Step() == SQLITE_ROW) {
    u.versions = static_cast<uint64_t>(versions.Int(0));
  }
  return u;
}

}  // namespace heteroaccel::repository
