// Scheduler: decides which (node, device, variant) of the cluster runs each request.
//
// Requests wait here and are bound to a device late, when the device can take them,
// so that no request queues behind a busy device while another could serve it
// sooner. The owner feeds in cluster state (UpsertDevice, SetNodeUp, Fail*),
// requests (Enqueue, Cancel) and outcomes (Complete), and calls Dispatch whenever
// something changed to learn which requests to send where now.
//
// Pure logic: no I/O, no threads. Time is read only from the injected Clock, so the
// same code runs in the server and in the discrete-event simulator.
//
// Accounting contract: every request accepted by Enqueue leaves the scheduler exactly
// once, through Complete (after Dispatch bound it), ExpireDeadlines, Cancel, or as a
// displaced request of Enqueue. Fail*
// and RemoveDevice put the requests a lost device held back at the front of their
// queue (and also return them, for logging); the caller does not enqueue them again,
// and must ignore any late result for them from the lost device.
//
// Ownership: the Clock is not owned and must outlive the Scheduler.
// Thread-safety: not thread-safe; the owner serialises all calls (const ones included).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "scheduler/types.h"

namespace heteroaccel::scheduler {

namespace internal {
class State;
}  // namespace internal

class Scheduler {
 public:
  Scheduler(Options options, Clock& clock);
  ~Scheduler();
  Scheduler(Scheduler&&) noexcept;
  Scheduler& operator=(Scheduler&&) noexcept;

  // --- Cluster state -------------------------------------------------------------

  // Adds or replaces a device. Its measured estimates survive a replacement; a
  // reported service time seeds the estimate of a type until the first Complete.
  // InvalidArgument for an empty node or device name, slots < 1, or a negative time.
  [[nodiscard]] absl::Status UpsertDevice(DeviceInfo info);
  // Forgets a device. Its in-flight requests are re-queued (and returned) as by
  // FailDevice. Requests pinned to it keep waiting in case it comes back.
  std::vector<Request> RemoveDevice(const DeviceKey& key);
  // Marks every device of a node up or down. Down devices receive no new requests;
  // their in-flight requests still complete normally.
  void SetNodeUp(const std::string& node, bool up);
  // The device is lost: marks it down and re-queues its in-flight requests at the
  // front of their queues (ahead of requests of the same priority), returning them.
  std::vector<Request> FailDevice(const DeviceKey& key);
  // FailDevice for every device of the node.
  std::vector<Request> FailNode(const std::string& node);

  // --- Requests ------------------------------------------------------------------

  // Accepts a request. Errors: AlreadyExists for an id that is queued or in flight;
  // NotFound when no device (up or down) can run the type, the message listing the
  // types that can run; InvalidArgument for a pinned device that does not exist or
  // cannot run the type, or a pinned kind with no device able to run the type;
  // ResourceExhausted when the type's queue holds queue_capacity requests, or the
  // request's tenant already holds its share of it (below).
  [[nodiscard]] absl::Status Enqueue(Request request);
  // Enqueue with priority classes and fair shares under overload: when the type's
  // queue is full, the request displaces the newest waiting request of the tenant
  // holding the most of the lowest class, if that class is below the request's
  // priority, or is its priority and that tenant (Request::tenant) holds at least
  // two more of it than the request's tenant. The displaced request is removed and
  // appended to `displaced` (the caller answers it, e.g. 429: it leaves the
  // scheduler here). ResourceExhausted as above otherwise.
  //
  // Both forms: while other tenants' requests of its type and priority wait, a
  // tenant holds at most an equal share of the queue (queue_capacity / the tenants
  // waiting, itself included); beyond it, ResourceExhausted naming the tenant.
  [[nodiscard]] absl::Status Enqueue(Request request, std::vector<Request>& displaced);
  // Binds waiting requests to devices that can take them now, per the policy. The
  // caller sends each one and later reports it with Complete.
  std::vector<Assignment> Dispatch();
  // A bound request finished (ok) or failed on its device; frees the device. On ok
  // the service time (execution only, without queueing) updates the estimate.
  // Returns false, changing nothing, if the request is not in flight.
  bool Complete(uint64_t request_id, std::chrono::nanoseconds service_time, bool ok);
  // Removes and returns waiting requests whose deadline has passed, or, under
  // kEarliestFinish, that no up device can finish by their deadline given the work
  // already in flight, even at its fastest recent run (the optimistic bound, so that
  // nothing that could still make it is dropped). The caller answers them with an
  // error.
  std::vector<Request> ExpireDeadlines();
  // Removes a waiting request (the client gave up). nullopt if it is not waiting.
  std::optional<Request> Cancel(uint64_t request_id);

  // --- Introspection (metrics, dashboard, tests) ----------------------------------

  size_t queued(std::string_view type) const;
  size_t queued_total() const;
  // How many times earliest-finish has solved the fluid LP it steers by
  // (Options::lp_steering): every steering_interval while requests wait, and
  // sooner when a device is added or removed, goes up or down, or changes kind,
  // slots, variants, groups or alternates. A report that repeats what a device
  // is (a heartbeat), measured service times aside, changes none of that.
  uint64_t steering_solves() const;
  // Requests bound to the device and not completed; 0 for an unknown device.
  int in_flight(const DeviceKey& key) const;
  // The estimate Dispatch would use: the median of recent measurements with the
  // report as one vote (Options::estimate_window), else
  // the median over other devices of the same kind, then of any kind, else the
  // default. nullopt if the device is unknown or cannot run the type.
  // With a `variant` other than the device's primary one: the estimate of that
  // eligible alternate (DeviceInfo::degrade), learned apart (the primary's
  // estimate until it has a measurement or report); nullopt if it is none.
  std::optional<std::chrono::nanoseconds> service_estimate(std::string_view type,
                                                           const DeviceKey& key,
                                                           std::string_view variant = {}) const;
  // Known devices, sorted by key, with their current up flag.
  std::vector<DeviceInfo> devices() const;
  const Options& options() const;
  // Switches the policy for the next Dispatch; requests in flight are unaffected.
  void SetPolicy(PolicyKind policy);

  // Requests per second the up devices could complete at best for a mix of types
  // (type -> share, normalised): the optimum of the fluid model in which each device
  // splits its slots between types at the estimated service times. 0 if some type of
  // the mix has no up device. Used to report throughput as a fraction of the ideal.
  double IdealThroughput(const std::map<std::string, double>& mix) const;

 private:
  std::unique_ptr<internal::State> state_;
};

}  // namespace heteroaccel::scheduler
