#include "cameras/camera_manager.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace heteroaccel::cameras {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS cameras (
  id TEXT PRIMARY KEY,
  document TEXT,            -- canonical JSON; NULL: deleted through the API
  updated_ms INTEGER NOT NULL);
)sql";

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("no camera \"", id, "\""));
}

}  // namespace

struct CameraManager::HookState {
  std::mutex mu;
  CameraManager* self = nullptr;  // null once the manager is gone
};

CameraManager::CameraManager(ManagerOptions options, InferenceBackend& backend,
                             EventOutputs outputs, metrics::Registry* registry, sqlite3* db)
    : options_(std::move(options)),
      backend_(backend),
      outputs_(std::move(outputs)),
      hook_(std::make_shared<HookState>()),
      db_(db) {
  if (registry != nullptr) {
    metrics_ = std::make_unique<CameraMetrics>(*registry);
    hook_->self = this;
    registry->AddCollectHook([hook = hook_] {
      std::lock_guard<std::mutex> lock(hook->mu);
      if (hook->self == nullptr) return;
      std::vector<std::shared_ptr<CameraRunner>> runners;
      {
        std::lock_guard<std::mutex> l(hook->self->mu_);
        for (auto& [id, camera] : hook->self->cameras_) {
          if (camera.runner) runners.push_back(camera.runner);
        }
      }
      for (auto& runner : runners) runner->ExportMetrics();
    });
  }
}

absl::StatusOr<std::unique_ptr<CameraManager>> CameraManager::Create(ManagerOptions options,
                                                                     InferenceBackend& backend,
                                                                     EventOutputs outputs,
                                                                     metrics::Registry* registry) {
  if (outputs.store == nullptr) return absl::InvalidArgumentError("cameras: no event store");
  std::vector<pipeline::CameraSpec> from_file;
  if (!options.cameras_file.empty()) {
    std::ifstream in(options.cameras_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("cannot read the cameras file ", options.cameras_file));
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = pipeline::ParseCamerasYaml(text.str());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.cameras_file, ": ", parsed.status().message()));
    }
    from_file = *std::move(parsed);
  }
  std::string path = ":memory:";
  if (!options.state_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.state_dir, error);
    path = (std::filesystem::path(options.state_dir) / "cameras.db").string();
  }
  sqlite3* db = nullptr;
  char* error = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db,
                   absl::StrCat(options.state_dir.empty() ? "" : "PRAGMA journal_mode=WAL;",
                                "PRAGMA busy_timeout=2000;", kSchema)
                       .c_str(),
                   nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why =
        error != nullptr ? error : (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_free(error);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open the cameras database ", path, ": ", why));
  }
  std::unique_ptr<CameraManager> manager(
      new CameraManager(std::move(options), backend, std::move(outputs), registry, db));
  for (pipeline::CameraSpec& spec : from_file) {
    auto runner = manager->MakeRunner(spec);
    if (!runner.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(manager->options_.cameras_file, ": ", runner.status().message()));
    }
    const std::string id = spec.id;
    manager->order_.push_back(id);
    manager->cameras_[id] = Camera{std::move(spec), "file", *std::move(runner)};
  }
  if (absl::Status s = manager->LoadDatabase(); !s.ok()) return s;
  return manager;
}

CameraManager::~CameraManager() {
  {
    std::lock_guard<std::mutex> lock(hook_->mu);
    hook_->self = nullptr;
  }
  StopAll();
  sqlite3_close(db_);
}

