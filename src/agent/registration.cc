#include "agent/registration.h"

#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/kubernetes.h"
#include "http/client.h"

namespace heteroaccel::agent {
namespace {

// A sample younger than this is reused rather than the node read again: a
// heartbeat every 200 ms would otherwise read /proc five times a second and
// measure CPU use over intervals too short for the kernel's tick counts.
constexpr std::chrono::seconds kNodeSampleMaxAge{1};

cluster::NodeStats Stats(node::NodeCollector& collector) {
  cluster::NodeStats stats;
  absl::StatusOr<node::NodeSample> sample = collector.Recent(kNodeSampleMaxAge);
  if (!sample.ok()) return stats;  // counted in heteroaccel_node_sample_errors_total
  stats.cpu_utilisation = sample->cpu_utilisation_ratio;
  stats.memory_total_bytes = static_cast<double>(sample->memory_total_bytes);
  stats.memory_available_bytes = static_cast<double>(sample->memory_available_bytes);
  stats.temperature_celsius = sample->MaxTemperatureCelsius();
  return stats;
}

}  // namespace

cluster::NodeReport NodeState(const AgentContext& context, const std::string& advertise_url,
                              bool with_model_info) {
  cluster::NodeReport report;
  report.node = context.facts.hostname;
  report.url = advertise_url;
  report.ready = context.executor.Ready();
  report.group = context.group;
  report.labels = context.labels;
  report.stats = Stats(context.collector);
  // One copy of the catalog for the whole report (it can change: deployed variants).
  const std::vector<inference::ModelSpec> specs = context.catalog.specs();
  for (const runtime::DeviceState& state : context.executor.Snapshot()) {
    const devices::Device& d = state.device.device;
    cluster::DeviceReport device;
    device.id = d.id;
    device.kind = d.kind;
    device.name = d.name;
    device.emulated = d.emulated;
    device.slots = static_cast<int>(state.slots.size());
    device.warm = state.warm;
    device.busy_seconds = state.busy_seconds;
    for (const runtime::SlotState& s : state.slots) {
      device.queue_depth += s.queue_depth;
      device.allocated += s.allocated ? 1 : 0;
    }
    FillKubernetesFields(context, state, device);  // healthy, NUMA node, handed to a pod
    // Loaded variants in catalog order: a type's first is its default.
    for (const inference::ModelSpec& spec : specs) {
      auto seconds = state.service_seconds.find(spec.type + "/" + spec.variant);
      if (seconds == state.service_seconds.end()) continue;
      device.models.push_back({spec.type, spec.variant});
      device.service_ms[{spec.type, spec.variant}] = seconds->second * 1e3;
    }
    report.devices.push_back(std::move(device));
  }
  if (!with_model_info) return report;
  // What clients need to read each type's outputs (the server's metadata).
  std::map<std::string, cluster::TypeInfo> model_info;
  for (const inference::ModelSpec& spec : specs) {
    cluster::TypeInfo& info = model_info[spec.type];
    info.keypoint_names = spec.keypoint_names;
    info.skeleton = spec.skeleton;
    info.labels = spec.labels;
    info.variants[spec.variant] = {spec.description, spec.precision, spec.accuracy, spec.opencl};
  }
  report.model_info = std::move(model_info);
  return report;
}

absl::StatusOr<std::vector<std::string>> SystemResolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  std::vector<std::string> addresses;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof(text), nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
      addresses.emplace_back(text);
    }
  }
  freeaddrinfo(found);
  if (addresses.empty()) return absl::UnavailableError(absl::StrCat("'", host, "' has no address"));
  return addresses;
}

absl::StatusOr<std::vector<std::string>> ParseServerList(std::string_view servers) {
  std::vector<std::string> urls;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(servers.data(), servers.size()), ',')) {
    std::string url(absl::StripAsciiWhitespace(part));
    if (url.empty()) continue;
    if (url.find("://") == std::string::npos) url = "http://" + url;
    if (absl::Status valid = http::ParseHostPort(url).status(); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("server list: ", std::string(valid.message())));
    }
    if (std::find(urls.begin(), urls.end(), url) != urls.end()) continue;
    if (urls.size() == kMaxServerUrls) {
      return absl::InvalidArgumentError(absl::StrCat("server list: at most ", kMaxServerUrls,
                                                     " URLs (one headless Service name "
                                                     "reaches every replica)"));
    }
    urls.push_back(std::move(url));
  }
  return urls;
}

namespace {

// `url` ("http://name:port/prefix", validated) with `address` in place of the name.
std::string WithAddress(const std::string& url, const std::string& address, uint16_t port) {
  const size_t authority = url.find("://") + 3;
  const size_t slash = url.find('/', authority);
  const std::string prefix = slash == std::string::npos ? "" : url.substr(slash);
  const bool v6 = address.find(':') != std::string::npos;
  return absl::StrCat("http://", v6 ? "[" : "", address, v6 ? "]" : "", ":", port, prefix);
}

}  // namespace

