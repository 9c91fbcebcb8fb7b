// MjpegServer: a tiny HTTP server on 127.0.0.1 that serves the frames of a
// video file as Motion JPEG (`multipart/x-mixed-replace`), the way IP cameras
// and MJPEG streamers do, for tests of live sources.
//
// At Start() the file's first `max_frames` frames are decoded, scaled to
// `width` and JPEG-encoded once; every client then gets them in a loop at
// `fps`, from the first frame. Any request path is answered with the stream.
// Stop() closes the listening socket and every client; Restart() listens again
// on the same port. At most 16 clients at a time (more are refused).
//
// Owns its accept thread and one thread per client. Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace heteroaccel::video::testing {

class MjpegServer {
 public:
  struct Options {
    std::string file;     // a video file OpenCV reads
    double fps = 10;      // frames sent per second to each client
    int width = 320;      // scaled to this width; 0: as is
    int max_frames = 50;  // frames kept (then looped)
    int port = 0;         // 0: a free port
  };

  static absl::StatusOr<std::unique_ptr<MjpegServer>> Start(const Options& options);
  ~MjpegServer();
  MjpegServer(const MjpegServer&) = delete;
  MjpegServer& operator=(const MjpegServer&) = delete;

  // http://127.0.0.1:PORT/stream.mjpg
  std::string Url() const;
  int port() const { return port_.load(); }
  // Closes every client and stops listening; idempotent.
  void Stop();
  // Listens again on the same port (after Stop()).
  absl::Status Restart();
  // Clients accepted since Start().
  int clients() const { return clients_.load(); }

 private:
  explicit MjpegServer(Options options) : options_(std::move(options)) {}
  absl::Status Listen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptLoop(int listen_fd);
  void Serve(int fd);

  const Options options_;
  std::vector<std::string> jpegs_;  // set in Start(), read-only afterwards
  std::atomic<int> port_ = 0;
  std::atomic<int> clients_ = 0;
  std::atomic<bool> stopping_ = false;

  mutable absl::Mutex mu_;
  int listen_fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::thread acceptor_ ABSL_GUARDED_BY(mu_);
  absl::Mutex clients_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<int> client_fds_ ABSL_GUARDED_BY(clients_mu_);
  std::vector<std::thread> client_threads_ ABSL_GUARDED_BY(clients_mu_);
};

}  // namespace heteroaccel::video::testing
