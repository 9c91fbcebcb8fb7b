// FakeTree: a temporary directory tree standing in for /, /proc or /sys in
// tests. Removed with the object. Not thread-safe; test-only.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace heteroaccel::node::internal {

class FakeTree {
 public:
  FakeTree() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    if (tmp == nullptr) tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/fake_tree_XXXXXX";
    if (::mkdtemp(templ.data()) != nullptr) root_ = templ;
  }
  ~FakeTree() {
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path Path(std::string_view relative) const { return root_ / relative; }

  // Writes `contents` to root/relative, creating parent directories.
  void Write(std::string_view relative, std::string_view contents) const {
    const std::filesystem::path path = Path(relative);
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  }

 private:
  std::filesystem::path root_;
};

}  // namespace heteroaccel::node::internal
