// GET /v1/node: node facts and every device with its slots and state.
#include "agent/context.h"

namespace heteroaccel::agent {
namespace {

nlohmann::json DeviceJson(const devices::Device& d) {
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& [key, value] : d.attributes) attributes[key] = value;
  return {{"id", d.id},
          {"kind", devices::KindName(d.kind)},
          {"name", d.name},
          {"vendor", d.vendor},
          {"source", d.source},
          {"state", devices::StateName(d.state)},
          {"state_reason", d.state_reason},
          {"emulated", d.emulated},
          {"attributes", attributes}};
}

nlohmann::json NodeJson(const AgentContext& context) {
  nlohmann::json devices = nlohmann::json::array();
  for (const runtime::DeviceState& state : context.executor.Snapshot()) {
    nlohmann::json d = DeviceJson(state.device.device);
    d["target"] = inference::TargetName(state.device.target);
    d["warm"] = state.warm;
    d["models"] = state.variants;
    d["load_errors"] = state.load_errors;
    d["busy_seconds"] = state.busy_seconds;
    nlohmann::json slots = nlohmann::json::array();
    for (const runtime::SlotState& s : state.slots) {
      slots.push_back({{"slot", s.index},
                       {"allocated", s.allocated},
                       {"queue_depth", s.queue_depth},
                       {"busy_seconds", s.busy_seconds}});
    }
    d["slots"] = std::move(slots);
    devices.push_back(std::move(d));
  }
  for (const devices::Device& d : context.unsupported_devices) devices.push_back(DeviceJson(d));
  const node::NodeFacts& f = context.facts;
  return {{"hostname", f.hostname},
          {"group", context.group},
          {"os", f.os_pretty_name},
          {"kernel", f.kernel_release},
          {"machine", f.machine},
          {"cpu_count", f.cpu_count},
          {"memory_total_bytes", f.memory_total_bytes},
          {"ready", context.executor.Ready()},
          {"devices", std::move(devices)},
          {"warnings", context.probe_warnings}};
}

}  // namespace

void AddNodeRoutes(http::Router& router, AgentContext& context) {
  router.Add("GET", "/v1/node",
             [&context](http::Request&&, const http::PathParams&, http::Responder respond) {
               respond(JsonResponse(NodeJson(context)));
             });
}

}  // namespace heteroaccel::agent
