// The dispatch policies: each binds waiting requests of a State to devices that can
// take them now and appends the resulting assignments to `out`.
//
// Shared rules: a device takes a request while load < slots + pipeline_depth; down
// devices are never chosen; a request's pinned device or kind restricts its
// candidates; requests are considered in queue order (priority, re-queued first,
// deadline, arrival) and one that cannot be placed does not block those behind it.
// Requests already past their deadline are left for ExpireDeadlines.
//
// Not thread-safe; called by Scheduler under its owner's serialisation.
#pragma once

#include <utility>
#include <vector>

#include "scheduler/internal/state.h"
#include "scheduler/types.h"

namespace heteroaccel::scheduler::internal {

// With Options::record_candidates: sets `assignment.candidates` from (device,
// expected finish) pairs, best first, at most Assignment::kMaxCandidates.
void RecordCandidates(const State& state, std::vector<std::pair<DeviceIndex, Ticks>>& weighed,
                      Assignment& assignment);

// kStatic: unpinned requests of a type go only to devices of the type's static kind
// (State::StaticKind), the one with the lowest load; a pin replaces the static kind,
// since the client asked for it explicitly.
void DispatchStatic(State& state, std::vector<Assignment>& out);

// kIdleFirst: any candidate with room, the one with the most room (capacity - load),
// then the lowest load, then key order. Speed plays no part.
void DispatchIdleFirst(State& state, std::vector<Assignment>& out);

// kEarliestFinish: list scheduling on expected finish time; see the .cc file.
void DispatchEarliestFinish(State& state, std::vector<Assignment>& out);

}  // namespace heteroaccel::scheduler::internal
