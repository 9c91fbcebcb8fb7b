#include "scheduler/internal/state.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <iterator>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "scheduler/internal/fluid_lp.h"

namespace heteroaccel::scheduler::internal {
namespace {

absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

// A device's rate for a type, slots / estimate in requests per tick, in fixed
// point with 64 fractional bits: sums of it are exact, so the same in any order.
absl::int128 PressureRate(int slots, Ticks estimate) {
  return (absl::int128(slots) << 64) / std::max<Ticks>(estimate, 1);
}

// Whether a device's new report leaves it what it was: the same kind, slots,
// state, variants, groups and alternates. The service times it measured may
// differ: they move its estimates, as completions do, not the topology.
bool SameShape(const DeviceInfo& a, const DeviceInfo& b) {
  auto same_alternate = [](const Alternate& x, const Alternate& y) {
    return x.variant == y.variant && x.accuracy == y.accuracy;
  };
  auto same_degrade = [&](const auto& x, const auto& y) {
    return x.first == y.first && x.second.floor == y.second.floor &&
           std::equal(x.second.alternates.begin(), x.second.alternates.end(),
                      y.second.alternates.begin(), y.second.alternates.end(), same_alternate);
  };
  return a.kind == b.kind && a.slots == b.slots && a.up == b.up && a.variants == b.variants &&
         a.groups == b.groups &&
         std::equal(a.degrade.begin(), a.degrade.end(), b.degrade.begin(), b.degrade.end(),
                    same_degrade);
}

Options Sanitize(Options options) {
  options.queue_capacity = std::max(options.queue_capacity, 0);
  options.pipeline_depth = std::max(options.pipeline_depth, 0);
  options.default_service = std::max(options.default_service, std::chrono::nanoseconds(1));
  if (options.estimate_window < 1) options.estimate_window = 16;
  if (options.estimate_horizon.count() <= 0) options.estimate_horizon = std::chrono::seconds(30);
  if (options.confirming_samples < 1) options.confirming_samples = 1;
  options.max_walk = std::max(options.max_walk, 0);
  if (!(options.admission_quantile > 0) || options.admission_quantile > 1) {
    options.admission_quantile = 0.9;
  }
  if (options.fair_quantum.count() <= 0) options.fair_quantum = std::chrono::milliseconds(200);
  if (options.steering_interval.count() <= 0) {
    options.steering_interval = std::chrono::milliseconds(500);
  }
  if (options.rate_window.count() <= 0) options.rate_window = std::chrono::seconds(2);
  if (!(options.steering_waste >= 0) || options.steering_waste > 1) options.steering_waste = 0.5;
  if (!(options.degrade_backlog >= 0) || options.degrade_backlog > 1) options.degrade_backlog = 0;
  return options;
}

}  // namespace

int32_t Interner::Intern(std::string_view name) {
  auto [it, inserted] = ids_.try_emplace(std::string(name), size());
  if (inserted) names_.emplace_back(name);
  return it->second;
}

int32_t Interner::Find(std::string_view name) const {
  auto it = ids_.find(AbslView(name));
  return it == ids_.end() ? kNone : it->second;
}

State::State(Options options, Clock& clock)
    : options_(Sanitize(std::move(options))), clock_(clock) {}

// --- Cluster state -----------------------------------------------------------------

absl::Status State::UpsertDevice(DeviceInfo info) {
  const std::string name = info.key.ToString();
  if (info.key.node.empty() || info.key.device.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", name, "' needs a node and a device id"));
  }
  if (info.kind.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("device '", name, "' has no kind"));
  }
  if (info.slots < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", name, "' has ", info.slots, " slots; at least 1 is needed"));
  }
  for (const auto& [type, variant] : info.variants) {
    if (type.empty() || variant.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("device '", name, "' lists an empty inference type or variant name"));
    }
  }
  for (const auto& [type, service] : info.reported_service) {
    if (service.count() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("device '", name, "' reports a negative service time for '", type, "'"));
    }
  }
  for (const auto& [type, degrade] : info.degrade) {
    const std::string where = absl::StrCat("device '", name, "', degradation of '", type, "': ");
    if (info.variants.count(type) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the device does not run the type"));
    }
    if (!std::isfinite(degrade.floor)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the floor must be a number"));
    }
    for (const Alternate& a : degrade.alternates) {
      if (a.variant.empty() || !std::isfinite(a.accuracy) || a.reported_service.count() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where,
            "an alternate needs a variant name, a numeric accuracy and a service time >= 0"));
      }
    }
  }

  DeviceIndex d = FindDevice(info.key);
  const bool added = d == kNone;
  // A heartbeat repeats every device's report: what depends on the topology
  // (each type's available devices, the fluid LP's steering) is derived again
  // only when the device became something else.
  const bool reshaped = added || !devices_[d].present || !SameShape(devices_[d].info, info);
  const size_t types_before = types_.size();
  if (d == kNone) {
    d = device_count();
    device_index_.emplace(info.key, d);
    devices_.emplace_back();
    auto pos = std::lower_bound(
        sorted_devices_.begin(), sorted_devices_.end(), info.key,
        [this](DeviceIndex i, const DeviceKey& k) { return devices_[i].info.key < k; });
    sorted_devices_.insert(pos, d);
  } else if (devices_[d].present) {
    DetachVariants(d);
  }
  for (const auto& [type, variant] : info.variants) type_names_.Intern(type);
  types_.resize(type_names_.size());
  if (types_.size() != types_before) {
    for (DeviceState& device : devices_) EnsureTypeSlots(device);
  } else {
    EnsureTypeSlots(devices_[d]);
  }

  DeviceState& dev = devices_[d];
  dev.present = true;
  dev.kind = kind_names_.Intern(info.kind);
  dev.capacity = info.slots + options_.pipeline_depth;
  dev.groups = 0;
  for (const std::string& group : info.groups) {
    const int32_t g = group_names_.Find(group) != kNone || group_names_.size() < kMaxGroups
                          ? group_names_.Intern(group)
                          : kNone;
    if (g != kNone) dev.groups |= uint64_t{1} << g;
  }
  for (const auto& [type, variant] : info.variants) {
    const TypeId t = type_names_.Find(type);
    dev.variant[t] = variant_names_.Intern(variant);
    ++types_[t].runners;
  }
  const Ticks now = Now();
  for (TypeId t = 0; t < static_cast<TypeId>(dev.windows.size()); ++t) {
    ServiceWindow& window = dev.windows[t];
    window.prior = kUnknown;
    if (dev.CanRun(t) && window.watched_since == kUnknown) window.watched_since = now;
  }
  for (const auto& [type, service] : info.reported_service) {
    const TypeId t = type_names_.Find(type);
    // A zero report means "not measured yet".
    if (t != kNone && service.count() > 0) dev.windows[t].prior = service.count();
  }
  for (TypeId t = 0; t < static_cast<TypeId>(dev.windows.size()); ++t) RefreshEstimate(d, t, now);
  SetAlternates(dev, info, now);
  dev.info = std::move(info);
  if (reshaped) TopologyChanged();
  SyncMedians(d);
  // A new device moves the positions after it, a new type needs its trees, a
  // new kind, group or variant moves it between scopes.
  if (added || types_.size() != types_before || ScopesMoved(d)) {
    index_stale_ = true;
  } else {
    Reindex(d);
  }
  return absl::OkStatus();
}

std::vector<Request> State::RemoveDevice(const DeviceKey& key) {
  const DeviceIndex d = FindDevice(key);
  if (d == kNone || !devices_[d].present) return {};
  std::vector<Request> out = TakeInFlight(d);
  DetachVariants(d);
  devices_[d].present = false;
  TopologyChanged();
  SyncMedians(d);
  Reindex(d);
  return out;
}

std::span<const DeviceIndex> State::NodeDevices(const std::string& node) const {
  const auto first = std::lower_bound(
      sorted_devices_.begin(), sorted_devices_.end(), node,
      [this](DeviceIndex d, const std::string& n) { return devices_[d].info.key.node < n; });
  const auto last = std::upper_bound(
      first, sorted_devices_.end(), node,
      [this](const std::string& n, DeviceIndex d) { return n < devices_[d].info.key.node; });
  return {first, last};
}

void State::SetNodeUp(const std::string& node, bool up) {
  TopologyChanged();
  for (const DeviceIndex d : NodeDevices(node)) {
    DeviceState& dev = devices_[d];
    if (dev.present) {
      dev.info.up = up;
      Reindex(d);
    }
  }
}

std::vector<Request> State::FailDevice(const DeviceKey& key) {
  const DeviceIndex d = FindDevice(key);
  if (d == kNone || !devices_[d].present) return {};
  devices_[d].info.up = false;
  TopologyChanged();
  std::vector<Request> out = TakeInFlight(d);
  Reindex(d);
  return out;
}

std::vector<Request> State::FailNode(const std::string& node) {
  std::vector<Request> out;
  for (const DeviceIndex d : NodeDevices(node)) {
    if (devices_[d].present) {
      std::vector<Request> lost = FailDevice(devices_[d].info.key);
      std::move(lost.begin(), lost.end(), std::back_inserter(out));
    }
  }
  return out;
}

// --- Requests ----------------------------------------------------------------------

