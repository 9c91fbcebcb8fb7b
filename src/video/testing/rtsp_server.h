// RtspServer: a loopback RTSP server (GStreamer's gst-rtsp-server) that serves
// one video file as H.264 (x264enc; Motion JPEG when x264 is unavailable), for
// tests of live sources and the camera pipeline's end-to-end tests.
//
// The server listens on 127.0.0.1 only, on a free port (or the one asked for),
// and streams the file from its start to every client, paced at the file's
// frame rate, scaled down to keep the encoder cheap. Stop() closes every
// client and the listening socket; Restart() listens again on the same port,
// so a client sees the camera drop and come back.
//
// Owns its GLib main loop thread. Start/Stop/Restart/Url are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace heteroaccel::video::testing {

class RtspServer {
 public:
  struct Options {
    std::string file;               // any file GStreamer's decodebin plays
    std::string mount = "/stream";  // the path part of the URL
    int port = 0;                   // 0: a free port
    int width = 320;                // scaled to width x height (both > 0); else as is
    int height = 240;
    bool jpeg = false;  // serve Motion JPEG (RTP/JPEG) instead of H.264
  };

  static absl::StatusOr<std::unique_ptr<RtspServer>> Start(const Options& options);
  ~RtspServer();
  RtspServer(const RtspServer&) = delete;
  RtspServer& operator=(const RtspServer&) = delete;

  // rtsp://127.0.0.1:PORT/MOUNT
  std::string Url() const;
  int port() const { return port_.load(); }
  // Closes every client and stops listening; idempotent.
  void Stop();
  // Listens again on the same port (after Stop()).
  absl::Status Restart();

 private:
  struct Loop;
  explicit RtspServer(Options options);
  absl::Status Listen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  std::atomic<int> port_ = 0;  // fixed by the first Listen()
  mutable absl::Mutex mu_;
  std::unique_ptr<Loop> loop_ ABSL_GUARDED_BY(mu_);
};

// Whether GStreamer has the elements RtspServer needs (x264enc or jpegenc,
// decodebin, the RTSP server library); a reason when not.
absl::Status RtspServerAvailable();

}  // namespace heteroaccel::video::testing
