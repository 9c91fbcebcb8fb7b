// kStatic and kIdleFirst: greedy placement of each waiting request, in queue order,
// on a candidate with room now. They differ only in which candidates are allowed
// and which one is preferred.

#include <algorithm>
#include <tuple>
#include <vector>

#include "scheduler/internal/policies.h"
#include "scheduler/internal/room_tracker.h"

namespace heteroaccel::scheduler::internal {
namespace {

// Walks the queue once; `choose(entry)` returns the device for a request or kNone.
// Unpinned requests of a type no device with room can serve are skipped unexamined.
// The devices the policy could have chosen for `entry` (`allowed`), with the
// finish each would give; for the decisions log.
template <typename Allowed>
void Weigh(const State& state, const QueueEntry& entry, Ticks now, Allowed allowed,
           std::vector<std::pair<DeviceIndex, Ticks>>& weighed) {
  weighed.clear();
  for (const Candidate& c : state.Candidates(entry.type)) {
    if (allowed(entry, c)) {
      weighed.emplace_back(c.device, state.ExpectedFinish(c.device, entry.type, now));
    }
  }
}

template <typename Choose, typename Allowed>
void DispatchGreedy(State& state, bool static_kinds, Choose choose, Allowed allowed,
                    std::vector<Assignment>& out) {
  const bool record = state.options().record_candidates;
  std::vector<std::pair<DeviceIndex, Ticks>> weighed;
  Queue& queue = state.queue();
  if (queue.empty() || state.FreeRoom() == 0) return;
  state.BeginPass();
  const Ticks now = state.Now();
  RoomTracker tracker(state, static_kinds);
  for (auto it = queue.begin(); it != queue.end() && !tracker.Exhausted();) {
    const QueueEntry& entry = it->second;
    tracker.Visit(entry);
    if (entry.deadline <= now || (!State::IsPinned(entry) && !tracker.Live(entry.type))) {
      ++it;
      continue;
    }
    const DeviceIndex d = choose(entry);
    if (d == kNone) {
      ++it;
      continue;
    }
    const Ticks finish = state.ExpectedFinish(d, entry.type, now);
    if (record) Weigh(state, entry, now, allowed, weighed);
    it = state.Bind(it, d, now, finish, out);
    if (record) RecordCandidates(state, weighed, out.back());
    tracker.Bound(d);
  }
}

}  // namespace

void RecordCandidates(const State& state, std::vector<std::pair<DeviceIndex, Ticks>>& weighed,
                      Assignment& assignment) {
  const size_t n = std::min(weighed.size(), Assignment::kMaxCandidates);
  std::partial_sort(weighed.begin(), weighed.begin() + n, weighed.end(),
                    [](const auto& a, const auto& b) { return a.second < b.second; });
  assignment.candidates.clear();
  assignment.candidates.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    assignment.candidates.push_back(
        {state.device(weighed[i].first).info.key, FromTicks(weighed[i].second)});
  }
}

void DispatchStatic(State& state, std::vector<Assignment>& out) {
  auto allowed = [&state](const QueueEntry& entry, const Candidate& c) {
    // A pin chooses the kind; a group alone only narrows the static kind's devices.
    const bool pinned = entry.pinned_device != kNone || entry.pinned_kind != kNone ||
                        entry.pinned_variant != kNone;
    return State::Allows(entry, c) && (pinned || c.kind == state.StaticKind(entry.type));
  };
  auto choose = [&state, &allowed](const QueueEntry& entry) {
    DeviceIndex best = kNone;
    for (const Candidate& c : state.Candidates(entry.type)) {
      if (!allowed(entry, c)) continue;
      const DeviceState& dev = state.device(c.device);
      if (!dev.HasRoom()) continue;
      if (best == kNone || dev.load() < state.device(best).load()) best = c.device;
    }
    return best;
  };
  DispatchGreedy(state, /*static_kinds=*/true, choose, allowed, out);
}

void DispatchIdleFirst(State& state, std::vector<Assignment>& out) {
  auto choose = [&state](const QueueEntry& entry) {
    DeviceIndex best = kNone;
    for (const Candidate& c : state.Candidates(entry.type)) {
      if (!State::Allows(entry, c)) continue;
      const DeviceState& dev = state.device(c.device);
      const int room = dev.capacity - dev.load();
      if (room <= 0) continue;
      // Most room first; then the lighter load; then the preferred kind (the
      // paper's HeteroAccel tried the GPU first, then the others).
      const auto rank = [&](DeviceIndex d) {
        return std::tuple(-(state.device(d).capacity - state.device(d).load()),
                          state.device(d).load(), state.KindRank(state.device(d).kind));
      };
      if (best == kNone || rank(c.device) < rank(best)) {
        best = c.device;
      }
    }
    return best;
  };
  auto allowed = [](const QueueEntry& entry, const Candidate& c) {
    return State::Allows(entry, c);
  };
  DispatchGreedy(state, /*static_kinds=*/false, choose, allowed, out);
}

}  // namespace heteroaccel::scheduler::internal