absl::Status State::Enqueue(Request request, std::vector<Request>* displaced) {
  if (records_.contains(request.id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("request ", request.id, " is already queued or in flight"));
  }
  const TypeId t = type_names_.Find(request.type);
  if (t == kNone || types_[t].runners == 0) {
    return absl::NotFoundError(absl::StrCat("no device can run inference type '", request.type,
                                            "'; known types: ", KnownTypes()));
  }
  QueueEntry entry{request.id, t, kNone, kNone,
                   request.deadline ? ToTicks(*request.deadline) : kNever, kNone};
  RETURN_IF_ERROR(ValidatePins(request, t, entry));
  entry.may_degrade = request.may_degrade && entry.pinned_variant == kNone;
  TypeState& ts = types_[t];
  const int32_t known = FindTenant(request.tenant);
  if (absl::Status share = WithinShare(ts, request, known); !share.ok()) return share;
  if (ts.queued >= static_cast<size_t>(options_.queue_capacity)) {
    const Record* victim =
        displaced != nullptr ? Displaceable(t, request.priority, known) : nullptr;
    if (victim == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("queue for inference type '", request.type,
                                                       "' is full (capacity ",
                                                       options_.queue_capacity, " requests)"));
    }
    Uncharge(*victim);
    Remove(queue_.find(victim->key), *displaced);
  }
  {
    const Ticks now = Now();
    const double window = static_cast<double>(options_.rate_window.count());
    ts.arrivals =
        ts.arrivals * std::exp(-static_cast<double>(std::max<Ticks>(0, now - ts.arrivals_at)) /
                               window) +
        1;
    ts.arrivals_at = std::max(ts.arrivals_at, now);
  }
  const int64_t priority = request.priority;
  Ticks cost = 0;
  const Ticks start = StartTag(priority, request.tenant, t, cost);
  const QueueKey key{-priority, 1, start / options_.fair_quantum.count(), entry.deadline,
                     next_seq_++};
  queue_.emplace(key, entry);
  if (entry.deadline != kNever) deadlines_.emplace(entry.deadline, entry.id);
  const int32_t tenant = AcquireTenant(request.tenant, known);
  CountQueued(key, entry, tenant, true);
  Record record{std::move(request), entry, key, start, cost, tenant, true, kNone};
  records_.emplace(entry.id, std::move(record));
  return absl::OkStatus();
}

absl::Status State::ValidatePins(const Request& request, TypeId t, QueueEntry& entry) const {
  if (request.pinned_device) {
    const DeviceIndex d = FindDevice(*request.pinned_device);
    const std::string name = request.pinned_device->ToString();
    if (d == kNone || !devices_[d].present) {
      return absl::InvalidArgumentError(absl::StrCat("pinned device '", name, "' does not exist"));
    }
    if (!devices_[d].CanRun(t)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pinned device '", name, "' cannot run inference type '", request.type, "'"));
    }
    entry.pinned_device = d;
  }
  if (!request.pinned_kind.empty()) {
    const KindId k = kind_names_.Find(request.pinned_kind);
    const bool runnable =
        k != kNone && std::any_of(devices_.begin(), devices_.end(), [&](const DeviceState& dev) {
          return dev.present && dev.kind == k && dev.CanRun(t);
        });
    if (!runnable) {
      return absl::InvalidArgumentError(absl::StrCat("no device of kind '", request.pinned_kind,
                                                     "' can run inference type '", request.type,
                                                     "'"));
    }
    if (entry.pinned_device != kNone && devices_[entry.pinned_device].kind != k) {
      return absl::InvalidArgumentError(
          absl::StrCat("pinned device '", request.pinned_device->ToString(),
                       "' is not of the pinned kind '", request.pinned_kind, "'"));
    }
    entry.pinned_kind = k;
  }
  if (!request.group.empty()) {
    const int32_t g = group_names_.Find(request.group);
    const uint64_t bit = g == kNone ? 0 : uint64_t{1} << g;
    // The first device that satisfies it ends the search; the names of the
    // groups are gathered only for the refusal.
    const bool found =
        std::any_of(devices_.begin(), devices_.end(), [&](const DeviceState& dev) {
          return dev.present && dev.CanRun(t) && (dev.groups & bit) != 0 &&
                 (entry.pinned_device == kNone || &dev == &devices_[entry.pinned_device]) &&
                 (entry.pinned_kind == kNone || dev.kind == entry.pinned_kind);
        });
    if (!found) {
      std::vector<std::string> groups;
      for (const DeviceState& dev : devices_) {
        if (!dev.present || !dev.CanRun(t)) continue;
        for (const std::string& name : dev.info.groups) groups.push_back(name);
      }
      std::sort(groups.begin(), groups.end());
      groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
      return absl::NotFoundError(absl::StrCat(
          "no device", entry.pinned_device != kNone || entry.pinned_kind != kNone ? " of the pin" : "",
          " in group '", request.group, "' runs inference type '", request.type,
          "'; groups with devices that run it: ",
          groups.empty() ? std::string("none") : absl::StrJoin(groups, ", ")));
    }
    entry.group = g;
  }
  if (!request.pinned_variant.empty()) {
    const int32_t v = variant_names_.Find(request.pinned_variant);
    entry.pinned_variant = v;
    bool found = false;
    for (DeviceIndex d = 0; v != kNone && !found && d < static_cast<DeviceIndex>(devices_.size());
         ++d) {
      found = devices_[d].present && devices_[d].CanRun(t) && AllowsDevice(entry, d);
    }
    if (!found) {
      std::vector<std::string> served;
      for (const DeviceState& dev : devices_) {
        if (dev.present && dev.CanRun(t)) served.push_back(variant_names_.name(dev.variant[t]));
      }
      std::sort(served.begin(), served.end());
      served.erase(std::unique(served.begin(), served.end()), served.end());
      return absl::NotFoundError(absl::StrCat("no device", entry.pinned_device != kNone ||
                                                             entry.pinned_kind != kNone
                                                         ? " of the pin"
                                                         : "",
                                              " serves variant '", request.pinned_variant,
                                              "' of '", request.type, "'; served: ",
                                              absl::StrJoin(served, ", ")));
    }
  }
  if (options_.policy == PolicyKind::kStatic && entry.pinned_device == kNone &&
      entry.pinned_kind == kNone) {
    const KindId k = StaticKind(t);
    if (k == kNone) {
      return absl::NotFoundError(absl::StrCat(
          "static policy: no device of the kind configured for '", request.type, "' can run it"));
    }
    // A group narrows the static kind's devices; it must hold one.
    if (entry.group != kNone &&
        std::none_of(devices_.begin(), devices_.end(), [&](const DeviceState& dev) {
          return dev.present && dev.kind == k && dev.CanRun(t) && ((dev.groups >> entry.group) & 1);
        })) {
      return absl::NotFoundError(absl::StrCat("static policy: no ", kind_names_.name(k),
                                              " device (the kind configured for '", request.type,
                                              "') in group '", request.group, "'"));
    }
  }
  return absl::OkStatus();
}

bool State::Complete(uint64_t id, std::chrono::nanoseconds service_time, bool ok) {
  auto it = records_.find(id);
  if (it == records_.end() || it->second.queued) return false;
  const TypeId t = it->second.entry.type;
  DeviceState& dev = devices_[it->second.device];
  auto entry = std::find_if(dev.in_flight.begin(), dev.in_flight.end(),
                            [id](const InFlightEntry& e) { return e.id == id; });
  const int32_t alternate = entry != dev.in_flight.end() ? entry->alternate : kNone;
  if (entry != dev.in_flight.end()) {
    if (entry->started != kNever) --dev.running;
    dev.in_flight.erase(entry);
  }
  if (ok && service_time.count() >= 0) {
    const Ticks now = Now();
    const auto window = static_cast<size_t>(options_.estimate_window);
    if (alternate == kNone) {
      dev.windows[t].Add(now, service_time.count(), window);
      RefreshEstimate(it->second.device, t, now);
    } else {
      // Each variant learns apart; an alternate dropped meanwhile learns nothing.
      for (AlternateState& a : dev.alternates[t]) {
        if (a.variant != alternate) continue;
        a.window.Add(now, service_time.count(), window);
        RefreshAlternate(a, now);
      }
    }
  }
  StartWaiting(dev, Now());
  Reindex(it->second.device);
  records_.erase(it);
  return true;
}

std::optional<Request> State::Cancel(uint64_t id) {
  auto it = records_.find(id);
  if (it == records_.end() || !it->second.queued) return std::nullopt;
  auto pos = queue_.find(it->second.key);
  std::vector<Request> out;
  Remove(pos, out);
  return std::move(out.front());
}

Queue::iterator State::Remove(Queue::iterator it, std::vector<Request>& out) {
  const QueueEntry entry = it->second;
  auto record = records_.find(entry.id);
  if (entry.deadline != kNever) deadlines_.erase({entry.deadline, entry.id});
  CountQueued(record->second.key, entry, record->second.tenant, false);
  ReleaseTenant(record->second.tenant);
  out.push_back(std::move(record->second.request));
  records_.erase(record);
  return queue_.erase(it);
}

std::vector<Request> State::ExpireDeadlines(bool infeasible_too) {
  std::vector<Request> out;
  if (deadlines_.empty()) return out;
  const Ticks now = Now();
  std::vector<uint64_t> expired;
  for (const auto& [deadline, id] : deadlines_) {
    if (deadline > now) break;
    expired.push_back(id);
  }
  if (infeasible_too) {
    BeginPass();
    if (!options_.finish_index) {
      ExpireByScan(now, expired);
    } else {
      for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) {
        if (!types_[t].deadlines.empty()) ExpireType(t, now, expired);
      }
      if (!pinned_deadlines_.empty()) ExpirePinned(now, expired);
      // Answered in deadline order, as the scan finds them.
      std::vector<std::pair<Ticks, uint64_t>> by_deadline;
      by_deadline.reserve(expired.size());
      for (const uint64_t id : expired) {
        by_deadline.emplace_back(records_.find(id)->second.entry.deadline, id);
      }
      std::sort(by_deadline.begin(), by_deadline.end());
      for (size_t i = 0; i < expired.size(); ++i) expired[i] = by_deadline[i].second;
    }
  }
  for (uint64_t id : expired) Remove(queue_.find(records_.find(id)->second.key), out);
  return out;
}

void State::ExpireType(TypeId t, Ticks now, std::vector<uint64_t>& expired) {
  const TypeState& ts = types_[t];
  auto first = ts.deadlines.upper_bound({now, std::numeric_limits<uint64_t>::max()});
  if (first == ts.deadlines.end()) return;
  // Any device's finish is an upper bound on the earliest: when the first
  // deadline is after the finish of the two trees' least, none expires.
  Ticks some = kNever;
  for (const FinishTree* tree : {&ts.trees.ready, &ts.trees.busy}) {
    const TreeKey& least = tree->Min(1);
    if (least.absent()) continue;
    const DeviceIndex d = sorted_devices_[least.position()];
    some = std::min(some, Earliest(d) + Fastest(t, d));
  }
  if (some == kNever || first->first >= some) return;
  // The earliest finish of the type's fastest run on any device, with the
  // primary alone and with degradation allowed.
  Ticks finish[2] = {kNever, kNever};
  VisitByBound(t, Bound::kFastest, nullptr, [&](DeviceIndex d, Ticks bound, uint64_t) {
    if (bound >= std::max(finish[0], finish[1])) return false;
    const Ticks earliest = Earliest(d);
    const Ticks fastest = Fastest(t, d);
    finish[0] = std::min(finish[0], earliest + fastest);
    finish[1] = std::min(finish[1], earliest + std::min(fastest, DegradedFastest(t, d)));
    return true;
  });
  // With no up device the requests wait: one may come back before the deadline.
  if (finish[1] == kNever) return;
  for (const auto& [deadline, id] : types_[t].deadlines) {
    if (deadline >= finish[0]) break;  // finish[0] >= finish[1]: met either way
    if (deadline <= now) continue;     // already taken
    if (deadline < finish[1] || !records_.find(id)->second.entry.may_degrade) {
      expired.push_back(id);
    }
  }
}

