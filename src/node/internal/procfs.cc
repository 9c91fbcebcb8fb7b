#include "node/internal/procfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace heteroaccel::node::internal {
namespace {

namespace fs = std::filesystem;

std::vector<absl::string_view> Fields(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

// "hwmon10" sorts after "hwmon2": compare the text before trailing digits,
// then the number.
bool NaturalLess(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    std::size_t i = s.size();
    while (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
    uint64_t number = 0;
    if (!absl::SimpleAtoi(absl::string_view(s).substr(i), &number)) number = 0;
    return std::make_tuple(absl::string_view(s).substr(0, i), number, absl::string_view(s));
  };
  return split(a) < split(b);
}

// Names of the entries of `dir` that start with `prefix`, naturally sorted;
// empty when the directory is missing or unreadable.
std::vector<std::string> ListDir(const fs::path& dir, absl::string_view prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (absl::StartsWith(name, prefix)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end(), NaturalLess);
  return names;
}

std::optional<double> ReadMillidegrees(const fs::path& path) {
  const std::optional<std::string> text = ReadTrimmed(path);
  int64_t millidegrees = 0;
  if (!text.has_value() || !absl::SimpleAtoi(*text, &millidegrees)) return std::nullopt;
  return static_cast<double>(millidegrees) / 1000.0;
}

// The N of "tempN_input", or nullopt for any other file name.
std::optional<std::string> TempInputIndex(absl::string_view file) {
  if (!absl::ConsumePrefix(&file, "temp") || !absl::ConsumeSuffix(&file, "_input")) {
    return std::nullopt;
  }
  uint32_t index = 0;
  if (file.empty() || !absl::SimpleAtoi(file, &index)) return std::nullopt;
  return std::string(file);
}

void ReadHwmon(const fs::path& sys_root, std::vector<Temperature>& out) {
  const fs::path hwmon_dir = sys_root / "class" / "hwmon";
  std::vector<std::pair<std::string, std::string>> chips;  // (directory, chip name)
  std::map<std::string, int> name_count;
  for (const std::string& dir : ListDir(hwmon_dir, "hwmon")) {
    std::string name = ReadTrimmed(hwmon_dir / dir / "name").value_or(dir);
    if (name.empty()) name = dir;
    ++name_count[name];
    chips.emplace_back(dir, std::move(name));
  }
  for (const auto& [dir, name] : chips) {
    const std::string chip = name_count[name] > 1 ? absl::StrCat(name, "_", dir) : name;
    std::set<std::string> labels;
    for (const std::string& file : ListDir(hwmon_dir / dir, "temp")) {
      const std::optional<std::string> index = TempInputIndex(file);
      if (!index.has_value()) continue;
      const std::optional<double> celsius = ReadMillidegrees(hwmon_dir / dir / file);
      if (!celsius.has_value()) continue;
      const std::string fallback = absl::StrCat("temp", *index);
      std::string label =
          ReadTrimmed(hwmon_dir / dir / absl::StrCat(fallback, "_label")).value_or(fallback);
      if (label.empty() || labels.contains(label)) label = fallback;
      labels.insert(label);
      out.push_back({chip, std::move(label), *celsius});
    }
  }
}

void ReadThermalZones(const fs::path& sys_root, std::vector<Temperature>& out) {
  const fs::path thermal_dir = sys_root / "class" / "thermal";
  for (const std::string& zone : ListDir(thermal_dir, "thermal_zone")) {
    const std::optional<double> celsius = ReadMillidegrees(thermal_dir / zone / "temp");
    if (!celsius.has_value()) continue;
    std::string type = ReadTrimmed(thermal_dir / zone / "type").value_or("");
    out.push_back({zone, type.empty() ? "temp" : std::move(type), *celsius});
  }
}

std::string Unquote(absl::string_view value) {
  if (value.size() < 2 || (value.front() != '"' && value.front() != '\'') ||
      value.back() != value.front()) {
    return std::string(value);
  }
  const char quote = value.front();
  value = value.substr(1, value.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (quote == '"' && value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("reading ", path.string()));
  }
  std::string contents;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat("reading ", path.string()));
    }
    if (n == 0) break;
    contents.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return contents;
}

std::optional<std::string> ReadTrimmed(const fs::path& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(*text));
}

absl::StatusOr<CpuTimes> ParseProcStat(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "cpu ")) continue;
    const std::vector<absl::string_view> fields = Fields(line);
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    if (fields.size() < 4) break;
    CpuTimes times;
    for (std::size_t i = 0; i < fields.size() && i < 8; ++i) {
      uint64_t value = 0;
      if (!absl::SimpleAtoi(fields[i], &value)) {
        return absl::InternalError(absl::StrCat("malformed /proc/stat cpu line: ", line));
      }
      times.total += value;
      if (i == 3 || i == 4) times.idle += value;
    }
    return times;
  }
  return absl::InternalError("/proc/stat has no aggregate \"cpu\" line");
}

std::optional<double> CpuUtilisation(const CpuTimes& previous, const CpuTimes& current) {
  if (current.total <= previous.total) return std::nullopt;
  const double total = static_cast<double>(current.total - previous.total);
  // iowait may go backwards (see proc(5)), so the idle delta is signed.
  const double idle = static_cast<double>(current.idle) - static_cast<double>(previous.idle);
  return std::clamp((total - idle) / total, 0.0, 1.0);
}

