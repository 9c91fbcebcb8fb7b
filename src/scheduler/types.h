// Value types of the scheduler: policies, options, devices, requests and assignments.
//
// Plain data, copied freely; no component state lives here. See scheduler.h for the
// Scheduler that consumes them. Thread-safety: values only; the usual rules for
// concurrent access to std types apply.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace heteroaccel::scheduler {

// How waiting requests are matched to devices.
enum class PolicyKind {
  // Baseline, like a deployment file that names one accelerator: a type runs only on
  // devices of one kind (Options::static_kinds, else the first kind of
  // Options::kind_preference that can run it), the least loaded first. Requests wait
  // when those devices are full even if devices of other kinds are idle. A request's
  // own pin (device or kind) replaces the static kind.
  kStatic,
  // The paper's rule: any up device that can run the type and has room, preferring
  // the one with the most room. Ignores speed.
  kIdleFirst,
  // List scheduling on expected completion time (wait + measured service time),
  // priority- and deadline-aware. See internal/earliest_finish_policy.cc.
  kEarliestFinish,
};

// Parses "static", "idle-first" or "earliest-finish"; InvalidArgument otherwise.
absl::StatusOr<PolicyKind> ParsePolicy(std::string_view name);
// The inverse of ParsePolicy.
std::string_view PolicyName(PolicyKind kind);

struct Options {
  PolicyKind policy = PolicyKind::kEarliestFinish;
  // Requests that may wait per inference type; Enqueue beyond it is ResourceExhausted.
  // Requests re-queued after a device failure are always accepted.
  int queue_capacity = 256;
  // A device takes new requests while in_flight < slots + pipeline_depth. The extra
  // requests wait on the device so that a slot never idles for a network round trip.
  int pipeline_depth = 1;
  // Service time assumed when nothing is known about a type anywhere.
  std::chrono::nanoseconds default_service{std::chrono::milliseconds(10)};
  // Service estimates (per device and inference type): the median of the last
  // `estimate_window` measured service times younger than `estimate_horizon`, with the
  // agent's reported time as one more vote (the lower median when the count is even).
  // One slow run (a first run compiling kernels, a hiccup) therefore never moves an
  // estimate on its own; a change the device keeps showing does, after a few runs.
  int estimate_window = 16;
  std::chrono::nanoseconds estimate_horizon{std::chrono::seconds(30)};
  // kEarliestFinish probes: a device that is idle and can run a waiting request's type,
  // but whose estimate for it rests on fewer than `confirming_samples` measurements
  // younger than estimate_horizon, is given that request (once per `probe_interval`
  // per device and type, if the request's deadline allows the device's best time), so
  // that an estimate no request would ever confirm cannot keep a device or type out of
  // service. 0 turns probing off.
  std::chrono::nanoseconds probe_interval{std::chrono::seconds(1)};
  int confirming_samples = 2;
  // Pessimistic admission (kEarliestFinish): a device is a candidate for a request
  // with a deadline only if its earliest slot + this quantile of the window (the
  // agent's report one more value) is at or before the deadline; the median still
  // orders the candidates. A request is answered early (ExpireDeadlines) only when
  // even the optimistic bound, the fastest recent run on any device it may use,
  // misses its deadline, so nothing feasible is dropped. In (0, 1]; 0.5 admits on
  // the median.
  double admission_quantile = 0.9;
  // Fairness across tenants (Request::tenant) within one priority: start-time fair
  // queueing on the requests' estimated cost (the type's median service time over
  // devices), with virtual time kept per priority. The queue orders a priority's
  // requests by the quantum of their virtual start tag, then by deadline: within one
  // quantum of virtual service the order is EDF across all tenants; a tenant sending
  // more than its share lands in later quanta. Larger quanta keep more EDF, smaller
  // ones make the shares exact over shorter spans. A type's queue (queue_capacity)
  // is shared the same way: while others wait a tenant holds at most an equal share
  // of it, and in a full queue the tenant holding the most gives way
  // (Scheduler::Enqueue), so that a sender's wait is bounded by its share.
  std::chrono::nanoseconds fair_quantum{std::chrono::milliseconds(200)};
  // kStatic: inference type -> the only device kind it may run on.
  std::map<std::string, std::string> static_kinds;
  // kStatic, for a type without a static_kinds entry: the first of these kinds that
  // has a device able to run the type; failing all, the alphabetically first such kind.
  std::vector<std::string> kind_preference = {"gpu", "npu", "vpu", "fpga", "cpu"};
  // Assignments carry the devices considered with their expected finish
  // (Assignment::candidates), for the operator's decisions log. Costs an
  // allocation per binding; off by default.
  bool record_candidates = false;
  // kEarliestFinish steering by the fluid ideal. Every `steering_interval` (and when
  // devices change: added, removed, up or down, or another kind, slots, variants,
  // groups or alternates; not a heartbeat's report that repeats what a device is,
  // whatever service time it measured) the scheduler solves the fluid LP
  // (IdealThroughput's) for the recent mix of arrivals (per type, counts decayed over
  // `rate_window` on the clock) and keeps, per type, the devices the optimum may use
  // it on: those where a unit of the type wastes at most `steering_waste` of the
  // device time it takes (its reduced cost at the optimum, relative). An unpinned
  // request goes to a device outside its type's set only when that device would
  // otherwise idle: a slot free now and no waiting request of a type in its own set.
  // So at light load every device helps (lowest latency) and under pressure each type
  // stays where the ideal keeps it. A type no device of its set can serve now (down)
  // is not steered.
  bool lp_steering = true;
  std::chrono::nanoseconds steering_interval{std::chrono::milliseconds(500)};
  std::chrono::nanoseconds rate_window{std::chrono::seconds(2)};
  double steering_waste = 0.5;
  // kEarliestFinish variant degradation (DeviceInfo::degrade): besides the
  // deadline rule (a request whose deadline no device admits with the primary
  // variant runs an eligible faster one that some device admits), an unpinned
  // request of a type whose queue holds at least this fraction of
  // queue_capacity runs the most accurate eligible alternate when that finishes
  // before the primary would. In [0, 1]; 0 turns this backlog rule off.
  double degrade_backlog = 0.5;
  // kEarliestFinish looks at no more than this many waiting requests per Dispatch;
  // 0 means 8 x (sum of slots + pipeline_depth over up devices), at least 64.
  int max_walk = 0;
  // kEarliestFinish finds an unpinned request's device, its probes and the
  // requests to expire through the per-type finish index (docs/scheduling.md, "The
  // finish index"): cost O(log devices) plus the devices visited. false weighs
  // every candidate instead, O(devices) per request: the same decisions, kept as
  // the reference the index is tested against.
  bool finish_index = true;
};