void State::ExpirePinned(Ticks now, std::vector<uint64_t>& expired) {
  // Requests with the same type, pins and degradability share the finish.
  using Pins = std::tuple<TypeId, DeviceIndex, KindId, int32_t, int32_t, bool>;
  absl::flat_hash_map<Pins, Ticks> finishes;
  for (const auto& [deadline, id] : pinned_deadlines_) {
    if (deadline <= now) continue;  // already taken
    const QueueEntry& entry = records_.find(id)->second.entry;
    const Pins pins{entry.type,           entry.pinned_device, entry.pinned_kind,
                    entry.pinned_variant, entry.group,         entry.may_degrade};
    auto [it, inserted] = finishes.try_emplace(pins, kNever);
    if (inserted) it->second = PinnedFinish(entry);
    // With no up device the request waits: one may come back before the deadline.
    if (it->second != kNever && it->second > deadline) expired.push_back(id);
  }
}

Ticks State::PinnedFinish(const QueueEntry& entry) {
  const TypeId t = entry.type;
  auto finish_on = [&](DeviceIndex d) {
    const Ticks fastest = Fastest(t, d);
    return Earliest(d) + (entry.may_degrade ? std::min(fastest, DegradedFastest(t, d)) : fastest);
  };
  if (entry.pinned_device != kNone) {
    const DeviceState& dev = devices_[entry.pinned_device];
    return dev.available() && dev.CanRun(t) ? finish_on(entry.pinned_device) : kNever;
  }
  // The fast order's bound is at most either finish (SetKeys).
  Ticks best = kNever;
  PinFilter pins(*this, entry);
  VisitByBound(t, Bound::kFastest, &entry, [&](DeviceIndex d, Ticks bound, uint64_t) {
    if (bound >= best) return false;
    if (pins.PassOver(d)) return !pins.gave_up();
    best = std::min(best, finish_on(d));
    return true;
  });
  if (!pins.gave_up()) return best;
  best = kNever;
  for (const Candidate& c : Candidates(t)) {
    if (Allows(entry, c)) best = std::min(best, finish_on(c.device));
  }
  return best;
}

void State::ExpireByScan(Ticks now, std::vector<uint64_t>& expired) {
  // No request can need longer than `horizon` on a device it may use: deadlines
  // beyond it are met by any candidate, and the scan stops there.
  Ticks horizon = now;
  for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) {
    if (types_[t].queued == 0) continue;
    for (const Candidate& c : Candidates(t)) {
      horizon = std::max(horizon, Earliest(c.device) + c.fastest);
    }
  }
  // By type, and whether the request may degrade.
  std::vector<Ticks> unpinned_finish(2 * types_.size(), kUnknown);
  for (const auto& [deadline, id] : deadlines_) {
    if (deadline <= now) continue;  // already taken
    if (deadline >= horizon) break;
    const QueueEntry& entry = records_.find(id)->second.entry;
    const bool pinned = IsPinned(entry);
    const size_t slot = 2 * static_cast<size_t>(entry.type) + (entry.may_degrade ? 1 : 0);
    Ticks finish = pinned ? kUnknown : unpinned_finish[slot];
    if (finish == kUnknown) {
      finish = kNever;
      for (const Candidate& c : Candidates(entry.type)) {
        if (!Allows(entry, c)) continue;
        const Ticks fastest =
            entry.may_degrade ? std::min(c.fastest, c.degraded_fastest) : c.fastest;
        finish = std::min(finish, Earliest(c.device) + fastest);
      }
      if (!pinned) unpinned_finish[slot] = finish;
    }
    // With no up device the request waits: one may come back before the deadline.
    if (finish != kNever && finish > deadline) expired.push_back(id);
  }
}

// --- Introspection -----------------------------------------------------------------

size_t State::queued(std::string_view type) const {
  const TypeId t = type_names_.Find(type);
  return t == kNone ? 0 : types_[t].queued;
}

int State::in_flight(const DeviceKey& key) const {
  const DeviceIndex d = FindDevice(key);
  return d == kNone ? 0 : devices_[d].load();
}

std::optional<Ticks> State::ServiceEstimate(std::string_view type, const DeviceKey& key,
                                            std::string_view variant) const {
  const TypeId t = type_names_.Find(type);
  const DeviceIndex d = FindDevice(key);
  if (t == kNone || d == kNone || !devices_[d].present || !devices_[d].CanRun(t)) {
    return std::nullopt;
  }
  if (variant.empty() || variant == variant_names_.name(devices_[d].variant[t])) {
    return Estimate(t, d);
  }
  const int32_t v = variant_names_.Find(variant);
  for (const AlternateState& a : devices_[d].alternates[t]) {
    if (a.variant == v) return AlternateEstimate(a, t, d);
  }
  return std::nullopt;
}

std::vector<DeviceInfo> State::devices() const {
  std::vector<DeviceInfo> out;
  for (DeviceIndex d : sorted_devices_) {
    if (devices_[d].present) out.push_back(devices_[d].info);
  }
  return out;
}

double State::IdealThroughput(const std::map<std::string, double>& mix) const {
  std::vector<double> share;
  std::vector<TypeId> types;
  for (const auto& [type, weight] : mix) {
    if (!(weight > 0)) continue;
    const TypeId t = type_names_.Find(type);
    if (t == kNone) return 0;
    share.push_back(weight);
    types.push_back(t);
  }
  // Devices with the same service time for every type are one column of the LP
  // with their slots summed (exactly the same optimum), so that its size follows
  // the kinds of device, not their number.
  std::map<std::vector<Ticks>, size_t> column;
  std::vector<std::vector<double>> seconds(types.size());
  std::vector<double> slots;
  std::vector<Ticks> times(types.size());
  for (DeviceIndex d : sorted_devices_) {
    if (!devices_[d].available()) continue;
    for (size_t i = 0; i < types.size(); ++i) {
      times[i] = devices_[d].CanRun(types[i]) ? std::max<Ticks>(1, Estimate(types[i], d)) : 0;
    }
    auto [it, added] = column.try_emplace(times, slots.size());
    if (added) {
      slots.push_back(0);
      for (size_t i = 0; i < types.size(); ++i) {
        seconds[i].push_back(static_cast<double>(times[i]) * 1e-9);
      }
    }
    slots[it->second] += devices_[d].info.slots;
  }
  return MaxMixRate(share, seconds, slots);
}

