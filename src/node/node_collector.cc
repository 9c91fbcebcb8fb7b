#include "node/node_collector.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "common/status_macros.h"
#include "node/internal/procfs.h"

namespace heteroaccel::node {

namespace fs = std::filesystem;

struct NodeCollector::State {
  State(Options options_in, metrics::Registry& registry, Clock& clock_in)
      : options(std::move(options_in)),
        clock(clock_in),
        cpu_utilisation(registry
                            .AddGauge("heteroaccel_node_cpu_utilisation_ratio",
                                      "Busy share of all CPUs since the previous sample.", {})
                            .WithLabels({})),
        memory_total(registry
                         .AddGauge("heteroaccel_node_memory_total_bytes",
                                   "Total usable memory (MemTotal).", {})
                         .WithLabels({})),
        memory_available(registry
                             .AddGauge("heteroaccel_node_memory_available_bytes",
                                       "Memory available for new work (MemAvailable).", {})
                             .WithLabels({})),
        receive_bytes(registry.AddCounter("heteroaccel_node_network_receive_bytes_total",
                                          "Bytes received by the interface.", {"device"})),
        transmit_bytes(registry.AddCounter("heteroaccel_node_network_transmit_bytes_total",
                                           "Bytes transmitted by the interface.", {"device"})),
        temperature(registry.AddGauge("heteroaccel_node_temperature_celsius",
                                      "Temperature of a hwmon sensor or thermal zone.",
                                      {"chip", "sensor"})),
        sample_errors(registry
                          .AddCounter("heteroaccel_node_sample_errors_total",
                                      "Node samples that failed to read procfs.", {})
                          .WithLabels({})) {}

  absl::StatusOr<NodeSample> Sample() ABSL_LOCKS_EXCLUDED(mu);
  absl::StatusOr<NodeSample> Recent(std::chrono::milliseconds max_age) ABSL_LOCKS_EXCLUDED(mu);
  absl::StatusOr<NodeSample> SampleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<NodeSample> Read() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Publish(const NodeSample& sample) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  const Options options;
  Clock& clock;
  metrics::Gauge& cpu_utilisation;
  metrics::Gauge& memory_total;
  metrics::Gauge& memory_available;
  metrics::Family<metrics::Counter>& receive_bytes;
  metrics::Family<metrics::Counter>& transmit_bytes;
  metrics::Family<metrics::Gauge>& temperature;
  metrics::Counter& sample_errors;

