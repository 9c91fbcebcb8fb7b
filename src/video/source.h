// SourceSpec: where a camera's frames come from, as written under a camera's
// `source:` key (YAML, or the same document as JSON through /v1/cameras):
//
//   source: {type: file,  path: /data/vtest.avi, loop: false, realtime: false}
//   source: {type: file,  path: /data/vtest.avi, realtime: true, fps: 5}
//   source: {type: rtsp,  url: "rtsp://10.0.0.7:554/stream1", fps: 5}
//   source: {type: mjpeg, url: "http://10.0.0.8/video.mjpg"}
//   source: {type: push,  fps: 2}
//
// - file: `path` (required). `loop` restarts at the end. `realtime` paces the
//   file at its own frame rate like a live camera; otherwise every frame is
//   delivered, as fast as the consumer takes them, on the file's media time.
// - rtsp: `url` (required, rtsp://). mjpeg: `url` (required, http:// or
//   https://, a multipart/x-mixed-replace stream).
// - push: frames are posted to the camera (encoded images); no location.
// - `fps` (> 0, <= 1000): for live sources, realtime files and push, at most
//   this many frames are taken per second, always the newest; absent: every
//   frame the source produces (still the newest when the consumer is slower).
//
// ParseSourceSpec is the one parser of this document; ToJson writes it back
// (defaults included) so that a parsed spec round-trips. Plain values;
// thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace heteroaccel::video {

enum class SourceType { kFile, kRtsp, kMjpeg, kPush };

// "file", "rtsp", "mjpeg", "push".
std::string_view SourceTypeName(SourceType type);

struct SourceSpec {
  SourceType type = SourceType::kFile;
  std::string path;           // file only
  std::string url;            // rtsp and mjpeg only
  bool loop = false;          // file only
  bool realtime = false;      // file only
  std::optional<double> fps;  // frames taken per second; nullopt: the source's rate

  // Whether frames are read continuously and the newest is taken (everything
  // but a file read at media time).
  bool Live() const { return type != SourceType::kFile || realtime; }
  // The location shown to users: the path or the URL.
  const std::string& Location() const { return type == SourceType::kFile ? path : url; }

  friend bool operator==(const SourceSpec&, const SourceSpec&) = default;
};

// Parses and validates a camera's `source` object. Errors are InvalidArgument
// naming the camera and the key, e.g.
//   camera "c1": source: key "url": must start with rtsp://
//   camera "c1": source: unknown key "foo"
absl::StatusOr<SourceSpec> ParseSourceSpec(const nlohmann::json& json, std::string_view camera);

nlohmann::json ToJson(const SourceSpec& spec);

}  // namespace heteroaccel::video
