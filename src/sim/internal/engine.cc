#include "sim/internal/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "loadgen/internal/stats.h"
#include "sim/internal/random.h"

namespace heteroaccel::sim::internal {
namespace {

using Nanos = std::chrono::nanoseconds;
constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

const char* KindName(uint8_t kind) {
  static const char* const kNames[] = {"arrive", "at_device", "done", "result", "fault", "back"};
  return kind < 6 ? kNames[kind] : "?";
}

// As the server derives them (cluster_view.cc): the policy's other variants the
// device loaded, no more accurate than its primary when the policy lists it.
void AddAlternates(const DeviceSpec& d, const std::string& type, const DegradeSpec& policy,
                   scheduler::DeviceInfo& info) {
  const std::string& primary = info.variants.at(type);
  std::optional<double> primary_accuracy;
  for (const auto& [variant, accuracy] : policy.variants) {
    if (variant == primary) primary_accuracy = accuracy;
  }
  scheduler::Degradation degradation{policy.floor, {}};
  for (const auto& [variant, accuracy] : policy.variants) {
    const std::optional<double> ms = d.VariantMs(type, variant);
    if (variant == primary || !ms || (primary_accuracy && accuracy > *primary_accuracy)) continue;
    degradation.alternates.push_back({variant, accuracy, Nanos(static_cast<int64_t>(*ms * 1e6))});
  }
  if (!degradation.alternates.empty()) info.degrade[type] = std::move(degradation);
}

}  // namespace

Cluster ExpandCluster(const Scenario& scenario) {
  Cluster cluster;
  std::set<std::string> types;
  for (const NodeSpec& node : scenario.nodes) {
    for (const DeviceSpec& d : node.devices) {
      for (const std::string& t : d.RunTypes()) types.insert(t);
    }
  }
  cluster.types.assign(types.begin(), types.end());
  for (const NodeSpec& node : scenario.nodes) {
    for (const std::string& name : node.Names()) {
      const auto index = static_cast<uint32_t>(cluster.nodes.size());
      const auto first = static_cast<uint32_t>(cluster.devices.size());
      cluster.nodes_named[name].push_back(index);
      if (name != node.name) cluster.nodes_named[node.name].push_back(index);
      for (const DeviceSpec& d : node.devices) {
        ClusterDevice device;
        device.info.key = {name, d.name};
        device.info.kind = d.kind;
        device.info.slots = d.slots;
        device.info.emulated = true;
        for (const std::string& t : d.RunTypes()) {
          auto listed = d.variants.find(t);
          device.info.variants[t] = listed != d.variants.end() ? listed->second.front().first
                                                               : absl::StrCat(t, "@", d.kind);
          device.info.reported_service[t] = Nanos(static_cast<int64_t>(d.MeanMs(t) * 1e6));
          if (auto degrade = scenario.degrade.find(t); degrade != scenario.degrade.end()) {
            AddAlternates(d, t, degrade->second, device.info);
          }
        }
        device.spec = &d;
        device.node = index;
        cluster.devices.push_back(std::move(device));
      }
      cluster.nodes.push_back({name, &node, first, static_cast<uint32_t>(cluster.devices.size())});
    }
  }
  return cluster;
}

const std::vector<uint32_t>& Cluster::NodesNamed(std::string_view ref) const {
  static const std::vector<uint32_t> kNone;
  const auto it = nodes_named.find(absl::string_view(ref.data(), ref.size()));
  return it == nodes_named.end() ? kNone : it->second;
}

std::vector<uint32_t> Cluster::DevicesNamed(std::string_view ref) const {
  const size_t slash = ref.find('/');
  if (slash == std::string_view::npos) return {};
  const std::string_view device = ref.substr(slash + 1);
  std::vector<uint32_t> named;
  for (const uint32_t n : NodesNamed(ref.substr(0, slash))) {
    for (uint32_t d = nodes[n].first_device; d < nodes[n].end_device; ++d) {
      if (devices[d].info.key.device == device) named.push_back(d);
    }
  }
  return named;
}

Engine::Engine(const Scenario& scenario, const SimOptions& options)
    : s_(scenario),
      options_(options),
      cluster_(ExpandCluster(scenario)),
      start_(clock_.Now()),
      tracker_(scenario.max_attempts, clock_) {
  scheduler::Options so;
  so.policy = s_.policy;
  so.queue_capacity = s_.queue_capacity;
  so.lp_steering = options_.lp_steering;
  scheduler_ = std::make_unique<scheduler::Scheduler>(so, clock_);
  devices_.reserve(cluster_.devices.size());
  for (const ClusterDevice& d : cluster_.devices) {
    Device device{&d, std::vector<int64_t>(cluster_.types.size(), -1)};
    for (const std::string& t : d.spec->RunTypes()) {
      const auto i = std::lower_bound(cluster_.types.begin(), cluster_.types.end(), t) -
                     cluster_.types.begin();
      device.mean_ns[static_cast<size_t>(i)] = static_cast<int64_t>(d.spec->MeanMs(t) * 1e6);
    }
    for (const auto& [t, degradation] : d.info.degrade) {
      const auto i = std::lower_bound(cluster_.types.begin(), cluster_.types.end(), t) -
                     cluster_.types.begin();
      device.alternate_ns.resize(cluster_.types.size());
      for (const scheduler::Alternate& a : degradation.alternates) {
        device.alternate_ns[static_cast<size_t>(i)].emplace_back(a.variant,
                                                                 a.reported_service.count());
      }
    }
    device_index_.emplace(d.info.key, static_cast<uint32_t>(devices_.size()));
    devices_.push_back(std::move(device));
  }
  streams_ = ExpandStreams(s_, cluster_.types, camera_names_);
  stream_state_.resize(streams_.size());
  arrivals_seed_ = options_.arrivals_seed.value_or(s_.seed);
  schedules_.reserve(streams_.size());
  for (const Stream& stream : streams_) {
    schedules_.push_back(Schedule(stream, static_cast<uint32_t>(streams_.size()), arrivals_seed_));
  }
  camera_outcomes_.resize(camera_names_.size());
  bench_cameras_.resize(camera_names_.size());
  type_latencies_.resize(cluster_.types.size());
  type_errors_.resize(cluster_.types.size());
  tallies_.resize(devices_.size());
  measure_start_ = Nanos(s_.warmup).count();
  end_ = measure_start_ + Nanos(s_.duration).count();
  half_rtt_ = static_cast<int64_t>(s_.rtt_ms * 1e6 / 2);
  client_rtt_ = static_cast<int64_t>(s_.client_rtt_ms * 1e6);
  service_overhead_ = static_cast<int64_t>(s_.service_overhead_ms * 1e6);
}

// The first kTimedFirst calls are each timed; after them one call in
// kTimedEvery, picked by a hash of the call's number (so that a periodic pattern
// of calls is not sampled at one phase), is timed and counts kTimedEvery times:
// reading the clock around every call cost ~4% of a long run, and a short run
// sampled would scale one cold call's time by kTimedEvery.
template <typename F>
auto Engine::Timed(F f) -> decltype(f()) {
  constexpr uint64_t kTimedFirst = 4096;
  constexpr uint64_t kTimedEvery = 16;
  ++scheduler_calls_;
  const bool every = scheduler_calls_ <= kTimedFirst;
  if (!every && SplitMix64(scheduler_calls_) % kTimedEvery != 0) return f();
  const auto t0 = std::chrono::steady_clock::now();
  struct Stop {
    std::chrono::steady_clock::time_point t0;
    double weight;
    double& sum;
    ~Stop() {
      sum += weight * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } stop{t0, every ? 1.0 : static_cast<double>(kTimedEvery), scheduler_seconds_};
  return f();
}

void Engine::Push(int64_t t, Kind kind, uint64_t id, uint32_t a, uint32_t c, uint32_t gen) {
  events_.push({t, seq_++, id, a, c, gen, kind});
}

void Engine::Log(const Event& e) {
  for (const uint64_t v : {static_cast<uint64_t>(e.t), static_cast<uint64_t>(e.kind), e.id,
                           static_cast<uint64_t>(e.a), static_cast<uint64_t>(e.c)}) {
    hash_ = SplitMix64(hash_ ^ v);
  }
  if (options_.event_log == nullptr) return;
  std::ostream& out = *options_.event_log;
  out << e.t << ' ' << KindName(e.kind);
  switch (e.kind) {
    case kArrive:
      out << " stream=" << e.a;
      break;
    case kAtDevice:
    case kDone:
      out << " id=" << e.id << " attempt=" << e.c << " device="
          << devices_[e.a].cluster->info.key.ToString();
      break;
    case kResult:
      out << " id=" << e.id << " attempt=" << e.c;
      break;
    case kFault:
    case kNodeBack:
      out << " fault=" << e.a;
      break;
  }
  out << '\n';
}

absl::StatusOr<SimReport> Engine::Run() {
  const auto wall_start = std::chrono::steady_clock::now();
  for (const ClusterDevice& d : cluster_.devices) {
    absl::Status s = Timed([&] { return scheduler_->UpsertDevice(d.info); });
    if (!s.ok()) return absl::InvalidArgumentError(s.message());
  }
  for (uint32_t i = 0; i < streams_.size(); ++i) ScheduleNext(i);
  for (uint32_t i = 0; i < s_.faults.size(); ++i) {
    Push(Nanos(s_.faults[i].at).count(), kFault, 0, i);
  }
  const int64_t drain_end = end_ + Nanos(options_.drain_limit).count();
  while (!events_.empty() && events_.top().t <= drain_end) {
    const Event e = events_.top();
    events_.pop();
    now_ = e.t;
    clock_.Set(start_ + Nanos(e.t));
    ++report_.events;
    Log(e);
    Handle(e);
    if (pump_ && (events_.empty() || events_.top().t != now_)) Pump();
    if (now_ >= end_ && open_.empty() && std::all_of(stream_state_.begin(), stream_state_.end(),
                                                     [](const StreamState& s) {
                                                       return s.done;
                                                     })) {
      break;
    }
  }
  // What the drain left open ends here, once.
  std::vector<uint64_t> left;
  for (const auto& [id, o] : open_) left.push_back(id);
  std::sort(left.begin(), left.end());
  for (const uint64_t id : left) {
    Timed([&] { return scheduler_->Cancel(id); });
    Finish(id, End::kUnfinished, absl::UnavailableError("the simulation ended first"));
  }
  if (accounting_errors_ > 0 || tracker_.size() != 0 || ended_ != admitted_ ||
      scheduler_->queued_total() != 0) {
    return absl::InternalError(absl::StrCat(
        "accounting broken: ", admitted_, " admitted, ", ended_, " ended, ", accounting_errors_,
        " ended twice, ", tracker_.size(), " still tracked, ", scheduler_->queued_total(),
        " still queued"));
  }
  SimReport report = Summarise();
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return report;
}

void Engine::Handle(const Event& e) {
  switch (e.kind) {
    case kArrive: {
      StreamState& st = stream_state_[e.a];
      if (streams_[e.a].bounded && st.outstanding) {
        st.pending = true;  // sent when the outstanding one is answered
      } else {
        Send(e.a);
      }
      break;
    }
    case kAtDevice:
      AtDevice(e);
      break;
    case kDone:
      Done(e);
      break;
    case kResult:
      Result(e);
      break;
    case kFault:
      Fault(e.a, false);
      break;
    case kNodeBack:
      Fault(e.a, true);
      break;
  }
}

void Engine::ScheduleNext(uint32_t stream) {
  StreamState& st = stream_state_[stream];
  const int64_t due = schedules_[stream].Next().count();
  st.next_due = due;
  if (due >= end_) {
    st.done = true;
    return;
  }
  Push(std::max(due, now_), kArrive, 0, stream);
}

// Step 1: request next_k of the stream reaches the server now.
void Engine::Send(uint32_t stream) {
  StreamState& st = stream_state_[stream];
  const Stream& spec = streams_[stream];
  const uint64_t k = st.next_k;
  if (now_ > st.next_due && st.next_due >= measure_start_) ++report_.bench.late;
  const uint32_t type = TypeOf(spec, arrivals_seed_, k);
  server::InferWork work;
  work.model = cluster_.types[type];
  work.hints.priority = spec.spec->priority;
  if (options_.camera_tenants) work.hints.camera = camera_names_[spec.camera];
  if (spec.spec->deadline_ms) {
    work.hints.timeout =
        std::chrono::milliseconds(static_cast<int64_t>(std::llround(*spec.spec->deadline_ms)));
  }
  const scheduler::Request& request = tracker_.Admit(std::move(work), nullptr);
  ++admitted_;
  Open o{stream, type, k, now_,
         request.deadline ? Nanos(*request.deadline - start_).count() : kNoDeadline};
  open_.emplace(request.id, o);
  st.outstanding = true;
  ++st.next_k;
  std::vector<scheduler::Request> displaced;
  const uint64_t id = request.id;
  const absl::Status status =
      Timed([&] { return scheduler_->Enqueue(*tracker_.request(id), displaced); });
  for (const scheduler::Request& d : displaced) {
    Finish(d.id, End::kRefused429, absl::ResourceExhaustedError("displaced from a full queue"));
  }
  if (!status.ok()) {
    Finish(id, absl::IsResourceExhausted(status) ? End::kRefused429 : End::kRefused503, status);
  }
  pump_ = true;
  ScheduleNext(stream);
}

void Engine::AtDevice(const Event& e) {
  Device& d = devices_[e.a];
  if (e.gen != d.gen) return;  // its node was lost on the way
  if (d.busy < d.cluster->info.slots) {
    Start(e.a, e.id, e.c, now_);
  } else {
    d.waiting.push_back({e.id, e.c, now_});
  }
}

void Engine::Start(uint32_t device, uint64_t id, uint32_t attempt, int64_t since) {
  Device& d = devices_[device];
  ++d.busy;
  auto it = open_.find(id);
  int64_t service = 0;
  if (it != open_.end()) {
    Open& o = it->second;
    const double factor =
        LognormalFactor(Key(s_.seed, o.stream, o.k, Purpose::kService, attempt), d.cluster->spec->sigma);
    const int64_t mean = o.alternate >= 0
                             ? d.alternate_ns[o.type][static_cast<size_t>(o.alternate)].second
                             : d.mean_ns[o.type];
    service = static_cast<int64_t>(static_cast<double>(mean) * d.factor * factor) +
              service_overhead_;
    if (o.attempt == attempt) {
      o.service = service;
      o.device_wait = now_ - since;
    }
  }
  Push(now_ + service, kDone, id, device, attempt, d.gen);
}

void Engine::Done(const Event& e) {
  Device& d = devices_[e.a];
  if (e.gen != d.gen) return;
  --d.busy;
  Push(now_ + half_rtt_, kResult, e.id, e.a, e.c);
  if (!d.waiting.empty()) {
    const Device::Waiting next = d.waiting.front();
    d.waiting.pop_front();
    Start(e.a, next.id, next.attempt, next.since);
  }
}

// Step 3: the device's answer reaches the server.
void Engine::Result(const Event& e) {
  pump_ = true;
  auto it = open_.find(e.id);
  server::AgentCall call;
  call.request_id = e.id;
  call.attempt = static_cast<int>(e.c);
  call.device = devices_[e.a].cluster->info.key;
  server::AgentReply reply;
  reply.kind = server::AgentReply::Kind::kAnswer;
  reply.http_status = 200;
  const int64_t service = it != open_.end() ? it->second.service : 0;
  reply.compute_seconds = static_cast<double>(service) * 1e-9;
  switch (tracker_.OnReply(call, reply)) {
    case server::RequestTracker::Verdict::kAnswer:
      if (tracker_.in_flight(e.id)) {
        Timed([&] { return scheduler_->Complete(e.id, Nanos(service), true); });
      } else {
        Timed([&] { return scheduler_->Cancel(e.id); });
      }
      Finish(e.id, End::kOk, absl::OkStatus());
      break;
    default:  // stale: the attempt was voided by a node loss
      break;
  }
}

void Engine::Fault(uint32_t index, bool back) {
  const FaultSpec& f = s_.faults[index];
  pump_ = true;
  if (!f.device.empty()) {
    for (const uint32_t d : cluster_.DevicesNamed(f.device)) devices_[d].factor *= f.slowdown;
    return;
  }
  for (const uint32_t n : cluster_.NodesNamed(f.node)) {
    const ClusterNode& node = cluster_.nodes[n];
    if (back) {
      Timed([&] {
        scheduler_->SetNodeUp(node.name, true);
        return 0;
      });
      continue;
    }
    // Step 4: the node's work is lost; the scheduler re-queues what it held.
    for (uint32_t d = node.first_device; d < node.end_device; ++d) {
      ++devices_[d].gen;
      devices_[d].busy = 0;
      devices_[d].waiting.clear();
    }
    const std::vector<scheduler::Request> requeued =
        Timed([&] { return scheduler_->FailNode(node.name); });
    for (const scheduler::Request& r : requeued) {
      if (!tracker_.tracked(r.id)) continue;
      tracker_.OnRequeued(r.id, absl::StrCat("node ", node.name, " lost"));
      requeued_ = true;
    }
  }
  if (!back && f.down_for) Push(now_ + Nanos(*f.down_for).count(), kNodeBack, 0, index);
}

// Step 2, as the dispatcher pumps.
void Engine::Pump() {
  pump_ = false;
  const std::vector<scheduler::Request> expired =
      Timed([&] { return scheduler_->ExpireDeadlines(); });
  for (const scheduler::Request& r : expired) {
    Finish(r.id, End::kExpired,
           absl::DeadlineExceededError("no device could finish it before its deadline"));
  }
  if (requeued_) {
    requeued_ = false;
    for (const uint64_t id : tracker_.Exhausted()) {
      Timed([&] { return scheduler_->Cancel(id); });
      Finish(id, End::kGaveUp, tracker_.GiveUpStatus(id));
    }
  }
  const std::vector<scheduler::Assignment> assignments =
      Timed([&] { return scheduler_->Dispatch(); });
  for (const scheduler::Assignment& a : assignments) {
    if (!tracker_.tracked(a.request_id)) {
      Timed([&] { return scheduler_->Complete(a.request_id, Nanos(0), false); });
      continue;
    }
    const server::AgentCall call = tracker_.Bind(a);
    const uint32_t device = DeviceIndex(a.device);
    Open& o = open_.at(a.request_id);
    o.attempt = static_cast<uint32_t>(call.attempt);
    o.device = device;
    o.alternate = -1;
    if (!a.degraded_from.empty()) {
      const auto& alternates = devices_[device].alternate_ns[o.type];
      for (size_t i = 0; i < alternates.size(); ++i) {
        if (alternates[i].first == a.variant) o.alternate = static_cast<int32_t>(i);
      }
    }
    Push(now_ + half_rtt_, kAtDevice, a.request_id, device, o.attempt, devices_[device].gen);
  }
}

uint32_t Engine::DeviceIndex(const scheduler::DeviceKey& key) const {
  return device_index_.at(key);
}

void Engine::Finish(uint64_t id, End end, absl::Status error) {
  auto it = open_.find(id);
  if (it == open_.end()) {
    ++accounting_errors_;
    return;
  }
  const Open o = it->second;
  open_.erase(it);
  ++ended_;
  const server::RequestTracker::Finished f =
      end == End::kOk ? tracker_.Finish(id, server::AgentReply{server::AgentReply::Kind::kAnswer,
                                                               200})
                      : tracker_.Finish(id, std::move(error));
  // The camera's stream may send again.
  StreamState& st = stream_state_[o.stream];
  st.outstanding = false;
  if (st.pending) {
    // Due while this one was outstanding: sent now, late, unless the run is over.
    st.pending = false;
    if (now_ < end_) {
      Send(o.stream);
    } else {
      st.done = true;
    }
  }
  // SLO accounting: by arrival in the measured window.
  if (o.arrival >= measure_start_ && o.arrival < end_) {
    CameraOutcome& cam = camera_outcomes_[streams_[o.stream].camera];
    ++report_.offered;
    ++cam.offered;
    switch (end) {
      case End::kOk:
        if (now_ <= o.deadline) {
          ++report_.good;
          ++cam.good;
        } else {
          ++report_.late;
        }
        break;
      case End::kExpired:
        ++report_.expired;
        break;
      case End::kRefused429:
      case End::kRefused503:
        ++report_.refused;
        break;
      case End::kGaveUp:
        ++report_.lost_retried;
        break;
      case End::kUnfinished:
        ++report_.unfinished;
        break;
    }
  }
  // Bench accounting: by answer inside the measured window, as the client sees it.
  if (end == End::kUnfinished || now_ < measure_start_ || now_ >= end_) return;
  loadgen::CameraStats& camera = bench_cameras_[streams_[o.stream].camera];
  ++camera.requests;
  if (end == End::kOk) {
    const double ms = static_cast<double>(now_ - o.arrival + client_rtt_) * 1e-6;
    latencies_.push_back(ms);
    ++camera.succeeded;
    // As the client judges it: its own round trip against the deadline it sent.
    const std::optional<double>& deadline_ms = streams_[o.stream].spec->deadline_ms;
    if (deadline_ms && ms <= static_cast<double>(std::llround(*deadline_ms))) {
      ++within_deadline_;
      ++camera.within_deadline;
    }
    type_latencies_[o.type].push_back(ms);
    DeviceTally& t = tallies_[o.device];
    ++t.count;
    t.compute_ms += static_cast<double>(o.service) * 1e-6;
    t.queue_ms += static_cast<double>(o.device_wait) * 1e-6;
    return;
  }
  ++type_errors_[o.type];
  const char* kind = end == End::kExpired ? "504" : end == End::kRefused429 ? "429" : "503";
  ++report_.bench.errors_by_kind[kind];
  report_.bench.error_examples.emplace(kind, std::string(f.result.status.message()));
}

}  // namespace heteroaccel::sim::internal

namespace heteroaccel::sim::internal {

SimReport Engine::Summarise() {
  SimReport report = std::move(report_);
  loadgen::BenchReport& b = report.bench;
  // Configuration echo, as `heteroaccel bench` fills it.
  b.target = absl::StrCat("sim:", s_.name);
  b.cameras = static_cast<int>(camera_names_.size());
  b.mix = cluster_.types;
  b.mode = "open-loop";
  double total_rate = 0;
  for (const CameraSpec& c : s_.cameras) total_rate += c.rate * c.count;
  b.rate = total_rate;
  // The cameras' arrival process when they share one ("mixed" otherwise).
  for (const CameraSpec& c : s_.cameras) {
    const std::string name(ArrivalsName(c.arrivals));
    b.arrivals = b.arrivals.empty() || b.arrivals == name ? name : "mixed";
  }
  b.protocol = "sim";
  b.duration_s = std::chrono::duration<double>(s_.duration).count();
  b.warmup_s = std::chrono::duration<double>(s_.warmup).count();
  // Results over the measured window, as loadgen::internal::Aggregate computes them.
  const double measured_s = b.duration_s;
  b.measured_s = measured_s;
  b.succeeded = latencies_.size();
  for (const uint64_t e : type_errors_) b.errors += e;
  b.requests = b.succeeded + b.errors;
  b.throughput_rps = static_cast<double>(b.succeeded) / measured_s;
  b.achieved_rate_rps = static_cast<double>(b.requests) / measured_s;
  // Attainment as `heteroaccel bench --deadline-ms` reports it, when every camera
  // sends the same deadline.
  std::optional<int> deadline_ms;
  bool uniform = !s_.cameras.empty();
  for (const CameraSpec& c : s_.cameras) {
    const std::optional<int> d =
        c.deadline_ms ? std::optional<int>(static_cast<int>(std::llround(*c.deadline_ms)))
                      : std::nullopt;
    if (&c == &s_.cameras.front()) deadline_ms = d;
    uniform = uniform && d == deadline_ms;
  }
  if (uniform && deadline_ms) {
    b.deadline_ms = deadline_ms;
    b.within_deadline = within_deadline_;
    b.attainment = b.requests > 0 ? static_cast<double>(within_deadline_) /
                                        static_cast<double>(b.requests)
                                  : 0;
  }
  b.latency = loadgen::internal::Summarize(latencies_);
  for (size_t t = 0; t < cluster_.types.size(); ++t) {
    if (type_latencies_[t].empty() && type_errors_[t] == 0) continue;
    loadgen::TypeStats& stats = b.per_type[cluster_.types[t]];
    stats.latency = loadgen::internal::Summarize(type_latencies_[t]);
    stats.count = stats.latency.count;
    stats.errors = type_errors_[t];
  }
  for (size_t d = 0; d < devices_.size(); ++d) {
    const DeviceTally& t = tallies_[d];
    if (t.count == 0) continue;
    const scheduler::DeviceInfo& info = devices_[d].cluster->info;
    const auto n = static_cast<double>(t.count);
    b.per_device[info.key.ToString()] = {info.key.node,
                                         info.key.device,
                                         info.kind,
                                         true,
                                         t.count,
                                         n / static_cast<double>(b.succeeded),
                                         t.compute_ms / n,
                                         t.queue_ms / n};
  }
  // SLO view.
  report.attainment =
      report.offered == 0 ? 1.0
                          : static_cast<double>(report.good) / static_cast<double>(report.offered);
  report.goodput_rps = static_cast<double>(report.good) / measured_s;
  std::vector<double> attainments;
  for (size_t c = 0; c < camera_names_.size(); ++c) {
    report.cameras[camera_names_[c]] = camera_outcomes_[c];
    attainments.push_back(camera_outcomes_[c].attainment());
  }
  report.jain_attainment = JainIndex(attainments);
  // The same per camera as bench reports it (loadgen::internal::AggregateCameras).
  std::vector<bool> has_deadline(camera_names_.size(), false);
  for (const Stream& stream : streams_) {
    if (stream.spec->deadline_ms) has_deadline[stream.camera] = true;
  }
  std::vector<double> bench_attainments;
  for (size_t c = 0; c < camera_names_.size(); ++c) {
    loadgen::CameraStats stats = bench_cameras_[c];
    loadgen::internal::FinishCameraStats(stats, has_deadline[c], measured_s);
    bench_attainments.push_back(stats.attainment);
    b.per_camera[camera_names_[c]] = stats;
  }
  b.jain_attainment = JainIndex(bench_attainments);
  report.event_log_hash = hash_;
  report.scheduler_seconds = scheduler_seconds_;
  report.requests_total = admitted_;
  return report;
}

}  // namespace heteroaccel::sim::internal
