// RealCluster: a simulator scenario (sim::Scenario) played on the real system,
// so what `heteroaccel sim` predicts can be checked against what the server,
// the agents and `heteroaccel bench` actually do.
//
// Start() writes one agent config per node of the scenario (its devices as
// emulated devices with the same kind, slots, latency_ms, default_latency_ms,
// latency_sigma and types; the node's own CPU emulated with no types, so only
// the scenario's devices serve), a server config (policy, queue_capacity,
// max_attempts), and starts the real `heteroaccel server` and one `heteroaccel
// agent` per node as processes on loopback ports (agents with --no-warm-up: on
// this one host, an agent started again after a node loss would otherwise run
// its models on every core while the other "nodes" serve), waiting until every
// node is up and serving. Run() plays the scenario's cameras with
// loadgen::RunBench in open loop (the total rate, the cameras, their mix,
// inflight, priority and deadline, warm-up and duration) against the server and
// returns its report.
// The frames are small synthetic PNGs written to the cluster's folder: emulated
// devices reuse results, so the CPU cost per request is a cache lookup plus
// the HTTP hops, and the service times are the emulated holds.
//
// Only what `heteroaccel bench` can play runs here: periodic, Poisson or burst
// arrivals (the real cameras draw the simulation's gaps: the same schedule,
// seeded by the scenario's seed), camera entries that differ only in name,
// count and rate (one bench run whose cameras have the entries' rates as
// weights, bench --camera-weights; they send names as the simulated ones do,
// bench --camera-name, after the first entry: "cam-0".."cam-4" where the
// simulation has "heavy", "cam-0".."cam-3") with a list mix; and device
// slowdowns, which Run() plays while the cameras run by asking the device's
// agent to slow its emulated device (POST /v1/fleet/emulation) at the fault's
// time from the bench's start; and node losses, which Run() plays by killing
// the node's agent at the fault's time and, after down_for, starting it again
// (the node is back once the server lists it serving: fault_timings() says when,
// since a restarted agent's start-up adds to down_for). Run() also reads every
// agent's /metrics at the end of the warm-up and at the end, for how late the
// host ended the emulated holds meanwhile (hold_lateness()). Every node is
// whole again when Run() returns. Anything else is InvalidArgument naming what
// cannot be played.
//
// MeasureOverheads() measures the real system's per-request overhead on a
// one-node cluster whose device takes no time: the round trip to the agent
// directly (one HTTP hop and the agent's work: the simulator's rtt_ms between
// server and agent) and through the server, one request at a time and at given
// rates (the difference at a rate is client_rtt_ms there); and on one whose
// device holds each request a fixed time, kept busy, how often it finishes one
// beyond that time (service_overhead_ms).
//
// Ownership: a RealCluster owns its processes and its temporary folder; both
// go when it is destroyed (processes also die with the thread that started
// them, see testing::Subprocess). Thread-compatible: one Run() at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/bench.h"
#include "sim/scenario.h"
#include "testing/subprocess.h"

namespace heteroaccel::testing {

struct RealClusterOptions {
  std::string binary;      // "" = HeteroaccelBinary()
  std::string models_dir;  // "" = ModelsDir()
  // How long the processes may take to start and every node to be serving.
  std::chrono::milliseconds start_timeout{120'000};
  client::Protocol protocol = client::Protocol::kV2Binary;
  int frames = 4;  // synthetic frames the cameras cycle through
};

// A fault of the scenario, resolved to the agent that plays it: a device
// slowdown, or the node's loss (its agent killed with SIGKILL, so that every
// request it holds is lost as on a crash) and, after down_for, its return (the
// same agent started again, which registers anew).
struct PlayedFault {
  size_t fault = 0;                 // index into the scenario's faults
  std::chrono::milliseconds at{0};  // from the start of the run (warm-up included)
  size_t agent = 0;                 // index into agent_urls()
  std::string device;               // a slowdown's device; "" for a node loss
  double slowdown = 1;              // multiplies the device's earlier factors
  std::optional<std::chrono::milliseconds> down_for;  // a node loss's
};

// When a played node loss happened, as the real run saw it: the agent killed,
// and the server listing the node up and serving again (nullopt: not back by
// the end of the run). Milliseconds from the start of the run.
struct FaultTiming {
  size_t fault = 0;
  double lost_ms = 0;
  std::optional<double> back_ms;
};

// The scenario's faults, one per agent a fault's node names (a base name names
// every copy), in time order; InvalidArgument for a node the scenario lacks.
absl::StatusOr<std::vector<PlayedFault>> PlayedFaults(const sim::Scenario& scenario);

class RealCluster {
 public:
  // InvalidArgument for a scenario the real system cannot play (see above);
  // Unavailable when a process does not start or a node is not serving in time
  // (the message carries the processes' last output).
  static absl::StatusOr<std::unique_ptr<RealCluster>> Start(const sim::Scenario& scenario,
                                                            const RealClusterOptions& options = {});
  ~RealCluster();
  RealCluster(const RealCluster&) = delete;
  RealCluster& operator=(const RealCluster&) = delete;

  // Plays `scenario`'s cameras against the server. Its nodes must be the ones
  // the cluster was started with (cameras, deadline and durations may differ).
  absl::StatusOr<loadgen::BenchReport> Run(const sim::Scenario& scenario);

