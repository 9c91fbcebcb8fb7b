#include "server/dispatcher.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "httpapi/responses.h"
#include "protocol/errors.h"
#include "server/forwarder.h"

namespace heteroaccel::server {
namespace {

using scheduler::DeviceKey;
using Nanos = std::chrono::nanoseconds;

// Adds the server's part of "who served it and how long it took" to the
// agent's answer: parameters (v2, JSON or the binary extension's JSON header)
// or served_by (v1).
http::Response Annotate(const http::ClientResponse& agent, bool v1, const nlohmann::json& extra,
                        double* compute_seconds) {
  http::Response r;
  r.status = agent.status;
  r.content_type = std::string(agent.Header("content-type"));
  std::string_view header_length = agent.Header("inference-header-content-length");
  size_t json_length = agent.body.size();
  if (!header_length.empty()) json_length = std::stoul(std::string(header_length));
  nlohmann::json head = nlohmann::json::parse(agent.body.substr(0, json_length), nullptr, false);
  if (agent.status != 200 || !head.is_object() || json_length > agent.body.size()) {
    r.body = agent.body;
    return r;
  }
  nlohmann::json& target = v1 ? head["served_by"] : head["parameters"];
  if (target.contains("compute_ms") && target["compute_ms"].is_number()) {
    *compute_seconds = target["compute_ms"].get<double>() / 1e3;
  }
  for (const auto& [key, value] : extra.items()) target[key] = value;
  r.body = head.dump();
  if (!header_length.empty()) {
    r.headers.emplace_back("Inference-Header-Content-Length", std::to_string(r.body.size()));
    r.body.append(agent.body, json_length, std::string::npos);
  }
  return r;
}

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
                             "Requests re-queued after a device or node failed", {"reason"})),
        nodes(r.AddGauge("heteroaccel_server_nodes", "Registered nodes by state", {"state"})),
        queued(
            r.AddGauge("heteroaccel_server_queued", "Requests waiting for a device", {"model"})) {}
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& latency;
  metrics::Family<metrics::Histogram>& queue;
  metrics::Family<metrics::Counter>& dispatched;
  metrics::Family<metrics::Counter>& retries;
  metrics::Family<metrics::Gauge>& nodes;
  metrics::Family<metrics::Gauge>& queued;
};

}  // namespace

class Dispatcher::Impl {
 public:
  Impl(const ServerConfig& config, scheduler::Options options, metrics::Registry& registry,
       Clock& clock)
      : config_(config),
        clock_(clock),
        metrics_(registry),
        registry_(config.registry),
        scheduler_(std::move(options), clock) {
    registry.AddCollectHook([this] { RefreshGauges(); });
  }

  ~Impl() { Stop(); }

  void Start() {
    watchdog_ = std::thread([this] { Watchdog(); });
  }

