// Scenario: what `heteroaccel sim` simulates, read from YAML (docs/simulator.md).
//
// A scenario names the cluster (nodes of emulated devices, described with the
// agent's emulated-device keys: kind, slots, latency_ms, default_latency_ms, so
// one description can drive both a real emulated cluster and the simulator),
// the cameras that send requests (rate, type mix, arrival process, deadline,
// priority), the scheduler's settings (policy, queue capacity, attempts), the
// network (round trips) and faults (a node lost for a while, a device slowing).
// Devices may list several variants of a type with their own times, and a
// `degrade` block (the server registry's degrade policy) lets the scheduler run
// a faster one under load within an accuracy floor.
//
// ParseScenario is the one parser of the format; ToYaml writes what it reads, so
// a scenario round-trips. Plain values; thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/arrivals.h"
#include "scheduler/types.h"

namespace heteroaccel::sim {

// Bounds a scenario must stay inside (so no input can exhaust memory).
inline constexpr int kMaxNodeCount = 100'000;     // nodes after `count` expansion
inline constexpr int kMaxDevicesPerNode = 64;
inline constexpr int kMaxDeviceCount = 100'000;  // devices after `count` expansion
inline constexpr int kMaxSlots = 256;
inline constexpr int kMaxCameraStreams = 100'000;  // cameras x inflight after expansion
inline constexpr int kMaxFaults = 10'000;

// An emulated device: per-type mean service times and a lognormal spread.
struct DeviceSpec {
  std::string name;
  std::string kind = "cpu";
  int slots = 1;
  std::map<std::string, double> latency_ms;  // mean service time per type
  double default_latency_ms = 10;            // types it runs that latency_ms omits
  std::vector<std::string> types;            // the types it runs; empty: latency_ms's keys
  double sigma = 0;  // lognormal shape; the mean is preserved; 0 = constant
  // Type -> the variants loaded for it with their mean service times (ms), in
  // the order given; the first is the primary (an agent's default). A type
  // listed here runs, at its primary's time.
  std::map<std::string, std::vector<std::pair<std::string, double>>> variants;

  // The types it runs, sorted.
  std::vector<std::string> RunTypes() const;
  // Mean service time of `type` in milliseconds (of its primary variant).
  double MeanMs(const std::string& type) const;
  // Mean time of one loaded variant of `type`; nullopt if it is not loaded.
  std::optional<double> VariantMs(const std::string& type, const std::string& variant) const;

  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

struct NodeSpec {
  std::string name;
  int count = 1;  // > 1: nodes name-0 .. name-(count-1)
  std::string group;
  std::vector<DeviceSpec> devices;

  // The node names this entry stands for.
  std::vector<std::string> Names() const;
  // Whether `ref` names this entry (its base name) or one of its nodes.
  bool Matches(std::string_view ref) const;

  friend bool operator==(const NodeSpec&, const NodeSpec&) = default;
};

// The bench's arrival processes (loadgen/arrivals.h): a simulated camera sends
// on loadgen::StreamSchedule, as `heteroaccel bench` does.
using loadgen::Arrivals;
using loadgen::ArrivalsName;
using loadgen::ParseArrivals;

struct CameraSpec {
  std::string name;
  int count = 1;   // > 1: cameras name-0 .. name-(count-1)
  double rate = 1;  // requests per second, per camera
  // Exactly one of the two is set. A list is cycled like `heteroaccel bench`
  // (request k of stream i asks for mix[(i + k) % size]; repeats weight a type);
  // weights are drawn from per request (seeded).
  std::vector<std::string> mix;
  std::map<std::string, double> mix_weights;
  Arrivals arrivals = Arrivals::kPeriodic;
  // Bursts: on at rate x (on + off) / on, then off (bench's defaults).
  double on_ms = loadgen::BurstWindows{}.on_ms;
  double off_ms = loadgen::BurstWindows{}.off_ms;
  std::optional<double> deadline_ms;
  int priority = scheduler::kPriorityNormal;
  // Requests a camera may have outstanding; 0 = unbounded (true open loop).
  // With N > 0 a camera runs as N streams, each at rate / N, and a request due
  // while its stream's previous one is outstanding is sent when that one is
  // answered ("late"), as `heteroaccel bench` does. Default: 1 for periodic
  // arrivals (bench's --inflight 1), 0 otherwise.
  std::optional<int> inflight;

  std::vector<std::string> Names() const;
  int Inflight() const { return inflight.value_or(arrivals == Arrivals::kPeriodic ? 1 : 0); }
  // type -> share of this camera's requests (sums to 1).
  std::map<std::string, double> Shares() const;

  friend bool operator==(const CameraSpec&, const CameraSpec&) = default;
};

// At `at`, either a node (or every node of a `count` entry, by its base name)
// is lost, coming back after `down_for` (never when absent), or a device
// ("node/device"; the node part may be a base name too) has its service
// times multiplied by `slowdown` from then on.
struct FaultSpec {
  std::chrono::milliseconds at{0};
  std::string node;
  std::optional<std::chrono::milliseconds> down_for;
  std::string device;
  double slowdown = 0;  // > 0 for a device fault

  friend bool operator==(const FaultSpec&, const FaultSpec&) = default;
};

// Variant degradation of one type (the server registry's `degrade`): the
// variants with their accuracy, and the floor below which none is used.
struct DegradeSpec {
  double floor = 0;
  std::vector<std::pair<std::string, double>> variants;  // as listed

  friend bool operator==(const DegradeSpec&, const DegradeSpec&) = default;
};

struct Scenario {
  std::string name = "scenario";
  uint64_t seed = 1;
  // Simulated: `warmup` unmeasured, then `duration` measured (as `heteroaccel
  // bench` counts its --warmup and --duration).
  std::chrono::milliseconds duration{60'000};
  std::chrono::milliseconds warmup{5'000};
  scheduler::PolicyKind policy = scheduler::PolicyKind::kEarliestFinish;
  double rtt_ms = 1.0;         // server <-> agent round trip, half each way
  double client_rtt_ms = 0.5;  // client <-> server, added to every latency
  // Added to every service time: what a device's slot spends on a request beyond
  // its profile (the agent's own work on the slot, an emulated hold's overshoot).
  double service_overhead_ms = 0;
  int queue_capacity = 256;
  int max_attempts = 3;
  std::vector<NodeSpec> nodes;
  std::vector<CameraSpec> cameras;
  std::vector<FaultSpec> faults;
  std::map<std::string, DegradeSpec> degrade;  // by inference type

  friend bool operator==(const Scenario&, const Scenario&) = default;
};

// InvalidArgument naming the key at fault ("cameras[1].rate: must be > 0"), for
// malformed YAML, unknown keys, wrong types, values out of range, duplicate
// names and faults naming nodes or devices the scenario does not have.
absl::StatusOr<Scenario> ParseScenario(std::string_view yaml);
// ParseScenario of a file; the message is prefixed with the path.
absl::StatusOr<Scenario> LoadScenario(const std::string& path);
// YAML that ParseScenario reads back to an equal scenario.
std::string ToYaml(const Scenario& scenario);

}  // namespace heteroaccel::sim