absl::Status CameraManager::LoadDatabase() {
  Statement s;
  sqlite3_prepare_v2(db_, "SELECT id, document FROM cameras ORDER BY updated_ms", -1, &s.stmt,
                     nullptr);
  while (sqlite3_step(s.stmt) == SQLITE_ROW) {
    const char* id_text = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
    const std::string id = id_text == nullptr ? "" : id_text;
    const unsigned char* doc = sqlite3_column_text(s.stmt, 1);
    if (doc == nullptr) {  // deleted through the API
      cameras_.erase(id);
      std::erase(order_, id);
      continue;
    }
    const nlohmann::json json =
        nlohmann::json::parse(reinterpret_cast<const char*>(doc), nullptr, false);
    auto built = Build(json);
    if (!built.ok()) {
      spdlog::warn("cameras.db: camera {} no longer validates, skipped: {}", id,
                   built.status().ToString());
      continue;
    }
    if (!cameras_.contains(id)) order_.push_back(id);
    cameras_[id] = Camera{std::move(built->first), "api", std::move(built->second)};
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<CameraRunner>> CameraManager::MakeRunner(
    const pipeline::CameraSpec& spec) {
  auto runner = CameraRunner::Create(spec, options_.runner, backend_, outputs_, metrics_.get());
  if (!runner.ok()) return runner.status();
  return std::shared_ptr<CameraRunner>(std::move(*runner));
}

absl::StatusOr<std::pair<pipeline::CameraSpec, std::shared_ptr<CameraRunner>>> CameraManager::Build(
    const nlohmann::json& document) {
  if (!document.is_object()) {
    return absl::InvalidArgumentError("a camera must be a JSON object (see docs/cameras.md)");
  }
  auto spec = pipeline::ParseCameraSpec(document);
  if (!spec.ok()) return spec.status();
  auto runner = MakeRunner(*spec);
  if (!runner.ok()) return runner.status();
  return std::make_pair(*std::move(spec), *std::move(runner));
}

absl::Status CameraManager::Persist(const std::string& id, const pipeline::CameraSpec* spec) {
  Statement s;
  sqlite3_prepare_v2(db_,
                     "INSERT INTO cameras (id, document, updated_ms) VALUES (?, ?, ?) "
                     "ON CONFLICT(id) DO UPDATE SET document = excluded.document, "
                     "updated_ms = excluded.updated_ms",
                     -1, &s.stmt, nullptr);
  sqlite3_bind_text(s.stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  std::string doc;
  if (spec != nullptr) {
    doc = pipeline::ToJson(*spec).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    sqlite3_bind_text(s.stmt, 2, doc.c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(s.stmt, 2);
  }
  sqlite3_bind_int64(s.stmt, 3, NowMs());
  if (sqlite3_step(s.stmt) != SQLITE_DONE) {
    return absl::UnavailableError(
        absl::StrCat("cannot save camera \"", id, "\": ", sqlite3_errmsg(db_)));
  }
  return absl::OkStatus();
}

void CameraManager::Swap(const std::string& id, std::shared_ptr<CameraRunner> runner) {
  std::shared_ptr<CameraRunner> old;
  bool enabled = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Camera& camera = cameras_.at(id);
    old = std::exchange(camera.runner, runner);
    enabled = camera.spec.enabled;
  }
  if (old) {
    old->Stop();
    if (old != runner) old->RemoveMetrics();
  }
  if (enabled && runner) {
    if (absl::Status s = runner->Start(); !s.ok()) {
      spdlog::warn("camera {}: cannot start: {}", id, s.ToString());
    }
  }
}

void CameraManager::StartAll() {
  std::lock_guard<std::mutex> change(change_mu_);
  std::vector<std::pair<std::string, std::shared_ptr<CameraRunner>>> to_start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : order_) {
      const Camera& camera = cameras_.at(id);
      if (camera.spec.enabled && camera.runner) to_start.emplace_back(id, camera.runner);
    }
  }
  for (auto& [id, runner] : to_start) {
    if (absl::Status s = runner->Start(); !s.ok()) {
      spdlog::warn("camera {}: cannot start: {}", id, s.ToString());
    }
  }
}

void CameraManager::StopAll() {
  std::lock_guard<std::mutex> change(change_mu_);
  std::vector<std::shared_ptr<CameraRunner>> runners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, camera] : cameras_) {
      if (camera.runner) runners.push_back(camera.runner);
    }
  }
  for (auto& runner : runners) runner->Stop();
}

nlohmann::json CameraManager::CameraJson(const Camera& camera) {
  nlohmann::json status =
      camera.runner ? camera.runner->StateJson() : nlohmann::json{{"state", "stopped"}};
  return {{"id", camera.spec.id},
          {"origin", camera.origin},
          {"spec", pipeline::ToJson(camera.spec)},
          {"status", std::move(status)}};
}

nlohmann::json CameraManager::List() {
  std::vector<Camera> copies;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : order_) copies.push_back(cameras_.at(id));
  }
  nlohmann::json list = nlohmann::json::array();
  for (const Camera& c : copies) list.push_back(CameraJson(c));
  return {{"cameras", std::move(list)}};
}

absl::StatusOr<nlohmann::json> CameraManager::Get(const std::string& id) {
  Camera copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cameras_.find(id);
    if (it == cameras_.end()) return NotFound(id);
    copy = it->second;
  }
  return CameraJson(copy);
}

std::shared_ptr<CameraRunner> CameraManager::RunnerOf(const std::string& id, bool& found) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cameras_.find(id);
  found = it != cameras_.end();
  return found ? it->second.runner : nullptr;
}

absl::StatusOr<nlohmann::json> CameraManager::Pipeline(const std::string& id) {
  bool found = false;
  std::shared_ptr<CameraRunner> runner = RunnerOf(id, found);
  if (!found) return NotFound(id);
  if (runner == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("camera \"", id, "\" has no pipeline running; POST /v1/cameras/", id,
                     "/start starts it"));
  }
  nlohmann::json pipeline = runner->PipelineJson();
  pipeline["status"] = runner->StateJson();
  return pipeline;
}