  void Stop() {
    std::vector<std::shared_ptr<Forwarder>> forwarders;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (auto& [key, f] : forwarders_) forwarders.push_back(f);
      forwarders.insert(forwarders.end(), retired_.begin(), retired_.end());
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    for (auto& f : forwarders) f->Stop();
    // Anything still waiting is answered.
    std::vector<std::pair<Done, http::Response>> answers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, p] : pending_) {
        answers.emplace_back(
            std::move(p.done),
            httpapi::ErrorResponse(absl::UnavailableError("the server is shutting down")));
      }
      pending_.clear();
    }
    for (auto& [done, response] : answers) done(std::move(response));
  }

  void Submit(InferWork work, Done done) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) {
      lock.unlock();
      return done(httpapi::ErrorResponse(absl::UnavailableError("the server is shutting down")));
    }
    if (nodes_.empty()) {
      lock.unlock();
      return done(httpapi::ErrorResponse(
          absl::UnavailableError("no agent has registered with this server yet")));
    }
    scheduler::Request request;
    request.id = next_id_++;
    request.type = work.model;
    request.priority = work.priority;
    request.arrival = clock_.Now();
    if (work.timeout) request.deadline = request.arrival + *work.timeout;
    request.pinned_kind = work.pinned_kind;
    if (!work.pinned_device.empty()) {
      const size_t slash = work.pinned_device.find('/');
      request.pinned_device =
          DeviceKey{work.pinned_device.substr(0, slash),
                    slash == std::string::npos ? "" : work.pinned_device.substr(slash + 1)};
    }
    const std::string model = work.model;
    if (absl::Status s = scheduler_.Enqueue(request); !s.ok()) {
      lock.unlock();
      metrics_.requests.WithLabels({model, std::to_string(protocol::HttpStatusFor(s))}).Increment();
      return done(httpapi::ErrorResponse(s));
    }
    Pending pending;
    pending.work = std::move(work);
    pending.done = std::move(done);
    pending.arrival = request.arrival;
    pending_.emplace(request.id, std::move(pending));
    Pump(lock);
  }

  absl::StatusOr<bool> Heartbeat(nlohmann::json state) {
    if (!state.is_object() || !state.contains("node") || !state["node"].is_string() ||
        !state.contains("url") || !state["url"].is_string() || !state.contains("devices") ||
        !state["devices"].is_array()) {
      return absl::InvalidArgumentError(
          "a heartbeat needs \"node\" and \"url\" strings and a \"devices\" array");
    }
    const std::string node = state["node"];
    const std::string url = state["url"];
    std::unique_lock<std::mutex> lock(mu_);
    Node& n = nodes_[node];
    if (n.url != url) {
      // A new address (the agent restarted): new connections for its devices,
      // and its models are described afresh.
      for (const std::string& id : n.devices) RetireForwarder({node, id});
      n.url = url;
      n.model_info = nullptr;
    }
    if (auto info = state.find("model_info"); info != state.end()) {
      if (info->is_object()) n.model_info = std::move(*info);
      state.erase(info);  // kept in n.model_info
    }
    std::vector<std::string> seen;
    try {
      for (const nlohmann::json& d : state["devices"]) {
        scheduler::DeviceInfo info = DeviceFromJson(node, d);
        seen.push_back(info.key.device);
        const int threads = info.slots + config_.pipeline_depth;
        if (absl::Status s = scheduler_.UpsertDevice(info); !s.ok()) return s;
        device_info_[info.key] = info;
        if (forwarders_.find(info.key) == forwarders_.end()) {
          forwarders_[info.key] = MakeForwarder(url, info.key, threads);
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("malformed heartbeat: ", e.what()));
    }
    for (const std::string& id : n.devices) {
      if (std::find(seen.begin(), seen.end(), id) == seen.end()) {
        scheduler_.RemoveDevice({node, id});
        device_info_.erase({node, id});
        RetireForwarder({node, id});
      }
    }
    n.devices = std::move(seen);
    n.state = std::move(state);
    n.last_seen = clock_.Now();
    if (!n.up) {
      n.up = true;
      scheduler_.SetNodeUp(node, true);
      std::fprintf(stderr, "node %s is up at %s\n", node.c_str(), url.c_str());
    }
    Pump(lock);
    return n.model_info.is_null();
  }

  bool Ready() const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::any_of(nodes_.begin(), nodes_.end(), [](const auto& n) { return n.second.up; });
  }

  bool CanRun(const std::string& model) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, info] : device_info_) {
      if (info.up && nodes_.at(key.node).up && info.variants.count(model) > 0) return true;
    }
    return false;
  }

  std::vector<std::string> Models() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> models;
    for (const auto& [key, info] : device_info_) {
      for (const auto& [type, variant] : info.variants) {
        if (std::find(models.begin(), models.end(), type) == models.end()) models.push_back(type);
      }
    }
    std::sort(models.begin(), models.end());
    return models;
  }

  nlohmann::json ModelJson(const std::string& model) const {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json devices = nlohmann::json::array();
    std::vector<std::string> variants;
    for (const auto& [key, info] : device_info_) {
      auto it = info.variants.find(model);
      if (it == info.variants.end()) continue;
      auto estimate = scheduler_.service_estimate(model, key);
      devices.push_back({{"node", key.node},
                         {"device", key.device},
                         {"kind", info.kind},
                         {"emulated", info.emulated},
                         {"up", info.up && nodes_.at(key.node).up},
                         {"variant", it->second},
                         {"service_ms", estimate ? estimate->count() / 1e6 : 0.0}});
      if (std::find(variants.begin(), variants.end(), it->second) == variants.end()) {
        variants.push_back(it->second);
      }
    }
    nlohmann::json info = nlohmann::json::object();
    for (const auto& [name, n] : nodes_) {
      if (n.model_info.contains(model)) {
        info = n.model_info[model];
        break;
      }
    }
    return {{"variants", variants}, {"devices", devices}, {"info", info}};
  }

  // Every variant any node has loaded: what it is, its tested accuracy, and the
  // service time measured on the devices running it, by device kind (median over
  // devices; emulated devices are counted apart as "KIND (emulated)").
  nlohmann::json VariantsJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> ms;
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, n] : nodes_) {
      if (!n.up) continue;
      for (const auto& [type, info] : n.model_info.items()) {
        const nlohmann::json variants = info.value("variants", nlohmann::json::object());
        for (const auto& [variant, about] : variants.items()) out[type][variant]["about"] = about;
      }
      // A named copy: a range-for over a member of a temporary would dangle.
      const nlohmann::json devices = n.state.value("devices", nlohmann::json::array());
      for (const auto& d : devices) {
        std::string kind = d.value("kind", "?");
        if (d.value("emulated", false)) kind += " (emulated)";
        const nlohmann::json service = d.value("service_ms", nlohmann::json::object());
        for (const auto& [key, value] : service.items()) {
          const size_t slash = key.find('/');
          if (slash == std::string::npos || !value.is_number()) continue;
          ms[key.substr(0, slash)][key.substr(slash + 1)][kind].push_back(value.get<double>());
        }
      }
    }
    for (auto& [type, variants] : ms) {
      for (auto& [variant, kinds] : variants) {
        nlohmann::json latency = nlohmann::json::object();
        for (auto& [kind, values] : kinds) {
          std::sort(values.begin(), values.end());
          latency[kind] = {{"median_ms", values[values.size() / 2]}, {"devices", values.size()}};
        }
        out[type][variant]["latency_by_kind"] = std::move(latency);
      }
    }
    nlohmann::json result = nlohmann::json::object();
    for (auto& [type, variants] : out.items()) {
      for (auto& [variant, entry] : variants.items()) {
        nlohmann::json row = entry.value("about", nlohmann::json::object());
        row["variant"] = variant;
        row["latency_by_kind"] = entry.value("latency_by_kind", nlohmann::json::object());
        result[type].push_back(std::move(row));
      }
    }
    return result;
  }

  nlohmann::json ClusterJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& [name, n] : nodes_) {
      nlohmann::json devices = nlohmann::json::array();
      for (const std::string& id : n.devices) {
        const DeviceKey key{name, id};
        auto info = device_info_.find(key);
        if (info == device_info_.end()) continue;
        devices.push_back({{"id", id},
                           {"kind", info->second.kind},
                           {"slots", info->second.slots},
                           {"emulated", info->second.emulated},
                           {"variants", info->second.variants},
                           {"in_flight", scheduler_.in_flight(key)}});
      }
      const double age = SecondsBetween(n.last_seen, clock_.Now());
      nodes.push_back({{"node", name},
                       {"url", n.url},
                       {"up", n.up},
                       {"last_heartbeat_seconds_ago", age},
                       {"devices", devices}});
    }
    return {{"policy", scheduler::PolicyName(scheduler_.options().policy)},
            {"queued", scheduler_.queued_total()},
            {"nodes", nodes}};
  }

  nlohmann::json RegistryJson() const {
    std::lock_guard<std::mutex> lock(mu_);
    return RegistryToJson(registry_);
  }

  absl::Status SetRegistry(std::map<std::string, InferenceType> registry) {
    std::lock_guard<std::mutex> lock(mu_);
    registry_ = std::move(registry);
    // The next heartbeat of every node re-derives its devices' variants.
    return absl::OkStatus();
  }

  double IdealThroughput(const std::map<std::string, double>& mix) const {
    std::lock_guard<std::mutex> lock(mu_);
    return scheduler_.IdealThroughput(mix);
  }

 private:
  struct Pending {
    InferWork work;
    Done done;
    Clock::TimePoint arrival;
    int attempt = 0;
    bool in_flight = false;
    std::string last_error;
  };
  struct Node {
    std::string url;
    Clock::TimePoint last_seen;
    bool up = false;
    std::vector<std::string> devices;
    nlohmann::json state;       // the last heartbeat, less model_info
    nlohmann::json model_info;  // the models' description; null until the agent sends it
  };
  using Answer = std::pair<Done, http::Response>;
  using Send = std::pair<std::shared_ptr<Forwarder>, ForwardTask>;

  // The variant each type runs with on a device: the registry's choice for the
  // device's kind when the agent has it loaded, else (for a type the registry
  // does not list) the agent's default.
  scheduler::DeviceInfo DeviceFromJson(const std::string& node, const nlohmann::json& d) const {
    scheduler::DeviceInfo info;
    info.key = {node, d.at("id").get<std::string>()};
    info.kind = d.at("kind").get<std::string>();
    info.slots = std::max(1, d.value("slots", 1));
    info.emulated = d.value("emulated", false);
    const nlohmann::json service = d.value("service_ms", nlohmann::json::object());
    for (const auto& entry : d.value("models", std::vector<std::string>{})) {
      const size_t slash = entry.find('/');
      if (slash == std::string::npos) continue;
      const std::string type = entry.substr(0, slash);
      const std::string variant = entry.substr(slash + 1);
      auto registered = registry_.find(type);
      if (registered != registry_.end() && !registered->second.variants.empty()) {
        auto wanted = registered->second.variants.find(info.kind);
        if (wanted == registered->second.variants.end() || wanted->second != variant) continue;
      } else if (info.variants.count(type) > 0) {
        continue;  // keep the agent's default (listed first)
      }
      info.variants[type] = variant;
      if (service.contains(entry) && service[entry].is_number()) {
        info.reported_service[type] = std::chrono::duration_cast<Nanos>(
            std::chrono::duration<double, std::milli>(service[entry].get<double>()));
      }
    }
    return info;
  }

  std::shared_ptr<Forwarder> MakeForwarder(const std::string& url, const DeviceKey& key,
                                           int threads) {
    return std::make_shared<Forwarder>(
        url, key.device, threads, std::chrono::milliseconds(config_.forward_timeout_ms),
        [this, key](const ForwardTask& task, absl::StatusOr<http::ClientResponse> response,
                    double seconds) { OnForwarded(key, task, std::move(response), seconds); });
  }

  void RetireForwarder(const DeviceKey& key) {
    auto it = forwarders_.find(key);
    if (it == forwarders_.end()) return;
    retired_.push_back(it->second);
    forwarders_.erase(it);
  }

  // Binds what can be bound and answers what expired; then sends and answers
  // with the lock released.
  void Pump(std::unique_lock<std::mutex>& lock) {
    std::vector<Answer> answers;
    std::vector<Send> sends;
    for (const scheduler::Request& r : scheduler_.ExpireDeadlines()) {
      auto it = pending_.find(r.id);
      if (it == pending_.end()) continue;
      answers.emplace_back(Finish(
          it, httpapi::ErrorResponse(absl::DeadlineExceededError(absl::StrCat(
                  "no device could finish this '", r.type, "' request before its deadline")))));
    }
    for (const scheduler::Assignment& a : scheduler_.Dispatch()) {
      auto it = pending_.find(a.request_id);
      auto forwarder = forwarders_.find(a.device);
      if (it == pending_.end() || forwarder == forwarders_.end()) {
        scheduler_.Complete(a.request_id, Nanos(0), false);
        continue;
      }
      Pending& p = it->second;
      ++p.attempt;
      p.in_flight = true;
      const double queued_seconds = SecondsBetween(p.arrival, clock_.Now());
      if (p.attempt == 1) metrics_.queue.WithLabels({p.work.model}).Observe(queued_seconds);
      const scheduler::DeviceInfo& info = device_info_[a.device];
      metrics_.dispatched
          .WithLabels({a.device.node, a.device.device, info.kind, info.emulated ? "true" : "false"})
          .Increment();
      sends.emplace_back(
          forwarder->second,
          ForwardTask{a.request_id, p.attempt, queued_seconds * 1e3, p.work.v1, p.work.model,
                      a.variant, p.work.body, p.work.header_length, p.work.content_type});
    }
    lock.unlock();
    for (auto& [forwarder, task] : sends) forwarder->Push(std::move(task));
    for (auto& [done, response] : answers) done(std::move(response));
  }

  // Removes a pending request and returns its answer (to send unlocked).
  Answer Finish(std::map<uint64_t, Pending>::iterator it, http::Response response) {
    const std::string code = std::to_string(response.status);
    metrics_.requests.WithLabels({it->second.work.model, code}).Increment();
    metrics_.latency.WithLabels({it->second.work.model})
        .Observe(SecondsBetween(it->second.arrival, clock_.Now()));
    Answer answer{std::move(it->second.done), std::move(response)};
    pending_.erase(it);
    return answer;
  }

  void OnForwarded(const DeviceKey& device, const ForwardTask& task,
                   absl::StatusOr<http::ClientResponse> response, double seconds) {
    const bool answered = response.ok() && response->status != 429 && response->status < 500;
    // The answer is rewritten before taking the lock: it needs only the task.
    // The device's own time (what the agent measured) becomes the service time,
    // so that estimates compare devices, not the network paths to them; the
    // round trip when the agent did not say.
    double service_seconds = seconds;
    http::Response answer;
    if (answered) {
      answer = Annotate(*response, task.v1,
                        {{"server_queue_ms", task.server_queue_ms}, {"attempts", task.attempt}},
                        &service_seconds);
    }
    std::unique_lock<std::mutex> lock(mu_);
    auto it = pending_.find(task.id);
    // A result from an attempt that was already given up on (its node failed and
    // the request went elsewhere) is dropped.
    if (it == pending_.end() || it->second.attempt != task.attempt) return;
    Pending& p = it->second;
    if (answered) {
      if (p.in_flight) {
        scheduler_.Complete(
            task.id,
            std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(service_seconds)),
            response->status == 200);
      } else {
        scheduler_.Cancel(task.id);  // re-queued by a node failure, but the answer came
      }
      std::vector<Answer> answers;
      answers.push_back(Finish(it, std::move(answer)));
      lock.unlock();
      for (auto& [done, r] : answers) done(std::move(r));
      lock.lock();
      Pump(lock);
      return;
    }
    p.last_error = response.ok()
                       ? absl::StrCat("HTTP ", response->status, " from ", device.ToString(), ": ",
                                      response->body)
                       : absl::StrCat(device.ToString(), ": ", response.status().message());
    if (!p.in_flight) return;  // already re-queued with its node
    if (response.ok() && response->status == 429) {
      // The agent's own queue was full: this request alone goes back.
      scheduler_.Complete(task.id, Nanos(0), false);
      p.in_flight = false;
      metrics_.retries.WithLabels({"agent_busy"}).Increment();
      Requeue(task.id, p);
    } else {
      // The device or its node is gone: everything it held is retried elsewhere.
      FailNode(device.node, "device_lost");
    }
    GiveUpIfExhausted(lock);
  }

  void Requeue(uint64_t id, Pending& p) {
    scheduler::Request r;
    r.id = id;
    r.type = p.work.model;
    r.priority = p.work.priority;
    r.arrival = p.arrival;
    if (p.work.timeout) r.deadline = p.arrival + *p.work.timeout;
    r.pinned_kind = p.work.pinned_kind;
    if (!scheduler_.Enqueue(r).ok()) p.last_error += " (and the queue is full)";
  }

  void FailNode(const std::string& node, const char* reason) {
    auto n = nodes_.find(node);
    if (n != nodes_.end() && n->second.up) {
      n->second.up = false;
      std::fprintf(stderr, "node %s is down (%s); retrying its requests elsewhere\n", node.c_str(),
                   reason);
    }
    for (const scheduler::Request& r : scheduler_.FailNode(node)) {
      auto it = pending_.find(r.id);
      if (it == pending_.end()) continue;
      it->second.in_flight = false;
      metrics_.retries.WithLabels({reason}).Increment();
    }
  }

  // Requests that failed on max_attempts devices are answered with 503.
  void GiveUpIfExhausted(std::unique_lock<std::mutex>& lock) {
    std::vector<Answer> answers;
    for (auto it = pending_.begin(); it != pending_.end();) {
      Pending& p = it->second;
      if (p.in_flight || p.attempt < config_.max_attempts || p.last_error.empty()) {
        ++it;
        continue;
      }
      scheduler_.Cancel(it->first);
      auto next = std::next(it);
      answers.push_back(
          Finish(it, httpapi::ErrorResponse(absl::UnavailableError(absl::StrCat(
                         "failed on ", config_.max_attempts, " devices; last: ", p.last_error)))));
      it = next;
    }
    if (answers.empty()) return Pump(lock);
    lock.unlock();
    for (auto& [done, r] : answers) done(std::move(r));
    lock.lock();
    Pump(lock);
  }

  void Watchdog() {
    std::unique_lock<std::mutex> lock(mu_);
    const auto timeout = std::chrono::milliseconds(config_.node_timeout_ms);
    while (!stopped_) {
      wake_.wait_for(
          lock, std::min<std::chrono::milliseconds>(timeout / 4, std::chrono::milliseconds(100)));
      if (stopped_) return;
      bool changed = false;
      for (auto& [name, n] : nodes_) {
        if (n.up && clock_.Now() - n.last_seen > timeout) {
          FailNode(name, "heartbeat_lost");
          changed = true;
        }
      }
      if (changed || !pending_.empty()) {
        GiveUpIfExhausted(lock);
        if (!lock.owns_lock()) lock.lock();
      }
    }
  }

  void RefreshGauges() {
    std::lock_guard<std::mutex> lock(mu_);
    int up = 0;
    for (const auto& [name, n] : nodes_) up += n.up ? 1 : 0;
    metrics_.nodes.WithLabels({"up"}).Set(up);
    metrics_.nodes.WithLabels({"down"}).Set(static_cast<double>(nodes_.size()) - up);
    for (const auto& [key, info] : device_info_) {
      for (const auto& [type, variant] : info.variants) {
        metrics_.queued.WithLabels({type}).Set(static_cast<double>(scheduler_.queued(type)));
      }
    }
  }

  const ServerConfig config_;
  Clock& clock_;
  Metrics metrics_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, InferenceType> registry_;
  scheduler::Scheduler scheduler_;
  std::map<uint64_t, Pending> pending_;
  std::map<std::string, Node> nodes_;
  std::map<DeviceKey, scheduler::DeviceInfo> device_info_;
  std::map<DeviceKey, std::shared_ptr<Forwarder>> forwarders_;
  std::vector<std::shared_ptr<Forwarder>> retired_;
  uint64_t next_id_ = 1;
  bool stopped_ = false;
  std::thread watchdog_;
};