const Record* State::record(uint64_t id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

// --- For policies ------------------------------------------------------------------

const std::vector<DeviceIndex>& State::AvailableFor(TypeId t) const {
  TypeState& ts = types_[t];
  if (ts.available_topology != topology_) {
    ts.available.clear();
    for (DeviceIndex d : sorted_devices_) {
      if (devices_[d].available() && devices_[d].CanRun(t)) ts.available.push_back(d);
    }
    ts.available_topology = topology_;
  }
  return ts.available;
}

const std::vector<Candidate>& State::Candidates(TypeId t) const {
  TypeState& ts = types_[t];
  if (ts.prepared_pass == pass_) return ts.candidates;
  ts.candidates.clear();
  for (DeviceIndex d : AvailableFor(t)) ts.candidates.push_back(MakeCandidate(t, d));
  ts.prepared_pass = pass_;
  return ts.candidates;
}

Candidate State::MakeCandidate(TypeId t, DeviceIndex d) const {
  return {d,
          devices_[d].kind,
          devices_[d].variant[t],
          Estimate(t, d),
          Pessimistic(t, d),
          Fastest(t, d),
          DegradedFastest(t, d),
          devices_[d].groups};
}

KindId State::StaticKind(TypeId t) const {
  TypeState& ts = types_[t];
  if (ts.static_topology == topology_) return ts.static_kind;
  auto can_run_kind = [&](KindId k) {
    return k != kNone && std::any_of(devices_.begin(), devices_.end(), [&](const DeviceState& d) {
             return d.present && d.kind == k && d.CanRun(t);
           });
  };
  KindId chosen = kNone;
  auto configured = options_.static_kinds.find(type_names_.name(t));
  if (configured != options_.static_kinds.end()) {
    chosen = kind_names_.Find(configured->second);
    if (!can_run_kind(chosen)) chosen = kNone;
  } else {
    for (const std::string& kind : options_.kind_preference) {
      if (can_run_kind(kind_names_.Find(kind))) {
        chosen = kind_names_.Find(kind);
        break;
      }
    }
    if (chosen == kNone) {
      // No preferred kind can run it: the alphabetically first kind that can.
      for (KindId k = 0; k < kind_names_.size(); ++k) {
        if (can_run_kind(k) &&
            (chosen == kNone || kind_names_.name(k) < kind_names_.name(chosen))) {
          chosen = k;
        }
      }
    }
  }
  ts.static_kind = chosen;
  ts.static_topology = topology_;
  return chosen;
}

void State::FillSlots(DeviceIndex d, Ticks now, bool running_done,
                      std::vector<Ticks>& heap) const {
  const DeviceState& dev = devices_[d];
  const int slots = dev.info.slots;
  heap.assign(static_cast<size_t>(slots), now);
  // Requests holding a slot finish after the rest of their estimate (at least now);
  // the others wait on the device and take the earliest slot in bind order.
  int running = 0;
  for (const InFlightEntry& e : dev.in_flight) {
    if (e.started != kNever && running < slots) {
      heap[static_cast<size_t>(running++)] =
          running_done ? now : std::max(now, e.started + InFlightEstimate(e, d));
    }
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  running = 0;
  for (const InFlightEntry& e : dev.in_flight) {
    if (e.started != kNever && running < slots) {
      ++running;
      continue;
    }
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    heap.back() += InFlightEstimate(e, d);
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  }
}

Ticks State::InFlightEstimate(const InFlightEntry& e, DeviceIndex d) const {
  if (e.alternate != kNone) {
    for (const AlternateState& a : devices_[d].alternates[e.type]) {
      if (a.variant == e.alternate) return AlternateEstimate(a, e.type, d);
    }
  }
  return Estimate(e.type, d);
}

Ticks State::ExpectedFinish(DeviceIndex d, TypeId t, Ticks now) const {
  FillSlots(d, now, /*running_done=*/false, scratch_);
  return scratch_.front() + Estimate(t, d);
}

Ticks State::Estimate(TypeId t, DeviceIndex d) const {
  const DeviceState& dev = devices_[d];
  if (t < static_cast<TypeId>(dev.measured.size()) && dev.measured[t] != kUnknown) {
    return dev.measured[t];
  }
  const TypeState& ts = types_[t];
  if (dev.kind != kNone && dev.kind < static_cast<KindId>(ts.kind_medians.size()) &&
      !ts.kind_medians[dev.kind].empty()) {
    return ts.kind_medians[dev.kind].median();
  }
  return !ts.all_medians.empty() ? ts.all_medians.median() : options_.default_service.count();
}

void ServiceWindow::Add(Ticks at, Ticks service, size_t capacity) {
  // Kept in time order (a clock set back counts as no time passing): the ring's
  // order is then the samples' age order.
  if (!samples.empty()) at = std::max(at, Newest(1));
  if (samples.size() < capacity) {
    samples.emplace_back(at, service);
    next = samples.size() % capacity;
    return;
  }
  samples[next] = {at, service};
  next = (next + 1) % capacity;
}

Ticks ServiceWindow::Newest(size_t j) const {
  const size_t n = samples.size();
  return samples[(next + n - j) % n].first;
}

int ServiceWindow::Fresh(Ticks since) const {
  int n = 0;
  for (const auto& [at, service] : samples) n += at >= since ? 1 : 0;
  return n;
}

ServiceWindow::Summary ServiceWindow::Summarise(Ticks since, double q) const {
  Ticks values[64];
  size_t n = 0;
  if (prior != kUnknown) values[n++] = prior;
  for (const auto& [at, service] : samples) {
    if (at >= since && n < std::size(values)) values[n++] = service;
  }
  if (n == 0) return {};
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  const size_t median = (n - 1) / 2;
  const size_t quantile = std::clamp<size_t>(rank, 1, n) - 1;
  Summary summary;
  summary.fastest = *std::min_element(values, values + n);
  std::nth_element(values, values + median, values + n);
  summary.median = values[median];
  // Selecting the quantile keeps the median's side in order only below it.
  if (quantile > median) {
    std::nth_element(values + median + 1, values + quantile, values + n);
  } else if (quantile < median) {
    std::nth_element(values, values + quantile, values + median);
  }
  summary.quantile = values[quantile];
  return summary;
}

Ticks State::Pessimistic(TypeId t, DeviceIndex d) const {
  const DeviceState& dev = devices_[d];
  if (t < static_cast<TypeId>(dev.pessimistic.size()) && dev.pessimistic[t] != kUnknown) {
    return std::max(dev.pessimistic[t], Estimate(t, d));
  }
  return Estimate(t, d);
}

Ticks State::Fastest(TypeId t, DeviceIndex d) const {
  const DeviceState& dev = devices_[d];
  if (t < static_cast<TypeId>(dev.fastest.size()) && dev.fastest[t] != kUnknown) {
    return std::min(dev.fastest[t], Estimate(t, d));
  }
  return Estimate(t, d);
}

void State::RefreshEstimate(DeviceIndex d, TypeId t, Ticks now) {
  DeviceState& dev = devices_[d];
  const ServiceWindow::Summary summary = dev.windows[t].Summarise(
      now - options_.estimate_horizon.count(), options_.admission_quantile);
  // With every sample aged out and no report, the last estimate stands until a
  // probe refreshes it.
  if (summary.median == kUnknown && dev.windows[t].prior == kUnknown &&
      !dev.windows[t].samples.empty()) {
    return;
  }
  dev.pessimistic[t] = summary.quantile;
  dev.fastest[t] = summary.fastest;
  if (dev.measured[t] != summary.median) {
    dev.measured[t] = summary.median;
    SyncMedian(d, t);
  }
}

bool State::ProbeDue(DeviceIndex d, TypeId t, Ticks now) const {
  const DeviceState& dev = devices_[d];
  if (!dev.available() || !dev.CanRun(t) || dev.load() > 0) return false;
  const Ticks due = ProbeDueAt(d, t);
  return due != kNever && now >= due;
}

Ticks State::ProbeDueAt(DeviceIndex d, TypeId t) const {
  const Ticks interval = options_.probe_interval.count();
  const ServiceWindow& window = devices_[d].windows[t];
  if (interval <= 0 || window.watched_since == kUnknown) return kNever;
  Ticks due = window.watched_since + interval;
  if (window.last_probe != kUnknown) due = std::max(due, window.last_probe + interval);
  // Unconfirmed: fewer than confirming_samples measured within the horizon, i.e.
  // the confirming_samples-th newest older than now - horizon.
  const auto confirming = static_cast<size_t>(options_.confirming_samples);
  if (confirming > 0 && window.samples.size() >= confirming) {
    due = std::max(due, window.Newest(confirming) + options_.estimate_horizon.count() + 1);
  }
  return due;
}

Ticks State::BestCase(TypeId t, DeviceIndex d) const {
  const ServiceWindow& window = devices_[d].windows[t];
  Ticks best = window.prior;
  for (const auto& [at, service] : window.samples) {
    if (best == kUnknown || service < best) best = service;
  }
  return best == kUnknown ? Estimate(t, d) : std::min(best, Estimate(t, d));
}

Queue::iterator State::Bind(Queue::iterator it, DeviceIndex d, Ticks now, Ticks expected_finish,
                            std::vector<Assignment>& out, int32_t alternate) {
  const QueueEntry entry = it->second;
  Record& record = records_.find(entry.id)->second;
  record.queued = false;
  record.device = d;
  DeviceState& dev = devices_[d];
  const bool starts = dev.running < dev.info.slots;
  dev.in_flight.push_back({entry.id, entry.type, now, starts ? now : kNever, alternate});
  if (starts) ++dev.running;
  CountQueued(record.key, entry, record.tenant, false);
  ReleaseTenant(record.tenant);
  record.tenant = kNone;
  if (entry.deadline != kNever) deadlines_.erase({entry.deadline, entry.id});
  if (auto fair = fair_.find(record.key.neg_priority);
      fair != fair_.end() && fair->second.queued > 0) {
    fair->second.virtual_time = std::max(fair->second.virtual_time, record.start_tag);
  }
  Assignment& a = out.emplace_back();
  a.request_id = entry.id;
  a.device = dev.info.key;
  a.expected_finish = FromTicks(expected_finish);
  if (alternate == kNone) {
    a.variant = variant_names_.name(dev.variant[entry.type]);
  } else {
    a.variant = variant_names_.name(alternate);
    a.degraded_from = variant_names_.name(dev.variant[entry.type]);
  }
  Reindex(d);
  return queue_.erase(it);
}

void State::RefreshSteering(Ticks now) {
  if (steering_at_ != kUnknown && steering_topology_ == topology_ &&
      now - steering_at_ < options_.steering_interval.count()) {
    return;
  }
  steering_at_ = now;
  steering_topology_ = topology_;
  // The finish index holds every device whatever the sets: a decision applies
  // steering's rule to the devices it visits.
  SolveSteering(now);
}

void State::SolveSteering(Ticks now) {
  for (TypeState& ts : types_) ts.steered = false;
  for (DeviceState& dev : devices_) dev.support = ~uint64_t{0};
  steered_ = 0;
  if (!options_.lp_steering) return;
  ++steering_solves_;
  // The recent mix: types with arrivals in the window and an available device.
  const double window = static_cast<double>(options_.rate_window.count());
  std::vector<TypeId> types;
  std::vector<double> share;
  const auto limit = std::min<TypeId>(64, static_cast<TypeId>(types_.size()));
  for (TypeId t = 0; t < limit; ++t) {
    const TypeState& ts = types_[t];
    const double rate =
        ts.arrivals * std::exp(-static_cast<double>(std::max<Ticks>(0, now - ts.arrivals_at)) /
                               window);
    if (rate < 1e-3) continue;
    types.push_back(t);
    share.push_back(rate);
  }
  if (types.empty()) return;
  // Devices enter the LP in classes: each its own up to 64 available devices, else
  // one class per (kind, types it runs) with the members' mean estimates and their
  // slots summed, so that the LP stays small however large the cluster.
  std::vector<DeviceIndex> available;
  for (DeviceIndex d : sorted_devices_) {
    if (devices_[d].available()) available.push_back(d);
  }
  std::vector<int> class_of(device_count(), -1);
  std::vector<std::vector<DeviceIndex>> members;
  if (available.size() <= 64) {
    for (DeviceIndex d : available) {
      class_of[d] = static_cast<int>(members.size());
      members.push_back({d});
    }
  } else {
    std::map<std::pair<KindId, uint64_t>, int> classes;
    for (DeviceIndex d : available) {
      uint64_t runs = 0;
      for (size_t i = 0; i < types.size(); ++i) {
        if (devices_[d].CanRun(types[i])) runs |= uint64_t{1} << i;
      }
      auto [it, inserted] =
          classes.try_emplace({devices_[d].kind, runs}, static_cast<int>(members.size()));
      if (inserted) members.emplace_back();
      members[it->second].push_back(d);
      class_of[d] = it->second;
    }
  }
  std::vector<std::vector<double>> seconds(types.size(), std::vector<double>(members.size(), 0));
  std::vector<double> slots(members.size(), 0);
  for (size_t c = 0; c < members.size(); ++c) {
    for (DeviceIndex d : members[c]) slots[c] += devices_[d].info.slots;
    for (size_t i = 0; i < types.size(); ++i) {
      if (!devices_[members[c].front()].CanRun(types[i])) continue;
      double sum = 0;
      for (DeviceIndex d : members[c]) sum += static_cast<double>(Estimate(types[i], d));
      seconds[i][c] = std::max(1.0, sum / static_cast<double>(members[c].size())) * 1e-9;
    }
  }
  // A type no available device runs makes the mix impossible: leave it out.
  std::vector<TypeId> kept_types;
  std::vector<double> kept_share;
  std::vector<std::vector<double>> kept_seconds;
  for (size_t i = 0; i < types.size(); ++i) {
    if (std::any_of(seconds[i].begin(), seconds[i].end(), [](double v) { return v > 0; })) {
      kept_types.push_back(types[i]);
      kept_share.push_back(share[i]);
      kept_seconds.push_back(std::move(seconds[i]));
    }
  }
  if (kept_types.empty()) return;
  // The measured mix is noisy, and on a balanced cluster the optimum sits on a knife
  // edge (a type slightly over its share would spread over every device). A pair is
  // kept only if it wastes little for the mix and for the mix with any one type
  // `kMixMargin` heavier: what the optimum needs only for a momentary excess is
  // left to the idle rule.
  constexpr double kMixMargin = 0.25;
  FluidSolution solution = SolveFluid(kept_share, kept_seconds, slots);
  if (solution.waste.size() != kept_types.size()) return;
  for (size_t heavier = 0; heavier < kept_types.size() && kept_types.size() > 1; ++heavier) {
    std::vector<double> shifted = kept_share;
    shifted[heavier] *= 1 + kMixMargin;
    const FluidSolution other = SolveFluid(shifted, kept_seconds, slots);
    if (other.waste.size() != kept_types.size()) continue;
    for (size_t i = 0; i < kept_types.size(); ++i) {
      for (size_t c = 0; c < slots.size(); ++c) {
        solution.waste[i][c] = std::max(solution.waste[i][c], other.waste[i][c]);
      }
    }
  }
  for (size_t i = 0; i < kept_types.size(); ++i) {
    const TypeId t = kept_types[i];
    const uint64_t bit = uint64_t{1} << t;
    auto keeps = [&](DeviceIndex d) {
      return devices_[d].CanRun(t) && solution.waste[i][class_of[d]] <= options_.steering_waste;
    };
    // A type with no device left in its set is not steered.
    if (std::none_of(available.begin(), available.end(), keeps)) continue;
    types_[t].steered = true;
    steered_ |= bit;
    for (DeviceIndex d : available) {
      if (!keeps(d)) devices_[d].support &= ~bit;
    }
  }
}

// --- The finish index --------------------------------------------------------------
//
// Weighing every device for every waiting request (the slot schedule of each, then
// each candidate) costs O(devices) per request. Instead the index keeps, per
// type, the devices in two tournament trees keyed by a lower bound on the
// finish of one more request sent now (TypeState::Trees), updated when a
// device changes (Reindex: a bind, a completion, a reservation in the pass, a
// probe, a change of state) rather than rebuilt. A pass visits devices in bound
// order, computes the exact finish only for those it visits (Earliest builds a
// device's slots on first use), and stops once the next bound cannot win: the
// choice is the one a scan of every candidate makes, ties included.
//
// Bounds: a device's earliest slot at time `now` is the replay of its work in
// flight (FillSlots) with the running requests' ends raised to `now`. It is at
// least the raw replay (ends as estimated, free slots at kFree) and at least
// `now` + the replay with every slot free at 0 (the queued work's length), since
// the replay is monotone and shifts with its inputs. Devices whose raw earliest
// is at or before the index's time sit in `ready` keyed by length + estimate
// (bound: now + key), the others in `busy` keyed by raw earliest + estimate
// (exact unless a running request overran its estimate). As time passes, busy
// devices move to ready (busy_earliest_); nothing is rebuilt per pass.

void State::BeginPass() {
  SyncIndex();
  ++pass_;
  pass_now_ = Now();
  schedule_.Begin(device_count());
  if (pass_now_ <= index_now_) return;
  index_now_ = pass_now_;
  // Busy devices whose raw earliest slot has passed turn ready (their work in
  // flight is unchanged: only the trees they are in).
  while (!busy_earliest_.Min().absent() && busy_earliest_.Min().bound <= index_now_) {
    const int32_t position = busy_earliest_.Min().position();
    busy_earliest_.Clear(position);
    const DeviceIndex d = sorted_devices_[position];
    devices_[d].indexed.ready = true;
    SetKeys(d);
  }
  while (!probe_pending_.Min().absent() && probe_pending_.Min().bound <= index_now_) {
    SetProbes(sorted_devices_[probe_pending_.Min().position()]);
  }
}

Ticks State::Earliest(DeviceIndex d) {
  if (!schedule_.Built(d)) {
    FillSlots(d, pass_now_, /*running_done=*/false, schedule_.Start(d));
    schedule_.Seal(d);
  }
  return schedule_.earliest(d);
}

void State::Reserve(DeviceIndex d, Ticks until) {
  Earliest(d);
  schedule_.Occupy(d, until);
  // A device with room is bound the request at once, and Bind re-indexes it
  // from its work in flight: bounds no higher than the pass's, so still bounds.
  // One without room keeps the reservation in its keys for the rest of the pass.
  // Its keys change for a type when the type is next visited (SyncReserved).
  if (devices_[d].HasRoom()) return;
  if (reserved_[d] != pass_) {
    reserved_[d] = pass_;
    reserved_list_.push_back(d);
  }
  reserved_log_.push_back(d);
}

void State::SyncReserved(TypeId t) {
  TypeState& ts = types_[t];
  for (; ts.reserved_synced < reserved_log_.size(); ++ts.reserved_synced) {
    const DeviceIndex d = reserved_log_[ts.reserved_synced];
    if (devices_[d].CanRun(t)) SetKeys(d, t);
  }
}

void State::EndPass() {
  // Only the types that took a reservation into their keys need it taken out.
  for (DeviceIndex d : reserved_list_) {
    reserved_[d] = 0;
    for (TypeId t : devices_[d].indexed.runs) {
      if (types_[t].reserved_keys) SetKeys(d, t);
    }
  }
  reserved_list_.clear();
  reserved_log_.clear();
  for (TypeState& ts : types_) {
    ts.reserved_synced = 0;
    ts.reserved_keys = false;
  }
#ifndef NDEBUG
  // Debug builds check the whole index after each pass (small clusters: the
  // tests').
  if (device_count() <= 512) CheckKeys();
#endif
}

void State::SetKeys(DeviceIndex d) {
  if (!devices_[d].indexed.listed) return;
  for (TypeId t : devices_[d].indexed.runs) SetKeys(d, t);
}

std::pair<FinishTree::Keys, FinishTree::Keys> State::KeysFor(DeviceIndex d, TypeId t) const {
  const DeviceState& dev = devices_[d];
  const DeviceState::Indexed& v = dev.indexed;
  // Within a pass a reserved device's exact earliest slot is known.
  const bool reserved = reserved_[d] == pass_;
  const Ticks earliest = reserved ? schedule_.earliest(d) : v.earliest;
  const Ticks length = reserved ? 0 : v.length;
  const bool ready = reserved ? earliest <= pass_now_ : v.ready;
  const uint64_t tie = Tie(d);
  const auto at = static_cast<uint64_t>(static_cast<uint32_t>(position_[d]));
  FinishTree::Keys in_ready{};
  FinishTree::Keys in_busy{};
  const Ticks estimate = Estimate(t, d);
  if (ready) {
    in_ready[0] = {length + estimate, tie};
  } else {
    in_busy[0] = {earliest + estimate, tie};
  }
  const Ticks fastest = std::min(Fastest(t, d), DegradedFastest(t, d));
  if (v.ready) {
    in_ready[1] = {v.length + fastest, at};
  } else {
    in_busy[1] = {v.earliest + fastest, at};
  }
  if (const Ticks degraded = DegradedEstimate(t, d); degraded != kNever) {
    if (ready) {
      in_ready[2] = {length + degraded, at};
    } else {
      in_busy[2] = {earliest + degraded, at};
    }
  }
  return {in_ready, in_busy};
}

// In a scope, the same keys with the tie's position the one there (the order
// of the scope's devices is theirs in key order).
FinishTree::Keys State::Placed(FinishTree::Keys keys, int32_t there) {
  for (TreeKey& key : keys) {
    if (!key.absent()) key.tie = (key.tie & ~uint64_t{0xffffffff}) | static_cast<uint32_t>(there);
  }
  return keys;
}

void State::SetKeys(DeviceIndex d, TypeId t) {
  const auto [in_ready, in_busy] = KeysFor(d, t);
  if (reserved_[d] == pass_) types_[t].reserved_keys = true;
  WriteKeys(d, t, in_ready, in_busy);
}

void State::WriteKeys(DeviceIndex d, TypeId t, const FinishTree::Keys& in_ready,
                      const FinishTree::Keys& in_busy) {
  const int32_t position = position_[d];
  types_[t].trees.ready.Set(position, in_ready);
  types_[t].trees.busy.Set(position, in_busy);
  if (types_[t].scopes_built == 0) return;
  for (const auto& [scope, there] : devices_[d].indexed.scopes) {
    if (TypeState::Trees* trees = BuiltTrees(scope, t)) {
      trees->ready.Set(there, Placed(in_ready, there));
      trees->busy.Set(there, Placed(in_busy, there));
    }
  }
}

void State::CheckKeys() const {
#ifndef NDEBUG
  if (index_stale_) return;
  const FinishTree::Keys none{};
  for (DeviceIndex d : sorted_devices_) {
    const DeviceState& dev = devices_[d];
    for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) {
      const bool listed = dev.indexed.listed && dev.CanRun(t);
      FinishTree::Keys in_ready = none, in_busy = none;
      if (listed) std::tie(in_ready, in_busy) = KeysFor(d, t);
      assert(types_[t].trees.ready.at(position_[d]) == in_ready);
      assert(types_[t].trees.busy.at(position_[d]) == in_busy);
      for (const auto& [scope, there] : dev.indexed.scopes) {
        const Scope& sc = scopes_[static_cast<size_t>(scope)];
        if (t >= static_cast<TypeId>(sc.active.size()) || !sc.active[t]) continue;
        assert(sc.trees[t].ready.at(there) == Placed(in_ready, there));
        assert(sc.trees[t].busy.at(there) == Placed(in_busy, there));
      }
    }
  }
#endif
}

void State::SetProbeReady(DeviceIndex d, TypeId t, bool due) {
  const Ticks best = due ? BestCase(t, d) : kNever;
  auto apply = [&](MinTree& tree, int32_t at) {
    if (due) {
      tree.Set(at, {TreeKey{best, static_cast<uint32_t>(at)}});
    } else {
      tree.Clear(at);
    }
  };
  apply(types_[t].trees.probe_ready, position_[d]);
  if (types_[t].scopes_built == 0) return;
  for (const auto& [scope, at] : devices_[d].indexed.scopes) {
    if (TypeState::Trees* trees = BuiltTrees(scope, t)) apply(trees->probe_ready, at);
  }
}

uint64_t State::Tie(DeviceIndex d) const {
  const DeviceState& dev = devices_[d];
  const auto load = static_cast<uint64_t>(std::min(dev.load(), (1 << 30) - 1));
  return (uint64_t{dev.HasRoom() ? 0u : 1u} << 62) | (load << 32) |
         static_cast<uint32_t>(position_[d]);
}

State::Scope* State::ScopeFor(const QueueEntry& pins) {
  Scope* best = nullptr;
  auto consider = [&](size_t scope) {
    Scope& candidate = scopes_[scope];
    if (best == nullptr || candidate.members.size() < best->members.size()) best = &candidate;
  };
  // Ids beyond the scopes' came after the index was built (none do: a new kind
  // or group rebuilds it), a variant without a scope has no device: every
  // device is then visited.
  if (pins.pinned_kind >= 0 && pins.pinned_kind < scope_kinds_) {
    consider(static_cast<size_t>(pins.pinned_kind));
  }
  if (pins.group >= 0 && pins.group < scope_groups_) {
    consider(static_cast<size_t>(scope_kinds_ + pins.group));
  }
  if (pins.pinned_variant != kNone) {
    auto it = variant_scopes_.find({pins.type, pins.pinned_variant});
    if (it != variant_scopes_.end()) consider(static_cast<size_t>(it->second));
  }
  return best;
}

std::vector<int32_t> State::ScopeIds(DeviceIndex d, bool create) {
  const DeviceState& dev = devices_[d];
  std::vector<int32_t> out;
  if (dev.kind != kNone) out.push_back(dev.kind < scope_kinds_ ? dev.kind : -1);
  for (uint64_t g = dev.groups; g != 0; g &= g - 1) {
    const auto group = static_cast<int32_t>(__builtin_ctzll(g));
    out.push_back(group < scope_groups_ ? scope_kinds_ + group : -1);
  }
  for (TypeId t = 0; t < static_cast<TypeId>(dev.variant.size()); ++t) {
    if (!dev.CanRun(t)) continue;
    if (create) {
      auto [it, added] = variant_scopes_.try_emplace({t, dev.variant[t]},
                                                     static_cast<int32_t>(scopes_.size()));
      if (added) scopes_.emplace_back();
      out.push_back(it->second);
    } else {
      auto it = variant_scopes_.find({t, dev.variant[t]});
      out.push_back(it != variant_scopes_.end() ? it->second : -1);
    }
  }
  return out;
}

bool State::ScopesMoved(DeviceIndex d) {
  const std::vector<std::pair<int32_t, int32_t>>& indexed = devices_[d].indexed.scopes;
  const std::vector<int32_t> now = ScopeIds(d, /*create=*/false);
  return !std::equal(now.begin(), now.end(), indexed.begin(), indexed.end(),
                     [](int32_t id, const auto& joined) { return id == joined.first; });
}

TypeState::Trees& State::ScopeTrees(Scope& scope, TypeId t) {
  if (scope.active.size() < types_.size()) {
    scope.active.resize(types_.size(), 0);
    scope.trees.resize(types_.size());
  }
  TypeState::Trees& trees = scope.trees[t];
  if (!scope.active[t]) {
    const auto n = static_cast<int32_t>(scope.members.size());
    trees.ready.Reset(n);
    trees.busy.Reset(n);
    trees.probe_ready.Reset(n);
    scope.active[t] = 1;
    ++types_[t].scopes_built;
    for (int32_t i = 0; i < n; ++i) {
      const DeviceIndex d = scope.members[static_cast<size_t>(i)];
      if (!devices_[d].indexed.listed || !devices_[d].CanRun(t)) continue;
      SetKeys(d, t);
      const TreeKey& due = types_[t].trees.probe_ready.at(position_[d])[0];
      if (!due.absent()) trees.probe_ready.Set(i, {TreeKey{due.bound, static_cast<uint32_t>(i)}});
    }
  }
  return trees;
}

TypeState::Trees* State::BuiltTrees(int32_t scope, TypeId t) {
  Scope& sc = scopes_[static_cast<size_t>(scope)];
  return t < static_cast<TypeId>(sc.active.size()) && sc.active[t] ? &sc.trees[t] : nullptr;
}

State::ProbeSet State::ProbeReady(TypeId t, const QueueEntry* pins) {
  Scope* scope = pins != nullptr ? ScopeFor(*pins) : nullptr;
  if (scope == nullptr) return {types_[t].trees.probe_ready, sorted_devices_};
  return {ScopeTrees(*scope, t).probe_ready, scope->members};
}

void State::VisitByBound(TypeId t, Bound order, const QueueEntry* pins,
                         absl::FunctionRef<bool(DeviceIndex, Ticks, uint64_t)> visit) {
  SyncReserved(t);
  TypeState& ts = types_[t];
  Scope* scope = pins != nullptr ? ScopeFor(*pins) : nullptr;
  TypeState::Trees& trees = scope != nullptr ? ScopeTrees(*scope, t) : ts.trees;
  FinishTree& ready = trees.ready;
  FinishTree& busy = trees.busy;
  const std::vector<DeviceIndex>& devices = scope != nullptr ? scope->members : sorted_devices_;
  const int k = static_cast<int>(order);
  // Visited devices leave the order until the visit ends: the last one only
  // virtually (MinExcept reads around it), the others by clearing their key,
  // so that the usual visit of one or two devices writes nothing.
  const size_t mark = excluded_.size();
  FinishTree* last_tree = nullptr;
  int32_t last = 0;
  auto least = [&](const FinishTree& tree) {
    return &tree == last_tree ? tree.MinExcept(last, k) : tree.Min(k);
  };
  for (;;) {
    const TreeKey r = least(ready);
    const TreeKey b = least(busy);
    if (r.absent() && b.absent()) break;
    const TreeKey ready_bound{r.absent() ? kNever : pass_now_ + r.bound, r.tie};
    const bool take_ready = !r.absent() && (b.absent() || ready_bound < b);
    const int32_t position = (take_ready ? r : b).position();
    if (last_tree != nullptr) {
      FinishTree::Keys keys = last_tree->at(last);
      excluded_.emplace_back(last_tree, last, keys);
      keys[static_cast<size_t>(k)] = TreeKey{};
      last_tree->Set(last, keys);
    }
    last_tree = take_ready ? &ready : &busy;
    last = position;
    if (!visit(devices[position], take_ready ? ready_bound.bound : b.bound,
               (take_ready ? r : b).tie)) {
      break;
    }
  }
  for (size_t i = excluded_.size(); i > mark; --i) {
    const auto& [tree, position, keys] = excluded_[i - 1];
    tree->Set(position, keys);
  }
  excluded_.resize(mark);
}

Ticks State::DegradedEstimate(TypeId t, DeviceIndex d) const {
  Ticks least = kNever;
  for (const AlternateState& a : devices_[d].alternates[t]) {
    least = std::min(least, AlternateEstimate(a, t, d));
  }
  return least;
}

Ticks State::DegradedFastest(TypeId t, DeviceIndex d) const {
  Ticks degraded = kNever;
  for (const AlternateState& a : devices_[d].alternates[t]) {
    const Ticks estimate = AlternateEstimate(a, t, d);
    degraded = std::min(degraded, a.fastest != kUnknown ? std::min(a.fastest, estimate) : estimate);
  }
  return degraded;
}

void State::Reindex(DeviceIndex d) {
  if (index_stale_) return;
  // A device reserved in the pass has no room, so takes no request and has no
  // change to index; EndPass restores its keys only for the types that synced.
  assert(reserved_[d] != pass_);
  DeviceState& dev = devices_[d];
  DeviceState::Indexed& v = dev.indexed;
  if (v.listed) {
    capacity_ -= v.capacity;
    free_room_ -= v.free;
    if (v.free > 0) {
      for (TypeId t : v.runs) --rooms_[t];
    }
    for (TypeId t : v.runs) {
      types_[t].pressure_rate -= v.rates[t];
      types_[t].pressure_load -= v.load;
    }
  }
  v.listed = dev.available();
  v.capacity = dev.capacity;
  v.free = std::max(0, dev.capacity - dev.load());
  v.runs.clear();
  const int32_t position = position_[d];
  Ticks earliest = kNever;  // the raw replay's
  Ticks length = 0;
  bool ready = false;
  if (v.listed) {
    FillSlots(d, kFree, /*running_done=*/false, scratch_);
    earliest = scratch_.front();
    FillSlots(d, 0, /*running_done=*/true, scratch_);
    length = scratch_.front();
    ready = earliest <= index_now_;
  }
  v.earliest = earliest;
  v.length = length;
  v.ready = ready;
  if (v.listed && !ready) {
    busy_earliest_.Set(position, {TreeKey{earliest, static_cast<uint32_t>(position)}});
  } else {
    busy_earliest_.Clear(position);
  }
  // Probes concern idle devices: a device busy before and after has none.
  const bool idle = v.listed && dev.load() == 0;
  const bool probes = idle || v.idle;
  v.idle = idle;
  for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) {
    if (v.listed && dev.CanRun(t)) {
      v.runs.push_back(t);
      continue;
    }
    WriteKeys(d, t, {}, {});
    if (probes) SetProbeReady(d, t, false);
  }
  if (probes) SetProbes(d);
  SetKeys(d);
  v.load = dev.load();
  if (v.listed) {
    capacity_ += v.capacity;
    free_room_ += v.free;
    if (v.free > 0) {
      for (TypeId t : v.runs) ++rooms_[t];
    }
    if (v.rates.size() < types_.size()) {
      v.rates.resize(types_.size(), 0);
      v.rate_estimates.resize(types_.size(), kUnknown);
    }
    if (v.rate_slots != dev.info.slots) {
      v.rate_slots = dev.info.slots;
      std::fill(v.rate_estimates.begin(), v.rate_estimates.end(), kUnknown);
    }
    for (TypeId t : v.runs) {
      if (const Ticks estimate = Estimate(t, d); estimate != v.rate_estimates[t]) {
        v.rates[t] = PressureRate(dev.info.slots, estimate);
        v.rate_estimates[t] = estimate;
      }
      types_[t].pressure_rate += v.rates[t];
      types_[t].pressure_load += v.load;
    }
  }
}

