#include "server/dispatcher.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "protocol/errors.h"
#include "scheduler/scheduler.h"
#include "server/cluster_view.h"
#include "server/placement.h"
#include "server/request_tracker.h"

namespace heteroaccel::server {
namespace {

using Nanos = std::chrono::nanoseconds;

struct Metrics {
  explicit Metrics(metrics::Registry& r)
      : requests(r.AddCounter("heteroaccel_server_requests_total",
                              "Requests answered by the server, by model and HTTP status",
                              {"model", "code"})),
        latency(r.AddHistogram("heteroaccel_server_request_seconds",
                               "From arrival at the server to the answer", {"model"},
                               metrics::ExponentialBuckets(0.0005, 2, 16))),
        queue(r.AddHistogram("heteroaccel_server_queue_seconds",
                             "From arrival to being bound to a device", {"model"},
                             metrics::ExponentialBuckets(0.00005, 2.5, 14))),
        dispatched(r.AddCounter("heteroaccel_server_dispatched_total", "Requests sent to a device",
                                {"node", "device", "kind", "emulated"})),
        retries(r.AddCounter("heteroaccel_server_retries_total",
                             "Requests re-queued: agent_busy (429), device_error (the request "
                             "failed on that device), or its node lost (connection_lost, "
                             "heartbeat_lost, agent_restarted, device_removed)",
                             {"reason"})),
        nodes(r.AddGauge("heteroaccel_server_nodes", "Registered nodes by state", {"state"})),
        node_up(r.AddGauge("heteroaccel_server_node_up",
                           "1 while the node's heartbeats arrive, 0 once it is marked down",
                           {"node", "group"})),
        heartbeat_age(r.AddGauge("heteroaccel_server_node_heartbeat_age_seconds",
                                 "Seconds since the node's last heartbeat", {"node"})),
        queued(r.AddGauge("heteroaccel_server_queued", "Requests waiting for a device", {"model"})),
        degraded(r.AddCounter("heteroaccel_degraded_requests_total",
                              "Attempts sent to run a faster variant (to) than their device's "
                              "primary one (from) under load, within the operator's accuracy "
                              "floor (registry degrade)",
                              {"type", "from", "to"})) {}
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& latency;
  metrics::Family<metrics::Histogram>& queue;
  metrics::Family<metrics::Counter>& dispatched;
  metrics::Family<metrics::Counter>& retries;
  metrics::Family<metrics::Gauge>& nodes;
  metrics::Family<metrics::Gauge>& node_up;
  metrics::Family<metrics::Gauge>& heartbeat_age;
  metrics::Family<metrics::Gauge>& queued;
  metrics::Family<metrics::Counter>& degraded;
};

scheduler::Options SchedulerOptions(const ServerConfig& config, bool record_candidates) {
  scheduler::Options options;
  options.record_candidates = record_candidates;
  if (auto policy = scheduler::ParsePolicy(config.policy); policy.ok()) options.policy = *policy;
  options.queue_capacity = config.queue_capacity;
  options.pipeline_depth = config.pipeline_depth;
  options.static_kinds = config.static_kinds;
  options.kind_preference = config.kind_preference;
  return options;
}

}  // namespace

class Dispatcher::Impl {
 public:
  Impl(const ServerConfig& config, metrics::Registry& registry, Clock& clock, AgentChannel& channel,
       DispatchObserver* observer)
      : config_(config),
        clock_(clock),
        channel_(channel),
        observer_(observer),
        metrics_(registry),
        view_(config.registry),
        scheduler_(SchedulerOptions(config, observer != nullptr), clock),
        tracker_(config.max_attempts, clock) {
    channel_.SetReplyCallback(
        [this](const AgentCall& call, AgentReply reply) { OnReply(call, std::move(reply)); });
    registry.AddCollectHook([this] { RefreshGauges(); });
  }

  ~Impl() { Stop(); }