struct DeviceKey {
  std::string node;
  std::string device;

  friend bool operator==(const DeviceKey&, const DeviceKey&) = default;
  friend auto operator<=>(const DeviceKey&, const DeviceKey&) = default;
  // "node/device", for messages and logs.
  std::string ToString() const;
  template <typename H>
  friend H AbslHashValue(H h, const DeviceKey& key) {
    return H::combine(std::move(h), key.node, key.device);
  }
};

struct DeviceKeyHash {
  size_t operator()(const DeviceKey& key) const {
    return std::hash<std::string>()(key.node) * 31 + std::hash<std::string>()(key.device);
  }
};

// A faster variant of an inference type that a device has loaded besides the
// primary one, with the accuracy the operator states for it.
struct Alternate {
  std::string variant;
  double accuracy = 0;
  // The agent's measured service time; seeds the estimate (0: none).
  std::chrono::nanoseconds reported_service{0};
};

// The variants one inference type may degrade to on one device, under load and
// only within the operator's accuracy floor: alternates below `floor` are never
// used. Tried most accurate first (ties in list order).
struct Degradation {
  double floor = 0;
  std::vector<Alternate> alternates;
};

// A device as its node's agent reports it. A field that changes what the
// device is (not what it measured) must also be compared by SameShape
// (internal/state.cc): a report equal there does not re-derive the topology.
struct DeviceInfo {
  DeviceKey key;
  std::string kind;  // "cpu", "gpu", "npu", "fpga", ...
  int slots = 1;     // requests it executes concurrently
  bool up = true;
  bool emulated = false;
  // Inference type -> the variant (model build) that serves it on this device.
  std::map<std::string, std::string> variants;
  // Inference type -> service time the agent measured; seeds the estimate.
  std::map<std::string, std::chrono::nanoseconds> reported_service;
  // Inference type -> faster variants it may degrade to on this device (only
  // types in `variants`); estimates are kept per (device, variant).
  std::map<std::string, Degradation> degrade;
  // The groups its node belongs to: what Request::group restricts to. The
  // scheduler tells apart at most kMaxGroups group names; devices in groups
  // past that count as in none of those.
  std::vector<std::string> groups;
};

inline constexpr int kMaxGroups = 64;

// Priority classes a client may name (server/hints.h); any integer is allowed.
inline constexpr int kPriorityCritical = 3;
inline constexpr int kPriorityHigh = 2;
inline constexpr int kPriorityNormal = 0;
inline constexpr int kPriorityLow = -1;
inline constexpr int kPriorityBatch = -2;

struct Request {
  uint64_t id = 0;
  std::string type;
  int priority = 0;  // higher first
  // Who sent it (a camera), for fair queueing; "" is one tenant of its own.
  std::string tenant;
  std::optional<Clock::TimePoint> deadline;
  Clock::TimePoint arrival;
  std::optional<DeviceKey> pinned_device;
  std::string pinned_kind;  // empty: any kind
  // Only devices serving this variant (model build) of the type; empty: any.
  std::string pinned_variant;
  // Only devices whose node is in this group (DeviceInfo::groups); empty: any.
  // Combines with the pins above (all must hold).
  std::string group;
  // Whether the scheduler may run a faster variant (DeviceInfo::degrade) under
  // load. A request with a pinned_variant is never degraded.
  bool may_degrade = true;
  // How many times a device holding this request failed; maintained by the scheduler.
  int retries = 0;
};

// A device considered for a request, with the finish it was expected to give.
struct CandidateFinish {
  DeviceKey device;
  Clock::TimePoint expected_finish;
};

struct Assignment {
  uint64_t request_id = 0;
  DeviceKey device;
  std::string variant;
  Clock::TimePoint expected_finish;
  // With Options::record_candidates: the devices the policy weighed, best
  // first (at most kMaxCandidates; the winner among them). Empty otherwise.
  std::vector<CandidateFinish> candidates;
  static constexpr size_t kMaxCandidates = 8;
  // Non-empty when `variant` is a faster alternate run instead of this one, the
  // device's primary variant of the type (DeviceInfo::degrade).
  std::string degraded_from;
};

}  // namespace heteroaccel::scheduler
