// File helpers for the model store's blob directory: whole writes and reads
// that retry on EINTR, fsync of a file and of its directory, and listing a
// directory's plain files. Errors are Unavailable naming the path and errno's
// text. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace heteroaccel::repository::internal {

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

}  // namespace heteroaccel::repository::internal
