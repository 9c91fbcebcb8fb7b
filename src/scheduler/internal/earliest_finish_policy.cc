// kEarliestFinish: list scheduling of the waiting requests on expected finish time.
//
// Every available device's slots start with a free-at time derived from the work in
// flight (State::Earliest: a running request frees its slot after the rest of
// its estimate, a request waiting on the device after the slot it will get). The
// waiting requests are then taken in queue order (priority, re-queued first,
// fair-share quantum, deadline, arrival; state.h QueueKey); each goes to the
// candidate whose expected finish (earliest slot + the type's median service time
// there) is smallest among those whose earliest slot + the admission quantile
// (Options::admission_quantile) meets its deadline, and that slot becomes busy
// until then (State::Reserve). The candidates are found through the finish index
// (State::VisitByBound) rather than by weighing every device: a decision costs
// O(log devices) plus the devices it visits, not O(devices). A request whose device has room
// now is bound; the others stay queued with their slot reserved for the rest of this
// pass only (the next Dispatch starts over). Later requests therefore see the fast
// devices' virtual backlog: a busy fast device still wins while it would finish
// sooner, and a slow device receives a request exactly when it would finish it
// first. Ties go to a device with room now, then to the lower load, then key order.
//
// Steering by the fluid ideal (Options::lp_steering, State::RefreshSteering): an
// unpinned request of a steered type considers a device outside its type's set only
// if that device has a slot free now (in this pass's schedule), room, and no waiting
// unpinned request of a type in its own set, i.e. when it would otherwise idle. The
// greedy rule alone sends a type to a device three times slower as soon as that one
// would finish first, spending capacity the ideal keeps for the type that device is
// best at; with steering the throughput at saturation is the ideal's while light
// load still uses every device.
//
// Probes (Options::probe_interval): before the choice above, a request whose type
// an idle device could run but has not confirmed lately (State::ProbeDue) goes to
// that device if its deadline allows the device's best time. This costs at most
// one request per device, type and interval, and is what lets an estimate that no
// request would otherwise confirm (learned from one slow run, or from a device that
// has since sped up) come back to the truth.
//
// Degradation (DeviceInfo::degrade, one rule): a request that may degrade (no
// pinned variant, no opt-out) runs a faster variant of its type when no device
// admits it with the primary variant by its deadline, or when its type is
// backlogged and the alternate would finish before the primary pick. Backlogged:
// the type's waiting requests, in deadline order at the rate its devices complete
// it with the primary, would not all meet their deadlines (State::RefreshPressure:
// the head of the queue degrades so that those behind it need not), or its queue
// holds Options::degrade_backlog of queue_capacity (requests without deadlines).
// It then takes the most accurate eligible alternate (at or above the
// operator's floor) that some allowed device admits, on the device where that
// one finishes first; the assignment names the variant and the primary it
// replaced. Otherwise the primary, always: at light load nothing degrades.
//
// A request no device admits is skipped: it waits while some device could still
// finish it in time at its fastest recent run, and ExpireDeadlines answers it
// (early) once none can. The walk ends when nothing behind could be bound (RoomTracker: no
// device with room serves any type still ahead), or after max_walk requests (default
// 8 x total capacity, at least 64): reservations that deep rarely change which
// request a free device gets, and the bound keeps a Dispatch over a long queue cheap.

#include <algorithm>
#include <array>
#include <cassert>
#include <optional>
#include <vector>

#include "scheduler/internal/policies.h"
#include "scheduler/internal/room_tracker.h"

