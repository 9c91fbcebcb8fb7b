// /v1/fleet/...: the agent's fleet operations (agent/fleet.h, docs/fleet.md).
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/fleet.h"
#include "node/node_facts.h"
#include <spdlog/spdlog.h>

namespace heteroaccel::agent {
namespace {

using Json = nlohmann::json;

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

http::Response Refuse(int status, std::string message) {
  http::Response r = JsonResponse({{"error", std::move(message)}}, status);
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

Json DeviceJson(const devices::Device& d) {
  Json attributes = Json::object();
  for (const auto& [key, value] : d.attributes) attributes[key] = value;
  return {{"id", d.id},         {"kind", devices::KindName(d.kind)},
          {"name", d.name},     {"vendor", d.vendor},
          {"source", d.source}, {"state", devices::StateName(d.state)},
          {"emulated", d.emulated}, {"attributes", std::move(attributes)}};
}

// Accelerators as probed, with their driver versions where the probe has them
// (NVML's driver_version, OpenCL's driver attributes).
Json DevicesJson(const AgentContext& context, bool live) {
  Json devices = Json::array();
  for (const runtime::DeviceState& s : context.executor.Snapshot()) {
    Json d = DeviceJson(s.device.device);
    if (live) {
      int allocated = 0, queued = 0;
      for (const runtime::SlotState& slot : s.slots) {
        allocated += slot.allocated ? 1 : 0;
        queued += static_cast<int>(slot.queue_depth);
      }
      d["slots"] = s.slots.size();
      d["busy_slots"] = allocated;
      d["queue_depth"] = queued;
      d["busy_seconds"] = s.busy_seconds;
      d["warm"] = s.warm;
      if (s.device.emulation) d["slowdown"] = s.slowdown;
    }
    devices.push_back(std::move(d));
  }
  for (const devices::Device& d : context.unsupported_devices) devices.push_back(DeviceJson(d));
  return devices;
}

Json FactsJson(const AgentContext& context, const node::NodeFacts& f) {
  return {{"hostname", f.hostname},
          {"node", context.facts.hostname},
          {"group", context.group},
          {"os", {{"pretty_name", f.os_pretty_name}, {"id", f.os_id}, {"version_id", f.os_version_id}}},
          {"kernel", f.kernel_release},
          {"architecture", f.machine},
          {"uptime_seconds", f.uptime_seconds},
          {"cpu",
           {{"model", f.cpu.model},
            {"sockets", f.cpu.sockets},
            {"cores", f.cpu.cores},
            {"threads", f.cpu.threads},
            {"online", f.cpu_count}}},
          {"memory_total_bytes", f.memory_total_bytes},
          {"devices", DevicesJson(context, false)},
          {"warnings", context.probe_warnings}};
}

Json SyncJson(const node::SyncState& s) {
  Json j = {{"service", s.service},
            {"kernel_estimated_error_seconds", s.kernel_estimated_error_seconds},
            {"kernel_max_error_seconds", s.kernel_max_error_seconds}};
  j["kernel_synchronized"] =
      s.kernel_synchronized.has_value() ? Json(*s.kernel_synchronized) : Json(nullptr);
  j["timesyncd_synchronized"] =
      s.timesyncd_synchronized.has_value() ? Json(*s.timesyncd_synchronized) : Json(nullptr);
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

Json MonitorJson(const AgentContext& context) {
  Json j = {{"node", context.facts.hostname}, {"group", context.group}};
  absl::StatusOr<node::NodeSample> sample =
      context.collector.Recent(std::chrono::milliseconds(500));
  if (sample.ok()) {
    Json interfaces = Json::array();
    for (const node::Interface& i : sample->interfaces) {
      interfaces.push_back({{"name", i.name}, {"rx_bytes", i.rx_bytes}, {"tx_bytes", i.tx_bytes}});
    }
    Json temperatures = Json::array();
    for (const node::Temperature& t : sample->temperatures) {
      temperatures.push_back({{"chip", t.chip}, {"sensor", t.sensor}, {"celsius", t.celsius}});
    }
    j["cpu_utilisation_ratio"] = sample->cpu_utilisation_ratio;
    j["memory_total_bytes"] = sample->memory_total_bytes;
    j["memory_available_bytes"] = sample->memory_available_bytes;
    j["interfaces"] = std::move(interfaces);
    j["temperatures"] = std::move(temperatures);
    const std::optional<double> hottest = sample->MaxTemperatureCelsius();
    j["cpu_temperature_celsius"] = hottest.has_value() ? Json(*hottest) : Json(nullptr);
  } else {
    j["sample_error"] = std::string(sample.status().message());
  }
  j["devices"] = DevicesJson(context, true);
  return j;
}

// {"op": "update"|"list"|"upgrade", "packages": [...], "dry_run": bool (default true)}.
absl::StatusOr<node::PackageRequest> ParsePackageBody(const std::string& body) {
  const Json j = Json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object: {\"op\": \"update|list|upgrade\", \"packages\": [...], "
        "\"dry_run\": true}");
  }
  node::PackageRequest request;
  const Json op = j.value("op", Json("list"));
  if (!op.is_string()) return absl::InvalidArgumentError("op must be a string");
  absl::StatusOr<node::PackageOp> parsed = node::ParsePackageOp(op.get<std::string>());
  if (!parsed.ok()) return parsed.status();
  request.op = *parsed;
  if (j.contains("dry_run")) {
    if (!j["dry_run"].is_boolean()) return absl::InvalidArgumentError("dry_run must be true or false");
    request.dry_run = j["dry_run"].get<bool>();
  }
  if (j.contains("packages")) {
    const Json& list = j["packages"];
    if (!list.is_array()) return absl::InvalidArgumentError("packages must be a list of names");
    if (list.size() > node::kMaxPackageNames) {
      return absl::InvalidArgumentError(
          absl::StrCat("at most ", node::kMaxPackageNames, " packages per request"));
    }
    for (const Json& name : list) {
      if (!name.is_string()) return absl::InvalidArgumentError("packages must be a list of names");
      request.packages.push_back(name.get<std::string>());
    }
  }
  if (absl::Status s = node::ValidatePackageRequest(request); !s.ok()) return s;
  return request;
}

Json PackageResultJson(const node::PackageRequest& request, const std::vector<std::string>& argv,
                       const node::CommandResult* result) {
  Json j = {{"op", node::PackageOpName(request.op)},
            {"dry_run", request.dry_run},
            {"packages", request.packages},
            {"argv", argv}};
  if (result == nullptr) {
    j["ran"] = false;
    j["note"] = "apt has no simulated update; send dry_run false to run apt-get update";
    return j;
  }
  j["ran"] = true;
  j["exit_code"] = result->exit_code;
  if (result->signal != 0) j["signal"] = result->signal;
  j["timed_out"] = result->timed_out;
  j["seconds"] = result->seconds;
  j["output"] = result->output;
  j["output_truncated"] = result->truncated;
  j["output_bytes"] = result->output_bytes;
  if (request.op != node::PackageOp::kUpdate) {
    Json upgradable = Json::array();
    for (const node::Upgradable& u : node::ParseSimulatedUpgrade(result->output)) {
      upgradable.push_back({{"name", u.name}, {"from", u.from}, {"to", u.to}});
    }
    j[request.dry_run || request.op == node::PackageOp::kListUpgradable ? "upgradable"
                                                                         : "upgraded"] =
        std::move(upgradable);
  }
  return j;
}

}  // namespace

FleetService::FleetService(FleetOptions options, AgentContext& context)
    : options_(std::move(options)),
      context_(context),
      wall_clock_(options_.wall_clock != nullptr ? *options_.wall_clock : node::SystemWallClock()),
      runner_(options_.runner ? options_.runner : std::make_shared<node::SpawnRunner>()) {}

FleetService::~FleetService() { Stop(); }

void FleetService::Stop() {
  std::thread worker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    worker = std::move(worker_);
  }
  if (worker.joinable()) worker.join();
}

std::optional<http::Response> FleetService::Deny(const http::Request& request, Need need) const {
  if (options_.cluster_token.empty()) {
    if (need == Need::kRead) return std::nullopt;
    return Refuse(403, need == Need::kPackages
                           ? "package actions need a cluster token: start the agent with "
                             "--cluster-token (and --allow-package-actions)"
                           : need == Need::kTimeSync
                                 ? "a time sync needs a cluster token: start the agent with "
                                   "--cluster-token (and --allow-time-sync)"
                                 : need == Need::kEmulation
                                       ? "setting an emulated device's speed needs a cluster "
                                         "token: start the agent with --cluster-token"
                                       : "model installs need a cluster token: start the agent "
                                         "with --cluster-token");
  }
  std::string_view auth = request.Header("authorization");
  const bool bearer = auth.substr(0, 7) == "Bearer ";
  if (!bearer || !ConstantTimeEquals(auth.substr(7), options_.cluster_token)) {
    return Refuse(401,
                  "fleet routes need the cluster token (send 'Authorization: Bearer <token>')");
  }
  if (need == Need::kTimeSync && !options_.allow_time_sync) {
    return Refuse(403,
                  "time sync is off on this node: start the agent with --allow-time-sync (or "
                  "allow_time_sync: true in its config)");
  }
  if (need == Need::kPackages && !options_.allow_package_actions) {
    return Refuse(403,
                  "package actions are off on this node: start the agent with "
                  "--allow-package-actions (or allow_package_actions: true in its config)");
  }
  return std::nullopt;
}

void FleetService::HandlePackages(http::Request&& request, http::Responder respond) {
  absl::StatusOr<node::PackageRequest> parsed = ParsePackageBody(request.body);
  if (!parsed.ok()) return respond(ErrorResponse(parsed.status()));
  std::vector<std::string> argv = node::AptArgv(*parsed, options_.apt_get);
  if (argv.empty()) return respond(JsonResponse(PackageResultJson(*parsed, argv, nullptr)));
  RunExclusive(
      [this, request = *std::move(parsed), argv = std::move(argv)] {
        absl::StatusOr<node::CommandResult> result =
            runner_->Run(argv, options_.package_timeout, options_.max_package_output);
        if (!result.ok()) return ErrorResponse(result.status());
        return JsonResponse(PackageResultJson(request, argv, &*result));
      },
      std::move(respond));
}

void FleetService::HandleModelInstall(http::Request&& request, http::Responder respond) {
  if (options_.installer == nullptr) {
    return respond(Refuse(503, "model installs are not set up on this agent"));
  }
  absl::StatusOr<InstallRequest> parsed = ParseInstallRequest(request.body);
  if (!parsed.ok()) return respond(ErrorResponse(parsed.status()));
  RunExclusive(
      [this, install = *std::move(parsed)] {
        absl::StatusOr<Json> result = options_.installer->Install(install, context_.executor);
        if (!result.ok()) return ErrorResponse(result.status());
        return JsonResponse(*result);
      },
      std::move(respond));
}

void FleetService::HandleEmulation(const http::Request& request, http::Responder respond) {
  const Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("device") || !body["device"].is_string() ||
      !body.contains("slowdown") || !body["slowdown"].is_number()) {
    return respond(Refuse(400,
                          "send a JSON object {\"device\": \"<emulated device id>\", "
                          "\"slowdown\": <factor, 1 = as profiled>}"));
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "device" && key != "slowdown") {
      return respond(Refuse(400, absl::StrCat("unknown key '", key,
                                              "'; the keys are device and slowdown")));
    }
  }
  const std::string device = body["device"].get<std::string>();
  const double factor = body["slowdown"].get<double>();
  absl::StatusOr<double> previous = context_.executor.SetEmulatedSlowdown(device, factor);
  if (!previous.ok()) return respond(ErrorResponse(previous.status()));
  spdlog::warn("EMULATED device {} slowed down x{} (was x{}) by a fleet action", device, factor,
               *previous);
  respond(JsonResponse({{"device", device},
                        {"emulated", true},
                        {"slowdown", factor},
                        {"previous_slowdown", *previous}}));
}

