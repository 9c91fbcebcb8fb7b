#include "video/source.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace heteroaccel::video {
namespace {

constexpr size_t kMaxLocationBytes = 4096;
constexpr double kMaxFps = 1000;

class SourceErrors {
 public:
  explicit SourceErrors(std::string_view camera) : camera_(camera) {}
  absl::Status Key(std::string_view key, std::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("camera \"", camera_, "\": source: key \"",
                                                   std::string(key), "\": ", std::string(message)));
  }
  absl::Status Whole(std::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat("camera \"", camera_, "\": source: ", std::string(message)));
  }

 private:
  std::string camera_;
};

bool HasControlCharacters(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::StatusOr<std::string> Location(const nlohmann::json& json, std::string_view key,
                                     const SourceErrors& errors) {
  auto it = json.find(key);
  if (it == json.end()) return errors.Key(key, "is required for this source type");
  if (!it->is_string()) return errors.Key(key, "must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty()) return errors.Key(key, "must not be empty");
  if (s.size() > kMaxLocationBytes) {
    return errors.Key(key, absl::StrCat("must be at most ", kMaxLocationBytes, " bytes"));
  }
  if (HasControlCharacters(s)) return errors.Key(key, "must not contain control characters");
  return s;
}

absl::Status OnlyFor(const nlohmann::json& json, std::string_view key, bool allowed,
                     std::string_view which, const SourceErrors& errors) {
  if (!allowed && json.contains(key))
    return errors.Key(key, absl::StrCat("only for ", std::string(which)));
  return absl::OkStatus();
}

absl::StatusOr<bool> Bool(const nlohmann::json& json, std::string_view key,
                          const SourceErrors& errors) {
  auto it = json.find(key);
  if (it == json.end()) return false;
  if (!it->is_boolean()) return errors.Key(key, "must be true or false");
  return it->get<bool>();
}

absl::StatusOr<SourceType> Type(const nlohmann::json& json, const SourceErrors& errors) {
  auto it = json.find("type");
  constexpr char kKnown[] = "(one of file, rtsp, mjpeg, push)";
  if (it == json.end()) return errors.Key("type", absl::StrCat("is required ", kKnown));
  if (!it->is_string()) return errors.Key("type", absl::StrCat("must be a string ", kKnown));
  const auto& s = it->get_ref<const std::string&>();
  for (SourceType t :
       {SourceType::kFile, SourceType::kRtsp, SourceType::kMjpeg, SourceType::kPush}) {
    if (s == SourceTypeName(t)) return t;
  }
  return errors.Key("type", absl::StrCat("unknown source type \"", s.substr(0, 64), "\" ", kKnown));
}

}  // namespace

std::string_view SourceTypeName(SourceType type) {
  switch (type) {
    case SourceType::kFile:
      return "file";
    case SourceType::kRtsp:
      return "rtsp";
    case SourceType::kMjpeg:
      return "mjpeg";
    case SourceType::kPush:
      return "push";
  }
  return "unknown";
}

absl::StatusOr<SourceSpec> ParseSourceSpec(const nlohmann::json& json, std::string_view camera) {
  const SourceErrors errors(camera);
  if (!json.is_object()) {
    return errors.Whole("must be an object with a \"type\" (file, rtsp, mjpeg or push)");
  }
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& key = it.key();
    if (key != "type" && key != "path" && key != "url" && key != "loop" && key != "realtime" &&
        key != "fps") {
      return errors.Whole(absl::StrCat("unknown key \"", key.substr(0, 64),
                                       "\" (known: type, path, url, loop, realtime, fps)"));
    }
  }
  SourceSpec spec;
  auto type = Type(json, errors);
  if (!type.ok()) return type.status();
  spec.type = *type;
  const bool file = spec.type == SourceType::kFile;
  const bool network = spec.type == SourceType::kRtsp || spec.type == SourceType::kMjpeg;
  if (absl::Status s = OnlyFor(json, "path", file, "file sources", errors); !s.ok()) return s;
  if (absl::Status s = OnlyFor(json, "url", network, "rtsp and mjpeg sources", errors); !s.ok()) {
    return s;
  }
  if (absl::Status s = OnlyFor(json, "loop", file, "file sources", errors); !s.ok()) return s;
  if (absl::Status s = OnlyFor(json, "realtime", file, "file sources", errors); !s.ok()) return s;

  if (file) {
    auto path = Location(json, "path", errors);
    if (!path.ok()) return path.status();
    spec.path = *std::move(path);
    auto loop = Bool(json, "loop", errors);
    if (!loop.ok()) return loop.status();
    auto realtime = Bool(json, "realtime", errors);
    if (!realtime.ok()) return realtime.status();
    spec.loop = *loop;
    spec.realtime = *realtime;
  } else if (network) {
    auto url = Location(json, "url", errors);
    if (!url.ok()) return url.status();
    if (spec.type == SourceType::kRtsp && !absl::StartsWithIgnoreCase(*url, "rtsp://")) {
      return errors.Key("url", "must start with rtsp://");
    }
    if (spec.type == SourceType::kMjpeg && !absl::StartsWithIgnoreCase(*url, "http://") &&
        !absl::StartsWithIgnoreCase(*url, "https://")) {
      return errors.Key("url", "must start with http:// or https://");
    }
    spec.url = *std::move(url);
  }

  if (auto it = json.find("fps"); it != json.end()) {
    if (!spec.Live()) {
      return errors.Key("fps",
                        "only for live sources and realtime files (a file that is not realtime "
                        "delivers every frame)");
    }
    if (!it->is_number()) return errors.Key("fps", "must be a number");
    const double fps = it->get<double>();
    if (!std::isfinite(fps) || fps <= 0 || fps > kMaxFps) {
      return errors.Key("fps", absl::StrCat("must be > 0 and <= ", kMaxFps));
    }
    spec.fps = fps;
  }
  return spec;
}

nlohmann::json ToJson(const SourceSpec& spec) {
  nlohmann::json json = {{"type", SourceTypeName(spec.type)}};
  switch (spec.type) {
    case SourceType::kFile:
      json["path"] = spec.path;
      json["loop"] = spec.loop;
      json["realtime"] = spec.realtime;
      break;
    case SourceType::kRtsp:
    case SourceType::kMjpeg:
      json["url"] = spec.url;
      break;
    case SourceType::kPush:
      break;
  }
  if (spec.fps) json["fps"] = *spec.fps;
  return json;
}

}  // namespace heteroaccel::video
