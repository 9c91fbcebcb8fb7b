#include "server/server.h"

#include <spdlog/spdlog.h>

#include <stdlib.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cameras/camera_manager.h"
#include "common/status_macros.h"
#include "events/event_store.h"
#include "events/mqtt_publisher.h"
#include "events/webhook_sink.h"
#include "grpc/server.h"
#include "http/server.h"
#include "httpapi/server_metrics.h"
#include "repository/model_store.h"
#include "server/audit_log.h"
#include "server/grpc_service.h"
#include "server/node_settings.h"
#include "server/handlers.h"
#include "server/history_proxy.h"
#include "server/http_agent_channel.h"
#include "server/live_stats.h"
#include "server/placement.h"
#include "server/stream_hub.h"
#include "server/web_assets.h"

namespace heteroaccel::server {

struct Server::State {
  ServerConfig config;
  std::unique_ptr<metrics::Registry> registry;
  std::unique_ptr<LiveStats> stats;           // outlives the dispatcher that feeds it
  std::unique_ptr<HttpAgentChannel> channel;  // outlives the dispatcher
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<repository::ModelStore> models;  // with a state dir only
  std::unique_ptr<NodeSettingsStore> node_settings;
  std::unique_ptr<StreamHub> hub;
  std::unique_ptr<HistoryProxy> history;
  std::unique_ptr<ServerContext> context;
  std::unique_ptr<http::Server> http;
  std::unique_ptr<GrpcService> grpc_service;
  std::unique_ptr<grpcfront::GrpcServer> grpc;
  // The live stream's publisher.
  std::thread publisher;
  std::mutex publisher_mu;
  std::condition_variable publisher_wake;
  bool stopping = false;
  int64_t started_ms = 0;

  nlohmann::json StateDocument() {
    nlohmann::json services = stats->ServicesJson();
    for (auto& [type, figures] : services.items()) {
      figures["queued"] = dispatcher->QueuedOf(type);
    }
    nlohmann::json placement = dispatcher->PlacementJson();
    const std::string policy = placement["policy"];
    return {{"server",
             {{"version", HETEROACCEL_VERSION},
              {"started_ms", started_ms},
              {"policy", policy},
              {"prometheus", history->configured()},
              {"admin", !config.admin_token.empty()},
              {"dashboard_built", WebAssetsBuilt()}}},
            {"nodes", dispatcher->FleetJson()},
            {"services", std::move(services)},
            {"placement", std::move(placement)},
            {"prediction", stats->PredictionJson()},
            {"sse_clients", hub->clients()}};
  }

  void Publish() {
    // A client that connects before the first interval still gets the state.
    hub->SetState(StateDocument());
    const auto interval = std::chrono::milliseconds(config.stream_interval_ms);
    auto next_heartbeat = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::unique_lock<std::mutex> lock(publisher_mu);
    while (!publisher_wake.wait_for(lock, interval, [this] { return stopping; })) {
      lock.unlock();
      hub->SetState(StateDocument());
      size_t skipped = 0;
      nlohmann::json decisions = stats->TakeDecisionUpdates(50, skipped);
      if (!decisions.empty()) {
        hub->Publish("decisions", {{"decisions", std::move(decisions)}, {"skipped", skipped}});
      }
      if (std::chrono::steady_clock::now() >= next_heartbeat) {
        hub->Heartbeat();
        next_heartbeat += std::chrono::seconds(10);
      }
      sse_clients->Set(static_cast<double>(hub->clients()));
      lock.lock();
    }
  }
  metrics::Gauge* sse_clients = nullptr;

  // Camera pipelines. Declared last: the cameras stop first, while what they
  // feed (dispatcher, store, MQTT, webhooks) is still there.
  // Without a state dir, events and their snapshots go to a temporary
  // directory (snapshots in files, not in memory), removed when the server ends.
  struct ScratchDir {
    std::string path;
    ~ScratchDir() {
      std::error_code ignored;
      if (!path.empty()) std::filesystem::remove_all(path, ignored);
    }
  } events_scratch;
  std::unique_ptr<events::EventStore> events;
  std::unique_ptr<events::MqttPublisher> mqtt;
  std::mutex webhooks_mu;
  std::map<std::string, std::unique_ptr<events::WebhookSink>> webhooks;  // by URL
  std::unique_ptr<cameras::InferenceBackend> camera_backend;
  std::unique_ptr<cameras::CameraManager> cameras;

