#include "agent/registration.h"

#include <cstdio>

#include "http/client.h"

namespace heteroaccel::agent {

nlohmann::json NodeState(const AgentContext& context, const std::string& advertise_url,
                         bool with_model_info) {
  nlohmann::json devices = nlohmann::json::array();
  for (const runtime::DeviceState& state : context.executor.Snapshot()) {
    const devices::Device& d = state.device.device;
    nlohmann::json service = nlohmann::json::object();
    for (const auto& [key, seconds] : state.service_seconds) service[key] = seconds * 1e3;
    int queued = 0, allocated = 0;
    for (const runtime::SlotState& s : state.slots) {
      queued += s.queue_depth;
      allocated += s.allocated ? 1 : 0;
    }
    // Loaded variants in catalog order: a type's first is its default.
    nlohmann::json models = nlohmann::json::array();
    for (const inference::ModelSpec& spec : context.catalog.specs()) {
      const std::string key = spec.type + "/" + spec.variant;
      if (state.service_seconds.count(key) > 0) models.push_back(key);
    }
    devices.push_back({{"id", d.id},
                       {"models", std::move(models)},
                       {"kind", devices::KindName(d.kind)},
                       {"name", d.name},
                       {"emulated", d.emulated},
                       {"slots", state.slots.size()},
                       {"warm", state.warm},
                       {"service_ms", std::move(service)},
                       {"queue_depth", queued},
                       {"allocated", allocated}});
  }
  nlohmann::json state = {{"node", context.facts.hostname},
                          {"url", advertise_url},
                          {"ready", context.executor.Ready()},
                          {"devices", std::move(devices)}};
  if (!with_model_info) return state;
  // What clients need to read each type's outputs (the server's metadata).
  nlohmann::json model_info = nlohmann::json::object();
  for (const inference::ModelSpec& spec : context.catalog.specs()) {
    if (!model_info.contains(spec.type)) {
      model_info[spec.type] = {{"keypoint_names", spec.keypoint_names},
                               {"skeleton", spec.skeleton},
                               {"labels", spec.labels},
                               {"variants", nlohmann::json::object()}};
    }
    model_info[spec.type]["variants"][spec.variant] = {{"description", spec.description},
                                                       {"precision", spec.precision},
                                                       {"accuracy", spec.accuracy},
                                                       {"opencl", spec.opencl}};
  }
  state["model_info"] = std::move(model_info);
  return state;
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
          NodeState(context_, options_.advertise_url, send_model_info).dump(), headers);
      if (!response.ok()) {
        status = response.status();
      } else if (response->status != 200) {
        status = absl::UnavailableError(response->body);
      } else {
        status = absl::OkStatus();
        const auto reply = nlohmann::json::parse(response->body, nullptr, false);
        send_model_info = reply.is_object() && reply.value("send_model_info", false);
      }
    }
    // A lost server may come back without what it was told.
    if (!status.ok()) send_model_info = true;
    if (status.ok() != connected) {
      connected = status.ok();
      std::fprintf(stderr, connected ? "registered with %s\n" : "lost the server %s: %s\n",
                   options_.server.c_str(), std::string(status.message()).c_str());
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, options_.interval, [this] { return stop_; });
  }
}

}  // namespace heteroaccel::agent