int CountCpus(absl::string_view proc_stat) {
  int count = 0;
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (line.size() > 3 && absl::StartsWith(line, "cpu") &&
        absl::ascii_isdigit(static_cast<unsigned char>(line[3]))) {
      ++count;
    }
  }
  return count;
}

absl::StatusOr<MemInfo> ParseMeminfo(absl::string_view text) {
  std::map<absl::string_view, int64_t> bytes;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const std::vector<absl::string_view> fields = Fields(line.substr(colon + 1));
    int64_t value = 0;
    if (fields.empty() || !absl::SimpleAtoi(fields[0], &value)) continue;
    if (fields.size() > 1 && fields[1] == "kB") value *= 1024;
    bytes[line.substr(0, colon)] = value;
  }
  const auto get = [&](absl::string_view key) -> std::optional<int64_t> {
    auto it = bytes.find(key);
    return it == bytes.end() ? std::nullopt : std::optional<int64_t>(it->second);
  };
  const std::optional<int64_t> total = get("MemTotal");
  if (!total.has_value()) return absl::InternalError("/proc/meminfo has no MemTotal");
  MemInfo info;
  info.total_bytes = *total;
  info.available_bytes = get("MemAvailable")
                             .value_or(get("MemFree").value_or(0) + get("Buffers").value_or(0) +
                                       get("Cached").value_or(0));
  return info;
}

absl::StatusOr<std::vector<Interface>> ParseNetDev(absl::string_view text) {
  std::vector<Interface> interfaces;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;  // the two header lines
    Interface interface;
    interface.name = std::string(absl::StripAsciiWhitespace(line.substr(0, colon)));
    const std::vector<absl::string_view> fields = Fields(line.substr(colon + 1));
    // rx: bytes packets errs drop fifo frame compressed multicast, then tx: bytes ...
    if (fields.size() < 9 || !absl::SimpleAtoi(fields[0], &interface.rx_bytes) ||
        !absl::SimpleAtoi(fields[8], &interface.tx_bytes)) {
      return absl::InternalError(absl::StrCat("malformed /proc/net/dev line: ", line));
    }
    if (interface.name == "lo") continue;
    interfaces.push_back(std::move(interface));
  }
  return interfaces;
}

std::optional<std::string> ParseOsReleasePrettyName(absl::string_view text) {
  std::optional<std::string> pretty_name;
  std::optional<std::string> name;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "PRETTY_NAME=")) {
      pretty_name = Unquote(line);
    } else if (absl::ConsumePrefix(&line, "NAME=")) {
      name = Unquote(line);
    }
  }
  return pretty_name.has_value() ? pretty_name : name;
}

std::optional<std::string> ParseOsReleaseField(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, "=")) return Unquote(line);
  }
  return std::nullopt;
}

std::optional<double> ParseUptime(absl::string_view text) {
  const std::vector<absl::string_view> fields = Fields(absl::StripAsciiWhitespace(text));
  double seconds = 0;
  if (fields.empty() || !absl::SimpleAtod(fields[0], &seconds) || seconds < 0) return std::nullopt;
  return seconds;
}

CpuInfo ParseCpuInfo(absl::string_view text) {
  CpuInfo info;
  std::string model_name, board_model, hardware;
  std::set<std::string> sockets;
  std::set<std::pair<std::string, std::string>> cores;
  std::string socket = "0";
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    const std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (key == "processor") {
      ++info.processors;
    } else if (key == "model name" && model_name.empty()) {
      model_name = value;
    } else if (key == "Model" && board_model.empty()) {
      board_model = value;
    } else if (key == "Hardware" && hardware.empty()) {
      hardware = value;
    } else if (key == "physical id") {
      socket = value;
      sockets.insert(value);
    } else if (key == "core id") {
      cores.emplace(socket, value);
    }
  }
  info.model = !model_name.empty() ? model_name : !board_model.empty() ? board_model : hardware;
  info.sockets = static_cast<int>(sockets.size());
  info.cores = static_cast<int>(cores.size());
  return info;
}

CpuTopology ReadCpuTopology(const fs::path& cpu_dir) {
  CpuTopology topology;
  std::set<std::string> packages;
  std::set<std::pair<std::string, std::string>> cores;
  std::error_code ec;
  for (fs::directory_iterator it(cpu_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 4 || name.compare(0, 3, "cpu") != 0 ||
        !std::all_of(name.begin() + 3, name.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); })) {
      continue;
    }
    std::optional<std::string> package = ReadTrimmed(it->path() / "topology/physical_package_id");
    std::optional<std::string> core = ReadTrimmed(it->path() / "topology/core_id");
    if (!package.has_value() || !core.has_value()) continue;
    ++topology.threads;
    packages.insert(*package);
    cores.emplace(*package, *core);
  }
  topology.sockets = static_cast<int>(packages.size());
  topology.cores = static_cast<int>(cores.size());
  return topology;
}

std::vector<Temperature> ReadTemperatures(const fs::path& sys_root) {
  std::vector<Temperature> temperatures;
  ReadHwmon(sys_root, temperatures);
  ReadThermalZones(sys_root, temperatures);
  std::sort(temperatures.begin(), temperatures.end(), [](const auto& a, const auto& b) {
    return std::tie(a.chip, a.sensor) < std::tie(b.chip, b.sensor);
  });
  return temperatures;
}

}  // namespace heteroaccel::node::internal
