// Small helpers for absl::Status propagation, which this Abseil release lacks.
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(auto value, ComputeThing());
//
// Both evaluate their argument once and return the error unchanged.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HA_STATUS_CONCAT_INNER(a, b) a##b
#define HA_STATUS_CONCAT(a, b) HA_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    if (::absl::Status _ha_status = (expr); !_ha_status.ok()) { \
      return _ha_status;                                        \
    }                                                           \
  } while (0)

#define HA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  HA_ASSIGN_OR_RETURN_IMPL(HA_STATUS_CONCAT(_ha_statusor_, __LINE__), lhs, expr)