absl::StatusOr<nlohmann::json> CameraManager::Add(const nlohmann::json& document) {
  std::lock_guard<std::mutex> change(change_mu_);
  auto built = Build(document);
  if (!built.ok()) return built.status();
  const std::string id = built->first.id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cameras_.contains(id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("camera \"", id, "\" already exists; PUT /v1/cameras/", id, " replaces it"));
    }
    if (cameras_.size() >= options_.max_cameras) {
      return absl::ResourceExhaustedError(
          absl::StrCat("at most ", options_.max_cameras, " cameras; delete one first"));
    }
  }
  if (absl::Status s = Persist(id, &built->first); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    order_.push_back(id);
    cameras_[id] = Camera{built->first, "api", nullptr};
  }
  Swap(id, built->second);
  return Get(id);
}

absl::StatusOr<nlohmann::json> CameraManager::Replace(const std::string& id,
                                                      nlohmann::json document) {
  if (document.is_object()) {
    auto given = document.find("id");
    if (given == document.end()) {
      document["id"] = id;
    } else if (!given->is_string() || given->get<std::string>() != id) {
      return absl::InvalidArgumentError(
          absl::StrCat("camera \"", id, "\": key \"id\": must be \"", id,
                       "\" (the path's id; a camera cannot be renamed)"));
    }
  }
  std::lock_guard<std::mutex> change(change_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cameras_.contains(id)) return NotFound(id);
  }
  auto built = Build(document);
  if (!built.ok()) return built.status();
  if (absl::Status s = Persist(id, &built->first); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Camera& camera = cameras_.at(id);
    camera.spec = built->first;
    camera.origin = "api";
  }
  Swap(id, built->second);
  return Get(id);
}

absl::Status CameraManager::Remove(const std::string& id) {
  std::lock_guard<std::mutex> change(change_mu_);
  std::shared_ptr<CameraRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cameras_.find(id);
    if (it == cameras_.end()) return NotFound(id);
  }
  if (absl::Status s = Persist(id, nullptr); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runner = std::move(cameras_.at(id).runner);
    cameras_.erase(id);
    std::erase(order_, id);
  }
  if (runner) {
    runner->Stop();
    runner->RemoveMetrics();
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> CameraManager::Start(const std::string& id) {
  std::lock_guard<std::mutex> change(change_mu_);
  pipeline::CameraSpec spec;
  std::shared_ptr<CameraRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cameras_.find(id);
    if (it == cameras_.end()) return NotFound(id);
    spec = it->second.spec;
    runner = it->second.runner;
  }
  if (spec.enabled && runner && runner->running()) return Get(id);
  spec.enabled = true;
  auto fresh = MakeRunner(spec);
  if (!fresh.ok()) return fresh.status();
  if (absl::Status s = Persist(id, &spec); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cameras_.at(id).spec.enabled = true;
    cameras_.at(id).origin = "api";
  }
  Swap(id, *std::move(fresh));
  return Get(id);
}

absl::StatusOr<nlohmann::json> CameraManager::Stop(const std::string& id) {
  std::lock_guard<std::mutex> change(change_mu_);
  pipeline::CameraSpec spec;
  std::shared_ptr<CameraRunner> runner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cameras_.find(id);
    if (it == cameras_.end()) return NotFound(id);
    spec = it->second.spec;
    runner = it->second.runner;
  }
  spec.enabled = false;
  if (absl::Status s = Persist(id, &spec); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cameras_.at(id).spec.enabled = false;
    cameras_.at(id).origin = "api";
  }
  // The stopped runner stays: its state and counters remain visible.
  if (runner) runner->Stop();
  return Get(id);
}

absl::StatusOr<nlohmann::json> CameraManager::SetGeometry(const std::string& id,
                                                          const nlohmann::json& geometry) {
  std::lock_guard<std::mutex> change(change_mu_);
  pipeline::CameraSpec spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cameras_.find(id);
    if (it == cameras_.end()) return NotFound(id);
    spec = it->second.spec;
  }
  if (absl::Status s = pipeline::SetGeometry(spec, geometry); !s.ok()) return s;
  auto runner = MakeRunner(spec);
  if (!runner.ok()) return runner.status();
  if (absl::Status s = Persist(id, &spec); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cameras_.at(id).spec = spec;
    cameras_.at(id).origin = "api";
  }
  Swap(id, *std::move(runner));
  return Get(id);
}

absl::StatusOr<std::shared_ptr<const std::string>> CameraManager::LatestFrame(
    const std::string& id) {
  bool found = false;
  std::shared_ptr<CameraRunner> runner = RunnerOf(id, found);
  if (!found) return NotFound(id);
  std::shared_ptr<const std::string> frame = runner ? runner->LatestFrame() : nullptr;
  if (frame == nullptr) {
    return absl::NotFoundError(absl::StrCat("camera \"", id, "\" has no frame yet"));
  }
  return frame;
}

absl::Status CameraManager::Push(const std::string& id, std::string_view encoded_image) {
  bool found = false;
  std::shared_ptr<CameraRunner> runner = RunnerOf(id, found);
  if (!found) return NotFound(id);
  if (!runner) return absl::FailedPreconditionError(absl::StrCat("camera \"", id, "\" is stopped"));
  return runner->Push(encoded_image);
}

size_t CameraManager::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return cameras_.size();
}

}  // namespace heteroaccel::cameras
