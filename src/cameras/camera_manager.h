// CameraManager: the server's cameras. It loads the cameras file (YAML, the
// schema in docs/cameras.md) at start, keeps the cameras the API creates,
// changes or deletes in SQLite (<state_dir>/cameras.db; in memory without a
// state dir), and runs one CameraRunner per started camera.
//
// Where a camera comes from, at Create():
//   1. the cameras file's cameras, in the file's order (a file that does not
//      validate is an error: the server refuses to start with its message);
//   2. then the database: every camera the API created or changed replaces the
//      file's camera of the same id (or is added), and a camera the API deleted
//      stays deleted even if the file still lists it. The file is read-only to
//      the server: an API change to one of its cameras overrides it, and the
//      file's later edits to that id are ignored until the API deletes it and
//      the file is loaded again (delete also records a tombstone; see
//      docs/cameras.md).
// Start/stop through the API set the camera's `enabled` (persisted), so a
// stopped camera stays stopped across restarts.
//
// Every document goes through one validator: pipeline::ParseCameraSpec, the
// source's parser and the runner's construction (rules, tracker). Errors are
// InvalidArgument naming the camera, block and key; AlreadyExists for a
// duplicate id; NotFound for an unknown id.
//
// Runners are single-use: starting a stopped (or ended) camera makes a new
// runner, from the first frame for files.
//
// Thread-safety: all methods are thread-safe. Changes are serialised (one at
// a time, including the stop of a runner, bounded by RunnerOptions::stop_wait);
// reads only wait for the map lock.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cameras/camera_metrics.h"
#include "cameras/camera_runner.h"
#include "cameras/inference_backend.h"
#include "metrics/metrics.h"
#include "pipeline/spec/spec.h"

struct sqlite3;

namespace heteroaccel::cameras {

struct ManagerOptions {
  std::string cameras_file;  // "" = none
  std::string state_dir;     // "" = API changes live in memory only
  size_t max_cameras = 256;
  RunnerOptions runner;
};

class CameraManager {
 public:
  // `backend`, `outputs`' targets and `registry` (may be null) must outlive
  // the manager. Loads the file and the database; starts nothing.
  static absl::StatusOr<std::unique_ptr<CameraManager>> Create(ManagerOptions options,
                                                               InferenceBackend& backend,
                                                               EventOutputs outputs,
                                                               metrics::Registry* registry);
  ~CameraManager();  // StopAll()
  CameraManager(const CameraManager&) = delete;
  CameraManager& operator=(const CameraManager&) = delete;

  // Starts every enabled camera (a camera that cannot start is logged and
  // shows its error in its state).
  void StartAll();
  void StopAll();

  // The camera JSON: {"id", "origin": "file"|"api", "spec": {...},
  //                   "status": CameraRunner::StateJson() (or {"state": "stopped"})}
  nlohmann::json List();
  absl::StatusOr<nlohmann::json> Get(const std::string& id);
  absl::StatusOr<nlohmann::json> Pipeline(const std::string& id);

  // Creates (and starts when enabled). AlreadyExists for a known id.
  absl::StatusOr<nlohmann::json> Add(const nlohmann::json& document);
  // Replaces a camera's whole document (restarting it). The body's id, when
  // given, must be `id`.
  absl::StatusOr<nlohmann::json> Replace(const std::string& id, nlohmann::json document);
  absl::Status Remove(const std::string& id);
  absl::StatusOr<nlohmann::json> Start(const std::string& id);
  absl::StatusOr<nlohmann::json> Stop(const std::string& id);
  // {"zones": [...], "lines": [...]}: the dashboard's drag edits; the camera
  // restarts with the new geometry.
  absl::StatusOr<nlohmann::json> SetGeometry(const std::string& id, const nlohmann::json& geometry);

  // NotFound before the first frame.
  absl::StatusOr<std::shared_ptr<const std::string>> LatestFrame(const std::string& id);
  // Push sources: FailedPrecondition (409) for other sources or a stopped
  // camera, ResourceExhausted (429) when its window is full.
  absl::Status Push(const std::string& id, std::string_view encoded_image);

  size_t size();

 private:
  struct Camera {
    pipeline::CameraSpec spec;
    std::string origin;  // "file" or "api"
    std::shared_ptr<CameraRunner> runner;
  };
  struct HookState;

  CameraManager(ManagerOptions options, InferenceBackend& backend, EventOutputs outputs,
                metrics::Registry* registry, sqlite3* db);
  // Validates a document: the spec and a runner made from it (not started).
  absl::StatusOr<std::pair<pipeline::CameraSpec, std::shared_ptr<CameraRunner>>> Build(
      const nlohmann::json& document);
  absl::StatusOr<std::shared_ptr<CameraRunner>> MakeRunner(const pipeline::CameraSpec& spec);
  absl::Status Persist(const std::string& id, const pipeline::CameraSpec* spec);
  absl::Status LoadDatabase();
  // Stops and replaces camera `id`'s runner by `runner` (started when the spec
  // is enabled). change_mu_ held.
  void Swap(const std::string& id, std::shared_ptr<CameraRunner> runner);
  nlohmann::json CameraJson(const Camera& camera);
  std::shared_ptr<CameraRunner> RunnerOf(const std::string& id, bool& found);

  const ManagerOptions options_;
  InferenceBackend& backend_;
  const EventOutputs outputs_;
  std::unique_ptr<CameraMetrics> metrics_;
  std::shared_ptr<HookState> hook_;

  std::mutex change_mu_;  // one change at a time; taken before mu_
  std::mutex mu_;
  std::map<std::string, Camera> cameras_;  // guarded by mu_
  std::vector<std::string> order_;         // ids in creation order; guarded by mu_
  sqlite3* const db_;                      // guarded by change_mu_
};

}  // namespace heteroaccel::cameras