void State::SetProbes(DeviceIndex d) {
  const DeviceState& dev = devices_[d];
  const int32_t position = position_[d];
  const bool idle = dev.indexed.idle;
  Ticks next = kNever;
  for (TypeId t : dev.indexed.runs) {
    const Ticks due = idle ? ProbeDueAt(d, t) : kNever;
    const bool ready = due != kNever && due <= index_now_;
    SetProbeReady(d, t, ready);
    if (!ready) next = std::min(next, due);
  }
  if (next == kNever) {
    probe_pending_.Clear(position);
  } else {
    probe_pending_.Set(position, {TreeKey{next, static_cast<uint32_t>(position)}});
  }
}

void State::ReindexAll() {
  const auto n = static_cast<int32_t>(sorted_devices_.size());
  position_.assign(devices_.size(), 0);
  for (int32_t i = 0; i < n; ++i) position_[sorted_devices_[i]] = i;
  busy_earliest_.Reset(n);
  probe_pending_.Reset(n);
  for (TypeState& ts : types_) {
    ts.trees.ready.Reset(n);
    ts.trees.busy.Reset(n);
    ts.trees.probe_ready.Reset(n);
    ts.fallback_stale = false;
    ts.pressure_rate = 0;
    ts.pressure_load = 0;
    ts.scopes_built = 0;
  }
  free_room_ = 0;
  capacity_ = 0;
  rooms_.assign(types_.size(), 0);
  reserved_.assign(devices_.size(), 0);
  reserved_list_.clear();
  for (DeviceState& dev : devices_) dev.indexed = {};
  scope_kinds_ = static_cast<int32_t>(kind_names_.size());
  scope_groups_ = static_cast<int32_t>(group_names_.size());
  scopes_.assign(static_cast<size_t>(scope_kinds_ + scope_groups_), Scope{});
  variant_scopes_.clear();
  for (DeviceIndex d : sorted_devices_) {
    for (const int32_t id : ScopeIds(d, /*create=*/true)) {
      Scope& scope = scopes_[static_cast<size_t>(id)];
      devices_[d].indexed.scopes.emplace_back(id, static_cast<int32_t>(scope.members.size()));
      scope.members.push_back(d);
    }
  }
  index_stale_ = false;
  for (DeviceIndex d = 0; d < device_count(); ++d) Reindex(d);
}