void FleetService::HandleTimeSync(http::Responder respond) {
  const node::SyncState state = node::ReadSyncState(options_.root, options_.adjtimex);
  std::vector<std::string> argv;
  if (state.service == "chronyd") {
    argv = {options_.chronyc, "-a", "makestep"};
  } else if (state.service == "systemd-timesyncd") {
    argv = {options_.systemctl, "restart", "systemd-timesyncd"};
  } else {
    return respond(Refuse(
        409, state.service.empty()
                 ? "no time service this agent can ask to sync (chronyd, systemd-timesyncd) "
                   "runs on this node"
                 : absl::StrCat("the node's time service is ", state.service,
                                ", which this agent cannot ask to sync (chronyd and "
                                "systemd-timesyncd it can)")));
  }
  RunExclusive(
      [this, service = state.service, argv] {
        absl::StatusOr<node::CommandResult> result =
            runner_->Run(argv, options_.sync_timeout, size_t{16} << 10);
        if (!result.ok()) return ErrorResponse(result.status());
        return JsonResponse({{"service", service},
                             {"argv", argv},
                             {"exit_code", result->exit_code},
                             {"timed_out", result->timed_out},
                             {"seconds", result->seconds},
                             {"output", result->output},
                             {"synced", result->exit_code == 0 && !result->timed_out}});
      },
      std::move(respond));
}