namespace heteroaccel::scheduler::internal {
namespace {

using Weighed = std::vector<std::pair<DeviceIndex, Ticks>>;

struct Pick {
  DeviceIndex device = kNone;
  Ticks finish = kNever;
};

// Steering: outside the type's set only a device that would otherwise idle.
bool SteeredAway(const State& state, const QueueEntry& entry, DeviceIndex d, Ticks earliest,
                 Ticks now) {
  return !state.InSupport(d, entry.type) &&
         !(earliest <= now && state.device(d).HasRoom() && state.NothingOwnWaiting(d));
}

// The candidates a request may weigh: its pinned device alone, or the type's
// (other pins are checked per candidate).
const std::vector<Candidate>& CandidatesFor(State& state, const QueueEntry& entry,
                                            std::vector<Candidate>& one) {
  if (entry.pinned_device == kNone) return state.Candidates(entry.type);
  one.clear();
  const DeviceState& dev = state.device(entry.pinned_device);
  if (dev.available() && dev.CanRun(entry.type)) {
    one.push_back(state.MakeCandidate(entry.type, entry.pinned_device));
  }
  return one;
}

// Every candidate the request's pins allow, weighed in key order: a pinned
// request's way (never steered), and every request's without the finish index.
Pick ChooseByScan(State& state, const QueueEntry& entry, const std::vector<Candidate>& candidates,
                  Ticks now, Weighed* weighed) {
  const bool steered = !State::IsPinned(entry) && state.type(entry.type).steered;
  Pick best;
  bool best_room = false;
  for (const Candidate& c : candidates) {
    if (!State::Allows(entry, c)) continue;
    const Ticks earliest = state.Earliest(c.device);
    const Ticks finish = earliest + c.estimate;
    if (weighed != nullptr) weighed->emplace_back(c.device, finish);
    if (steered && SteeredAway(state, entry, c.device, earliest, now)) continue;
    // Admission is pessimistic (Options::admission_quantile); the order is not.
    if (entry.deadline != kNever && earliest + c.admit > entry.deadline) continue;
    if (finish > best.finish) continue;
    const DeviceState& dev = state.device(c.device);
    if (best.device != kNone && finish == best.finish) {
      const bool room = dev.HasRoom();
      const bool better = (room && !best_room) ||
                          (room == best_room && dev.load() < state.device(best.device).load());
      if (!better) continue;
    }
    best = {c.device, finish};
    best_room = dev.HasRoom();
  }
  return best;
}

// Devices in the finish index's bound order, until the next bound cannot beat the
// best (nor, when recording, enter the first Assignment::kMaxCandidates) or
// exceeds the deadline. The same choice as a scan of every candidate, ties
// included (State::Tie orders them as the scan does). A request pinned to a
// kind, a group or a variant passes over the devices its pins exclude
// (State::PinFilter); when it gives up, nullopt, and the caller scans. Not for a
// device pin (that device alone is weighed).
std::optional<Pick> ChooseIndexed(State& state, const QueueEntry& entry, Ticks now,
                                  Weighed* weighed) {
  const TypeId t = entry.type;
  assert(entry.pinned_device == kNone);
  const bool steered = !State::IsPinned(entry) && state.type(t).steered;  // pins never are
  State::PinFilter pins(state, entry);
  Pick best;
  uint64_t best_tie = 0;
  constexpr size_t kTop = Assignment::kMaxCandidates;
  std::array<Ticks, kTop> top{};  // the smallest finishes weighed, ascending
  size_t top_n = 0;
  auto visit = [&](DeviceIndex d, Ticks bound, uint64_t tie) {
    const bool beaten = best.device != kNone &&
                        (bound > best.finish || (bound == best.finish && tie > best_tie));
    // bound <= earliest + estimate <= earliest + admission quantile.
    const bool late = entry.deadline != kNever && bound > entry.deadline;
    if ((beaten || late) && (weighed == nullptr || (top_n == kTop && bound > top[kTop - 1]))) {
      return false;
    }
    if (pins.PassOver(d)) return !pins.gave_up();
    const Ticks earliest = state.Earliest(d);
    const Ticks finish = earliest + state.Estimate(t, d);
    if (weighed != nullptr) {
      weighed->emplace_back(d, finish);
      if (top_n < kTop || finish < top[kTop - 1]) {
        size_t i = std::min(top_n, kTop - 1);
        for (; i > 0 && top[i - 1] > finish; --i) top[i] = top[i - 1];
        top[i] = finish;
        top_n = std::min(top_n + 1, kTop);
      }
    }
    if (steered && SteeredAway(state, entry, d, earliest, now)) return true;
    if (entry.deadline != kNever && earliest + state.Pessimistic(t, d) > entry.deadline) {
      return true;
    }
    if (best.device == kNone || finish < best.finish ||
        (finish == best.finish && tie < best_tie)) {
      best = {d, finish};
      best_tie = tie;
    }
    return true;
  };
  state.VisitByBound(t, State::Bound::kEstimate, &entry, visit);
  if (pins.gave_up()) return std::nullopt;
  return best;
}

struct DegradedPick {
  DeviceIndex device = kNone;
  int32_t variant = kNone;
  double accuracy = 0;
  Ticks finish = kNever;
  uint64_t order = 0;  // the device's rank in key order
};

// Weighs device `d` (earliest slot `earliest`, rank `order` in key order) for a
// degrading request: its most accurate alternate that the request's deadline
// admits (pessimistically, as the primary) replaces `best` when more
// accurate, or as accurate and finishing sooner, or as soon and first in key
// order.
void WeighAlternates(State& state, const QueueEntry& entry, DeviceIndex d, Ticks earliest,
                     uint64_t order, DegradedPick& best) {
  const TypeId t = entry.type;
  for (const AlternateState& a : state.Alternates(d, t)) {
    if (best.device != kNone && a.accuracy < best.accuracy) break;  // most accurate first
    if (entry.deadline != kNever &&
        earliest + state.AlternatePessimistic(a, t, d) > entry.deadline) {
      continue;
    }
    const Ticks finish = earliest + state.AlternateEstimate(a, t, d);
    if (best.device == kNone || a.accuracy > best.accuracy || finish < best.finish ||
        (finish == best.finish && order < best.order)) {
      best = {d, a.variant, a.accuracy, finish, order};
    }
    return;  // this device's most accurate admitted alternate
  }
}

// The most accurate eligible alternate an allowed device admits by the
// request's deadline, on the device where it finishes first: every candidate
// weighed, in key order.
DegradedPick ChooseDegraded(State& state, const QueueEntry& entry,
                            const std::vector<Candidate>& candidates, Ticks now) {
  const bool pinned = State::IsPinned(entry);
  const bool steered = !pinned && state.type(entry.type).steered;
  DegradedPick best;
  uint64_t order = 0;
  for (const Candidate& c : candidates) {
    ++order;
    if (c.degraded_fastest == kNever || (pinned && !State::Allows(entry, c))) continue;
    const Ticks earliest = state.Earliest(c.device);
    if (steered && SteeredAway(state, entry, c.device, earliest, now)) continue;
    WeighAlternates(state, entry, c.device, earliest, order, best);
  }
  return best;
}

// ChooseDegraded's choice through the finish index, for a request not pinned
// to a device: the devices with an eligible alternate in ascending order of
// their earliest slot plus their quickest alternate's estimate
// (Bound::kDegraded), a lower bound on any alternate's finish there and so on
// its admission time too. The visit ends at the first bound past the deadline
// (no alternate there or further on is admitted), or once the pick has the
// highest accuracy any device offers (TopAlternateAccuracy) and the bound
// passes its finish (or equals it, further on in key order). The order's tie
// is the device's position, its rank in key order. Pins as in ChooseIndexed:
// nullopt when the visit gave up, and the caller scans.
std::optional<DegradedPick> ChooseDegradedIndexed(State& state, const QueueEntry& entry,
                                                  Ticks now) {
  const TypeId t = entry.type;
  assert(entry.pinned_device == kNone);
  const bool steered = !State::IsPinned(entry) && state.type(t).steered;
  const double top = state.TopAlternateAccuracy(t);
  State::PinFilter pins(state, entry);
  DegradedPick best;
  auto visit = [&](DeviceIndex d, Ticks bound, uint64_t position) {
    if (entry.deadline != kNever && bound > entry.deadline) return false;
    if (best.device != kNone && best.accuracy >= top &&
        (bound > best.finish || (bound == best.finish && position > best.order))) {
      return false;
    }
    if (pins.PassOver(d)) return !pins.gave_up();
    const Ticks earliest = state.Earliest(d);
    if (steered && SteeredAway(state, entry, d, earliest, now)) return true;
    WeighAlternates(state, entry, d, earliest, position, best);
    return true;
  };
  state.VisitByBound(t, State::Bound::kDegraded, &entry, visit);
  if (pins.gave_up()) return std::nullopt;
  return best;
}

// An idle device the request may probe (see above), or kNone: the first in key
// order of those the index holds as due (without the index: of the candidates).
DeviceIndex ProbeFor(State& state, const QueueEntry& entry, Ticks now) {
  // Its deadline allows the device's best time.
  auto in_time = [&](DeviceIndex d) {
    return entry.deadline == kNever || now + state.BestCase(entry.type, d) <= entry.deadline;
  };
  if (!state.options().finish_index) {
    for (const Candidate& c : state.Candidates(entry.type)) {
      if (State::Allows(entry, c) && state.ProbeDue(c.device, entry.type, now) &&
          in_time(c.device)) {
        return c.device;
      }
    }
    return kNone;
  }
  // In time: the device's best case is at most what the deadline leaves.
  const State::ProbeSet due = state.ProbeReady(entry.type, &entry);
  const Ticks limit = entry.deadline == kNever ? kNever : entry.deadline - now;
  for (int32_t p = due.due.FirstAtMost(limit, 0); p >= 0; p = due.due.FirstAtMost(limit, p + 1)) {
    const DeviceIndex d = due.devices[static_cast<size_t>(p)];
    assert(state.ProbeDue(d, entry.type, now) && in_time(d));
    if (state.AllowsDevice(entry, d)) return d;
  }
  return kNone;
}

}  // namespace

void DispatchEarliestFinish(State& state, std::vector<Assignment>& out) {
  Queue& queue = state.queue();
  if (queue.empty() || state.FreeRoom() == 0) return;
  state.BeginPass();
  const Ticks now = state.pass_now();
  RoomTracker tracker(state, /*static_kinds=*/false);
  if (tracker.Exhausted()) return;
  state.RefreshSteering(now);
  const int limit = state.options().max_walk > 0 ? state.options().max_walk
                                                 : std::max(64, 8 * state.TotalCapacity());
  state.RefreshPressure(now, limit);
  int walked = 0;
  Weighed weighed;
  Weighed* record = state.options().record_candidates ? &weighed : nullptr;
  std::vector<Candidate> one;
  const bool indexed = state.options().finish_index;
  for (auto it = queue.begin(); it != queue.end() && walked < limit && !tracker.Exhausted();
       ++walked) {
    const QueueEntry& entry = it->second;
    tracker.Visit(entry);
    if (entry.deadline <= now) {
      ++it;
      continue;
    }
    // Requests that cannot be bound now still reserve their slot: that reservation
    // is what lets the requests behind them choose well.
    weighed.clear();
    if (const DeviceIndex probe = ProbeFor(state, entry, now); probe != kNone) {
      const Ticks finish = state.Earliest(probe) + state.Estimate(entry.type, probe);
      state.Reserve(probe, finish);
      state.MarkProbed(probe, entry.type, now);
      it = state.Bind(it, probe, now, finish, out);
      tracker.Bound(probe);
      continue;
    }
    std::optional<Pick> indexed_pick;
    if (indexed && entry.pinned_device == kNone) {
      indexed_pick = ChooseIndexed(state, entry, now, record);
      if (!indexed_pick) weighed.clear();  // gave up: the scan weighs afresh
    }
    Pick pick = indexed_pick ? *indexed_pick
                             : ChooseByScan(state, entry, CandidatesFor(state, entry, one), now,
                                            record);
    int32_t alternate = kNone;
    if (entry.may_degrade && state.type(entry.type).degradable > 0 &&
        (pick.device == kNone || state.Backlogged(entry.type))) {
      std::optional<DegradedPick> indexed_degraded;
      if (indexed && entry.pinned_device == kNone) {
        indexed_degraded = ChooseDegradedIndexed(state, entry, now);
      }
      const DegradedPick degraded =
          indexed_degraded ? *indexed_degraded
                           : ChooseDegraded(state, entry, CandidatesFor(state, entry, one), now);
      if (degraded.device != kNone && degraded.finish < pick.finish) {
        pick = {degraded.device, degraded.finish};
        alternate = degraded.variant;
      }
    }
    if (pick.device == kNone) {
      ++it;
      continue;
    }
    state.Reserve(pick.device, pick.finish);
    if (state.device(pick.device).HasRoom()) {
      it = state.Bind(it, pick.device, now, pick.finish, out, alternate);
      tracker.Bound(pick.device);
      if (record != nullptr) RecordCandidates(state, weighed, out.back());
    } else {
      ++it;
    }
  }
  state.EndPass();
}

}  // namespace heteroaccel::scheduler::internal
