#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cmd/heteroaccel/commands.h"
#include "server/server.h"

namespace heteroaccel::cmd {
namespace {

struct ServerFlags {
  std::string config_path;
  std::string listen;
  std::string grpc_listen;
  std::string policy;
  std::string cluster_token;
  std::string admin_token;
  std::string viewer_token;
  std::string metrics_token;
  std::string state_dir;
  std::string prometheus;
  std::string cameras;
  std::string mqtt;
  std::string mqtt_prefix;
  std::string events_max_age;
  int64_t events_max_count = -1;
  int stream_interval_ms = 0;
  int queue_capacity = 0;
  int pipeline_depth = -1;
  // Negative: not given, the config (or its default) stands.
  int64_t max_connections = -1;
  int header_timeout_ms = -1;
  int keepalive_timeout_ms = -1;
  int64_t max_inflight_body_bytes = -1;
};

int RunServer(const ServerFlags& flags) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServerConfig config;
  if (!flags.config_path.empty()) {
    auto loaded = server::LoadServerConfig(flags.config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "heteroaccel server: %s\n",
                   std::string(loaded.status().message()).c_str());
      return 1;
    }
    config = *loaded;
  }
  if (!flags.listen.empty()) config.listen = flags.listen;
  if (!flags.grpc_listen.empty()) config.grpc_listen = flags.grpc_listen;
  if (!flags.policy.empty()) config.policy = flags.policy;
  if (!flags.cluster_token.empty()) config.cluster_token = flags.cluster_token;
  if (!flags.admin_token.empty()) config.admin_token = flags.admin_token;
  if (!flags.viewer_token.empty()) config.viewer_token = flags.viewer_token;
  if (!flags.metrics_token.empty()) config.metrics_token = flags.metrics_token;
  if (!flags.state_dir.empty()) config.state_dir = flags.state_dir;
  if (!flags.prometheus.empty()) config.prometheus = flags.prometheus;
  if (!flags.cameras.empty()) config.cameras_file = flags.cameras;
  if (!flags.mqtt.empty()) config.mqtt = flags.mqtt;
  if (!flags.mqtt_prefix.empty()) config.mqtt_prefix = flags.mqtt_prefix;
  if (!flags.events_max_age.empty()) {
    auto age = server::ParseAgeMs(flags.events_max_age);
    if (!age.ok()) {
      std::fprintf(stderr, "heteroaccel server: --%s\n", std::string(age.status().message()).c_str());
      return 1;
    }
    config.events_max_age_ms = *age;
  }
  if (flags.events_max_count >= 0) {
    config.events_max_count = static_cast<size_t>(flags.events_max_count);
  }
  if (flags.stream_interval_ms > 0) config.stream_interval_ms = flags.stream_interval_ms;
  if (flags.queue_capacity > 0) config.queue_capacity = flags.queue_capacity;
  if (flags.pipeline_depth >= 0) config.pipeline_depth = flags.pipeline_depth;
  if (flags.max_connections >= 0) {
    config.max_connections = static_cast<size_t>(flags.max_connections);
  }
  if (flags.header_timeout_ms > 0) config.header_timeout_ms = flags.header_timeout_ms;
  if (flags.keepalive_timeout_ms > 0) config.keepalive_timeout_ms = flags.keepalive_timeout_ms;
  if (flags.max_inflight_body_bytes >= 0) {
    config.max_inflight_body_bytes = static_cast<size_t>(flags.max_inflight_body_bytes);
  }
  auto server = server::Server::Create(config);
  if (!server.ok()) {
    std::fprintf(stderr, "heteroaccel server: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  (*server)->Start();
  std::printf("heteroaccel server listening on http://%s (policy %s)\n",
              (*server)->address().c_str(), config.policy.c_str());
  if (!(*server)->grpc_address().empty()) {
    std::printf("gRPC (inference.GRPCInferenceService) on %s\n", (*server)->grpc_address().c_str());
  }
  std::printf("dashboard: http://%s/\n", (*server)->address().c_str());
  if (config.cluster_token.empty()) {
    spdlog::warn("no cluster token; any agent that can reach this port can register");
  }
  if (config.admin_token.empty()) {
    spdlog::info("no admin token; the execution interface is read-only (--admin-token)");
  }
  if (config.state_dir.empty()) {
    spdlog::info("the audit log is kept in memory only (--state-dir keeps it across restarts)");
  }
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("stopping (signal {})", signal);
  (*server)->Stop();
  return 0;
}

}  // namespace

void AddServerCommand(CLI::App& app) {
  auto flags = std::make_shared<ServerFlags>();
  CLI::App* cmd = app.add_subcommand("server", "Route requests to the device that finishes first");
  cmd->add_option("--config", flags->config_path, "server.yaml (registry, policy, ...)");
  cmd->add_option("--listen", flags->listen, "HOST:PORT (port 0 picks a free one)");
  cmd->add_option("--grpc-listen", flags->grpc_listen, "HOST:PORT for gRPC (default: off)");
  cmd->add_option("--policy", flags->policy, "static, idle-first or earliest-finish");
  cmd->add_option("--cluster-token", flags->cluster_token, "Secret agents must present")
      ->envname("HETEROACCEL_CLUSTER_TOKEN");
  cmd->add_option("--admin-token", flags->admin_token,
                  "Secret for changes (placement, revert); none: changes are refused")
      ->envname("HETEROACCEL_ADMIN_TOKEN");
  cmd->add_option("--viewer-token", flags->viewer_token,
                  "Secret for reading the dashboard's data (default: open)")
      ->envname("HETEROACCEL_VIEWER_TOKEN");
  cmd->add_option("--metrics-token", flags->metrics_token,
                  "Secret for /metrics and /v1/sd/targets (default: open)")
      ->envname("HETEROACCEL_METRICS_TOKEN");
  cmd->add_option("--state-dir", flags->state_dir,
                  "Directory for the audit log (audit.db), camera events (events.db, snapshots/) and "
                  "cameras changed through the API (cameras.db); default: kept in memory");
  cmd->add_option("--cameras", flags->cameras,
                  "Cameras file (YAML, docs/cameras.md); a file that does not validate stops the "
                  "start");
  cmd->add_option("--mqtt", flags->mqtt, "HOST:PORT of the MQTT broker camera events go to");
  cmd->add_option("--mqtt-prefix", flags->mqtt_prefix,
                  "MQTT topic prefix (default heteroaccel): <prefix>/events/<camera>/<type>");
  cmd->add_option("--events-max-age", flags->events_max_age,
                  "Camera events are kept this long (30d, 12h, 90m; 0: no limit; default 30d)");
  cmd->add_option("--events-max-count", flags->events_max_count,
                  "Camera events kept at most (0: no limit; default 1000000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--prometheus", flags->prometheus,
                  "Prometheus URL the dashboard's history is read from");
  cmd->add_option("--stream-interval-ms", flags->stream_interval_ms,
                  "Live dashboard updates at most this often (default 500)")
      ->check(CLI::Range(50, 60'000));
  cmd->add_option("--queue-capacity", flags->queue_capacity, "Waiting requests per type");
  cmd->add_option("--pipeline-depth", flags->pipeline_depth, "Extra requests bound per device");
  cmd->add_option("--max-connections", flags->max_connections,
                  "Open HTTP connections at most; idle ones are shed beyond (0: from ulimit -n)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--header-timeout-ms", flags->header_timeout_ms,
                  "Close a connection whose request header is not complete after this long "
                  "(default 10000)")
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--keepalive-timeout-ms", flags->keepalive_timeout_ms,
                  "Close a keep-alive connection idle between requests after this long "
                  "(default 30000)")
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--max-inflight-body-bytes", flags->max_inflight_body_bytes,
                  "Request bytes held at once across connections; beyond, 503 + Retry-After "
                  "(default 536870912)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([flags] { std::exit(RunServer(*flags)); });
}

}  // namespace heteroaccel::cmd
