#include "agent/agent.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/config.h"
#include "agent/context.h"
#include "agent/fleet.h"
#include "agent/kubernetes.h"
#include "agent/registration.h"
#include "common/status_macros.h"
#include "devices/probe.h"
#include "http/server.h"
#include "httpapi/server_metrics.h"
#include "inference/opencl_context.h"
#include "node/node_collector.h"

namespace heteroaccel::agent {

struct Agent::State {
  std::unique_ptr<inference::Catalog> catalog;
  std::unique_ptr<ModelInstaller> installer;
  std::unique_ptr<metrics::Registry> registry;
  std::unique_ptr<node::NodeCollector> collector;
  std::unique_ptr<runtime::Executor> executor;
  std::unique_ptr<AgentContext> context;
  std::unique_ptr<node::OffsetWallClock> emulated_clock;  // --emulate-clock-offset-ms
  std::unique_ptr<FleetService> fleet;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<Registration> registration;
  std::unique_ptr<k8s::DevicePlugin> device_plugin;
  AgentOptions options;
};

namespace {

int CpuSlots(const devices::Device& cpu, int requested) {
  if (requested > 0) return requested;
  const int cores = std::atoi(cpu.Attribute("cores").c_str());
  return std::max(1, cores);
}

// Ties OpenCV's OpenCL device to the probed one of the same name; other OpenCL
// devices are reported but cannot be driven by this process.
void BindOpenCl(const AgentOptions& options, std::vector<devices::Device>& probed,
                std::vector<runtime::RuntimeDevice>& runnable, std::vector<std::string>& warnings) {
  absl::StatusOr<inference::OpenClDeviceInfo> info = inference::InitOpenCl(options.opencl_device);
  if (!info.ok()) {
    warnings.push_back(absl::StrCat("OpenCL: ", info.status().message()));
    return;
  }
  bool bound = false;
  for (devices::Device& d : probed) {
    if (d.source != "opencl" && d.Attribute("opencl_platform").empty()) continue;
    if (!bound && d.name == info->name) {
      bound = true;
      runnable.push_back({d, inference::Target::kOpenCl, 1, std::nullopt});
    } else if (d.state == devices::DeviceState::kReady) {
      d.state = devices::DeviceState::kUnsupported;
      d.state_reason =
          "OpenCV drives one OpenCL device per process; select it with --opencl-device";
    }
  }
  if (!bound) {
    devices::Device d;
    d.id = "opencl-" + info->type + "0";
    d.kind = info->type == "gpu" ? devices::DeviceKind::kGpu : devices::DeviceKind::kCpu;
    d.name = info->name;
    d.vendor = info->vendor;
    d.source = "opencl";
    runnable.push_back({d, inference::Target::kOpenCl, 1, std::nullopt});
  }
}

absl::StatusOr<std::vector<inference::ModelSpec>> SelectModels(
    const std::vector<std::string>& wanted) {
  const inference::Catalog& all = inference::Catalog::BuiltIn();
  if (wanted.empty()) return all.specs();
  std::vector<inference::ModelSpec> specs;
  for (const std::string& type : wanted) {
    RETURN_IF_ERROR(all.Find(type).status());
    for (const inference::ModelSpec& s : all.specs()) {
      if (s.type == type) specs.push_back(s);
    }
  }
  return specs;
}

// Applies the config file under the flags: a flag left at its default takes
// the file's value.
absl::StatusOr<AgentOptions> WithConfig(AgentOptions options, AgentConfig& config) {
  if (options.config_path.empty()) return options;
  ASSIGN_OR_RETURN(config, LoadAgentConfig(options.config_path));
  if (options.node_name.empty()) options.node_name = config.node;
  if (options.group.empty()) options.group = config.group;
  for (const auto& [key, value] : config.labels) options.labels.try_emplace(key, value);
  if (options.server.empty()) options.server = config.server;
  if (options.device_plugin_dir.empty()) options.device_plugin_dir = config.device_plugin_dir;
  options.allow_package_actions |= config.allow_package_actions;
  options.allow_time_sync |= config.allow_time_sync;
  if (config.opencl.has_value() && options.use_opencl) options.use_opencl = *config.opencl;
  if (config.cpu_slots.has_value() && options.cpu_slots == 0) options.cpu_slots = *config.cpu_slots;
  if (options.cluster_token.empty() && !config.cluster_token_file.empty()) {
    std::ifstream in(config.cluster_token_file);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("cannot read cluster_token_file ", config.cluster_token_file));
    }
    std::getline(in, options.cluster_token);
  }
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(const AgentOptions& flags) {
  AgentConfig config;
  RETURN_IF_ERROR(ValidateGroupName(flags.group, "--group"));
  for (const auto& [key, value] : flags.labels) RETURN_IF_ERROR(cluster::ValidateLabel(key, value));
  ASSIGN_OR_RETURN(const AgentOptions options, WithConfig(flags, config));
  if (!options.server.empty()) RETURN_IF_ERROR(ParseServerList(options.server).status());
  auto state = std::make_unique<State>();
  state->options = options;
  ASSIGN_OR_RETURN(std::vector<inference::ModelSpec> specs, SelectModels(options.models));
  state->catalog = std::make_unique<inference::Catalog>(std::move(specs));
  {
    InstallerOptions install;
    install.dir = options.deployed_models_dir.empty() ? options.models_dir + "/deployed"
                                                      : options.deployed_models_dir;
    if (!options.server.empty()) {
      ASSIGN_OR_RETURN(install.servers, ParseServerList(options.server));
    }
    install.cluster_token = options.cluster_token;
    state->installer = std::make_unique<ModelInstaller>(std::move(install), *state->catalog);
    // Versions deployed before a restart: the executor loads them with the built-in ones.
    for (const std::string& skipped : state->installer->Restore()) {
      spdlog::warn("a deployed model is not served again: {}", skipped);
    }
  }
  state->registry = std::make_unique<metrics::Registry>();
  state->registry->AddGauge("heteroaccel_build_info", "Version of this binary", {"version", "role"})
      .WithLabels({HETEROACCEL_VERSION, "agent"})
      .Set(1);

  devices::ProbeReport report =
      devices::ProbeAll({options.sysfs_root, options.use_opencl, true, "libnvidia-ml.so.1"});
  std::vector<runtime::RuntimeDevice> runnable;
  for (const devices::Device& d : report.devices) {
    if (d.kind == devices::DeviceKind::kCpu && d.source == "hwloc") {
      runnable.push_back(
          {d, inference::Target::kCpu, CpuSlots(d, options.cpu_slots), std::nullopt});
    }
  }
  if (runnable.empty()) return absl::InternalError("hwloc found no CPU on this node");
  if (config.cpu_emulation) {
    runtime::RuntimeDevice& cpu = runnable.front();
    cpu.emulation = config.cpu_emulation;
    cpu.device.emulated = true;
    cpu.device.name += " (emulated)";
  }
  for (const EmulatedDeviceConfig& d : config.devices) {
    ASSIGN_OR_RETURN(runtime::RuntimeDevice device, EmulatedDevice(d));
    runnable.push_back(std::move(device));
  }
  if (options.use_opencl) BindOpenCl(options, report.devices, runnable, report.warnings);
  AnnotateForKubernetes(runnable, options.sysfs_root);

  std::vector<devices::Device> unsupported;
  for (const devices::Device& d : report.devices) {
    const bool runs = std::any_of(runnable.begin(), runnable.end(),
                                  [&](const auto& r) { return r.device.id == d.id; });
    if (runs) continue;
    devices::Device copy = d;
    if (copy.state == devices::DeviceState::kReady) {
      copy.state = devices::DeviceState::kUnsupported;
      copy.state_reason = UnservedDeviceReason(copy, options.use_opencl);
    }
    unsupported.push_back(std::move(copy));
  }

  ASSIGN_OR_RETURN(
      state->collector,
      node::NodeCollector::Create({options.proc_root, options.sysfs_root}, *state->registry));
  runtime::ExecutorOptions executor_options;
  executor_options.models_dir = options.models_dir;
  executor_options.queue_capacity = options.queue_capacity;
  executor_options.warm_up = options.warm_up;
  ASSIGN_OR_RETURN(state->executor,
                   runtime::Executor::Create(executor_options, std::move(runnable), *state->catalog,
                                             *state->registry, SystemClock()));
  absl::StatusOr<node::NodeFacts> facts = node::ReadNodeFacts("/");
  if (facts.ok() && !options.node_name.empty()) facts->hostname = options.node_name;
  state->context.reset(new AgentContext{*state->catalog, *state->executor, *state->registry,
                                        *state->collector, facts.ok() ? *facts : node::NodeFacts{},
                                        options.group, options.labels, std::move(unsupported),
                                        std::move(report.warnings)});

  if (!options.device_plugin_dir.empty()) {
    k8s::DevicePluginOptions plugin_options;
    plugin_options.plugin_dir = options.device_plugin_dir;
    runtime::Executor* executor = state->executor.get();
    plugin_options.devices = [executor] { return PluginDevices(executor->Snapshot()); };
    ASSIGN_OR_RETURN(state->device_plugin, k8s::DevicePlugin::Create(std::move(plugin_options)));
    state->context->device_plugin = state->device_plugin.get();
  }

  http::Router router;
  AddHealthRoutes(router, *state->context);
  AddModelRoutes(router, *state->context);
  AddInferRoutes(router, *state->context);
  AddNodeRoutes(router, *state->context);
  FleetOptions fleet;
  fleet.cluster_token = options.cluster_token;
  fleet.allow_package_actions = options.allow_package_actions;
  fleet.allow_time_sync = options.allow_time_sync;
  fleet.installer = state->installer.get();
  if (options.emulate_clock_offset_ms != 0) {
    state->emulated_clock =
        std::make_unique<node::OffsetWallClock>(options.emulate_clock_offset_ms * 1'000'000);
    fleet.wall_clock = state->emulated_clock.get();
    spdlog::warn("EMULATED clock error: the fleet time action sees this node's clock {} ms off",
                 options.emulate_clock_offset_ms);
  }
  state->fleet = std::make_unique<FleetService>(std::move(fleet), *state->context);
  state->fleet->AddRoutes(router);
  http::ServerOptions server_options;
  ASSIGN_OR_RETURN(std::tie(server_options.host, server_options.port),
                   http::ParseListenAddress(options.listen));
  server_options.max_body_bytes = options.max_body_bytes;
  server_options.io_threads = options.io_threads;
  server_options.max_connections = options.max_connections;
  server_options.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
  server_options.keepalive_timeout = std::chrono::milliseconds(options.keepalive_timeout_ms);
  server_options.max_inflight_body_bytes = options.max_inflight_body_bytes;
  ASSIGN_OR_RETURN(state->server, http::Server::Create(server_options, std::move(router)));
  httpapi::ExportHttpServerMetrics(*state->registry, *state->server);
  return std::unique_ptr<Agent>(new Agent(std::move(state)));
}

Agent::Agent(std::unique_ptr<State> state) : state_(std::move(state)) {}
Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  state_->executor->Start();
  if (state_->device_plugin) {
    if (absl::Status s = state_->device_plugin->Start(); !s.ok()) {
      Stop();
      return s;
    }
  }
  state_->server->Start();
  if (!state_->options.server.empty()) {
    std::string url = state_->options.advertise_url;
    if (url.empty()) url = "http://" + state_->server->address();
    state_->registration = std::make_unique<Registration>(
        Registration::Options{state_->options.server, state_->options.cluster_token, url,
                              state_->options.heartbeat_interval},
        *state_->context);
  }
  return absl::OkStatus();
}

