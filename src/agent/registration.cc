#include "agent/registration.h"

#include <spdlog/spdlog.h>

#include "http/client.h"

namespace heteroaccel::agent {
namespace {

// A sample younger than this is reused rather than the node read again: a
// heartbeat every 200 ms would otherwise read /proc five times a second and
// measure CPU use over intervals too short for the kernel's tick counts.
constexpr std::chrono::seconds kNodeSampleMaxAge{1};

cluster::NodeStats Stats(node::NodeCollector& collector) {
  cluster::NodeStats stats;
  absl::StatusOr<node::NodeSample> sample = collector.Recent(kNodeSampleMaxAge);
  if (!sample.ok()) return stats;  // counted in heteroaccel_node_sample_errors_total
  stats.cpu_utilisation = sample->cpu_utilisation_ratio;
  stats.memory_total_bytes = static_cast<double>(sample->memory_total_bytes);
  stats.memory_available_bytes = static_cast<double>(sample->memory_available_bytes);
  stats.temperature_celsius = sample->MaxTemperatureCelsius();
  return stats;
}

}  // namespace

cluster::NodeReport NodeState(const AgentContext& context, const std::string& advertise_url,
                              bool with_model_info) {
  cluster::NodeReport report;
  report.node = context.facts.hostname;
  report.url = advertise_url;
  report.ready = context.executor.Ready();
  report.group = context.group;
  report.stats = Stats(context.collector);
  for (const runtime::DeviceState& state : context.executor.Snapshot()) {
    const devices::Device& d = state.device.device;
    cluster::DeviceReport device;
    device.id = d.id;
    device.kind = d.kind;
    device.name = d.name;
    device.emulated = d.emulated;
    device.slots = static_cast<int>(state.slots.size());
    device.warm = state.warm;
    device.busy_seconds = state.busy_seconds;
    for (const runtime::SlotState& s : state.slots) {
      device.queue_depth += s.queue_depth;
      device.allocated += s.allocated ? 1 : 0;
    }
    // Loaded variants in catalog order: a type's first is its default.
    for (const inference::ModelSpec& spec : context.catalog.specs()) {
      auto seconds = state.service_seconds.find(spec.type + "/" + spec.variant);
      if (seconds == state.service_seconds.end()) continue;
      device.models.push_back({spec.type, spec.variant});
      device.service_ms[{spec.type, spec.variant}] = seconds->second * 1e3;
    }
    report.devices.push_back(std::move(device));
  }
  if (!with_model_info) return report;
  // What clients need to read each type's outputs (the server's metadata).
  std::map<std::string, cluster::TypeInfo> model_info;
  for (const inference::ModelSpec& spec : context.catalog.specs()) {
    cluster::TypeInfo& info = model_info[spec.type];
    info.keypoint_names = spec.keypoint_names;
    info.skeleton = spec.skeleton;
    info.labels = spec.labels;
    info.variants[spec.variant] = {spec.description, spec.precision, spec.accuracy, spec.opencl};
  }
  report.model_info = std::move(model_info);
  return report;
}

Registration::Registration(Options options, const AgentContext& context)
    : options_(std::move(options)), context_(context) {
  thread_ = std::thread([this] { Run(); });
}

Registration::~Registration() { Stop(); }

void Registration::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Registration::Run() {
  std::unique_ptr<http::Client> client;
  bool connected = false;
  bool send_model_info = true;
  const http::HeaderList headers = {{"Authorization", "Bearer " + options_.token}};
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (client == nullptr) {
      auto created = http::Client::Create(options_.server, std::chrono::seconds(2));
      if (created.ok()) client = std::move(*created);
    }
    absl::Status status = absl::UnavailableError("no client");
    if (client != nullptr) {
      auto response = client->Post(
          "/v1/cluster/heartbeat", "application/json",
          cluster::ToJson(NodeState(context_, options_.advertise_url, send_model_info)).dump(),
          headers);
      if (!response.ok()) {
        status = response.status();
      } else if (response->status != 200) {
        status = absl::UnavailableError(response->body);
      } else {
        status = absl::OkStatus();
        send_model_info = cluster::ParseHeartbeatReply(response->body).send_model_info;
      }
    }
    // A lost server may come back without what it was told.
    if (!status.ok()) send_model_info = true;
    if (status.ok() != connected) {
      connected = status.ok();
      if (connected) {
        spdlog::info("registered with {}", options_.server);
      } else {
        spdlog::warn("lost the server {}: {}", options_.server, status.ToString());
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, options_.interval, [this] { return stop_; });
  }
}

}  // namespace heteroaccel::agent