void State::SyncIndex() {
  if (index_stale_) {
    ReindexAll();
    return;
  }
  // A device without an estimate of its own uses the type's medians: re-index
  // those when the medians moved.
  for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) {
    if (!types_[t].fallback_stale) continue;
    types_[t].fallback_stale = false;
    for (DeviceIndex d : types_[t].fallback_users) Reindex(d);
  }
}

void State::SyncMedian(DeviceIndex d, TypeId t) {
  DeviceState& dev = devices_[d];
  if (dev.median_kind != dev.kind) {
    // The device changed kind: what it counted moves to the new one.
    for (TypeId u = 0; u < static_cast<TypeId>(types_.size()); ++u) {
      if (dev.median_in[u] == kUnknown) continue;
      types_[u].all_medians.Erase(dev.median_in[u]);
      types_[u].kind_medians[dev.median_kind].Erase(dev.median_in[u]);
      dev.median_in[u] = kUnknown;
    }
    dev.median_kind = dev.kind;
  }
  TypeState& ts = types_[t];
  const bool runs = dev.present && dev.CanRun(t);
  const Ticks in = runs ? dev.measured[t] : kUnknown;
  if (dev.median_in[t] != in) {
    if (dev.median_in[t] != kUnknown && in != kUnknown) {
      ts.all_medians.Replace(dev.median_in[t], in);
      ts.kind_medians[dev.kind].Replace(dev.median_in[t], in);
    } else if (dev.median_in[t] != kUnknown) {
      ts.all_medians.Erase(dev.median_in[t]);
      ts.kind_medians[dev.kind].Erase(dev.median_in[t]);
    } else {
      if (ts.kind_medians.size() <= static_cast<size_t>(dev.kind)) {
        ts.kind_medians.resize(static_cast<size_t>(dev.kind) + 1);
      }
      ts.all_medians.Insert(in);
      ts.kind_medians[dev.kind].Insert(in);
    }
    dev.median_in[t] = in;
    if (!ts.fallback_users.empty()) ts.fallback_stale = true;
  }
  const char fallback = runs && dev.measured[t] == kUnknown ? 1 : 0;
  if (dev.fallback[t] != fallback) {
    if (fallback) {
      ts.fallback_users.insert(d);
    } else {
      ts.fallback_users.erase(d);
    }
    dev.fallback[t] = fallback;
  }
}

