#include "scheduler/internal/state.h"

#include <algorithm>
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
  for (DeviceState& device : devices_) EnsureTypeSlots(device);

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
    dev.variant[t] = variant;
    variant_names_.Intern(variant);
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
  TopologyChanged();
  return absl::OkStatus();
}

std::vector<Request> State::RemoveDevice(const DeviceKey& key) {
  const DeviceIndex d = FindDevice(key);
  if (d == kNone || !devices_[d].present) return {};
  std::vector<Request> out = TakeInFlight(d);
  DetachVariants(d);
  devices_[d].present = false;
  TopologyChanged();
  return out;
}

void State::SetNodeUp(const std::string& node, bool up) {
  for (DeviceState& dev : devices_) {
    if (dev.present && dev.info.key.node == node) dev.info.up = up;
  }
  TopologyChanged();
}

std::vector<Request> State::FailDevice(const DeviceKey& key) {
  const DeviceIndex d = FindDevice(key);
  if (d == kNone || !devices_[d].present) return {};
  devices_[d].info.up = false;
  TopologyChanged();
  return TakeInFlight(d);
}

std::vector<Request> State::FailNode(const std::string& node) {
  std::vector<Request> out;
  for (DeviceIndex d : sorted_devices_) {
    if (devices_[d].present && devices_[d].info.key.node == node) {
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
  if (ts.queued >= static_cast<size_t>(options_.queue_capacity)) {
    const Record* victim = displaced != nullptr ? Displaceable(t, request.priority) : nullptr;
    if (victim == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("queue for inference type '", request.type,
                                                       "' is full (capacity ",
                                                       options_.queue_capacity, " requests)"));
    }
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
  const Ticks start = StartTag(priority, request.tenant, t);
  const QueueKey key{-priority, 1, start / options_.fair_quantum.count(), entry.deadline,
                     next_seq_++};
  queue_.emplace(key, entry);
  if (entry.deadline != kNever) deadlines_.emplace(entry.deadline, entry.id);
  CountQueued(key, entry, true);
  Record record{std::move(request), entry, key, start, true, kNone};
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
    std::vector<std::string> groups;
    bool found = false;
    for (const DeviceState& dev : devices_) {
      if (!dev.present || !dev.CanRun(t)) continue;
      for (const std::string& name : dev.info.groups) groups.push_back(name);
      found |= (dev.groups & bit) != 0 &&
               (entry.pinned_device == kNone || &dev == &devices_[entry.pinned_device]) &&
               (entry.pinned_kind == kNone || dev.kind == entry.pinned_kind);
    }
    if (!found) {
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
    std::vector<std::string> served;
    bool found = false;
    for (const DeviceState& dev : devices_) {
      if (!dev.present || !dev.CanRun(t)) continue;
      served.push_back(dev.variant[t]);
      found |= v != kNone && dev.variant[t] == request.pinned_variant &&
               (entry.pinned_device == kNone || &dev == &devices_[entry.pinned_device]) &&
               (entry.pinned_kind == kNone || dev.kind == entry.pinned_kind) &&
               (entry.group == kNone || ((dev.groups >> entry.group) & 1) != 0);
    }
    if (!found) {
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
    entry.pinned_variant = v;
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
  CountQueued(record->second.key, entry, false);
  out.push_back(std::move(record->second.request));
  records_.erase(record);
  return queue_.erase(it);
}

std::vector<Request> State::ExpireDeadlines(bool infeasible_too, SlotSchedule& schedule) {
  std::vector<Request> out;
  if (deadlines_.empty()) return out;
  const Ticks now = Now();
  std::vector<uint64_t> expired;
  // No request can need longer than `horizon` on a device it may use: deadlines
  // beyond it are met by any candidate, and the scan stops there.
  Ticks horizon = now;
  if (infeasible_too) {
    BeginPass();
    BuildSchedule(now, schedule);
    for (TypeId t = 0; t < static_cast<TypeId>(types_.size()); ++t) {
      if (types_[t].queued == 0) continue;
      for (const Candidate& c : Candidates(t)) {
        horizon = std::max(horizon, schedule.earliest(c.device) + c.fastest);
      }
    }
  }
  // By type, and whether the request may degrade.
  std::vector<Ticks> unpinned_finish(2 * types_.size(), kUnknown);
  for (const auto& [deadline, id] : deadlines_) {
    if (deadline <= now) {
      expired.push_back(id);
      continue;
    }
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
        finish = std::min(finish, schedule.earliest(c.device) + fastest);
      }
      if (!pinned) unpinned_finish[slot] = finish;
    }
    // With no up device the request waits: one may come back before the deadline.
    if (finish != kNever && finish > deadline) expired.push_back(id);
  }
  for (uint64_t id : expired) Remove(queue_.find(records_.find(id)->second.key), out);
  return out;
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
  if (variant.empty() || variant == devices_[d].variant[t]) return Estimate(t, d);
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
  std::vector<std::vector<double>> seconds;
  std::vector<double> slots;
  std::vector<DeviceIndex> up;
  for (DeviceIndex d : sorted_devices_) {
    if (devices_[d].available()) {
      up.push_back(d);
      slots.push_back(devices_[d].info.slots);
    }
  }
  for (const auto& [type, weight] : mix) {
    if (!(weight > 0)) continue;
    const TypeId t = type_names_.Find(type);
    if (t == kNone) return 0;
    share.push_back(weight);
    std::vector<double>& row = seconds.emplace_back();
    for (DeviceIndex d : up) {
      row.push_back(devices_[d].CanRun(t)
                        ? static_cast<double>(std::max<Ticks>(1, Estimate(t, d))) * 1e-9
                        : 0.0);
    }
  }
  return MaxMixRate(share, seconds, slots);
}

const Record* State::record(uint64_t id) const {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

// --- For policies ------------------------------------------------------------------

const std::vector<Candidate>& State::Candidates(TypeId t) const {
  TypeState& ts = types_[t];
  if (ts.prepared_pass == pass_) return ts.candidates;
  if (ts.available_topology != topology_) {
    ts.available.clear();
    for (DeviceIndex d : sorted_devices_) {
      if (devices_[d].available() && devices_[d].CanRun(t)) ts.available.push_back(d);
    }
    ts.available_topology = topology_;
  }
  ts.candidates.clear();
  for (DeviceIndex d : ts.available) {
    Ticks degraded_fastest = kNever;
    for (const AlternateState& a : devices_[d].alternates[t]) {
      const Ticks fastest = a.fastest != kUnknown ? std::min(a.fastest, AlternateEstimate(a, t, d))
                                                  : AlternateEstimate(a, t, d);
      degraded_fastest = std::min(degraded_fastest, fastest);
    }
    ts.candidates.push_back({d, devices_[d].kind, variant_names_.Find(devices_[d].variant[t]),
                             Estimate(t, d), Pessimistic(t, d), Fastest(t, d), degraded_fastest,
                             devices_[d].groups});
  }
  ts.prepared_pass = pass_;
  return ts.candidates;
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

int State::FreeRoom() const {
  int room = 0;
  for (const DeviceState& dev : devices_) {
    if (dev.available()) room += std::max(0, dev.capacity - dev.load());
  }
  return room;
}

int State::TotalCapacity() const {
  int capacity = 0;
  for (const DeviceState& dev : devices_) {
    if (dev.available()) capacity += dev.capacity;
  }
  return capacity;
}

void State::ScheduleDevice(DeviceIndex d, Ticks now, SlotSchedule& schedule) const {
  const DeviceState& dev = devices_[d];
  const int slots = dev.info.slots;
  schedule.AddDevice(d, slots, now);
  // Requests holding a slot finish after the rest of their estimate (at least now);
  // the others wait on the device and take the earliest slot in bind order.
  int running = 0;
  for (const InFlightEntry& e : dev.in_flight) {
    if (e.started != kNever && running < slots) {
      schedule.SetRunning(d, running++, std::max(now, e.started + InFlightEstimate(e, d)));
    }
  }
  schedule.Seal(d);
  running = 0;
  for (const InFlightEntry& e : dev.in_flight) {
    if (e.started != kNever && running < slots) {
      ++running;
      continue;
    }
    schedule.Occupy(d, schedule.earliest(d) + InFlightEstimate(e, d));
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

void State::BuildSchedule(Ticks now, SlotSchedule& schedule) const {
  schedule.Reset(device_count());
  for (DeviceIndex d = 0; d < device_count(); ++d) {
    if (devices_[d].available()) ScheduleDevice(d, now, schedule);
  }
}

Ticks State::ExpectedFinish(DeviceIndex d, TypeId t, Ticks now) const {
  scratch_.Reset(d + 1);
  ScheduleDevice(d, now, scratch_);
  return scratch_.earliest(d) + Estimate(t, d);
}

Ticks State::Estimate(TypeId t, DeviceIndex d) const {
  const DeviceState& dev = devices_[d];
  if (t < static_cast<TypeId>(dev.measured.size()) && dev.measured[t] != kUnknown) {
    return dev.measured[t];
  }
  RefreshMedians(t);
  const TypeState& ts = types_[t];
  for (const auto& [kind, median] : ts.kind_medians) {
    if (kind == dev.kind) return median;
  }
  return ts.any_median != kUnknown ? ts.any_median : options_.default_service.count();
}

void ServiceWindow::Add(Ticks at, Ticks service, size_t capacity) {
  if (samples.size() < capacity) {
    samples.emplace_back(at, service);
    next = samples.size() % capacity;
    return;
  }
  samples[next] = {at, service};
  next = (next + 1) % capacity;
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
  std::sort(values, values + n);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  return {values[(n - 1) / 2], values[std::clamp<size_t>(rank, 1, n) - 1], values[0]};
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
    ++types_[t].estimates_version;
  }
}

bool State::ProbeDue(DeviceIndex d, TypeId t, Ticks now) const {
  if (options_.probe_interval.count() <= 0) return false;
  const DeviceState& dev = devices_[d];
  if (!dev.available() || !dev.CanRun(t) || dev.load() > 0) return false;
  const ServiceWindow& window = dev.windows[t];
  const Ticks interval = options_.probe_interval.count();
  if (window.watched_since == kUnknown || now - window.watched_since < interval) return false;
  if (window.last_probe != kUnknown && now - window.last_probe < interval) return false;
  return window.Fresh(now - options_.estimate_horizon.count()) < options_.confirming_samples;
}

Ticks State::BestCase(TypeId t, DeviceIndex d) const {
  const ServiceWindow& window = devices_[d].windows[t];
  Ticks best = window.prior;
  for (const auto& [at, service] : window.samples) {
    if (best == kUnknown || service < best) best = service;
  }
  return best == kUnknown ? Estimate(t, d) : std::min(best, Estimate(t, d));
}

void State::RefreshMedians(TypeId t) const {
  TypeState& ts = types_[t];
  if (ts.medians_version == ts.estimates_version) return;
  std::vector<std::pair<KindId, Ticks>> known;
  for (const DeviceState& dev : devices_) {
    if (dev.present && dev.CanRun(t) && dev.measured[t] != kUnknown) {
      known.emplace_back(dev.kind, dev.measured[t]);
    }
  }
  auto median = [](const std::vector<Ticks>& sorted) {
    const size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  };
  std::sort(known.begin(), known.end());
  ts.kind_medians.clear();
  std::vector<Ticks> values;
  for (size_t i = 0; i < known.size();) {
    values.clear();
    size_t j = i;
    for (; j < known.size() && known[j].first == known[i].first; ++j) {
      values.push_back(known[j].second);
    }
    ts.kind_medians.emplace_back(known[i].first, median(values));
    i = j;
  }
  values.clear();
  for (const auto& [kind, value] : known) values.push_back(value);
  std::sort(values.begin(), values.end());
  ts.any_median = values.empty() ? kUnknown : median(values);
  ts.medians_version = ts.estimates_version;
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
  CountQueued(record.key, entry, false);
  if (entry.deadline != kNever) deadlines_.erase({entry.deadline, entry.id});
  if (auto fair = fair_.find(record.key.neg_priority); fair != fair_.end()) {
    fair->second.virtual_time = std::max(fair->second.virtual_time, record.start_tag);
  }
  Assignment& a = out.emplace_back();
  a.request_id = entry.id;
  a.device = dev.info.key;
  a.expected_finish = FromTicks(expected_finish);
  if (alternate == kNone) {
    a.variant = dev.variant[entry.type];
  } else {
    a.variant = variant_names_.name(alternate);
    a.degraded_from = dev.variant[entry.type];
  }
  return queue_.erase(it);
}

void State::RefreshSteering(Ticks now) {
  if (steering_at_ != kUnknown && steering_topology_ == topology_ &&
      now - steering_at_ < options_.steering_interval.count()) {
    return;
  }
  steering_at_ = now;
  steering_topology_ = topology_;
  for (TypeState& ts : types_) ts.steered = false;
  for (DeviceState& dev : devices_) dev.support = ~uint64_t{0};
  steered_ = 0;
  if (!options_.lp_steering) return;
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
  CountQueued(record.key, record.entry, true);
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
    if (!dev.variant[t].empty()) {
      --types_[t].runners;
      dev.variant[t].clear();
    }
    if (!dev.alternates[t].empty()) --types_[t].degradable;
  }
}

void State::CountQueued(const QueueKey& key, const QueueEntry& entry, bool added) {
  TypeState& ts = types_[entry.type];
  const bool pinned = IsPinned(entry);
  const std::tuple<int64_t, int64_t, uint64_t> by_class{-key.neg_priority,
                                                         -static_cast<int64_t>(key.seq), entry.id};
  const TypeId t = entry.type;
  if (added) {
    ++ts.queued;
    ts.pinned += pinned ? 1 : 0;
    if (t < 64 && ts.queued > ts.pinned) waiting_ |= uint64_t{1} << t;
    ts.by_class.insert(by_class);
    ++fair_[key.neg_priority].queued;
  } else {
    --ts.queued;
    ts.pinned -= pinned ? 1 : 0;
    if (t < 64 && ts.queued == ts.pinned) waiting_ &= ~(uint64_t{1} << t);
    ts.by_class.erase(by_class);
    // A class whose queue empties ends its busy period: its tags start over.
    auto fair = fair_.find(key.neg_priority);
    if (fair != fair_.end() && --fair->second.queued == 0) fair_.erase(fair);
  }
}

Ticks State::StartTag(int64_t priority, const std::string& tenant, TypeId t) {
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
  RefreshMedians(t);
  const Ticks cost =
      types_[t].any_median != kUnknown ? types_[t].any_median : options_.default_service.count();
  finish = start + std::max<Ticks>(cost, 1);
  return start;
}

const Record* State::Displaceable(TypeId t, int priority) const {
  const TypeState& ts = types_[t];
  if (ts.by_class.empty()) return nullptr;
  const auto& [lowest, neg_seq, id] = *ts.by_class.begin();
  if (lowest >= priority) return nullptr;
  return record(id);
}

void State::TopologyChanged() {
  ++topology_;
  for (TypeState& ts : types_) ++ts.estimates_version;
}

void State::EnsureTypeSlots(DeviceState& device) const {
  const size_t n = types_.size();
  device.variant.resize(n);
  device.measured.resize(n, kUnknown);
  device.pessimistic.resize(n, kUnknown);
  device.fastest.resize(n, kUnknown);
  device.windows.resize(n);
  device.alternates.resize(n);
}

void State::SetAlternates(DeviceState& dev, const DeviceInfo& info, Ticks now) {
  for (TypeId t = 0; t < static_cast<TypeId>(dev.alternates.size()); ++t) {
    std::vector<AlternateState> next;
    auto degrade = info.degrade.find(type_names_.name(t));
    if (dev.CanRun(t) && degrade != info.degrade.end()) {
      for (const Alternate& alt : degrade->second.alternates) {
        // Below the floor, the primary itself, or listed twice: never a choice.
        if (alt.accuracy < degrade->second.floor || alt.variant == dev.variant[t]) continue;
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
    if (!next.empty()) ++types_[t].degradable;
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
  pressure_rate_.assign(types_.size(), -1);
  pressure_ahead_.assign(types_.size(), 0);
  int seen = 0;
  for (const auto& [deadline, id] : deadlines_) {
    if (++seen > limit) break;
    const TypeId t = records_.find(id)->second.entry.type;
    TypeState& ts = types_[t];
    if (ts.degradable == 0 || ts.pressured) continue;
    double& rate = pressure_rate_[t];
    if (rate < 0) {
      rate = 0;
      for (const Candidate& c : Candidates(t)) {
        rate += devices_[c.device].info.slots / static_cast<double>(std::max<Ticks>(c.estimate, 1));
        pressure_ahead_[t] += devices_[c.device].load();
      }
    }
    const double ahead = static_cast<double>(++pressure_ahead_[t]);
    if (rate > 0 && static_cast<double>(now) + ahead / rate > static_cast<double>(deadline)) {
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
