#include "common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace heteroaccel {

void InitLogging() {
  auto logger = spdlog::stderr_logger_mt("heteroaccel");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  spdlog::set_default_logger(std::move(logger));
  spdlog::set_level(spdlog::level::info);
}

absl::Status SetLogLevel(std::string_view level) {
  std::string name(level);
  if (name == "warning") name = "warn";
  const spdlog::level::level_enum parsed = spdlog::level::from_str(name);
  // from_str answers "off" for anything it does not know.
  if (parsed == spdlog::level::off && name != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log level '", name, "' is not one of trace, debug, info, warn, error, critical, off"));
  }
  spdlog::set_level(parsed);
  return absl::OkStatus();
}

}  // namespace heteroaccel
