// ThreadNames: the names of a process's threads (Linux, /proc/PID/task/*/comm),
// for tests of what the code names its threads.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace heteroaccel::testing {

inline std::vector<std::string> ThreadNames(const std::string& pid = "self") {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.push_back(name);
  }
  return names;
}

}  // namespace heteroaccel::testing