  void Start() {
    watchdog_ = std::thread([this] { Watchdog(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    channel_.Stop();  // its last replies are ignored: everything open is answered below
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (uint64_t id : tracker_.ids()) {
        effects.answers.push_back(
            tracker_.Finish(id, absl::UnavailableError("the server is shutting down")));
      }
    }
    Run(effects);
  }

  // Step 1.
  void Submit(InferWork work, InferDone done) {
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      absl::Status refused;
      if (stopped_) {
        refused = absl::UnavailableError("the server is shutting down");
      } else if (view_.empty()) {
        refused = absl::UnavailableError("no agent has registered with this server yet");
      }
      if (!refused.ok()) {
        metrics_.requests.WithLabels({ModelLabel(work.model), CodeLabel(refused)}).Increment();
        InferResult result;
        result.status = std::move(refused);
        effects.direct.emplace_back(std::move(done), std::move(result));
      } else {
        if (observer_ != nullptr && view_.Serves(work.model)) observer_->OnArrival(work.model);
        scheduler::Request request = tracker_.Admit(std::move(work), std::move(done));
        const uint64_t id = request.id;
        std::vector<scheduler::Request> displaced;
        if (absl::Status s = scheduler_.Enqueue(request, displaced); !s.ok()) {
          effects.answers.push_back(Finish(id, std::move(s)));
        }
        AnswerDisplaced(displaced, request, effects);
        Pump(effects);
      }
    }
    Run(effects);
  }

  absl::StatusOr<cluster::HeartbeatReply> Heartbeat(cluster::NodeReport report) {
    Effects effects;
    cluster::HeartbeatReply reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return absl::UnavailableError("the server is shutting down");
      const std::string node = report.node;
      ClusterView::HeartbeatChanges changes = view_.ApplyHeartbeat(std::move(report), clock_.Now());
      if (changes.url_changed) {
        // A new agent process at this node: what the old one held is lost.
        spdlog::warn("node {} restarted at {}; retrying what it held", node, changes.url);
        Requeue(scheduler_.FailNode(node), "agent_restarted", "its agent restarted");
      }
      for (const scheduler::DeviceKey& key : changes.removed) {
        Requeue(scheduler_.RemoveDevice(key), "device_removed", "its device was removed");
        effects.removes.push_back(key);
      }
      for (scheduler::DeviceInfo& info : changes.devices) {
        const int concurrency = info.slots + config_.pipeline_depth;
        effects.adds.push_back({info.key, changes.url, concurrency});
        // The contract checked the report, so the scheduler accepts it.
        if (absl::Status s = scheduler_.UpsertDevice(std::move(info)); !s.ok()) {
          spdlog::error("node {}: {}", node, s.ToString());
        }
      }
      if (changes.came_up || changes.url_changed) {
        scheduler_.SetNodeUp(node, true);
        spdlog::info("node {} is up at {}", node, changes.url);
      }
      reply.send_model_info = changes.need_model_info;
      Pump(effects);
    }
    Run(effects);
    return reply;
  }

  // Step 4.
  void Tick() {
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      for (const std::string& node :
           view_.Silent(clock_.Now(), std::chrono::milliseconds(config_.node_timeout_ms))) {
        FailNode(node, "heartbeat_lost");
      }
      Pump(effects);
    }
    Run(effects);
  }

