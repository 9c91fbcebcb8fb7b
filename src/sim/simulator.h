// Simulator: a deterministic discrete-event simulation of a scenario (scenario.h)
// that drives the production scheduler::Scheduler and server::RequestTracker on a
// FakeClock, the way the server's dispatcher drives them, with emulated devices,
// cameras and faults in place of the network, agents and clients.
//
// Lifecycle of a request (the dispatcher's steps, server/request_tracker.h):
//   Step 1  a camera sends it; it reaches the server after nothing (client
//           latencies add client_rtt_ms) and is admitted: RequestTracker::Admit,
//           Scheduler::Enqueue (a full queue answers 429, displaced requests too).
//   Step 2  after every server-visible event (an arrival, a reply, a fault) the
//           server pumps: ExpireDeadlines (answered 504), Exhausted (503, after
//           a node loss used the request's attempts), Dispatch -> Bind.
//   Step 3  a bound request travels rtt_ms / 2 to its device, waits there for a
//           free slot (FIFO), runs for a drawn service time (lognormal around the
//           device's mean for its type, times any slowdown), and its answer
//           travels rtt_ms / 2 back: RequestTracker::OnReply, Scheduler::Complete
//           with the service time, RequestTracker::Finish.
//   Step 4  a node fault: Scheduler::FailNode re-queues what the node held and
//           RequestTracker::OnRequeued voids those attempts; the node's work in
//           progress is lost. When it comes back: Scheduler::SetNodeUp.
// Every request ends exactly once: answered, refused, expired, given up, or
// (when the run's drain limit passes first) counted unfinished.
//
// Determinism: events at equal times run in the order they were scheduled;
// every random draw is a function of (seed, camera stream, request number,
// attempt), never of event order, so the same scenario gives the same event
// log, and every policy sees the same arrivals.
//
// Ownership: Simulate owns everything it builds; the event log stream is the
// caller's. Thread-safety: Simulate is reentrant; reports are plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/bench.h"
#include "sim/scenario.h"

namespace heteroaccel::sim {

struct SimOptions {
  // One line per event when set: "<ns> <event> <fields>".
  std::ostream* event_log = nullptr;
  // After the last arrival the run goes on until every request has ended, for at
  // most this long in simulated time; requests still open then are unfinished.
  std::chrono::milliseconds drain_limit{60'000};
  // For comparisons: false runs the scheduler without steering by the fluid
  // ideal (scheduler::Options::lp_steering), the greedy rule alone.
  bool lp_steering = true;
  // For comparisons: false sends every request without its camera's name, so
  // the scheduler sees one tenant (no fair queueing across cameras).
  bool camera_tenants = true;
  // The seed of what the cameras send (arrival times, weighted type draws);
  // unset: the scenario's. Fixing it while the scenario's seed varies varies
  // only the service times: the prediction for one real run whose cameras
  // drew these arrivals (`heteroaccel bench --seed`, the same schedule).
  std::optional<uint64_t> arrivals_seed;
};

struct CameraOutcome {
  int64_t offered = 0;
  int64_t good = 0;
  double attainment() const {
    return offered == 0 ? 1.0 : static_cast<double>(good) / static_cast<double>(offered);
  }
};

// Two windows, as in the tools they mirror: `bench` counts the requests that end
// inside the measured window [warmup, warmup + duration), like `heteroaccel
// bench`; the SLO counts (offered onwards) count every request that *arrived* in
// that window, by how it ended, however late.
struct SimReport {
  loadgen::BenchReport bench;  // per_device, per_type, latency (with client_rtt_ms),
                               // errors_by_kind "504" / "429" / "503", late, lost
  int64_t offered = 0;
  int64_t good = 0;     // answered ok within its deadline (or ok, without one)
  int64_t late = 0;     // answered ok after its deadline
  int64_t expired = 0;  // 504: answered early by ExpireDeadlines
  int64_t refused = 0;  // 429: queue full or displaced; 503: no device runs the type
  int64_t lost_retried = 0;  // 503: its attempts were used up by node losses
  int64_t unfinished = 0;    // still open when the drain limit passed
  double attainment = 0;     // good / offered
  double goodput_rps = 0;    // good / measured seconds
  double ideal_rps = 0;      // IdealThroughput(scenario)
  std::map<std::string, CameraOutcome> cameras;  // by camera name (name-i)
  double jain_attainment = 1;                    // Jain's index over the cameras' attainment
  uint64_t events = 0;
  uint64_t event_log_hash = 0;  // of every event, whether or not it is logged
  double wall_seconds = 0;
  double scheduler_seconds = 0;  // wall time inside Scheduler calls (the first 4,096 timed,
                                 // then 1 call in 16)
  uint64_t requests_total = 0;   // admitted over the whole run, warm-up included
};

// Requests per second the cluster could complete at best for the scenario's mix
// (the cameras' rates times their shares): Scheduler::IdealThroughput at the
// devices' true means with every slowdown applied and nodes that never come back
// left out (the lowest over the run). 0 when some type of the mix has no device.
double IdealThroughput(const Scenario& scenario);

// The scenario with every camera's rate scaled so that the total is `load` x
// IdealThroughput. InvalidArgument when load <= 0 or the ideal or the total rate
// is 0.
absl::StatusOr<Scenario> AtLoad(Scenario scenario, double load);

// The saturation protocol of the scheduling targets (docs/scheduling.md,
// "Targets, measured"): the scenario under `policy` with no deadlines and
// queues of 64 requests per type, so that what a policy completes is not cut
// by expiry. Run it AtLoad above 1.
Scenario Saturated(Scenario scenario, scheduler::PolicyKind policy);

// Runs the scenario. InvalidArgument for a scenario the scheduler rejects
// (ParseScenario already checks what it can).
absl::StatusOr<SimReport> Simulate(const Scenario& scenario, const SimOptions& options = {});

// loadgen::ToJson(bench) under "bench", and the SLO fields beside it.
nlohmann::json ToJson(const SimReport& report);
// loadgen::FormatTable(bench), then the SLO lines.
std::string FormatReport(const SimReport& report);

// Jain's fairness index: 1 when all values are equal, 1/n when one takes all.
using loadgen::JainIndex;

}  // namespace heteroaccel::sim
