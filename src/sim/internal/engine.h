// Engine: the event loop behind Simulate (simulator.h), holding the scheduler,
// the request tracker, the emulated devices and the camera streams of one run.
// Single-threaded; one Engine per run.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <ostream>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/fake_clock.h"
#include "scheduler/scheduler.h"
#include "server/request_tracker.h"
#include "sim/internal/arrivals.h"
#include "sim/simulator.h"

namespace heteroaccel::sim::internal {

// The devices of the scenario with every node's `count` expanded, as the
// scheduler sees them (reported service = the true mean times `factor`).
struct ClusterDevice {
  scheduler::DeviceInfo info;
  const DeviceSpec* spec = nullptr;
  uint32_t node = 0;
};
struct ClusterNode {
  std::string name;
  const NodeSpec* spec = nullptr;
  uint32_t first_device = 0;  // its devices: [first_device, end_device) of Cluster::devices
  uint32_t end_device = 0;
};
struct Cluster {
  std::vector<std::string> types;  // sorted
  std::vector<ClusterNode> nodes;
  std::vector<ClusterDevice> devices;
  // A fault's `node` (or a device fault's node part) -> the nodes it names: the
  // node of that name, and every node of an entry of that base name.
  absl::flat_hash_map<std::string, std::vector<uint32_t>> nodes_named;

  const std::vector<uint32_t>& NodesNamed(std::string_view ref) const;
  // The devices a device fault's "node/device" names.
  std::vector<uint32_t> DevicesNamed(std::string_view ref) const;
};
Cluster ExpandCluster(const Scenario& scenario);

class Engine {
 public:
  Engine(const Scenario& scenario, const SimOptions& options);
  absl::StatusOr<SimReport> Run();

 private:
  enum Kind : uint8_t { kArrive, kAtDevice, kDone, kResult, kFault, kNodeBack };
  struct Event {
    int64_t t;
    uint64_t seq;
    uint64_t id;
    uint32_t a;      // stream, device or fault
    uint32_t c;      // attempt
    uint32_t gen;    // device generation (work lost with its node)
    Kind kind;
    bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };
  struct Device {
    const ClusterDevice* cluster;
    std::vector<int64_t> mean_ns;  // per scenario type; -1 when it does not run it
    // Per scenario type (empty: none), the eligible alternates' (variant, mean).
    std::vector<std::vector<std::pair<std::string, int64_t>>> alternate_ns;
    double factor = 1;
    int busy = 0;
    uint32_t gen = 0;
    struct Waiting {
      uint64_t id;
      uint32_t attempt;
      int64_t since;  // its arrival at the device
    };
    std::deque<Waiting> waiting;
  };
  struct StreamState {
    uint64_t next_k = 0;
    int64_t next_due = 0;
    bool outstanding = false;
    bool pending = false;  // due while outstanding: send when answered
    bool done = false;
  };
  struct Open {
    uint32_t stream;
    uint32_t type;
    uint64_t k;
    int64_t arrival;
    int64_t deadline;  // INT64_MAX: none
    uint32_t attempt = 0;
    uint32_t device = 0;
    int64_t service = 0;
    int32_t alternate = -1;  // index into the device's alternate_ns; -1: the primary
    // The current attempt's wait on its device for a slot (what an agent
    // reports as queue_ms).
    int64_t device_wait = 0;
  };
  enum class End { kOk, kExpired, kRefused429, kRefused503, kGaveUp, kUnfinished };

  void Push(int64_t t, Kind kind, uint64_t id, uint32_t a = 0, uint32_t c = 0, uint32_t gen = 0);
  void Log(const Event& e);
  void Handle(const Event& e);
  void Send(uint32_t stream);
  void ScheduleNext(uint32_t stream);
  void AtDevice(const Event& e);
  // `since`: when the attempt reached the device (its wait there ends now).
  void Start(uint32_t device, uint64_t id, uint32_t attempt, int64_t since);
  void Done(const Event& e);
  void Result(const Event& e);
  void Fault(uint32_t index, bool back);
  void Pump();
  void Finish(uint64_t id, End end, absl::Status error);
  int64_t Now() const { return now_; }
  uint32_t DeviceIndex(const scheduler::DeviceKey& key) const;
  SimReport Summarise();

  // Scheduler calls, a sample of them timed (scheduler_seconds_).
  template <typename F>
  auto Timed(F f) -> decltype(f());

  const Scenario& s_;
  const SimOptions& options_;
  Cluster cluster_;
  FakeClock clock_;
  const Clock::TimePoint start_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  server::RequestTracker tracker_;
  std::vector<Device> devices_;
  absl::flat_hash_map<scheduler::DeviceKey, uint32_t, scheduler::DeviceKeyHash> device_index_;
  std::vector<Stream> streams_;
  std::vector<StreamState> stream_state_;
  std::vector<loadgen::StreamSchedule> schedules_;  // per stream
  uint64_t arrivals_seed_ = 0;  // SimOptions::arrivals_seed, or the scenario's
  std::vector<std::string> camera_names_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  absl::flat_hash_map<uint64_t, Open> open_;
  int64_t now_ = 0;
  int64_t measure_start_ = 0;
  int64_t end_ = 0;
  int64_t half_rtt_ = 0;
  int64_t client_rtt_ = 0;
  int64_t service_overhead_ = 0;
  uint64_t seq_ = 0;
  bool pump_ = false;
  bool requeued_ = false;
  uint64_t hash_ = 0x84222325cbf29ce4ULL;
  double scheduler_seconds_ = 0;  // estimated from the timed sample
  uint64_t scheduler_calls_ = 0;
  uint64_t admitted_ = 0;
  uint64_t ended_ = 0;
  uint64_t accounting_errors_ = 0;

  // Measured results.
  SimReport report_;
  std::vector<CameraOutcome> camera_outcomes_;
  std::vector<loadgen::CameraStats> bench_cameras_;  // by answer in the window, as bench counts
  std::vector<double> latencies_;
  uint64_t within_deadline_ = 0;  // ok, and the client's latency within its deadline
  std::vector<std::vector<double>> type_latencies_;
  std::vector<uint64_t> type_errors_;
  struct DeviceTally {
    uint64_t count = 0;
    double compute_ms = 0;
    double queue_ms = 0;  // waiting on the device for a slot, as an agent reports it
  };
  std::vector<DeviceTally> tallies_;
};

}  // namespace heteroaccel::sim::internal
