// The scheduler's state and the operations every policy shares.
//
// Names are interned (types, kinds, devices) into dense indices that are never
// reused, so hot loops index vectors instead of hashing strings, and a queued request
// pinned to a removed device keeps a valid index should it come back. Waiting
// requests live in one ordered queue (priority, re-queued first, fair-share quantum,
// deadline, arrival; see QueueKey), so policies walk them in the order they should be
// served.
//
// Owned by Scheduler; not thread-safe (the Scheduler's owner serialises calls).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "scheduler/internal/min_tree.h"
#include "scheduler/internal/running_median.h"
#include "scheduler/internal/slot_schedule.h"
#include "scheduler/types.h"

namespace heteroaccel::scheduler::internal {

using TypeId = int32_t;
using KindId = int32_t;
inline constexpr int32_t kNone = -1;
inline constexpr Ticks kUnknown = -1;
// A free slot's time in a device's raw replay (State::Reindex): before any time.
inline constexpr Ticks kFree = std::numeric_limits<Ticks>::min() / 4;

inline Ticks ToTicks(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline Clock::TimePoint FromTicks(Ticks t) {
  return Clock::TimePoint(
      std::chrono::duration_cast<Clock::TimePoint::duration>(std::chrono::nanoseconds(t)));
}

// Dense ids for names; ids are never reused.
class Interner {
 public:
  int32_t Intern(std::string_view name);
  int32_t Find(std::string_view name) const;  // kNone if unknown
  const std::string& name(int32_t id) const { return names_[id]; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }

 private:
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::string> names_;
};

struct InFlightEntry {
  uint64_t id;
  TypeId type;
  Ticks bound;
  Ticks started;  // kNever while it waits on the device for a slot
  int32_t alternate = kNone;  // the degraded variant's id; kNone: the primary
};

// Recent service times of one type on one device (Options::estimate_window).
struct ServiceWindow {
  Ticks prior = kUnknown;  // the agent's reported time; kUnknown when none
  std::vector<std::pair<Ticks, Ticks>> samples;  // (measured at, service), a ring
  size_t next = 0;                               // ring position of the next sample
  Ticks watched_since = kUnknown;  // when the pair became able to run (probe clock)
  Ticks last_probe = kUnknown;

  void Add(Ticks at, Ticks service, size_t capacity);
  // When the j-th newest sample (1: the newest) was measured; requires
  // 1 <= j <= samples.size().
  Ticks Newest(size_t j) const;
  // Samples measured at or after `since`.
  int Fresh(Ticks since) const;
  struct Summary {
    Ticks median = kUnknown;    // the lower median
    Ticks quantile = kUnknown;  // the q-quantile (nearest rank)
    Ticks fastest = kUnknown;
  };
  // Over the prior and the samples measured at or after `since`; all kUnknown when
  // there are none.
  Summary Summarise(Ticks since, double q) const;
};

// An eligible alternate of a type on a device (DeviceInfo::degrade), with its
// own estimates, kept like the primary's.
struct AlternateState {
  int32_t variant = kNone;  // variant name id
  double accuracy = 0;
  ServiceWindow window;
  Ticks measured = kUnknown;
  Ticks pessimistic = kUnknown;
  Ticks fastest = kUnknown;
};

struct DeviceState {
  DeviceInfo info;  // as last reported, `up` kept current
  bool present = false;
  KindId kind = kNone;
  int capacity = 0;                      // slots + pipeline depth
  std::vector<int32_t> variant;          // by TypeId: the variant's name id; kNone: cannot run
  std::vector<Ticks> measured;           // by TypeId: the estimate; kUnknown if nothing known
  std::vector<Ticks> pessimistic;        // by TypeId: admission quantile; kUnknown likewise
  std::vector<Ticks> fastest;            // by TypeId: fastest recent run; kUnknown likewise
  std::vector<ServiceWindow> windows;    // by TypeId: what `measured` is computed from
  // By TypeId: eligible alternates (accuracy at or above the floor), most accurate first.
  std::vector<std::vector<AlternateState>> alternates;
  std::vector<InFlightEntry> in_flight;  // in bind order
  int running = 0;                       // in_flight entries holding a slot
  // Fluid-LP steering: bit t set when the device is in type t's set (types >= 64 are
  // never steered).
  uint64_t support = ~uint64_t{0};
  // Bit g set when its node is in group g (State's group names; kMaxGroups at most).
  uint64_t groups = 0;
  // What the device counts for in the type medians (by TypeId; kUnknown: nothing)
  // and under which kind; whether it uses them as its fallback estimate.
  std::vector<Ticks> median_in;
  KindId median_kind = kNone;
  std::vector<char> fallback;
  // What it counts for in the finish index (State::Reindex).
  struct Indexed {
    bool listed = false;  // available
    int capacity = 0;
    int free = 0;
    std::vector<int32_t> runs;  // types, when listed
    Ticks earliest = kNever;    // the raw replay's earliest slot
    Ticks length = 0;           // the replay's with every slot free at 0
    bool ready = false;         // earliest at or before the index's time
    bool idle = false;          // listed with nothing in flight
    // What it adds to TypeState's pressure sums when listed: PressureRate by
    // TypeId (for the types in `runs`) and its load; and the slots and
    // estimates each rate was computed from, so that it is computed again only
    // when they change.
    std::vector<absl::int128> rates;
    std::vector<Ticks> rate_estimates;
    int rate_slots = 0;
    int load = 0;
    // The scopes it belongs to (State::Scope: its kind's, its groups'), each
    // with its position there.
    std::vector<std::pair<int32_t, int32_t>> scopes;
  } indexed;

  bool available() const { return present && info.up; }
  bool CanRun(TypeId t) const {
    return t < static_cast<TypeId>(variant.size()) && variant[t] != kNone;
  }
  int load() const { return static_cast<int>(in_flight.size()); }
  bool HasRoom() const { return load() < capacity; }
};

// Orders the queue: higher priority, then re-queued before fresh, then the quantum
// of the request's virtual start tag (fair queueing across tenants, see
// Options::fair_quantum), then earlier deadline (none last), then enqueue order.
struct QueueKey {
  int64_t neg_priority;
  int32_t fresh;
  int64_t quantum;
  Ticks deadline;
  uint64_t seq;
  friend bool operator<(const QueueKey& a, const QueueKey& b) {
    return std::tie(a.neg_priority, a.fresh, a.quantum, a.deadline, a.seq) <
           std::tie(b.neg_priority, b.fresh, b.quantum, b.deadline, b.seq);
  }
};

// What policies need of a waiting request, kept in the queue node itself.
struct QueueEntry {
  uint64_t id;
  TypeId type;
  DeviceIndex pinned_device;  // kNone: any
  KindId pinned_kind;         // kNone: any
  Ticks deadline;             // kNever: none
  int32_t pinned_variant = kNone;  // a variant name's id; kNone: any
  int32_t group = kNone;           // a group name's id: only devices in it; kNone: any
  bool may_degrade = true;         // Request::may_degrade, false with a pinned variant
};

using Queue = absl::btree_map<QueueKey, QueueEntry>;

struct Record {
  Request request;
  QueueEntry entry;
  QueueKey key;  // valid while queued
  Ticks start_tag = 0;     // virtual start tag in its priority class
  Ticks cost = 0;          // what the tag charged its tenant (StartTag)
  int32_t tenant = kNone;  // its tenant's id (State::AcquireTenant) while queued
  bool queued = true;
  DeviceIndex device = kNone;  // while in flight
};

// A device able to run a type, with its estimate for the type, for one pass.
struct Candidate {
  DeviceIndex device;
  KindId kind;
  int32_t variant;  // the id of the variant it serves the type with
  Ticks estimate;  // the median: orders candidates
  Ticks admit;     // the admission quantile: checked against deadlines
  Ticks fastest;   // the optimistic bound: expiry
  Ticks degraded_fastest;  // the fastest eligible alternate's bound; kNever: none
  uint64_t groups;         // DeviceState::groups
};

// The finish index's tree: State::Bound's three orders, the last (kDegraded)
// sparse.
using FinishTree = SparseLastMinTree<3>;

struct TypeState {
  int runners = 0;    // present devices (up or down) able to run it
  int degradable = 0;  // of which with an eligible alternate
  // Their most accurate eligible alternates' accuracies, one per device: the
  // highest is the best a degraded request of the type can get.
  std::multiset<double> top_accuracies;
  // Degradation: whether, this pass, its waiting requests would miss deadlines
  // with the primary alone (State::RefreshPressure).
  bool pressured = false;
  // Over its available devices, kept by the finish index (State::Reindex): the
  // sum of PressureRate (exact, so that it is the same whatever order devices
  // changed in) and of their load.
  absl::int128 pressure_rate = 0;
  int64_t pressure_load = 0;
  // How many of the pass's reservations (State::reserved_log_) its keys hold,
  // and whether any key of a reserved device was written to its trees in the
  // pass (State::SetKeys; EndPass restores those).
  size_t reserved_synced = 0;
  bool reserved_keys = false;
  // Scopes with this type's trees built (State::ScopeTrees): none, and a
  // device's keys have only the type's own trees to go to.
  int scopes_built = 0;
  size_t queued = 0;  // waiting requests
  size_t pinned = 0;  // of which pinned to a device or kind
  // Waiting requests by (priority, -seq): begin() is the newest of the lowest class,
  // the class a higher one displaces from when the queue is full.
  absl::btree_set<std::tuple<int64_t, int64_t, uint64_t>> by_class;
  // By (priority, tenant) with requests waiting (tenants by their ids,
  // State::AcquireTenant): those requests as (-seq, id), so that begin() is the
  // newest, the one the tenant gives up to one with fewer waiting when the queue
  // is full (State::Displaceable).
  absl::flat_hash_map<std::pair<int64_t, int32_t>, absl::btree_set<std::pair<int64_t, uint64_t>>>
      tenant_waiting;
  // (priority, waiting, tenant) for each of them: the last of a class is the
  // tenant holding the most of the queue.
  absl::btree_set<std::tuple<int64_t, size_t, int32_t>> tenant_load;
  absl::flat_hash_map<int64_t, size_t> class_tenants;  // priority -> tenants waiting
  // Available devices able to run it, in key order; rebuilt when the topology changes.
  std::vector<DeviceIndex> available;
  uint64_t available_topology = 0;
  // Medians of the present devices' estimates, by kind and over all kinds: the
  // estimate of a device that has none of its own.
  std::vector<RunningMedian> kind_medians;  // by KindId
  RunningMedian all_medians;
  // The present devices using them.
  absl::btree_set<DeviceIndex> fallback_users;
  bool fallback_stale = false;  // changed since those devices were indexed
  // Unpinned waiting requests with a deadline, as (deadline, id).
  absl::btree_set<std::pair<Ticks, uint64_t>> deadlines;
  // The finish index (State::Reindex), by device position in key order: over
  // every device here, over a scope's in State::Scope.
  struct Trees {
    // Ready: devices whose earliest slot is free at the index's time, keyed by
    // their queued work's length (the slots' replay from all free now) plus the
    // estimate; busy: the others, keyed by their earliest slot plus the
    // estimate (for a steered type only those in its set). The keys are
    // State::Bound's: kEstimate orders by the estimate (ties: room first, lower
    // load, key order), kFastest by the fastest recent run, degradation
    // included (for expiry; ties by key order), kDegraded by the least estimate
    // of the device's eligible alternates (devices without one are absent;
    // ties by key order), kept apart (FinishTree) so that a type no device may
    // degrade pays nothing for it.
    FinishTree ready, busy;
    // Probes: idle devices whose (device, type) pair is due, keyed by their
    // best case (State::BestCase), so that the first in key order a deadline
    // allows is found without passing over the others (the devices not due
    // wait in State::probe_pending_).
    MinTree probe_ready;
  };
  Trees trees;
  // Candidates of the current pass.
  uint64_t prepared_pass = 0;
  std::vector<Candidate> candidates;
  // Arrivals (Enqueue), decayed over Options::rate_window, as of `arrivals_at`.
  double arrivals = 0;
  Ticks arrivals_at = 0;
  // Fluid-LP steering (Options::lp_steering): whether unpinned requests of the type
  // are steered (DeviceState::support says where to).
  bool steered = false;
  // kStatic: the kind it is confined to when unpinned.
  uint64_t static_topology = 0;
  KindId static_kind = kNone;
};

class State {
 public:
  State(Options options, Clock& clock);

  const Options& options() const { return options_; }
  void SetPolicy(PolicyKind policy) { options_.policy = policy; }
  Ticks Now() const { return ToTicks(clock_.Now()); }

  // Cluster state.
  absl::Status UpsertDevice(DeviceInfo info);
  std::vector<Request> RemoveDevice(const DeviceKey& key);
  void SetNodeUp(const std::string& node, bool up);
  std::vector<Request> FailDevice(const DeviceKey& key);
  std::vector<Request> FailNode(const std::string& node);

  // Requests.
  // With `displaced`, a full queue takes the request by removing (and appending to
  // `displaced`) the request Displaceable names.
  absl::Status Enqueue(Request request, std::vector<Request>* displaced);
  bool Complete(uint64_t id, std::chrono::nanoseconds service_time, bool ok);
  std::optional<Request> Cancel(uint64_t id);
  // Removes waiting requests past their deadline and, if `infeasible_too`, those no
  // available device can finish by it given the work in flight.
  std::vector<Request> ExpireDeadlines(bool infeasible_too);
  // Removes (and returns) the waiting request at `it`; returns the next position.
  Queue::iterator Remove(Queue::iterator it, std::vector<Request>& out);

  // Introspection.
  size_t queued(std::string_view type) const;
  size_t queued_total() const { return queue_.size(); }
  uint64_t steering_solves() const { return steering_solves_; }
  int in_flight(const DeviceKey& key) const;
  // `variant`: "" or the primary for the primary's estimate, else an eligible
  // alternate's; nullopt for anything else.
  std::optional<Ticks> ServiceEstimate(std::string_view type, const DeviceKey& key,
                                       std::string_view variant = {}) const;
  std::vector<DeviceInfo> devices() const;
  double IdealThroughput(const std::map<std::string, double>& mix) const;

  // --- For policies --------------------------------------------------------------

  Queue& queue() { return queue_; }
  const DeviceState& device(DeviceIndex d) const { return devices_[d]; }
  const TypeState& type(TypeId t) const { return types_[t]; }
  DeviceIndex device_count() const { return static_cast<DeviceIndex>(devices_.size()); }
  size_t type_count() const { return types_.size(); }
  const Record* record(uint64_t id) const;

  // Starts a Dispatch or ExpireDeadlines pass at the clock's time (pass_now):
  // candidate lists and the slot schedule are refreshed lazily.
  void BeginPass();
  Ticks pass_now() const { return pass_now_; }
  // The pass's earliest free slot of `d`, from its work in flight and the pass's
  // reservations.
  Ticks Earliest(DeviceIndex d);
  // Reserves d's earliest slot until `until` for the rest of the pass; a device
  // with room must then be bound the request (Bind).
  void Reserve(DeviceIndex d, Ticks until);
  // Ends a Dispatch pass: reservations are forgotten.
  void EndPass();
  // The finish index's orders (TypeState::Trees): lower bounds on the finish of
  // one more request of a type sent now, run with the primary's estimate, as
  // the fastest recent run (degradation included), or with the device's
  // quickest eligible alternate's estimate.
  enum class Bound { kEstimate = 0, kFastest = 1, kDegraded = 2 };
  // Visits the available devices that run `t` (for a steered type: outside its
  // set only those whose earliest slot is free now; for kDegraded only those
  // with an eligible alternate) in ascending order of `order`'s bound.
  // `visit(d, bound, tie)` returns false to stop; `tie` orders equal bounds:
  // for kEstimate room first, then the lower load, then key order (see Tie);
  // for the others the device's position in key order.
  // With `pins`, only the devices of the smaller of the scopes its kind and
  // group pins name, if any (the visitor still filters the rest of its pins);
  // ties then rank the scope's devices in the same order.
  void VisitByBound(TypeId t, Bound order, const QueueEntry* pins,
                    absl::FunctionRef<bool(DeviceIndex, Ticks, uint64_t)> visit);
  uint64_t Tie(DeviceIndex d) const;
  // Available devices with room that run `t`.
  int RoomFor(TypeId t) { SyncIndex(); return rooms_[t]; }
  // The devices a request of type `t` may use in this pass (available, able to run
  // it), with estimates, in key order. Pins are not applied; see Allows.
  const std::vector<Candidate>& Candidates(TypeId t) const;
  // The devices Candidates(t) weighs (available, able to run it), in key order.
  const std::vector<DeviceIndex>& AvailableFor(TypeId t) const;
  // One device (available, able to run `t`) as a candidate.
  Candidate MakeCandidate(TypeId t, DeviceIndex d) const;
  // A visit of the finish index for one request (placement, expiry): the devices
  // its pins (a kind, a group, a variant) exclude are passed over, and past
  // kMaxPassedOver of them, a pin few devices near the front satisfy, the caller
  // gives up and weighs its candidates instead.
  class PinFilter {
   public:
    static constexpr int kMaxPassedOver = 64;
    PinFilter(const State& state, const QueueEntry& entry)
        : state_(state), entry_(entry), pinned_(IsPinned(entry)) {}
    // True when `d` is passed over; the visit then goes on unless gave_up().
    bool PassOver(DeviceIndex d) {
      if (!pinned_ || state_.AllowsDevice(entry_, d)) return false;
      ++passed_over_;
      return true;
    }
    bool gave_up() const { return passed_over_ > kMaxPassedOver; }

   private:
    const State& state_;
    const QueueEntry& entry_;
    const bool pinned_;
    int passed_over_ = 0;
  };
  static bool IsPinned(const QueueEntry& entry) {
    return entry.pinned_device != kNone || entry.pinned_kind != kNone ||
           entry.pinned_variant != kNone || entry.group != kNone;
  }
  // Whether the entry's pins allow a device of this kind, variant and groups.
  static bool PinsAllow(const QueueEntry& entry, DeviceIndex d, KindId kind, int32_t variant,
                        uint64_t groups) {
    return (entry.pinned_device == kNone || entry.pinned_device == d) &&
           (entry.pinned_kind == kNone || entry.pinned_kind == kind) &&
           (entry.pinned_variant == kNone || entry.pinned_variant == variant) &&
           (entry.group == kNone || ((groups >> entry.group) & 1) != 0);
  }
  static bool Allows(const QueueEntry& entry, const Candidate& c) {
    return PinsAllow(entry, c.device, c.kind, c.variant, c.groups);
  }
  // kStatic: the kind unpinned requests of `t` are confined to (kNone: no device).
  KindId StaticKind(TypeId t) const;
  // Position of a kind in Options::kind_preference (unlisted kinds after all).
  int KindRank(KindId k) const;
  // Free room (capacity - load) summed over available devices.
  int FreeRoom() {
    SyncIndex();
    return free_room_;
  }
  int TotalCapacity() {
    SyncIndex();
    return capacity_;
  }
  // Expected finish of one more request of type `t` on `d`, sent now.
  Ticks ExpectedFinish(DeviceIndex d, TypeId t, Ticks now) const;
  // Service estimate of `t` on `d`, with fallbacks; never unknown.
  Ticks Estimate(TypeId t, DeviceIndex d) const;
  // The admission quantile and the fastest recent run of `t` on `d`; the
  // estimate's fallbacks when nothing is measured. Never unknown.
  Ticks Pessimistic(TypeId t, DeviceIndex d) const;
  Ticks Fastest(TypeId t, DeviceIndex d) const;
  // The fastest bound of t's eligible alternates on d; kNever when none.
  Ticks DegradedFastest(TypeId t, DeviceIndex d) const;
  // The least estimate of t's eligible alternates on d; kNever when none.
  Ticks DegradedEstimate(TypeId t, DeviceIndex d) const;
  // Whether `d` should be given a request of `t` to confirm its estimate (see
  // Options::probe_interval): idle, able to run it, unconfirmed, not probed lately.
  bool ProbeDue(DeviceIndex d, TypeId t, Ticks now) const;
  // The fastest time `d` has shown or reported for `t` (what a probe may hope for).
  Ticks BestCase(TypeId t, DeviceIndex d) const;
  void MarkProbed(DeviceIndex d, TypeId t, Ticks now) {
    devices_[d].windows[t].last_probe = now;
    Reindex(d);
  }
  // Idle devices for which ProbeDue(d, t, pass_now()) holds, by position in key
  // order, keyed by BestCase(t, d) (MinTree::FirstAtMost finds the first within
  // a deadline). With `pins`, those of the scope VisitByBound would visit:
  // positions in `devices`, the scope's members (else every device in key order).
  struct ProbeSet {
    const MinTree& due;
    const std::vector<DeviceIndex>& devices;
  };
  ProbeSet ProbeReady(TypeId t, const QueueEntry* pins);
  // Allows for a device rather than a candidate.
  bool AllowsDevice(const QueueEntry& entry, DeviceIndex d) const {
    const DeviceState& dev = devices_[d];
    return PinsAllow(entry, d, dev.kind, dev.variant[entry.type], dev.groups);
  }
  // The highest accuracy of an eligible alternate of `t` on any present device
  // (up or down); -1 when none has one.
  double TopAlternateAccuracy(TypeId t) const {
    const std::multiset<double>& all = types_[t].top_accuracies;
    return all.empty() ? -1 : *all.rbegin();
  }
  // Degradation (DeviceInfo::degrade): the eligible alternates of `t` on `d`,
  // most accurate first, and the estimates of one of them (the primary's
  // fallbacks when it has none of its own). Never unknown.
  const std::vector<AlternateState>& Alternates(DeviceIndex d, TypeId t) const {
    return devices_[d].alternates[t];
  }
  Ticks AlternateEstimate(const AlternateState& a, TypeId t, DeviceIndex d) const;
  Ticks AlternatePessimistic(const AlternateState& a, TypeId t, DeviceIndex d) const;
  // Whether `t` is under pressure (RefreshPressure) or its waiting requests
  // pass Options::degrade_backlog.
  bool Backlogged(TypeId t) const;
  // Marks each degradable type whose waiting requests, taken in deadline order
  // (the first `limit` deadlines) at the rate its available devices complete it
  // with the primary (the fluid bound: the sum of slots / estimate), would not
  // all meet their deadlines. Call after BeginPass.
  void RefreshPressure(Ticks now, int limit);
  const std::string& variant_name(int32_t v) const { return variant_names_.name(v); }
  // Fluid-LP steering (Options::lp_steering): re-solves the LP for the recent
  // arrival mix when the interval has passed or the devices changed.
  void RefreshSteering(Ticks now);
  // Whether an unpinned request of `t` may go to `d` without `d` being idle.
  bool InSupport(DeviceIndex d, TypeId t) const {
    return !types_[t].steered || ((devices_[d].support >> t) & 1) != 0;
  }
  // Whether no unpinned request of a type in `d`'s sets is waiting (so that `d`
  // would otherwise idle and may take another type).
  bool NothingOwnWaiting(DeviceIndex d) const {
    return (devices_[d].support & steered_ & waiting_) == 0;
  }
  // Binds the waiting request at `it` to `d` (to run `alternate`, a variant id
  // from Alternates, instead of the primary unless kNone); returns the next
  // queue position.
  Queue::iterator Bind(Queue::iterator it, DeviceIndex d, Ticks now, Ticks expected_finish,
                       std::vector<Assignment>& out, int32_t alternate = kNone);

 private:
  DeviceIndex FindDevice(const DeviceKey& key) const;
  // The node's devices (present or not): a range of sorted_devices_, which is
  // ordered by (node, device).
  std::span<const DeviceIndex> NodeDevices(const std::string& node) const;
  void Requeue(const InFlightEntry& entry, std::vector<Request>& out);
  // d's slot free times as a min-heap: the running requests' ends (at least
  // `now`; with `running_done` all at `now`), free slots at `now`, then the waiting
  // requests in bind order each taking the earliest slot for its estimate.
  void FillSlots(DeviceIndex d, Ticks now, bool running_done, std::vector<Ticks>& heap) const;
  // The finish index, counters included: brings d's entries up to date (call
  // after any change to d), or everything (after a change of topology).
  void Reindex(DeviceIndex d);
  void ReindexAll();
  // d's probe entries: due pairs in the types' probe_ready, the next due time in
  // probe_pending_ (d idle), or none.
  void SetProbes(DeviceIndex d);
  // d's keys in the trees of the types it runs (TypeState::Trees), or of
  // `t` alone: the estimate's and the alternates' from the pass's schedule
  // while d is reserved in it, else from its indexed replay; the fastest run's
  // always from the replay.
  void SetKeys(DeviceIndex d);
  void SetKeys(DeviceIndex d, TypeId t);
  // What SetKeys writes for d and t in the type's trees (ready, busy), and the
  // same keys at position `there` of a scope.
  std::pair<FinishTree::Keys, FinishTree::Keys> KeysFor(DeviceIndex d, TypeId t) const;
  // Writes d's keys for t in the type's trees and its built scopes' (absent
  // keys: clears them).
  void WriteKeys(DeviceIndex d, TypeId t, const FinishTree::Keys& in_ready,
                 const FinishTree::Keys& in_busy);
  static FinishTree::Keys Placed(FinishTree::Keys keys, int32_t there);
  // Debug builds: asserts that every key in the trees (the types' and the
  // built scopes') is what SetKeys would write now. Outside a pass.
  void CheckKeys() const;
  // Brings t's keys up to date with the pass's reservations (Reserve leaves
  // that to the first visit of each type that follows it).
  void SyncReserved(TypeId t);
  void SyncIndex();
  // ProbeDue's time: the first time at or after which it holds if d stays idle.
  Ticks ProbeDueAt(DeviceIndex d, TypeId t) const;
  // Updates d's part in t's medians (and the fallback users) from its estimate.
  void SyncMedian(DeviceIndex d, TypeId t);
  void SyncMedians(DeviceIndex d);
  // ExpireDeadlines without the finish index: every candidate.
  void ExpireByScan(Ticks now, std::vector<uint64_t>& expired);
  // Unpinned requests of `t` no device can finish by their deadline.
  void ExpireType(TypeId t, Ticks now, std::vector<uint64_t>& expired);
  // Pinned requests no device they may use can finish by their deadline.
  void ExpirePinned(Ticks now, std::vector<uint64_t>& expired);
  // The earliest finish of `entry`'s fastest run (degraded too if it may) on a
  // device its pins allow; kNever when none is up.
  Ticks PinnedFinish(const QueueEntry& entry);
  std::vector<Request> TakeInFlight(DeviceIndex d);
  void DetachVariants(DeviceIndex d);
  void TopologyChanged();
  void CountQueued(const QueueKey& key, const QueueEntry& entry, int32_t tenant, bool added);
  // Tenants with requests waiting have small ids, for the per-type counts: a
  // tenant's first waiting request takes one, its last gives it back. `known`:
  // FindTenant(name) earlier in the same call, saving the lookup.
  int32_t AcquireTenant(const std::string& name, int32_t known = kNone);
  void ReleaseTenant(int32_t id);
  int32_t FindTenant(const std::string& name) const;  // kNone: none waiting
  // Fair queueing: the virtual start tag of a new request of `tenant`, which
  // advances the tenant's finish tag by the request's estimated cost (`cost`).
  Ticks StartTag(int64_t priority, const std::string& tenant, TypeId t, Ticks& cost);
  // A tenant holds at most an equal share of a type's queue in its priority class
  // (queue_capacity / the tenants with requests waiting there, itself included)
  // while others wait: its requests wait no longer than that share takes at its
  // fair rate, whatever it sends. ResourceExhausted beyond that.
  absl::Status WithinShare(const TypeState& ts, const Request& request, int32_t tenant) const;
  // A request displaced from a full queue: its tenant is no longer charged for it
  // (charged, a tenant losing requests to the others would fall ever further
  // behind them in the fair order).
  void Uncharge(const Record& record);
  // Which waiting request of type `t` a request of `priority` from `tenant` takes
  // the place of in a full queue, or nullptr (it is refused): the newest request of
  // the tenant holding the most of the lowest class, if that class is below
  // `priority`, or is `priority` and that tenant holds at least two more of it
  // than `tenant` (longest queue drop: a tenant sending more than its share fills
  // the queue with its own requests, not at the others' expense).
  const Record* Displaceable(TypeId t, int priority, int32_t tenant) const;
  void EnsureTypeSlots(DeviceState& device) const;
  // Recomputes devices_[d].measured[t] from its window.
  void RefreshEstimate(DeviceIndex d, TypeId t, Ticks now);
  void RefreshAlternate(AlternateState& a, Ticks now) const;
  // Installs `info.degrade` on `dev` (validated), keeping the windows of
  // alternates it already had.
  void SetAlternates(DeviceState& dev, const DeviceInfo& info, Ticks now);
  // Estimate of whatever an in-flight entry runs on `d`.
  Ticks InFlightEstimate(const InFlightEntry& e, DeviceIndex d) const;
  void StartWaiting(DeviceState& device, Ticks now);
  // RefreshSteering's solution: the types' `steered` and the devices' `support`.
  void SolveSteering(Ticks now);
  absl::Status ValidatePins(const Request& request, TypeId t, QueueEntry& entry) const;
  std::string KnownTypes() const;

  Options options_;
  Clock& clock_;
  Interner type_names_;
  Interner kind_names_;
  Interner variant_names_;
  Interner group_names_;  // ids below kMaxGroups are the bits of DeviceState::groups
  absl::flat_hash_map<DeviceKey, DeviceIndex> device_index_;
  std::vector<DeviceState> devices_;
  std::vector<DeviceIndex> sorted_devices_;  // by key
  mutable std::vector<Ticks> scratch_;       // FillSlots storage for one-off uses
  mutable std::vector<TypeState> types_;
  Queue queue_;
  absl::btree_set<std::pair<Ticks, uint64_t>> deadlines_;  // waiting requests with one
  absl::flat_hash_map<uint64_t, Record> records_;          // waiting and in flight
  // Fair queueing state of one priority class while it has waiting requests.
  struct FairClass {
    Ticks virtual_time = 0;  // the largest start tag bound so far
    size_t queued = 0;
    absl::flat_hash_map<std::string, Ticks> finish;  // tenant -> finish tag
  };
  absl::flat_hash_map<int64_t, FairClass> fair_;
  // Tenants with requests waiting (AcquireTenant): id by name, and by id the
  // name and its waiting requests; ids given back are reused.
  absl::flat_hash_map<std::string, int32_t> tenant_ids_;
  std::vector<std::pair<std::string, size_t>> tenants_;
  std::vector<int32_t> free_tenants_;
  uint64_t next_seq_ = 0;
  // Bit t set while unpinned requests of type t (< 64) wait.
  uint64_t waiting_ = 0;
  uint64_t steered_ = 0;  // bit t set while type t is steered
  Ticks steering_at_ = kUnknown;
  uint64_t steering_topology_ = 0;
  uint64_t steering_solves_ = 0;
  uint64_t topology_ = 1;
  uint64_t pass_ = 1;
  Ticks pass_now_ = 0;
  SlotSchedule schedule_;  // the pass's
  // The finish index (see TypeState): positions, the time it is classified at
  // (ready: earliest at or before it), the busy devices by earliest slot (they
  // turn ready as the time passes), counters, the pass's reservations.
  bool index_stale_ = true;
  Ticks index_now_ = kFree;
  std::vector<int32_t> position_;  // by DeviceIndex
  MinTree busy_earliest_;
  MinTree probe_pending_;  // idle devices by the next time a pair of theirs is due
  int free_room_ = 0;
  int capacity_ = 0;
  std::vector<int> rooms_;              // by TypeId
  std::vector<uint64_t> reserved_;      // by DeviceIndex: the pass it was last reserved in
  std::vector<DeviceIndex> reserved_list_;
  // The pass's reservations of devices without room, in order (a device as
  // often as reserved); TypeState::reserved_synced counts those in t's keys.
  std::vector<DeviceIndex> reserved_log_;
  // A kind's, a group's or a type's variant's devices (as of the index's last
  // rebuild, in key order), with the finish index of each type over them,
  // built on the first visit of a request pinned to it (trees[t] is empty until
  // then) and then kept as the type's own: a request pinned to a kind, a group
  // or a variant that few devices near the front of the order have finds them
  // without passing over the others. Rebuilt with the index.
  struct Scope {
    std::vector<DeviceIndex> members;
    std::vector<TypeState::Trees> trees;  // by TypeId
    std::vector<char> active;             // by TypeId
  };
  std::vector<Scope> scopes_;
  int32_t scope_kinds_ = 0;   // scopes_[k] for kind k < this,
  int32_t scope_groups_ = 0;  // then group g's at scope_kinds_ + g < this,
  // then a variant's, by (type, variant id).
  absl::flat_hash_map<std::pair<TypeId, int32_t>, int32_t> variant_scopes_;
  // The scope a visit for `pins` uses (nullptr: every device).
  Scope* ScopeFor(const QueueEntry& pins);
  // The scopes d belongs to now, in the order it joins them: its kind's, its
  // groups', its variants'. With `create`, a variant's scope is added when it
  // has none yet (the index's rebuild); without, such a scope, or a kind or
  // group newer than the scopes, is -1.
  std::vector<int32_t> ScopeIds(DeviceIndex d, bool create);
  // Whether d's scopes differ from those it was indexed in.
  bool ScopesMoved(DeviceIndex d);
  // t's trees in `scope`, built on first use.
  TypeState::Trees& ScopeTrees(Scope& scope, TypeId t);
  // t's trees in scopes_[scope]; nullptr while not built (nothing to keep).
  TypeState::Trees* BuiltTrees(int32_t scope, TypeId t);
  // Whether d, idle, is due a probe of t (Trees::probe_ready, the type's and
  // its scopes').
  void SetProbeReady(DeviceIndex d, TypeId t, bool due);
  // VisitByBound's: the leaves it took out, with their keys.
  std::vector<std::tuple<FinishTree*, int32_t, FinishTree::Keys>> excluded_;
  // Pinned waiting requests with a deadline (the others are in their type's).
  absl::btree_set<std::pair<Ticks, uint64_t>> pinned_deadlines_;
  // RefreshPressure's scratch, by type: the rate (kUnknown: not summed yet) and
  // the requests ahead.
  std::vector<absl::int128> pressure_rate_;
  std::vector<int64_t> pressure_ahead_;
};

}  // namespace heteroaccel::scheduler::internal