void State::SyncMedians(DeviceIndex d) {
  for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) SyncMedian(d, t);
}

// --- Private -----------------------------------------------------------------------

DeviceIndex State::FindDevice(const DeviceKey& key) const {
  auto it = device_index_.find(key);
  return it == device_index_.end() ? kNone : it->second;
}

void State::Requeue(const InFlightEntry& entry, std::vector<Request>& out) {
  Record& record = records_.find(entry.id)->second;
  record.queued = true;
  record.device = kNone;
  record.key.fresh = 0;  // ahead of fresh requests of the same priority
  ++record.request.retries;
  queue_.emplace(record.key, record.entry);
  if (record.entry.deadline != kNever) deadlines_.emplace(record.entry.deadline, entry.id);
  record.tenant = AcquireTenant(record.request.tenant);
  CountQueued(record.key, record.entry, record.tenant, true);
  out.push_back(record.request);
}

std::vector<Request> State::TakeInFlight(DeviceIndex d) {
  std::vector<InFlightEntry> lost = std::move(devices_[d].in_flight);
  devices_[d].in_flight.clear();
  devices_[d].running = 0;
  std::vector<Request> out;
  for (const InFlightEntry& entry : lost) Requeue(entry, out);
  return out;
}

void State::DetachVariants(DeviceIndex d) {
  DeviceState& dev = devices_[d];
  for (TypeId t = 0; t < static_cast<TypeId>(dev.variant.size()); ++t) {
    if (dev.variant[t] != kNone) {
      --types_[t].runners;
      dev.variant[t] = kNone;
    }
    if (!dev.alternates[t].empty()) {
      --types_[t].degradable;
      std::multiset<double>& top = types_[t].top_accuracies;
      const auto it = top.find(dev.alternates[t].front().accuracy);
      assert(it != top.end());
      if (it != top.end()) top.erase(it);
    }
  }
}

void State::CountQueued(const QueueKey& key, const QueueEntry& entry, int32_t tenant, bool added) {
  TypeState& ts = types_[entry.type];
  const bool pinned = IsPinned(entry);
  const int64_t priority = -key.neg_priority;
  const int64_t neg_seq = -static_cast<int64_t>(key.seq);
  const std::tuple<int64_t, int64_t, uint64_t> by_class{priority, neg_seq, entry.id};
  const TypeId t = entry.type;
  // The tenant's waiting requests, in tenant_waiting and its count in tenant_load.
  const auto count_tenant = [&](bool add) {
    auto [it, inserted] = ts.tenant_waiting.try_emplace({priority, tenant});
    absl::btree_set<std::pair<int64_t, uint64_t>>& mine = it->second;
    if (inserted) {
      ++ts.class_tenants[priority];
    } else {
      ts.tenant_load.erase({priority, mine.size(), tenant});
    }
    if (add) {
      mine.insert({neg_seq, entry.id});
    } else {
      mine.erase({neg_seq, entry.id});
    }
    if (mine.empty()) {
      ts.tenant_waiting.erase(it);
      if (auto c = ts.class_tenants.find(priority); --c->second == 0) ts.class_tenants.erase(c);
    } else {
      ts.tenant_load.insert({priority, mine.size(), tenant});
    }
  };
  if (added) {
    ++ts.queued;
    ts.pinned += pinned ? 1 : 0;
    if (t < 64 && ts.queued > ts.pinned) waiting_ |= uint64_t{1} << t;
    ts.by_class.insert(by_class);
    count_tenant(true);
    ++fair_[key.neg_priority].queued;
    if (entry.deadline != kNever) {
      if (pinned) {
        pinned_deadlines_.emplace(entry.deadline, entry.id);
      } else {
        ts.deadlines.emplace(entry.deadline, entry.id);
      }
    }
  } else {
    --ts.queued;
    ts.pinned -= pinned ? 1 : 0;
    if (t < 64 && ts.queued == ts.pinned) waiting_ &= ~(uint64_t{1} << t);
    ts.by_class.erase(by_class);
    count_tenant(false);
    if (entry.deadline != kNever) {
      if (pinned) {
        pinned_deadlines_.erase({entry.deadline, entry.id});
      } else {
        ts.deadlines.erase({entry.deadline, entry.id});
      }
    }
    // A class whose queue empties ends its busy period: its tags start over. The
    // emptied class is kept, reset, so that the next busy period reuses its
    // table, unless more than a few classes are kept.
    auto fair = fair_.find(key.neg_priority);
    if (fair != fair_.end() && --fair->second.queued == 0) {
      constexpr size_t kKeptClasses = 8;
      if (fair_.size() > kKeptClasses) {
        fair_.erase(fair);
      } else {
        fair->second.virtual_time = 0;
        fair->second.finish.clear();
      }
    }
  }
}

Ticks State::StartTag(int64_t priority, const std::string& tenant, TypeId t, Ticks& cost) {
  FairClass& fair = fair_[-priority];
  // Tags at or below the class's virtual time no longer matter (a tenant's next start
  // is max(virtual time, finish)): forget them once they outnumber the waiting
  // requests, so the map stays bounded by the queue.
  if (fair.finish.size() > 2 * fair.queued + 64) {
    for (auto it = fair.finish.begin(); it != fair.finish.end();) {
      if (it->second <= fair.virtual_time) {
        fair.finish.erase(it++);
      } else {
        ++it;
      }
    }
  }
  Ticks& finish = fair.finish[tenant];
  const Ticks start = std::max(fair.virtual_time, finish);
  const RunningMedian& medians = types_[t].all_medians;
  cost = std::max<Ticks>(1, !medians.empty() ? medians.median() : options_.default_service.count());
  finish = start + cost;
  return start;
}

