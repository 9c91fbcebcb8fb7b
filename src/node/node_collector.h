// NodeCollector: CPU, memory, network and temperature readings of this node,
// exported as Prometheus metrics.
//
// Everything is read from procfs and sysfs under configurable roots, so tests
// and the simulator point the collector at fake trees. Create() registers the
// node families on the injected Registry and a collect hook that takes a fresh
// sample before every scrape. The Registry must outlive the collector; the
// collector may go first, as the hook holds it only weakly and then does
// nothing.
//
// Exported (names mirror node_exporter, with our prefix):
//   heteroaccel_node_cpu_utilisation_ratio                  gauge, 0..1 since previous sample
//   heteroaccel_node_memory_total_bytes                     gauge
//   heteroaccel_node_memory_available_bytes                 gauge
//   heteroaccel_node_network_receive_bytes_total{device}    counter, kernel total (lo skipped)
//   heteroaccel_node_network_transmit_bytes_total{device}   counter, kernel total (lo skipped)
//   heteroaccel_node_temperature_celsius{chip,sensor}       gauge, only for sensors present
//   heteroaccel_node_sample_errors_total                    counter, failed samples
//
// Every reading goes through one sampler: a scrape takes a fresh sample, and
// Recent() (the agent's heartbeat) reuses the latest one while it is young, so
// the node is not read twice for one moment and "since the previous sample"
// means the same for both.
//
// Thread safety: Sample() and Recent() may be called from any thread; samples
// are taken one at a time, and each one updates the exported metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "metrics/metrics.h"

namespace heteroaccel::node {

struct Interface {
  std::string name;
  int64_t rx_bytes = 0;
  int64_t tx_bytes = 0;
};

struct Temperature {
  std::string chip;    // hwmon chip name, or the thermal zone ("thermal_zone0")
  std::string sensor;  // hwmon temp*_label (else "tempN"), or the thermal zone type
  double celsius = 0.0;
};

struct NodeSample {
  // Busy share of all CPUs since the previous sample (since boot for the first).
  double cpu_utilisation_ratio = 0.0;
  int64_t memory_total_bytes = 0;
  int64_t memory_available_bytes = 0;
  std::vector<Interface> interfaces;      // /proc/net/dev order, without lo
  std::vector<Temperature> temperatures;  // sorted by (chip, sensor)

  // The hottest sensor; nullopt when the node has none.
  std::optional<double> MaxTemperatureCelsius() const;
};

class NodeCollector {
 public:
  struct Options {
    std::string proc_root = "/proc";
    std::string sys_root = "/sys";
  };

  // Takes a first sample, so a missing or unreadable <proc>/stat or
  // <proc>/meminfo fails here, and the first scrape reports utilisation since
  // creation. Returns the Registry's error if the node families cannot be
  // registered (e.g. a clashing name). `clock` dates the samples for Recent().
  static absl::StatusOr<std::unique_ptr<NodeCollector>> Create(Options options,
                                                               metrics::Registry& registry,
                                                               Clock& clock = SystemClock());
  ~NodeCollector();
  NodeCollector(const NodeCollector&) = delete;
  NodeCollector& operator=(const NodeCollector&) = delete;

  // Reads the node now and updates the exported metrics. <proc>/stat and
  // <proc>/meminfo are required; <proc>/net/dev, hwmon and thermal zones are
  // optional (absent means none). Failures count in
  // heteroaccel_node_sample_errors_total and leave the metrics as they were.
  absl::StatusOr<NodeSample> Sample();

  // The latest successful sample (whoever took it) if it is at most `max_age`
  // old, else a fresh Sample().
  absl::StatusOr<NodeSample> Recent(std::chrono::milliseconds max_age);

 private:
  struct State;
  explicit NodeCollector(std::shared_ptr<State> state);

  // Shared with the collect hook, which holds it weakly.
  std::shared_ptr<State> state_;
};

}  // namespace heteroaccel::node
