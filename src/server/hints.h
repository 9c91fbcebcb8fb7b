// Scheduling hints: the one parser for what a client may ask of the scheduler,
// used by every front door (v2 "parameters" over HTTP and gRPC, the /v1 query).
//   priority     integer, higher first, or a class name: critical (3), high (2),
//                normal (0), low (-1), batch (-2)
//   camera       [A-Za-z0-9_.-]{1,64}: the sending camera; cameras share the
//                cluster fairly within a priority (untagged requests are one camera)
//   timeout_ms   integer > 0: answered 504 when no device can finish in time
//   device       "node/device": run only there
//   device_kind  cpu, gpu, npu, fpga or other: run only on that kind
//   group        a node group ([A-Za-z0-9_.-]{1,64}): run only on its nodes'
//                devices (combines with device and device_kind)
//   degrade      true (default) or false: whether the server may answer with a
//                faster variant within the operator's accuracy floor under load
// Other keys are left alone (they belong to the model). Pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/request.h"

namespace heteroaccel::server {

// InvalidArgument naming the hint and what it must be.
absl::StatusOr<Hints> ParseHints(const nlohmann::json& parameters);
// The same hints from a query string ("priority=2&device_kind=gpu&degrade=false").
absl::StatusOr<Hints> ParseQueryHints(std::string_view query);

}  // namespace heteroaccel::server
