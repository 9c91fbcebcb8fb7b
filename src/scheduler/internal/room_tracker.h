// RoomTracker: lets a dispatch pass stop as soon as the rest of the queue holds no
// request that could still be bound.
//
// An unpinned request can be bound only if some available device with room runs its
// type (under kStatic: a device of the type's static kind). The tracker counts the
// not yet visited requests of such "live" types, plus every unvisited pinned request
// (pins are checked one by one); when the count reaches zero, nothing behind the
// current position can be bound and the pass ends. This keeps a Dispatch cheap when
// the only free slots belong to devices that cannot serve what is waiting.
//
// One pass only; not thread-safe.
#pragma once

#include <cstddef>

#include "absl/container/inlined_vector.h"

#include "scheduler/internal/state.h"

namespace heteroaccel::scheduler::internal {

class RoomTracker {
 public:
  RoomTracker(State& state, bool static_kinds)
      : state_(state),
        static_kinds_(static_kinds),
        open_(state.type_count()),
        rooms_(state.type_count(), 0) {
    for (TypeId t = 0; t < static_cast<TypeId>(open_.size()); ++t) {
      const TypeState& ts = state.type(t);
      open_[t] = ts.queued - ts.pinned;
      left_ += ts.pinned;
    }
    if (!static_kinds) {
      // The state counts them as devices change.
      for (TypeId t = 0; t < static_cast<TypeId>(open_.size()); ++t) {
        rooms_[t] = state.RoomFor(t);
        if (Live(t)) left_ += open_[t];
      }
      return;
    }
    for (DeviceIndex d = 0; d < state.device_count(); ++d) {
      if (state.device(d).available() && state.device(d).HasRoom()) ForTypes(d, +1);
    }
  }

  // True when no unvisited request could be bound any more.
  bool Exhausted() const { return left_ == 0; }
  // Whether an unpinned request of type t could still find a device with room.
  bool Live(TypeId t) const { return rooms_[t] > 0; }

  // The walk passed a request (bound or not).
  void Visit(const QueueEntry& entry) {
    if (State::IsPinned(entry)) {
      --left_;
      return;
    }
    --open_[entry.type];
    if (Live(entry.type)) --left_;
  }
  // Call after binding to d: if d is now full, its types may stop being live.
  void Bound(DeviceIndex d) {
    if (!state_.device(d).HasRoom()) ForTypes(d, -1);
  }

 private:
  void ForTypes(DeviceIndex d, int delta) {
    const DeviceState& dev = state_.device(d);
    for (TypeId t = 0; t < static_cast<TypeId>(rooms_.size()); ++t) {
      if (!dev.CanRun(t) || (static_kinds_ && state_.StaticKind(t) != dev.kind)) continue;
      const bool was_live = Live(t);
      rooms_[t] += delta;
      if (was_live != Live(t)) {
        if (Live(t)) {
          left_ += open_[t];
        } else {
          left_ -= open_[t];
        }
      }
    }
  }

  const State& state_;
  bool static_kinds_;
  absl::InlinedVector<size_t, 8> open_;  // unvisited unpinned requests, by type
  absl::InlinedVector<int, 8> rooms_;    // available devices with room able to serve it, by type
  size_t left_ = 0;           // unvisited requests that could still be bound
};

}  // namespace heteroaccel::scheduler::internal
