// kStatic and kIdleFirst: greedy placement of each waiting request, in queue order,
// on a candidate with room now. They differ only in which candidates are allowed
// and which one is preferred.

#include <tuple>
#include <vector>

#include "scheduler/internal/policies.h"
#include "scheduler/internal/room_tracker.h"

namespace heteroaccel::scheduler::internal {
namespace {

// Walks the queue once; `choose(entry)` returns the device for a request or kNone.
// Unpinned requests of a type no device with room can serve are skipped unexamined.
template <typename Choose>
void DispatchGreedy(State& state, bool static_kinds, Choose choose, std::vector<Assignment>& out) {
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
    it = state.Bind(it, d, now, finish, out);
    tracker.Bound(d);
  }
}

}  // namespace

void DispatchStatic(State& state, std::vector<Assignment>& out) {
  auto choose = [&state](const QueueEntry& entry) {
    const bool pinned = entry.pinned_device != kNone || entry.pinned_kind != kNone;
    const KindId kind = pinned ? kNone : state.StaticKind(entry.type);
    DeviceIndex best = kNone;
    for (const Candidate& c : state.Candidates(entry.type)) {
      if (pinned ? !State::Allows(entry, c) : c.kind != kind) continue;
      const DeviceState& dev = state.device(c.device);
      if (!dev.HasRoom()) continue;
      if (best == kNone || dev.load() < state.device(best).load()) best = c.device;
    }
    return best;
  };
  DispatchGreedy(state, /*static_kinds=*/true, choose, out);
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
  DispatchGreedy(state, /*static_kinds=*/false, choose, out);
}

}  // namespace heteroaccel::scheduler::internal