void FleetService::RunExclusive(std::function<http::Response()> job, http::Responder respond) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return respond(Refuse(503, "the agent is stopping"));
  if (busy_) {
    return respond(Refuse(409, "a package action, model install or time sync is already running "
                               "on this node; retry when it is done"));
  }
  if (worker_.joinable()) worker_.join();  // finished: it cleared busy_
  busy_ = true;
  worker_ = std::thread([this, job = std::move(job), respond = std::move(respond)] {
    respond(job());
    std::lock_guard<std::mutex> done(mu_);
    busy_ = false;
  });
}

void FleetService::AddRoutes(http::Router& router) {
  router.Add("GET", "/v1/fleet/ping",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kRead)) return respond(*std::move(denied));
               respond(JsonResponse({{"node", context_.facts.hostname},
                                     {"time_ns", wall_clock_.NowNanos()}}));
             });
  router.Add("GET", "/v1/fleet/facts",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kRead)) return respond(*std::move(denied));
               absl::StatusOr<node::NodeFacts> facts = node::ReadNodeFacts(options_.root);
               if (!facts.ok()) return respond(ErrorResponse(facts.status()));
               respond(JsonResponse(FactsJson(context_, *facts)));
             });
  router.Add("POST", "/v1/fleet/time",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               const int64_t t1 = wall_clock_.NowNanos();
               if (auto denied = Deny(request, Need::kRead)) return respond(*std::move(denied));
               Json body = {{"t1", t1}};
               if (QueryValue(request.query, "state") == "1") {
                 body["sync"] = SyncJson(node::ReadSyncState(options_.root, options_.adjtimex));
               }
               body["t2"] = wall_clock_.NowNanos();
               respond(JsonResponse(body));
             });
  router.Add("POST", "/v1/fleet/speed/sink",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kRead)) return respond(*std::move(denied));
               respond(JsonResponse({{"received", request.body.size()}}));
             });
  router.Add("GET", "/v1/fleet/speed/source",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kRead)) return respond(*std::move(denied));
               uint64_t bytes = 0;
               if (!absl::SimpleAtoi(QueryValue(request.query, "bytes"), &bytes) || bytes == 0 ||
                   bytes > kMaxSpeedBytes) {
                 return respond(Refuse(400, absl::StrCat("bytes must be 1 to ", kMaxSpeedBytes)));
               }
               respond(http::Response{200, "application/octet-stream", {},
                                      std::string(static_cast<size_t>(bytes), 'x')});
             });
  router.Add("GET", "/v1/fleet/monitor",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kRead)) return respond(*std::move(denied));
               respond(JsonResponse(MonitorJson(context_)));
             });
  router.Add("POST", "/v1/fleet/packages",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kPackages)) return respond(*std::move(denied));
               HandlePackages(std::move(request), std::move(respond));
             });
  router.Add("POST", "/v1/fleet/time/sync",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kTimeSync)) return respond(*std::move(denied));
               HandleTimeSync(std::move(respond));
             });
  router.Add("POST", "/v1/fleet/models/install",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kInstall)) return respond(*std::move(denied));
               HandleModelInstall(std::move(request), std::move(respond));
             });
  router.Add("POST", "/v1/fleet/emulation",
             [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
               if (auto denied = Deny(request, Need::kEmulation)) {
                 return respond(*std::move(denied));
               }
               HandleEmulation(request, std::move(respond));
             });
}

}  // namespace heteroaccel::agent
