// File helpers for model artifacts (the store's blob directory, an agent's deployed
// models): whole writes and reads that retry on EINTR, fsync of a file and of its
// directory, listing a directory's plain files, and SHA-256 of bytes and files.
// Errors are Unavailable naming the path and errno's text. Thread-safe (no shared
// state; a Sha256 is used by one thread at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace heteroaccel::repository {

absl::Status ErrnoError(std::string_view doing, std::string_view path, int err);
absl::Status WriteAll(int fd, std::string_view bytes, std::string_view path);
// Up to `length` bytes at `offset` (fewer only at the end of the file).
absl::StatusOr<std::string> ReadAt(int fd, uint64_t offset, size_t length);
absl::Status FsyncFd(int fd, std::string_view path);
absl::Status FsyncDir(const std::string& dir);
absl::Status MakeDirs(const std::string& dir);
// Names (not paths) of the regular files directly in `dir`.
absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir);
// The file's size, or an error (NotFound when it does not exist).
absl::StatusOr<uint64_t> FileSize(const std::string& path);
void CloseFd(int fd);

// SHA-256, fed in pieces; HexDigest() ends it (64 lowercase hex digits).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  std::string HexDigest();

 private:
  struct Context;
  Context* context_;
};

// The file's SHA-256 (hex) and, in *size, its length.
absl::StatusOr<std::string> Sha256File(const std::string& path, uint64_t* size);

}  // namespace heteroaccel::repository