  bool Ready() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.AnyUp();
  }
  bool CanRun(const std::string& model) const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.CanRun(model);
  }
  std::vector<std::string> Models() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.Models();
  }
  nlohmann::json ClusterJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.ClusterJson(scheduler_, clock_.Now());
  }
  nlohmann::json VariantsJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.VariantsJson();
  }
  nlohmann::json ModelJson(const std::string& model) const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.ModelJson(model, scheduler_);
  }
  nlohmann::json RegistryJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return RegistryToJson(view_.registry());
  }
  void SetNodeSettings(const std::string& node, NodeSettings settings) {
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.SetNodeSettings(node, std::move(settings));
      for (scheduler::DeviceInfo& info : view_.Rederive()) {
        if (absl::Status s = scheduler_.UpsertDevice(std::move(info)); !s.ok()) {
          spdlog::error("node settings: {}", s.ToString());
        }
      }
      Pump(effects);
    }
    Run(effects);
  }
  nlohmann::json NodesJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.NodesJson(clock_.Now());
  }
  std::optional<NodeSettings> NodeSettingsOf(const std::string& node) const {
    std::lock_guard<std::mutex> lock(mu_);
    const NodeSettings* settings = view_.node_settings(node);
    return settings == nullptr ? std::nullopt : std::optional<NodeSettings>(*settings);
  }

  absl::Status SetRegistry(std::map<std::string, InferenceType> registry) {
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      InstallLocked(
          {scheduler::PolicyName(scheduler_.options().policy).data(), std::move(registry)},
          effects);
      ++version_;
    }
    Run(effects);
    return absl::OkStatus();
  }

  PlacementState CurrentLocked() const {
    return {std::string(scheduler::PolicyName(scheduler_.options().policy)), view_.registry()};
  }
  nlohmann::json PlacementJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return server::PlacementJson(version_, CurrentLocked(), view_.inventory());
  }
  PlacementState placement() const {
    std::lock_guard<std::mutex> lock(mu_);
    return CurrentLocked();
  }
  absl::StatusOr<PlacementApplied> ApplyPlacement(const PlacementChange& change) {
    Effects effects;
    PlacementApplied applied;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (change.version && *change.version != version_) {
        return StaleVersion(*change.version);
      }
      const Inventory inventory = view_.inventory();
      auto next = ApplyPlacementChange(CurrentLocked(), change, inventory);
      if (!next.ok()) return next.status();
      applied = InstallAndDescribe(*std::move(next), inventory, effects);
    }
    Run(effects);
    return applied;
  }
  absl::StatusOr<PlacementApplied> SetPlacement(const PlacementState& state,
                                                int64_t expected_version) {
    Effects effects;
    PlacementApplied applied;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (expected_version != version_) return StaleVersion(expected_version);
      applied = InstallAndDescribe(state, view_.inventory(), effects);
    }
    Run(effects);
    return applied;
  }
  void RestorePlacement(const PlacementState& state, int64_t version) {
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      InstallLocked(state, effects);
      version_ = version;
    }
    Run(effects);
  }
  absl::StatusOr<nlohmann::json> WhatIf(const PlacementChange& change,
                                        std::map<std::string, double> mix) const {
    std::lock_guard<std::mutex> lock(mu_);
    const Inventory inventory = view_.inventory();
    auto next = ApplyPlacementChange(CurrentLocked(), change, inventory);
    if (!next.ok()) return next.status();
    if (mix.empty()) {  // idle: equal shares of what the cluster serves
      for (const auto& [type, kinds] : inventory) mix[type] = 1.0 / inventory.size();
    }
    const std::vector<scheduler::DeviceInfo> proposed = view_.DevicesUnder(next->registry);
    nlohmann::json served = nlohmann::json::object();
    for (const auto& entry : mix) {
      const std::string& type = entry.first;
      served[type] = std::any_of(proposed.begin(), proposed.end(),
                                 [&](const auto& d) { return d.up && d.variants.count(type) > 0; });
    }
    return nlohmann::json{{"mix", mix},
                          {"current_rps", IdealOf(view_.DevicesUnder(view_.registry()), mix)},
                          {"proposed_rps", IdealOf(proposed, mix)},
                          {"served", std::move(served)}};
  }
  nlohmann::json FleetJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.FleetJson(scheduler_, clock_.Now());
  }
  size_t QueuedOf(const std::string& type) const {
    std::lock_guard<std::mutex> lock(mu_);
    return scheduler_.queued(type);
  }
  nlohmann::json SdTargets(const std::string& server_target) const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.SdTargets(server_target);
  }
  double IdealThroughput(const std::map<std::string, double>& mix) const {
    std::lock_guard<std::mutex> lock(mu_);
    return scheduler_.IdealThroughput(mix);
  }
  size_t open_requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tracker_.size();
  }
  k8s::ClusterSnapshot ExtenderSnapshot(const std::vector<std::string>& nodes) const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_.ExtenderSnapshot(nodes, scheduler_);
  }

 private:
  struct PathChange {
    scheduler::DeviceKey device;
    std::string url;
    int concurrency = 1;
  };
  // What a locked section decided, carried out by Run once the lock is released.
  struct Effects {
    std::vector<PathChange> adds;
    std::vector<scheduler::DeviceKey> removes;
    std::vector<AgentCall> sends;
    std::vector<RequestTracker::Finished> answers;
    std::vector<std::pair<InferDone, InferResult>> direct;  // refused before being tracked
  };

  static absl::Status StaleVersion(int64_t version) {
    return absl::AbortedError(absl::StrCat(
        "the placement changed since version ", version,
        " (someone else changed it meanwhile); reload it and apply your change again"));
  }

  // Makes `state` the placement: the policy for the next Dispatch, each
  // device's variants re-derived and upserted at once (their estimates kept).
  void InstallLocked(const PlacementState& state, Effects& effects) {
    if (auto policy = scheduler::ParsePolicy(state.policy); policy.ok()) {
      scheduler_.SetPolicy(*policy);
    }
    view_.SetRegistry(state.registry);
    for (scheduler::DeviceInfo& info : view_.Rederive()) {
      if (absl::Status s = scheduler_.UpsertDevice(std::move(info)); !s.ok()) {
        spdlog::error("placement: {}", s.ToString());
      }
    }
    Pump(effects);
  }

  PlacementApplied InstallAndDescribe(PlacementState next, const Inventory& inventory,
                                      Effects& effects) {
    PlacementApplied applied;
    applied.before = CurrentLocked();
    applied.before_view = server::PlacementJson(version_, applied.before, inventory);
    InstallLocked(next, effects);
    ++version_;
    applied.after = std::move(next);
    applied.after_view = server::PlacementJson(version_, applied.after, inventory);
    applied.version = version_;
    return applied;
  }

  // The ideal throughput of `mix` on `devices` (as ClusterView::DevicesUnder
  // derives them): each device's estimate for a variant it already runs, else
  // the service time its agent measured for that variant.
  double IdealOf(std::vector<scheduler::DeviceInfo> devices,
                 const std::map<std::string, double>& mix) const {
    scheduler::Scheduler what_if(scheduler_.options(), clock_);
    for (scheduler::DeviceInfo& info : devices) {
      const scheduler::DeviceInfo* now = view_.device(info.key);
      for (const auto& [type, variant] : info.variants) {
        if (now == nullptr) continue;
        auto running = now->variants.find(type);
        if (running == now->variants.end() || running->second != variant) continue;
        if (auto estimate = scheduler_.service_estimate(type, info.key)) {
          info.reported_service[type] = *estimate;
        }
      }
      const bool up = info.up;
      const std::string node = info.key.node;
      (void)what_if.UpsertDevice(std::move(info));
      if (!up) what_if.SetNodeUp(node, false);
    }
    return what_if.IdealThroughput(mix);
  }

  void Run(Effects& effects) {
    for (const PathChange& p : effects.adds) channel_.AddDevice(p.device, p.url, p.concurrency);
    for (const scheduler::DeviceKey& key : effects.removes) channel_.RemoveDevice(key);
    for (AgentCall& call : effects.sends) channel_.Send(std::move(call));
    for (RequestTracker::Finished& f : effects.answers) {
      if (f.done) f.done(std::move(f.result));
    }
    for (auto& [done, result] : effects.direct) done(std::move(result));
  }

  static std::string CodeLabel(const absl::Status& status) {
    return status.ok() ? "200" : std::to_string(protocol::HttpStatusFor(status));
  }

  // Step 5: the one way out.
  RequestTracker::Finished Finish(uint64_t id, absl::Status error) {
    return Record(tracker_.Finish(id, std::move(error)), std::nullopt, std::nullopt);
  }
  RequestTracker::Finished Finish(uint64_t id, AgentReply reply) {
    const std::optional<double> compute = reply.compute_seconds;
    const double round_trip = reply.round_trip_seconds;
    return Record(tracker_.Finish(id, std::move(reply)), compute, round_trip);
  }
  // `compute`/`round_trip`: of the attempt whose reply ended the request.
  RequestTracker::Finished Record(RequestTracker::Finished f, std::optional<double> compute,
                                  std::optional<double> round_trip) {
    if (!f.done) return f;
    const std::string model = ModelLabel(f.model);
    metrics_.requests.WithLabels({model, CodeLabel(f.result.status)}).Increment();
    metrics_.latency.WithLabels({model}).Observe(f.seconds);
    if (observer_ != nullptr && model != "unknown") {
      DispatchObserver::Finished done;
      done.type = model;
      done.code = f.result.status.ok() ? 200 : protocol::HttpStatusFor(f.result.status);
      done.total_seconds = f.seconds;
      done.queue_seconds = f.result.queue_ms / 1e3;
      done.compute_seconds = compute;
      done.round_trip_seconds = round_trip;
      done.served_by = f.result.served_by;
      done.variant = f.result.variant;
      if (f.result.served_by) {
        if (const scheduler::DeviceInfo* info = view_.device(*f.result.served_by)) {
          done.kind = info->kind;
          done.emulated = info->emulated;
        }
      }
      observer_->OnFinished(done);
    }
    return f;
  }

  static const char* OutcomeOf(const AgentReply& reply) {
    switch (reply.kind) {
      case AgentReply::Kind::kAnswer:
        return reply.http_status == 200 ? "ok" : nullptr;
      case AgentReply::Kind::kBusy:
        return "busy";
      case AgentReply::Kind::kFailed:
        return "failed";
      case AgentReply::Kind::kUnreachable:
        return "unreachable";
    }
    return "failed";
  }

  // Clients name models freely: only types the cluster serves become label
  // values, so no client can grow the exposition without bound.
  std::string ModelLabel(const std::string& model) const {
    return view_.Serves(model) ? model : "unknown";
  }

  // Requests that gave their place in a full queue (Scheduler::Enqueue): to a higher
  // priority class, or to a tenant with fewer waiting. 429, and the answer says why.
  void AnswerDisplaced(const std::vector<scheduler::Request>& displaced,
                       const scheduler::Request& by, Effects& effects) {
    for (const scheduler::Request& r : displaced) {
      const std::string why =
          r.priority < by.priority
              ? absl::StrCat("gave its place to one of priority ", by.priority,
                             "; retry later or send it with a higher priority")
              : absl::StrCat("gave its place to one from a sender with fewer waiting, since ",
                             r.tenant.empty() ? std::string("requests without a camera name")
                                              : absl::StrCat("camera '", r.tenant, "'"),
                             " held the most of the queue; retry later or send at a lower rate");
      effects.answers.push_back(Finish(
          r.id, absl::ResourceExhaustedError(absl::StrCat("the queue for '", r.type,
                                                          "' is full and this request (priority ",
                                                          r.priority, ") ", why))));
    }
  }

  // Step 2, with Step 4's expiries: binds what can be bound, answers what
  // expired or used up its attempts.
  void Pump(Effects& effects) {
    for (const scheduler::Request& r : scheduler_.ExpireDeadlines()) {
      // Answered early, not run late: even its fastest recent time on any device
      // it may use would miss the deadline.
      effects.answers.push_back(Finish(
          r.id, absl::DeadlineExceededError(absl::StrCat(
                    "answered early: no device could finish this '", r.type,
                    "' request before its deadline, even at its fastest recent time"))));
    }
    for (uint64_t id : tracker_.Exhausted()) {
      scheduler_.Cancel(id);
      effects.answers.push_back(Finish(id, tracker_.GiveUpStatus(id)));
    }
    for (const scheduler::Assignment& a : scheduler_.Dispatch()) {
      if (!tracker_.tracked(a.request_id)) {
        scheduler_.Complete(a.request_id, Nanos(0), false);
        continue;
      }
      AgentCall call = tracker_.Bind(a);
      call.degraded_from = a.degraded_from;
      if (!a.degraded_from.empty()) {
        metrics_.degraded.WithLabels({call.type, a.degraded_from, a.variant}).Increment();
      }
      if (observer_ != nullptr) {
        std::vector<std::string> kinds;
        kinds.reserve(a.candidates.size());
        for (const scheduler::CandidateFinish& c : a.candidates) {
          const scheduler::DeviceInfo* info = view_.device(c.device);
          kinds.push_back(info != nullptr ? info->kind : "");
        }
        observer_->OnBound(a, call.type, call.attempt, kinds);
      }
      if (call.attempt == 1)
        metrics_.queue.WithLabels({call.type}).Observe(call.server_queue_ms / 1e3);
      if (const scheduler::DeviceInfo* info = view_.device(a.device)) {
        metrics_.dispatched
            .WithLabels(
                {a.device.node, a.device.device, info->kind, info->emulated ? "true" : "false"})
            .Increment();
      }
      effects.sends.push_back(std::move(call));
    }
  }

  // Step 3.
  void OnReply(const AgentCall& call, AgentReply reply) {
    Effects effects;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;  // Stop answers everything still open
      const uint64_t id = call.request_id;
      const RequestTracker::Verdict verdict = tracker_.OnReply(call, reply);
      if (observer_ != nullptr && verdict != RequestTracker::Verdict::kStale) {
        const char* outcome = OutcomeOf(reply);
        observer_->OnAttemptEnded(id, call.attempt,
                                  outcome != nullptr ? outcome : std::to_string(reply.http_status),
                                  reply.compute_seconds, reply.round_trip_seconds);
      }
      switch (verdict) {
        case RequestTracker::Verdict::kStale:
          return;
        case RequestTracker::Verdict::kAnswer: {
          if (tracker_.in_flight(id)) {
            // The device's own time is the service time, so estimates compare
            // devices, not the network paths to them; the round trip when the
            // agent did not say.
            const double seconds = reply.compute_seconds.value_or(reply.round_trip_seconds);
            scheduler_.Complete(
                id, std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(seconds)),
                reply.http_status == 200);
          } else {
            scheduler_.Cancel(id);  // re-queued with its node, but the answer came
          }
          effects.answers.push_back(Finish(id, std::move(reply)));
          break;
        }
        case RequestTracker::Verdict::kRetry: {
          scheduler_.Complete(id, Nanos(0), false);
          const bool busy = reply.kind == AgentReply::Kind::kBusy;
          metrics_.retries.WithLabels({busy ? "agent_busy" : "device_error"}).Increment();
          // A retry takes no other request's place (std::vector not passed).
          if (absl::Status s = scheduler_.Enqueue(*tracker_.request(id)); !s.ok()) {
            effects.answers.push_back(Finish(
                id, absl::Status(s.code(), absl::StrCat(reply.error.message(),
                                                        "; could not wait for another device: ",
                                                        s.message()))));
          }
          break;
        }
        case RequestTracker::Verdict::kGiveUp:
          scheduler_.Complete(id, Nanos(0), false);
          effects.answers.push_back(Finish(id, tracker_.GiveUpStatus(id)));
          break;
        case RequestTracker::Verdict::kNodeLost:
          FailNode(call.device.node, "connection_lost");
          break;
      }
      Pump(effects);
    }
    Run(effects);
  }

  void FailNode(const std::string& node, const char* reason) {
    if (view_.MarkDown(node)) {
      spdlog::warn("node {} is down ({}); retrying its requests elsewhere", node, reason);
    }
    Requeue(scheduler_.FailNode(node), reason, absl::StrCat("node ", node, " lost (", reason, ")"));
  }

  // The scheduler re-queued these itself; their attempts are void.
  void Requeue(const std::vector<scheduler::Request>& requests, const char* reason,
               const std::string& why) {
    for (const scheduler::Request& r : requests) {
      if (!tracker_.tracked(r.id)) continue;
      tracker_.OnRequeued(r.id, why);
      metrics_.retries.WithLabels({reason}).Increment();
    }
  }

  void Watchdog() {
    const auto timeout = std::chrono::milliseconds(config_.node_timeout_ms);
    const auto period =
        std::min<std::chrono::milliseconds>(timeout / 4, std::chrono::milliseconds(100));
    std::unique_lock<std::mutex> lock(watchdog_mu_);
    while (true) {
      wake_.wait_for(lock, period);
      {
        std::lock_guard<std::mutex> state(mu_);
        if (stopped_) return;
      }
      Tick();
    }
  }

  void RefreshGauges() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto [up, down] = view_.UpDownCounts();
    metrics_.nodes.WithLabels({"up"}).Set(up);
    metrics_.nodes.WithLabels({"down"}).Set(down);
    for (const ClusterView::NodeStatus& n : view_.NodeStatuses(clock_.Now())) {
      metrics_.node_up.WithLabels({n.name, n.group}).Set(n.up ? 1 : 0);
      metrics_.heartbeat_age.WithLabels({n.name}).Set(n.silent_seconds);
    }
    for (const std::string& type : view_.Models()) {
      metrics_.queued.WithLabels({type}).Set(static_cast<double>(scheduler_.queued(type)));
    }
  }

  const ServerConfig config_;
  Clock& clock_;
  AgentChannel& channel_;
  DispatchObserver* const observer_;  // may be null
  Metrics metrics_;
  mutable std::mutex mu_;
  ClusterView view_;                // guarded by mu_
  scheduler::Scheduler scheduler_;  // guarded by mu_
  RequestTracker tracker_;          // guarded by mu_
  bool stopped_ = false;            // guarded by mu_
  int64_t version_ = 0;             // of the placement; guarded by mu_
  std::mutex watchdog_mu_;
  std::condition_variable wake_;
  std::thread watchdog_;
};