  const std::string& server_url() const { return server_url_; }
  // The agents' URLs, in node order (for requests that bypass the server).
  const std::vector<std::string>& agent_urls() const { return agent_urls_; }
  const std::string& images_dir() const { return images_dir_; }
  // The last Run()'s node losses, as they happened.
  const std::vector<FaultTiming>& fault_timings() const { return fault_timings_; }
  // The last Run()'s emulated holds in its measured window (after the warm-up),
  // per device ("node/device"), from the agents' /metrics.
  struct HoldLateness {
    double holds = 0;
    double late_ms = 0;  // how much later than drawn, on this host, its answers left
    // Device time the host's stalls took (beyond the 5 ms an emulated device
    // carries over between holds run back to back): a waiting job's hold
    // started this much later than the previous one was due to end.
    double lost_ms = 0;
    double mean_ms() const { return holds > 0 ? late_ms / holds : 0; }
    double lost_per_hold_ms() const { return holds > 0 ? lost_ms / holds : 0; }
  };
  const std::map<std::string, HoldLateness>& hold_lateness() const { return hold_lateness_; }
  // The last lines of every process's output, for a failing test's message.
  std::string Logs() const;

 private:
  RealCluster() = default;
  absl::Status Launch(const sim::Scenario& scenario);
  // Sets `device`'s slowdown on the agent at `agent_url`.
  static absl::Status SetSlowdown(const std::string& agent_url, const std::string& device,
                                  double factor);
  // Starts agent `i` (again) and waits for its URL.
  absl::Status StartAgent(size_t i);
  // Waits until the server lists every node of `devices` up with that many
  // devices serving (a node of `urls` registered from that URL).
  absl::Status WaitServing(const std::map<std::string, size_t>& devices,
                           const std::map<std::string, std::string>& urls = {});
  // Plays the bench (and `faults`) of Run().
  absl::StatusOr<loadgen::BenchReport> Play(const loadgen::BenchOptions& options,
                                            const std::vector<PlayedFault>& faults);
  // Each emulated device's holds so far ("node/device"), from the /metrics of
  // the agents at `urls` (agent_urls_ as it was: a node loss replaces one).
  absl::StatusOr<std::map<std::string, HoldLateness>> ScrapeLateness(
      const std::vector<std::string>& urls) const;
  // Plays `faults` from `start` until they are done or `done` is set.
  void PlayFaults(const std::vector<PlayedFault>& faults,
                  std::chrono::steady_clock::time_point start);

  RealClusterOptions options_;
  std::vector<sim::NodeSpec> nodes_;
  std::string dir_;
  std::string images_dir_;
  std::string server_url_;
  std::unique_ptr<Subprocess> server_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
  std::vector<std::vector<std::string>> agent_argv_;
  std::vector<std::string> agent_names_;
  std::vector<size_t> agent_devices_;  // devices that must serve, per agent
  std::vector<std::string> agent_urls_;
  std::vector<FaultTiming> fault_timings_;
  std::map<std::string, HoldLateness> hold_lateness_;
  // While Run() plays faults: what the fault thread and Run() share.
  std::mutex mu_;
  std::condition_variable stop_;
  bool done_ = false;
  absl::Status fault_status_;
};

// The agent config YAML for node `name` of `node` (one of its expanded names).
std::string AgentConfigYaml(const sim::NodeSpec& node, const std::string& name);

// The server config YAML for the scenario's scheduler settings.
std::string ServerConfigYaml(const sim::Scenario& scenario);

// The bench options that play the scenario's cameras against `target`, or
// InvalidArgument naming what `heteroaccel bench` cannot play.
absl::StatusOr<loadgen::BenchOptions> BenchOptionsFor(const sim::Scenario& scenario,
                                                      const std::string& target,
                                                      const std::string& images_dir);

// Per-request overhead of the real system, in milliseconds (medians).
struct Overheads {
  double agent_round_trip_ms = 0;   // client -> agent -> client, no compute
  double server_round_trip_ms = 0;  // client -> server -> agent -> server -> client
  // The same through the server, p50, played open loop by the given cameras at
  // each requested total rate (req/s -> ms): what a request's hops cost while
  // the machine serves that rate.
  std::map<double, double> server_round_trip_at_ms;
  // A device holding each request kHoldMs, its queue never empty: the mean
  // compute time it reports (the hold's overshoot), and the time per request
  // it finished (1 / throughput: that and the slot's own work between two
  // requests, which the device spends on each as surely as its profile).
  double hold_compute_ms = 0;
  double hold_occupancy_ms = 0;
  static constexpr double kHoldMs = 20;
  double rtt_ms() const { return agent_round_trip_ms; }
  // At `rate` (one of those measured): the through-server round trip there,
  // less the agent's round trip (the simulator adds rtt_ms itself).
  double client_rtt_ms_at(double rate) const {
    return server_round_trip_at_ms.at(rate) - agent_round_trip_ms;
  }
  double service_overhead_ms() const { return hold_occupancy_ms - kHoldMs; }
};

struct OverheadOptions {
  static constexpr int kHoldClients = 4;
  std::chrono::milliseconds duration{4'000};  // of each closed-loop run
  RealClusterOptions cluster;
  // Total rates (req/s) to measure the through-server round trip at, open loop,
  // played by `cameras` cameras with `inflight` requests each.
  std::vector<double> rates;
  int cameras = 1;
  int inflight = 1;
  loadgen::Arrivals arrivals = loadgen::Arrivals::kPeriodic;
  loadgen::BurstWindows bursts;  // with Arrivals::kBursts
};

// Starts a one-node cluster with a device of latency 0 running `types`, and
// measures both round trips with one camera in closed loop for `duration`
// each (after a warm-up of a quarter of it), and through the server at each of
// `rates`; then one whose device holds every request Overheads::kHoldMs (no
// spread), kept busy straight through its agent by kHoldClients closed-loop
// clients for `duration`: what it reports as compute, and its throughput.
absl::StatusOr<Overheads> MeasureOverheads(const std::vector<std::string>& types,
                                           const OverheadOptions& options = {});

}  // namespace heteroaccel::testing