  // Sends an event message to a webhook URL, one sink (queue, worker) per URL.
  void Webhook(const std::string& url, const nlohmann::json& message) {
    std::lock_guard<std::mutex> lock(webhooks_mu);
    auto it = webhooks.find(url);
    if (it == webhooks.end()) {
      auto sink = events::WebhookSink::Create({.url = url});
      if (!sink.ok()) {
        spdlog::warn("webhook {}: {}", url, sink.status().ToString());
        it = webhooks.emplace(url, nullptr).first;  // refused once, not retried per event
      } else {
        it = webhooks.emplace(url, *std::move(sink)).first;
      }
    }
    if (it->second != nullptr) it->second->Send(message);
  }

  absl::Status CreateCameras() {
    events::EventStoreOptions store;
    store.dir = config.state_dir;
    if (store.dir.empty()) {
      std::string pattern =
          (std::filesystem::temp_directory_path() / "heteroaccel-events-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) {
        return absl::UnavailableError(
            absl::StrCat("cannot create a temporary directory for camera events: ",
                         std::strerror(errno)));
      }
      events_scratch.path = pattern;
      store.dir = pattern;
    }
    store.max_age = std::chrono::milliseconds(config.events_max_age_ms);
    store.max_count = config.events_max_count;
    ASSIGN_OR_RETURN(events, events::EventStore::Open(store));
    if (!config.mqtt.empty()) {
      events::MqttOptions mqtt_options;
      ASSIGN_OR_RETURN(std::tie(mqtt_options.host, mqtt_options.port),
                       http::ParseListenAddress(config.mqtt));
      mqtt_options.prefix = config.mqtt_prefix;
      ASSIGN_OR_RETURN(mqtt, events::MqttPublisher::Create(mqtt_options));
    }
    camera_backend = MakeDispatcherBackend(*dispatcher);
    cameras::EventOutputs outputs;
    outputs.store = events.get();
    outputs.mqtt = mqtt.get();
    outputs.webhook = [this](const std::string& url, const nlohmann::json& message) {
      Webhook(url, message);
    };
    outputs.stream = [this](const nlohmann::json& message) {
      hub->Publish("camera_event", {{"event", message}});
    };
    cameras::ManagerOptions options;
    options.cameras_file = config.cameras_file;
    options.state_dir = config.state_dir;
    ASSIGN_OR_RETURN(cameras, cameras::CameraManager::Create(options, *camera_backend,
                                                             std::move(outputs), registry.get()));
    return absl::OkStatus();
  }
};

namespace {}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerConfig& config) {
  auto state = std::make_unique<State>();
  state->config = config;
  RETURN_IF_ERROR(scheduler::ParsePolicy(config.policy).status());
  state->registry = std::make_unique<metrics::Registry>();
  state->registry->AddGauge("heteroaccel_build_info", "Version of this binary", {"version", "role"})
      .WithLabels({HETEROACCEL_VERSION, "server"})
      .Set(1);
  state->channel =
      std::make_unique<HttpAgentChannel>(std::chrono::milliseconds(config.forward_timeout_ms));
  state->stats = std::make_unique<LiveStats>(LiveStats::Options{}, SystemClock(), *state->registry);
  state->dispatcher = std::make_unique<Dispatcher>(config, *state->registry, SystemClock(),
                                                   *state->channel, state->stats.get());
  std::string audit_path;
  if (!config.state_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(config.state_dir, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot create --state-dir ", config.state_dir, ": ", error.message()));
    }
    audit_path = (std::filesystem::path(config.state_dir) / "audit.db").string();
  }
  ASSIGN_OR_RETURN(state->audit, AuditLog::Open(audit_path));
  if (!config.state_dir.empty()) {
    repository::Options models;
    models.root_dir = (std::filesystem::path(config.state_dir) / "models").string();
    ASSIGN_OR_RETURN(state->models, repository::ModelStore::Open(models, SystemClock()));
    const repository::Recovery& recovery = state->models->recovery();
    if (recovery.temp_files_removed + recovery.orphan_blobs_removed > 0 ||
        !recovery.missing_blobs.empty()) {
      spdlog::warn("model repository {}: removed {} interrupted uploads and {} orphan blobs; {} "
                   "recorded artifacts are missing",
                   models.root_dir, recovery.temp_files_removed, recovery.orphan_blobs_removed,
                   recovery.missing_blobs.size());
    }
  }
  // Groups and labels assigned to nodes through the API, before any node reports.
  ASSIGN_OR_RETURN(state->node_settings,
                   NodeSettingsStore::Open(config.state_dir.empty()
                                               ? ":memory:"
                                               : (std::filesystem::path(config.state_dir) /
                                                  "nodes.db")
                                                     .string()));
  {
    ASSIGN_OR_RETURN(auto assigned, state->node_settings->Load());
    for (auto& [node, settings] : assigned) {
      state->dispatcher->SetNodeSettings(node, std::move(settings));
    }
  }
  // The placement the operators last chose, as the audit log recorded it.
  if (std::optional<AuditEntry> last = state->audit->LastPlacement()) {
    if (auto restored = ParsePlacementState(last->state_after); restored.ok()) {
      state->dispatcher->RestorePlacement(*restored, last->version_after);
      spdlog::info("placement restored from audit entry {} ({})", last->id, audit_path);
    } else {
      spdlog::warn("audit entry {}: {}; keeping the configured placement", last->id,
                   restored.status().ToString());
    }
  }
  state->hub = std::make_unique<StreamHub>();
  state->hub->SetSnapshotExtras([s = state.get()] {
    nlohmann::json audit = nlohmann::json::array();
    for (const AuditEntry& e : s->audit->Recent(50)) audit.push_back(AuditLog::ToJson(e));
    return nlohmann::json{{"decisions", s->stats->RecentDecisions(50)},
                          {"audit", std::move(audit)}};
  });
  state->history = std::make_unique<HistoryProxy>(config.prometheus);
  state->sse_clients = &state->registry
                            ->AddGauge("heteroaccel_server_sse_clients",
                                       "Dashboards connected to the live stream (/v1/stream)", {})
                            .WithLabels({});
  RETURN_IF_ERROR(state->CreateCameras());
  state->started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  state->context.reset(
      new ServerContext{*state->dispatcher, *state->registry, config.cluster_token});
  ServerContext& context = *state->context;
  context.stats = state->stats.get();
  context.hub = state->hub.get();
  context.audit = state->audit.get();
  context.history = state->history.get();
  context.admin_token = config.admin_token;
  context.clock_offset_alert_seconds = config.clock_offset_alert_seconds;
  context.viewer_token = config.viewer_token;
  context.metrics_token = config.metrics_token;
  context.cameras = state->cameras.get();
  context.events = state->events.get();
  context.models = state->models.get();
  context.node_settings = state->node_settings.get();
  http::Router router;
  AddFrontRoutes(router, context);
  AddClusterRoutes(router, context);
  AddDashboardRoutes(router, context);
  AddK8sRoutes(router, context);
  AddCameraRoutes(router, context);
  AddRepositoryRoutes(router, context);
  AddFleetRoutes(router, context);
  http::ServerOptions options;
  ASSIGN_OR_RETURN(std::tie(options.host, options.port), http::ParseListenAddress(config.listen));
  options.max_body_bytes = config.max_body_bytes;
  options.io_threads = config.io_threads;
  options.max_connections = config.max_connections;
  options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  options.keepalive_timeout = std::chrono::milliseconds(config.keepalive_timeout_ms);
  options.max_inflight_body_bytes = config.max_inflight_body_bytes;
  ASSIGN_OR_RETURN(state->http, http::Server::Create(options, std::move(router)));
  httpapi::ExportHttpServerMetrics(*state->registry, *state->http);
  if (!config.grpc_listen.empty()) {
    state->grpc_service = std::make_unique<GrpcService>(*state->dispatcher);
    grpcfront::GrpcServerOptions grpc_options;
    grpc_options.listen = config.grpc_listen;
    grpc_options.max_message_bytes = static_cast<int>(config.max_body_bytes);
    ASSIGN_OR_RETURN(state->grpc,
                     grpcfront::GrpcServer::Create(grpc_options, *state->grpc_service));
  }
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() { Stop(); }

void Server::Start() {
  state_->dispatcher->Start();
  state_->http->Start();
  state_->publisher = std::thread([s = state_.get()] { s->Publish(); });
  state_->cameras->StartAll();
}

void Server::Stop() {
  {
    std::lock_guard<std::mutex> lock(state_->publisher_mu);
    state_->stopping = true;
  }
  state_->publisher_wake.notify_all();
  if (state_->publisher.joinable()) state_->publisher.join();
  state_->cameras->StopAll();  // while the dispatcher still answers their frames
  if (state_->grpc) state_->grpc->Stop();
  state_->http->Stop();
  state_->dispatcher->Stop();
}

std::string Server::address() const { return state_->http->address(); }
std::string Server::grpc_address() const { return state_->grpc ? state_->grpc->address() : ""; }

}  // namespace heteroaccel::server