std::map<std::string, ServerEndpoint> ResolveServers(
    const std::vector<std::string>& servers, const Resolver& resolve,
    const std::map<std::string, ServerEndpoint>& previous) {
  std::map<std::string, ServerEndpoint> endpoints;
  auto add = [&endpoints](ServerEndpoint endpoint) {
    if (endpoints.size() >= kMaxServerAddresses) return;
    std::string key = endpoint.url;
    endpoints.emplace(std::move(key), std::move(endpoint));
  };
  for (const std::string& server : servers) {
    absl::StatusOr<std::pair<std::string, uint16_t>> host_port = http::ParseHostPort(server);
    if (!host_port.ok()) continue;
    absl::StatusOr<std::vector<std::string>> addresses = resolve(host_port->first);
    if (!addresses.ok() || addresses->empty()) {
      for (const auto& [url, endpoint] : previous) {
        if (endpoint.configured == server) add(endpoint);
      }
      continue;
    }
    for (const std::string& address : *addresses) {
      add({WithAddress(server, address, host_port->second), server});
    }
  }
  return endpoints;
}

// One heartbeat loop: its own thread and keep-alive connection to one address.
class Registration::Heartbeat {
 public:
  Heartbeat(ServerEndpoint endpoint, const Registration& owner)
      : endpoint_(std::move(endpoint)), owner_(owner) {
    thread_ = std::thread([this] { Run(); });
  }
  // Joins the thread: waits out a heartbeat in flight (at most its 2 s timeout).
  ~Heartbeat() {
    RequestStop();
    if (thread_.joinable()) thread_.join();
  }

  void RequestStop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
  }

 private:
  void Run();
  absl::Status Beat(std::unique_ptr<http::Client>& client, bool& send_model_info);

  const ServerEndpoint endpoint_;
  const Registration& owner_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

absl::Status Registration::Heartbeat::Beat(std::unique_ptr<http::Client>& client,
                                           bool& send_model_info) {
  if (client == nullptr) {
    auto created = http::Client::Create(endpoint_.url, std::chrono::seconds(2));
    if (!created.ok()) return created.status();
    client = std::move(*created);
  }
  const Options& options = owner_.options_;
  auto response = client->Post(
      "/v1/cluster/heartbeat", "application/json",
      cluster::ToJson(NodeState(owner_.context_, options.advertise_url, send_model_info)).dump(),
      {{"Authorization", "Bearer " + options.token}});
  if (!response.ok()) return response.status();
  if (response->status != 200) return absl::UnavailableError(response->body);
  send_model_info = cluster::ParseHeartbeatReply(response->body).send_model_info;
  return absl::OkStatus();
}

void Registration::Heartbeat::Run() {
  std::unique_ptr<http::Client> client;
  bool connected = false;
  bool send_model_info = true;
  const std::string name = endpoint_.url == endpoint_.configured
                               ? endpoint_.url
                               : absl::StrCat(endpoint_.url, " (", endpoint_.configured, ")");
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
    }
    const absl::Status status = Beat(client, send_model_info);
    // A lost server may come back without what it was told.
    if (!status.ok()) send_model_info = true;
    if (status.ok() != connected) {
      connected = status.ok();
      if (connected) {
        spdlog::info("registered with {}", name);
      } else {
        spdlog::warn("lost the server {}: {}", name, status.ToString());
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, owner_.options_.interval, [this] { return stop_; });
  }
}

Registration::Registration(Options options, const AgentContext& context)
    : options_(std::move(options)), context_(context) {
  absl::StatusOr<std::vector<std::string>> servers = ParseServerList(options_.server);
  if (servers.ok()) {
    servers_ = std::move(*servers);
  } else {
    spdlog::error("not registering with any server: {}", std::string(servers.status().message()));
  }
  thread_ = std::thread([this] { Run(); });
}

Registration::~Registration() { Stop(); }

void Registration::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The resolver thread has ended: the loops are this thread's now. Ask them
  // all to stop first so that one slow to answer does not hold up the others.
  for (auto& entry : loops_) entry.second->RequestStop();
  loops_.clear();
}

std::vector<std::string> Registration::Endpoints() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> urls;
  for (const auto& entry : endpoints_) urls.push_back(entry.first);
  return urls;
}

void Registration::Update() {
  std::map<std::string, ServerEndpoint> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = endpoints_;
  }
  const Resolver& resolve = options_.resolver ? options_.resolver : Resolver(SystemResolve);
  std::map<std::string, ServerEndpoint> resolved = ResolveServers(servers_, resolve, previous);
  for (auto it = loops_.begin(); it != loops_.end();) {
    if (resolved.contains(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("server address {} is gone; no more heartbeats to it", it->first);
    it = loops_.erase(it);  // stops the loop
  }
  for (const auto& [url, endpoint] : resolved) {
    if (!loops_.contains(url)) loops_.emplace(url, std::make_unique<Heartbeat>(endpoint, *this));
  }
  std::lock_guard<std::mutex> lock(mu_);
  endpoints_ = std::move(resolved);
}

void Registration::Run() {
  while (true) {
    Update();
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, options_.resolve_interval, [this] { return stop_; })) return;
  }
}

}  // namespace heteroaccel::agent