  std::mutex mu;  // std::mutex so TSan sees it: the prebuilt Abseil is not instrumented
  std::optional<internal::CpuTimes> previous_cpu ABSL_GUARDED_BY(mu);
  double last_utilisation ABSL_GUARDED_BY(mu) = 0.0;
  std::optional<NodeSample> latest ABSL_GUARDED_BY(mu);  // the last successful sample
  Clock::TimePoint latest_time ABSL_GUARDED_BY(mu);
  // Series exported by the previous sample, so vanished ones can be removed.
  std::set<std::string> devices ABSL_GUARDED_BY(mu);
  std::set<std::vector<std::string>> sensors ABSL_GUARDED_BY(mu);
};

absl::StatusOr<NodeSample> NodeCollector::State::Read() {
  const fs::path proc(options.proc_root);
  ASSIGN_OR_RETURN(const std::string stat_text, internal::ReadFileToString(proc / "stat"));
  ASSIGN_OR_RETURN(const internal::CpuTimes cpu, internal::ParseProcStat(stat_text));
  ASSIGN_OR_RETURN(const std::string meminfo_text, internal::ReadFileToString(proc / "meminfo"));
  ASSIGN_OR_RETURN(const internal::MemInfo memory, internal::ParseMeminfo(meminfo_text));

  NodeSample sample;
  absl::StatusOr<std::string> net_dev = internal::ReadFileToString(proc / "net" / "dev");
  if (net_dev.ok()) {
    ASSIGN_OR_RETURN(sample.interfaces, internal::ParseNetDev(*net_dev));
  } else if (!absl::IsNotFound(net_dev.status())) {
    return net_dev.status();
  }
  sample.temperatures = internal::ReadTemperatures(options.sys_root);
  sample.memory_total_bytes = memory.total_bytes;
  sample.memory_available_bytes = memory.available_bytes;

  // The first sample measures since boot; an interval with no ticks keeps the
  // last value.
  const std::optional<double> utilisation =
      internal::CpuUtilisation(previous_cpu.value_or(internal::CpuTimes{}), cpu);
  if (utilisation.has_value()) last_utilisation = *utilisation;
  previous_cpu = cpu;
  sample.cpu_utilisation_ratio = last_utilisation;
  return sample;
}

void NodeCollector::State::Publish(const NodeSample& sample) {
  cpu_utilisation.Set(sample.cpu_utilisation_ratio);
  memory_total.Set(static_cast<double>(sample.memory_total_bytes));
  memory_available.Set(static_cast<double>(sample.memory_available_bytes));

  std::set<std::string> seen_devices;
  for (const Interface& interface : sample.interfaces) {
    receive_bytes.WithLabels({interface.name}).SetTotal(static_cast<double>(interface.rx_bytes));
    transmit_bytes.WithLabels({interface.name}).SetTotal(static_cast<double>(interface.tx_bytes));
    seen_devices.insert(interface.name);
  }
  for (const std::string& device : devices) {
    if (seen_devices.contains(device)) continue;
    receive_bytes.Remove({device});
    transmit_bytes.Remove({device});
  }
  devices = std::move(seen_devices);

  std::set<std::vector<std::string>> seen_sensors;
  for (const Temperature& t : sample.temperatures) {
    std::vector<std::string> labels = {t.chip, t.sensor};
    temperature.WithLabels(labels).Set(t.celsius);
    seen_sensors.insert(std::move(labels));
  }
  for (const auto& labels : sensors) {
    if (!seen_sensors.contains(labels)) temperature.Remove(labels);
  }
  sensors = std::move(seen_sensors);
}

absl::StatusOr<NodeSample> NodeCollector::State::SampleLocked() {
  absl::StatusOr<NodeSample> sample = Read();
  if (!sample.ok()) {
    sample_errors.Increment();
    return sample.status();
  }
  Publish(*sample);
  latest = *sample;
  latest_time = clock.Now();
  return sample;
}

absl::StatusOr<NodeSample> NodeCollector::State::Sample() {
  std::lock_guard lock(mu);
  return SampleLocked();
}

absl::StatusOr<NodeSample> NodeCollector::State::Recent(std::chrono::milliseconds max_age) {
  std::lock_guard lock(mu);
  if (latest.has_value() && clock.Now() - latest_time <= max_age) return *latest;
  return SampleLocked();
}

absl::StatusOr<std::unique_ptr<NodeCollector>> NodeCollector::Create(Options options,
                                                                     metrics::Registry& registry,
                                                                     Clock& clock) {
  const bool registry_was_ok = registry.registration_status().ok();
  auto state = std::make_shared<State>(std::move(options), registry, clock);
  if (registry_was_ok) RETURN_IF_ERROR(registry.registration_status());
  RETURN_IF_ERROR(state->Sample().status());
  registry.AddCollectHook([weak = std::weak_ptr<State>(state)] {
    // A failed sample is counted in sample_errors and keeps the last values.
    if (std::shared_ptr<State> s = weak.lock()) s->Sample().IgnoreError();
  });
  return std::unique_ptr<NodeCollector>(new NodeCollector(std::move(state)));
}

NodeCollector::NodeCollector(std::shared_ptr<State> state) : state_(std::move(state)) {}

NodeCollector::~NodeCollector() = default;

absl::StatusOr<NodeSample> NodeCollector::Sample() { return state_->Sample(); }

absl::StatusOr<NodeSample> NodeCollector::Recent(std::chrono::milliseconds max_age) {
  return state_->Recent(max_age);
}

std::optional<double> NodeSample::MaxTemperatureCelsius() const {
  if (temperatures.empty()) return std::nullopt;
  return std::max_element(
             temperatures.begin(), temperatures.end(),
             [](const Temperature& a, const Temperature& b) { return a.celsius < b.celsius; })
      ->celsius;
}

}  // namespace heteroaccel::node