Dispatcher::Dispatcher(const ServerConfig& config, metrics::Registry& registry, Clock& clock,
                       AgentChannel& channel, DispatchObserver* observer)
    : impl_(std::make_unique<Impl>(config, registry, clock, channel, observer)) {}
Dispatcher::~Dispatcher() = default;
void Dispatcher::Start() { impl_->Start(); }
void Dispatcher::Stop() { impl_->Stop(); }
void Dispatcher::Submit(InferWork work, InferDone done) {
  impl_->Submit(std::move(work), std::move(done));
}
absl::StatusOr<cluster::HeartbeatReply> Dispatcher::Heartbeat(cluster::NodeReport report) {
  return impl_->Heartbeat(std::move(report));
}
void Dispatcher::Tick() { impl_->Tick(); }
bool Dispatcher::Ready() const { return impl_->Ready(); }
bool Dispatcher::CanRun(const std::string& model) const { return impl_->CanRun(model); }
std::vector<std::string> Dispatcher::Models() const { return impl_->Models(); }
nlohmann::json Dispatcher::ClusterJson() const { return impl_->ClusterJson(); }
nlohmann::json Dispatcher::VariantsJson() const { return impl_->VariantsJson(); }
nlohmann::json Dispatcher::ModelJson(const std::string& model) const {
  return impl_->ModelJson(model);
}
nlohmann::json Dispatcher::RegistryJson() const { return impl_->RegistryJson(); }
void Dispatcher::SetNodeSettings(const std::string& node, NodeSettings settings) {
  impl_->SetNodeSettings(node, std::move(settings));
}
nlohmann::json Dispatcher::NodesJson() const { return impl_->NodesJson(); }
std::optional<NodeSettings> Dispatcher::NodeSettingsOf(const std::string& node) const {
  return impl_->NodeSettingsOf(node);
}