void Agent::Stop() {
  if (state_->registration) state_->registration->Stop();
  // Withdraw from the kubelet before the devices stop serving.
  if (state_->device_plugin) state_->device_plugin->Stop();
  // Stop answering first, then drain the slots (their callbacks may still
  // respond into closed connections, which the server tolerates).
  state_->server->Stop();
  state_->fleet->Stop();
  state_->executor->Stop();
}

std::string Agent::address() const { return state_->server->address(); }

bool Agent::WaitReady(std::chrono::milliseconds timeout) const {
  return state_->executor->WaitReady(timeout);
}

std::vector<std::string> Agent::DeviceSummary() const {
  std::vector<std::string> lines;
  for (const runtime::DeviceState& s : state_->executor->Snapshot()) {
    const devices::Device& d = s.device.device;
    lines.push_back(absl::StrCat(
        d.id, " [", std::string(devices::KindName(d.kind)), ", ",
        std::string(inference::TargetName(s.device.target)), ", ", s.slots.size(), " slot(s)",
        d.emulated ? ", EMULATED" : "", "] ", d.name,
        s.load_errors.empty() ? "" : " — load errors: ", absl::StrJoin(s.load_errors, "; ")));
  }
  for (const devices::Device& d : state_->context->unsupported_devices) {
    lines.push_back(absl::StrCat(d.id, " [", std::string(devices::KindName(d.kind)), ", ",
                                 std::string(devices::StateName(d.state)), "] ", d.name, " — ",
                                 d.state_reason));
  }
  for (const std::string& w : state_->context->probe_warnings) {
    lines.push_back(absl::StrCat("warning: ", w));
  }
  return lines;
}

std::string UnservedDeviceReason(const devices::Device& device, bool use_opencl) {
  const bool gpu = device.kind == devices::DeviceKind::kGpu;
  if (!use_opencl && (gpu || device.HasAttribute("opencl_platform")))
    return "OpenCL is turned off on this agent (--no-opencl)";
  if (device.HasAttribute("opencl_platform")) {
    return "the agent drives one OpenCL device per process and another was chosen; select this "
           "one with --opencl-device";
  }
  if (gpu) {
    return "no OpenCL driver reaches this GPU; install the vendor's OpenCL ICD (for NVIDIA: "
           "libnvidia-opencl.so.1 named in /etc/OpenCL/vendors/nvidia.icd)";
  }
  return "no inference backend for this device in this build";
}

}  // namespace heteroaccel::agent