int32_t State::FindTenant(const std::string& name) const {
  const auto it = tenant_ids_.find(name);
  return it == tenant_ids_.end() ? kNone : it->second;
}

int32_t State::AcquireTenant(const std::string& name, int32_t known) {
  // A known id still held (a displacement may have given it back since) is the
  // name's: ids are handed out again only here.
  if (known != kNone && tenants_[static_cast<size_t>(known)].second > 0) {
    ++tenants_[static_cast<size_t>(known)].second;
    return known;
  }
  auto [it, inserted] = tenant_ids_.try_emplace(name, kNone);
  if (inserted) {
    if (free_tenants_.empty()) {
      it->second = static_cast<int32_t>(tenants_.size());
      tenants_.emplace_back(name, 0);
    } else {
      it->second = free_tenants_.back();
      free_tenants_.pop_back();
      tenants_[static_cast<size_t>(it->second)] = {name, 0};
    }
  }
  ++tenants_[static_cast<size_t>(it->second)].second;
  return it->second;
}

void State::ReleaseTenant(int32_t id) {
  auto& [name, waiting] = tenants_[static_cast<size_t>(id)];
  assert(waiting > 0);
  if (--waiting > 0) return;
  tenant_ids_.erase(name);
  name.clear();
  free_tenants_.push_back(id);
}

absl::Status State::WithinShare(const TypeState& ts, const Request& request, int32_t tenant) const {
  const int64_t priority = request.priority;
  const auto mine =
      tenant == kNone ? ts.tenant_waiting.end() : ts.tenant_waiting.find({priority, tenant});
  const size_t held = mine == ts.tenant_waiting.end() ? 0 : mine->second.size();
  const auto others = ts.class_tenants.find(priority);
  const size_t tenants =
      (others == ts.class_tenants.end() ? 0 : others->second) + (held == 0 ? 1 : 0);
  if (tenants < 2) return absl::OkStatus();
  const size_t capacity = static_cast<size_t>(options_.queue_capacity);
  const size_t share = (capacity + tenants - 1) / tenants;
  if (held < share) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      request.tenant.empty() ? std::string("requests without a camera name")
                             : absl::StrCat("camera '", request.tenant, "'"),
      " already hold", request.tenant.empty() ? "" : "s", " ", held, " of the ", capacity,
      " places in the queue for inference type '", request.type, "', an equal share while ",
      tenants, " senders wait; retry later or send at a lower rate"));
}

void State::Uncharge(const Record& record) {
  auto fair = fair_.find(record.key.neg_priority);
  if (fair == fair_.end()) return;
  auto finish = fair->second.finish.find(record.request.tenant);
  if (finish == fair->second.finish.end()) return;
  // Requests of the tenant queued after this one keep their tags; its next one
  // starts a cost earlier.
  finish->second = std::max(fair->second.virtual_time, finish->second - record.cost);
}

const Record* State::Displaceable(TypeId t, int priority, int32_t tenant) const {
  const TypeState& ts = types_[t];
  if (ts.by_class.empty()) return nullptr;
  const int64_t lowest = std::get<0>(*ts.by_class.begin());
  if (lowest > priority) return nullptr;
  // The tenant holding the most of the lowest class: the last entry below
  // (lowest, max, 0) is the class's largest count (no count reaches max).
  auto fullest = ts.tenant_load.lower_bound({lowest, std::numeric_limits<size_t>::max(), 0});
  assert(fullest != ts.tenant_load.begin());
  --fullest;
  const auto& [p, most, holder] = *fullest;
  assert(p == lowest);
  if (lowest == priority) {
    const auto mine = ts.tenant_waiting.find({priority, tenant});
    const size_t held = mine == ts.tenant_waiting.end() ? 0 : mine->second.size();
    if (most < held + 2) return nullptr;
  }
  const auto& held_by = ts.tenant_waiting.find({lowest, holder})->second;
  assert(!held_by.empty());
  return record(held_by.begin()->second);
}

void State::TopologyChanged() { ++topology_; }

void State::EnsureTypeSlots(DeviceState& device) const {
  const size_t n = types_.size();
  device.variant.resize(n, kNone);
  device.measured.resize(n, kUnknown);
  device.pessimistic.resize(n, kUnknown);
  device.fastest.resize(n, kUnknown);
  device.windows.resize(n);
  device.alternates.resize(n);
  device.median_in.resize(n, kUnknown);
  device.fallback.resize(n, 0);
}

void State::SetAlternates(DeviceState& dev, const DeviceInfo& info, Ticks now) {
  for (TypeId t = 0; t < static_cast<TypeId>(dev.alternates.size()); ++t) {
    std::vector<AlternateState> next;
    auto degrade = info.degrade.find(type_names_.name(t));
    if (dev.CanRun(t) && degrade != info.degrade.end()) {
      for (const Alternate& alt : degrade->second.alternates) {
        // Below the floor, the primary itself, or listed twice: never a choice.
        if (alt.accuracy < degrade->second.floor ||
            alt.variant == variant_names_.name(dev.variant[t])) {
          continue;
        }
        const int32_t v = variant_names_.Intern(alt.variant);
        if (std::any_of(next.begin(), next.end(),
                        [v](const AlternateState& a) { return a.variant == v; })) {
          continue;
        }
        AlternateState& a = next.emplace_back();
        a.variant = v;
        a.accuracy = alt.accuracy;
        for (AlternateState& old : dev.alternates[t]) {
          if (old.variant == v) a.window = std::move(old.window);
        }
        a.window.prior = alt.reported_service.count() > 0 ? alt.reported_service.count() : kUnknown;
        RefreshAlternate(a, now);
      }
      std::stable_sort(next.begin(), next.end(),
                       [](const auto& x, const auto& y) { return x.accuracy > y.accuracy; });
    }
    // DetachVariants already uncounted the device's old list.
    if (!next.empty()) {
      ++types_[t].degradable;
      types_[t].top_accuracies.insert(next.front().accuracy);  // most accurate first
    }
    dev.alternates[t] = std::move(next);
  }
}

void State::RefreshAlternate(AlternateState& a, Ticks now) const {
  const ServiceWindow::Summary summary =
      a.window.Summarise(now - options_.estimate_horizon.count(), options_.admission_quantile);
  if (summary.median == kUnknown && a.window.prior == kUnknown && !a.window.samples.empty()) {
    return;
  }
  a.measured = summary.median;
  a.pessimistic = summary.quantile;
  a.fastest = summary.fastest;
}

// With nothing measured or reported for the alternate, the primary's estimate:
// no gain is assumed that was never seen.
Ticks State::AlternateEstimate(const AlternateState& a, TypeId t, DeviceIndex d) const {
  return a.measured != kUnknown ? a.measured : Estimate(t, d);
}

Ticks State::AlternatePessimistic(const AlternateState& a, TypeId t, DeviceIndex d) const {
  if (a.measured == kUnknown) return Pessimistic(t, d);
  return a.pessimistic != kUnknown ? std::max(a.pessimistic, a.measured) : a.measured;
}

bool State::Backlogged(TypeId t) const {
  const TypeState& ts = types_[t];
  if (ts.degradable == 0) return false;
  const double backlog = options_.degrade_backlog;
  return ts.pressured ||
         (backlog > 0 && static_cast<double>(ts.queued) >=
                             backlog * static_cast<double>(std::max(options_.queue_capacity, 1)));
}

void State::RefreshPressure(Ticks now, int limit) {
  bool any = false;
  for (TypeState& ts : types_) {
    ts.pressured = false;
    any = any || (ts.degradable > 0 && ts.queued > 0);
  }
  if (!any) return;
  // Per type: requests per tick its available devices complete, and how many
  // requests come before the next one in deadline order: at first those in
  // flight on its devices (as whole runs: the bound errs towards degrading).
  pressure_rate_.assign(types_.size(), kUnknown);
  pressure_ahead_.assign(types_.size(), 0);
  // The sums over t's available devices, as the scan mode takes them.
  auto summed = [&](TypeId t) {
    std::pair<absl::int128, int64_t> sums{0, 0};
    for (DeviceIndex d : AvailableFor(t)) {
      sums.first += PressureRate(devices_[d].info.slots, Estimate(t, d));
      sums.second += devices_[d].load();
    }
    return sums;
  };
  int seen = 0;
  for (const auto& [deadline, id] : deadlines_) {
    if (++seen > limit) break;
    const TypeId t = records_.find(id)->second.entry.type;
    TypeState& ts = types_[t];
    if (ts.degradable == 0 || ts.pressured) continue;
    absl::int128& rate = pressure_rate_[t];
    if (rate == kUnknown) {
      if (options_.finish_index) {  // kept by the index
        rate = ts.pressure_rate;
        pressure_ahead_[t] = ts.pressure_load;
        assert(std::make_pair(rate, pressure_ahead_[t]) == summed(t));
      } else {
        std::tie(rate, pressure_ahead_[t]) = summed(t);
      }
    }
    const double ahead = static_cast<double>(++pressure_ahead_[t]);
    const double per_tick = static_cast<double>(rate) * 0x1p-64;
    if (per_tick > 0 && static_cast<double>(now) + ahead / per_tick > static_cast<double>(deadline)) {
      ts.pressured = true;
    }
  }
}

void State::StartWaiting(DeviceState& device, Ticks now) {
  for (InFlightEntry& e : device.in_flight) {
    if (device.running >= device.info.slots) break;
    if (e.started == kNever) {
      e.started = now;
      ++device.running;
    }
  }
}

std::string State::KnownTypes() const {
  std::vector<std::string> names;
  for (TypeId t = 0; t < type_names_.size(); ++t) {
    if (types_[t].runners > 0) names.push_back(type_names_.name(t));
  }
  std::sort(names.begin(), names.end());
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

}  // namespace heteroaccel::scheduler::internal

namespace heteroaccel::scheduler::internal {

int State::KindRank(KindId k) const {
  const auto& preference = options_.kind_preference;
  for (size_t i = 0; i < preference.size(); ++i) {
    if (k != kNone && preference[i] == kind_names_.name(k)) return static_cast<int>(i);
  }
  return static_cast<int>(preference.size());
}

}  // namespace heteroaccel::scheduler::internal