absl::Status Dispatcher::SetRegistry(std::map<std::string, InferenceType> registry) {
  return impl_->SetRegistry(std::move(registry));
}
double Dispatcher::IdealThroughput(const std::map<std::string, double>& mix) const {
  return impl_->IdealThroughput(mix);
}
size_t Dispatcher::open_requests() const { return impl_->open_requests(); }
k8s::ClusterSnapshot Dispatcher::ExtenderSnapshot(const std::vector<std::string>& nodes) const {
  return impl_->ExtenderSnapshot(nodes);
}
nlohmann::json Dispatcher::PlacementJson() const { return impl_->PlacementJson(); }
PlacementState Dispatcher::placement() const { return impl_->placement(); }
absl::StatusOr<Dispatcher::PlacementApplied> Dispatcher::ApplyPlacement(
    const PlacementChange& change) {
  return impl_->ApplyPlacement(change);
}
absl::StatusOr<Dispatcher::PlacementApplied> Dispatcher::SetPlacement(const PlacementState& state,
                                                                      int64_t expected_version) {
  return impl_->SetPlacement(state, expected_version);
}
void Dispatcher::RestorePlacement(const PlacementState& state, int64_t version) {
  impl_->RestorePlacement(state, version);
}
absl::StatusOr<nlohmann::json> Dispatcher::WhatIf(const PlacementChange& change,
                                                  std::map<std::string, double> mix) const {
  return impl_->WhatIf(change, std::move(mix));
}
nlohmann::json Dispatcher::FleetJson() const { return impl_->FleetJson(); }
size_t Dispatcher::QueuedOf(const std::string& type) const { return impl_->QueuedOf(type); }
nlohmann::json Dispatcher::SdTargets(const std::string& server_target) const {
  return impl_->SdTargets(server_target);
}

}  // namespace heteroaccel::server
