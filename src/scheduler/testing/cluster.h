// Helpers that build devices and requests tersely for scheduler tests, benchmarks
// and simulations. Plain functions; thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "scheduler/types.h"

namespace heteroaccel::scheduler::testing {

// A device on `node` named `device` of `kind` that runs each type of `service`
// (variant "<type>@<kind>"), reporting the given service time unless it is zero.
inline DeviceInfo MakeDevice(std::string node, std::string device, std::string kind,
                             const std::map<std::string, std::chrono::nanoseconds>& service,
                             int slots = 1) {
  DeviceInfo info;
  info.key = {std::move(node), std::move(device)};
  info.kind = std::move(kind);
  info.slots = slots;
  for (const auto& [type, time] : service) {
    info.variants[type] = type + "@" + info.kind;
    if (time.count() > 0) info.reported_service[type] = time;
  }
  return info;
}

inline Request MakeRequest(uint64_t id, std::string type, int priority = 0) {
  Request request;
  request.id = id;
  request.type = std::move(type);
  request.priority = priority;
  return request;
}

}  // namespace heteroaccel::scheduler::testing