Dispatcher::Dispatcher(const ServerConfig& config, metrics::Registry& registry, Clock& clock) {
  scheduler::Options options;
  if (auto policy = scheduler::ParsePolicy(config.policy); policy.ok()) options.policy = *policy;
  options.queue_capacity = config.queue_capacity;
  options.pipeline_depth = config.pipeline_depth;
  options.static_kinds = config.static_kinds;
  options.kind_preference = config.kind_preference;
  impl_ = std::make_unique<Impl>(config, std::move(options), registry, clock);
}

Dispatcher::~Dispatcher() = default;
void Dispatcher::Start() { impl_->Start(); }
void Dispatcher::Stop() { impl_->Stop(); }
void Dispatcher::Submit(InferWork work, Done done) {
  impl_->Submit(std::move(work), std::move(done));
}
absl::StatusOr<bool> Dispatcher::Heartbeat(nlohmann::json state) {
  return impl_->Heartbeat(std::move(state));
}
bool Dispatcher::Ready() const { return impl_->Ready(); }
bool Dispatcher::CanRun(const std::string& model) const { return impl_->CanRun(model); }
nlohmann::json Dispatcher::ClusterJson() const { return impl_->ClusterJson(); }
nlohmann::json Dispatcher::VariantsJson() const { return impl_->VariantsJson(); }
nlohmann::json Dispatcher::ModelJson(const std::string& model) const {
  return impl_->ModelJson(model);
}
std::vector<std::string> Dispatcher::Models() const { return impl_->Models(); }
nlohmann::json Dispatcher::RegistryJson() const { return impl_->RegistryJson(); }
absl::Status Dispatcher::SetRegistry(std::map<std::string, InferenceType> registry) {
  return impl_->SetRegistry(std::move(registry));
}
double Dispatcher::IdealThroughput(const std::map<std::string, double>& mix) const {
  return impl_->IdealThroughput(mix);
}

}  // namespace heteroaccel::server
