// ParseDuration and ValidateBenchOptions: everything about BenchOptions that
// needs neither the network nor the disk.
#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/names.h"
#include "loadgen/bench.h"

namespace heteroaccel::loadgen {
namespace {

// Milliseconds per unit; 0 for an unknown unit.
double UnitMilliseconds(absl::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1e3;
  if (unit == "m") return 60e3;
  if (unit == "h") return 3600e3;
  return 0;
}

absl::Status DurationError(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid duration '", std::string(text), "': ", std::string(why),
                   "; use a number and ms, s, m or h, e.g. 20s, 500ms, 2m"));
}

}  // namespace

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  // Debian's absl::string_view is its own type, not std::string_view.
  const absl::string_view trimmed =
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  size_t digits = 0;
  while (digits < trimmed.size() &&
         (absl::ascii_isdigit(static_cast<unsigned char>(trimmed[digits])) ||
          trimmed[digits] == '.')) {
    ++digits;
  }
  if (trimmed.empty()) return DurationError(text, "empty");
  if (digits == 0) return DurationError(text, "expected a non-negative number first");
  if (digits == trimmed.size()) return DurationError(text, "missing unit");
  double value = 0;
  if (!absl::SimpleAtod(trimmed.substr(0, digits), &value) || !std::isfinite(value)) {
    return DurationError(text, "malformed number");
  }
  const double unit = UnitMilliseconds(trimmed.substr(digits));
  if (unit == 0) return DurationError(text, "unknown unit");
  const double ms = std::round(value * unit);
  // A year is far beyond any benchmark, and keeps the arithmetic below overflow.
  if (ms > 365.0 * 24 * 3600e3) return DurationError(text, "too long");
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

absl::StatusOr<Arrivals> ParseArrivals(std::string_view name) {
  if (name == "periodic") return Arrivals::kPeriodic;
  if (name == "poisson") return Arrivals::kPoisson;
  if (name == "bursts") return Arrivals::kBursts;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown arrivals '", std::string(name), "'; use periodic, poisson or bursts"));
}

std::string_view ArrivalsName(Arrivals arrivals) {
  switch (arrivals) {
    case Arrivals::kPeriodic:
      return "periodic";
    case Arrivals::kPoisson:
      return "poisson";
    case Arrivals::kBursts:
      return "bursts";
  }
  return "periodic";
}

std::string CameraName(std::string_view name, int camera, int cameras) {
  if (cameras <= 1) return std::string(name);
  return absl::StrCat(std::string(name), "-", camera);
}

std::string ReportedCameraName(std::string_view camera_name, int camera, int cameras) {
  return CameraName(camera_name.empty() ? "camera" : camera_name, camera, cameras);
}

double JainIndex(const std::vector<double>& values) {
  double sum = 0, squares = 0;
  for (const double v : values) {
    sum += v;
    squares += v * v;
  }
  return squares == 0 ? 1 : sum * sum / (static_cast<double>(values.size()) * squares);
}

std::vector<std::string> SplitTargets(std::string_view target) {
  std::vector<std::string> targets;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(target.data(), target.size()), ',')) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(part);
    if (!trimmed.empty()) targets.emplace_back(trimmed);
  }
  return targets;
}

absl::Status ValidateBenchOptions(const BenchOptions& options) {
  const std::vector<std::string> targets = SplitTargets(options.target);
  if (targets.empty()) return absl::InvalidArgumentError("--target is required");
  if (targets.size() > kMaxTargets) {
    return absl::InvalidArgumentError(
        absl::StrCat("--target lists ", targets.size(), " URLs; at most ", kMaxTargets));
  }
  if (options.request_timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--request-timeout must be positive");
  }
  if (options.cameras < 1 || options.cameras > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cameras must be between 1 and 1024, not ", options.cameras));
  }
  if (options.inflight < 1 || options.cameras * options.inflight > 4096) {
    return absl::InvalidArgumentError(
        "--inflight must be at least 1, with cameras x inflight at most 4096");
  }
  if (options.mix.empty()) {
    return absl::InvalidArgumentError("--mix needs at least one inference type");
  }
  for (const std::string& type : options.mix) {
    if (type.empty() || type.find_first_of("/?#& ") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: '", type, "' is not an inference type name"));
    }
  }
  if (options.duration <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--duration must be positive");
  }
  if (options.warmup < std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--warmup must not be negative");
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--timeout must be positive");
  }
  if (options.rate && !(*options.rate > 0 && *options.rate <= 1e6)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rate must be between 0 and 1e6 requests/s, not ", *options.rate));
  }
  if (options.arrivals != Arrivals::kPeriodic && !options.rate) {
    return absl::InvalidArgumentError(
        absl::StrCat("--arrivals ", std::string(ArrivalsName(options.arrivals)),
                     " needs --rate: arrivals are scheduled in open loop only"));
  }
  if (options.arrivals == Arrivals::kBursts) {
    constexpr double kHourMs = 3600e3;
    if (!(options.bursts.on_ms > 0 && options.bursts.on_ms <= kHourMs)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--on-ms must be more than 0 and at most 3600000 (an hour), not ", options.bursts.on_ms));
    }
    if (!(options.bursts.off_ms >= 0 && options.bursts.off_ms <= kHourMs)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--off-ms must be 0 to 3600000 (an hour), not ", options.bursts.off_ms));
    }
  }
  if (!options.camera_weights.empty()) {
    if (!options.rate) {
      return absl::InvalidArgumentError(
          "--camera-weights needs --rate: they split the open loop's rate between the cameras");
    }
    if (options.camera_weights.size() != static_cast<size_t>(options.cameras)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--camera-weights lists ", options.camera_weights.size(), " weight(s) for ",
          options.cameras, " camera(s); give one per camera (--cameras)"));
    }
    for (size_t i = 0; i < options.camera_weights.size(); ++i) {
      const double w = options.camera_weights[i];
      if (!(w > 0 && w <= 1e6)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--camera-weights: camera ", i, "'s weight must be more than 0 and at most 1e6, not ",
            w));
      }
    }
  }
  if (options.deadline_ms && *options.deadline_ms <= 0) {
    return absl::InvalidArgumentError("--deadline-ms must be positive");
  }
  if (options.images_dir.empty()) return absl::InvalidArgumentError("--images is empty");
  if (!options.camera_name.empty()) {
    if (!IsValidName(options.camera_name, kMaxCameraName)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--camera-name must be 1 to ", kMaxCameraName,
          " characters of A-Z, a-z, 0-9, '_', '.' or '-' (camera i sends it as NAME-i), not '",
          options.camera_name, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace heteroaccel::loadgen
