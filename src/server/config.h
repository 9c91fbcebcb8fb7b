// Server configuration (YAML), with the inference registry.
//
//   listen: 0.0.0.0:8000
//   grpc_listen: 0.0.0.0:8010        # optional
//   cluster_token_file: token.txt     # agents must present this token
//   admin_token_file: admin.txt       # changes (placement, revert) need this token
//   viewer_token_file: viewer.txt     # optional: reading needs this token
//   metrics_token_file: metrics.txt   # optional: /metrics and /v1/sd/targets need it
//   state_dir: /var/lib/heteroaccel   # the audit log (audit.db); "" keeps it in memory
//   prometheus: http://127.0.0.1:9090 # history queries are proxied there
//   cameras: cameras.yaml             # camera pipelines (docs/cameras.md); API changes go to
//                                     #   <state_dir>/cameras.db
//   mqtt: 127.0.0.1:1883              # camera events of rules feeding an mqtt sink
//   mqtt_prefix: heteroaccel          # topics <prefix>/events/<camera>/<type>
//   events_max_age: 30d               # camera events kept this long (s, m, h, d; 0 = no limit)
//   events_max_count: 1000000         # and at most this many (0 = no limit)
//   stream_interval_ms: 500           # live dashboard updates at most this often
//   policy: earliest-finish           # static | idle-first | earliest-finish
//   queue_capacity: 256               # per inference type
//   pipeline_depth: 1
//   node_timeout_ms: 1000             # a node is down after this long without a heartbeat
//   clock_offset_alert_seconds: 0.5   # fleet time: a node's clock this far off is an alert
//   forward_timeout_ms: 30000
//   max_attempts: 3                   # per request, across devices
//   max_connections: 0                # 0: derived from the descriptor limit
//   header_timeout_ms: 10000          # a request header must arrive within this
//   keepalive_timeout_ms: 30000       # idle keep-alive connections close after this
//   max_inflight_body_bytes: 536870912  # request bodies held at once, all connections
//   static_kinds: {face: gpu}         # policy static: the one kind each type runs on
//   kind_preference: [gpu, npu, cpu, fpga]
//   registry:                         # inference types -> variant per accelerator kind
//     face:
//       description: Face detection
//       variants: {cpu: blazeface-front-128, gpu: blazeface-front-128, npu: blazeface-back-256}
//       disabled: [fpga]                # optional: kinds forbidden to run it
//       pin: gpu                        # optional: the only kind that runs it
//     text:
//       degrade:                        # optional: faster variants under load
//         floor: 0.80                   #   never below this accuracy
//         variants: {ppocr-v4: 0.86, ppocr-v4-mobile: 0.81}  # accuracy of each
//
// A type missing from the registry runs on every device whose agent has loaded
// it, with that agent's default variant.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace heteroaccel::server {

// Variant degradation (docs/scheduling.md): under load a request may run a
// faster variant than its device's primary one, if that variant is listed here
// with an accuracy (the operator's own measure, in [0, 1]) at or above the
// floor and no more accurate than the primary's, when the primary is listed.
struct DegradePolicy {
  double floor = 0;
  std::vector<std::pair<std::string, double>> variants;  // variant, accuracy; as listed

  friend bool operator==(const DegradePolicy&, const DegradePolicy&) = default;
};

struct InferenceType {
  std::string description;
  // Accelerator kind -> variant. Empty: every kind, with each agent's default
  // variant; otherwise only the kinds listed run the type.
  std::map<std::string, std::string> variants;
  std::set<std::string> disabled;  // kinds that must not run it
  std::string pin;                 // "" or the only kind that runs it
  std::optional<DegradePolicy> degrade;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8000";
  std::string grpc_listen;
  std::string cluster_token;
  std::string admin_token;    // "" = changes are refused
  std::string viewer_token;   // "" = reading is open
  std::string metrics_token;  // "" = /metrics and service discovery are open
  std::string state_dir;      // "" = the audit log lives in memory only
  std::string prometheus;     // "" = no history
  // Camera pipelines (docs/cameras.md). Events live in <state_dir>/events.db (in
  // memory without a state dir), cameras changed through the API in cameras.db.
  std::string cameras_file;   // "" = no cameras at start
  std::string mqtt;           // "host:port"; "" = no MQTT
  std::string mqtt_prefix = "heteroaccel";
  int64_t events_max_age_ms = int64_t{30} * 24 * 3600 * 1000;  // 0 = no age limit
  size_t events_max_count = 1'000'000;                          // 0 = no count limit
  int stream_interval_ms = 500;
  std::string policy = "earliest-finish";
  int queue_capacity = 256;
  int pipeline_depth = 1;
  int node_timeout_ms = 1000;
  // The fleet time action's default threshold (a run's threshold_seconds overrides it).
  double clock_offset_alert_seconds = 0.5;
  int forward_timeout_ms = 30000;
  int max_attempts = 3;
  size_t max_body_bytes = 16u << 20;
  int io_threads = 1;
  // HTTP protection against slow and abusive clients (http/server.h).
  size_t max_connections = 0;  // 0: derived from the descriptor limit
  int header_timeout_ms = 10'000;
  int keepalive_timeout_ms = 30'000;
  size_t max_inflight_body_bytes = size_t{512} << 20;
  std::map<std::string, std::string> static_kinds;
  // Ties between equally free devices go to the earlier kind (idle-first), and
  // static picks the first kind that can run a type it has no entry for.
  std::vector<std::string> kind_preference = {"gpu", "npu", "cpu", "fpga"};
  std::map<std::string, InferenceType> registry;
};

// "30d", "12h", "90m", "3600s", "0": milliseconds; InvalidArgument otherwise.
absl::StatusOr<int64_t> ParseAgeMs(const std::string& text);

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);
absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml, const std::string& origin);

// The registry as JSON ({"face": {"description": ..., "variants": {...}}}) and back;
// FromJson validates kinds and names.
nlohmann::json RegistryToJson(const std::map<std::string, InferenceType>& registry);
nlohmann::json DegradeToJson(const DegradePolicy& degrade);
// {"floor": 0.8, "variants": {"name": 0.86, ...}}; InvalidArgument naming the
// key under `where` (e.g. "registry 'text': degrade.floor must be ...").
absl::StatusOr<DegradePolicy> DegradeFromJson(const nlohmann::json& json, const std::string& where);
absl::StatusOr<std::map<std::string, InferenceType>> RegistryFromJson(const nlohmann::json& json);

}  // namespace heteroaccel::server
