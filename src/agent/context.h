// AgentContext: what the agent's HTTP handlers share. Owned by the Agent and
// outliving its HTTP server; every member is thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "devices/device.h"
#include "http/router.h"
#include "httpapi/responses.h"
#include "inference/catalog.h"
#include "k8s/device_plugin/device_plugin.h"
#include "metrics/metrics.h"
#include "node/node_collector.h"
#include "node/node_facts.h"
#include "runtime/executor.h"

namespace heteroaccel::agent {

struct AgentContext {
  const inference::Catalog& catalog;
  runtime::Executor& executor;
  metrics::Registry& registry;
  node::NodeCollector& collector;  // the node's one sampler (metrics and heartbeat)
  node::NodeFacts facts;
  std::string group;                                 // "" when the node belongs to no group
  std::map<std::string, std::string> labels;         // reported with the heartbeat
  std::vector<devices::Device> unsupported_devices;  // seen, but nothing here can drive them
  std::vector<std::string> probe_warnings;
  // The kubelet device plugin (agent/kubernetes.h); null when --device-plugin-dir is
  // not set. Set before the agent starts and never changed after.
  k8s::DevicePlugin* device_plugin = nullptr;
};

// Route table; one Add* per resource (handlers live in <resource>_handlers.cc).
void AddHealthRoutes(http::Router& router, AgentContext& context);
void AddModelRoutes(http::Router& router, AgentContext& context);
void AddInferRoutes(http::Router& router, AgentContext& context);
void AddNodeRoutes(http::Router& router, AgentContext& context);

using httpapi::ErrorResponse;
using httpapi::JsonResponse;
using httpapi::PathParam;
using httpapi::QueryValue;

}  // namespace heteroaccel::agent
