#include "k8s/device_plugin/device_plugin.h"

#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "k8s/device_plugin/api.grpc.pb.h"
#include "k8s/device_plugin/podresources.grpc.pb.h"

namespace heteroaccel::k8s {
namespace {

// How often a blocked ListAndWatch looks at its call (cancelled by the kubelet?).
constexpr absl::Duration kStreamCheck = absl::Milliseconds(100);
// The largest PodResources answer read, as the kubelet's own client allows.
constexpr int kMaxPodResourcesBytes = 16 * 1024 * 1024;

std::string KindPart(DeviceKind kind, bool emulated) { return ResourceSuffix(kind, emulated); }

// "HETEROACCEL_EMULATED_GPU_DEVICES".
std::string KindEnv(DeviceKind kind, bool emulated) {
  std::string part = absl::AsciiStrToUpper(KindPart(kind, emulated));
  std::replace(part.begin(), part.end(), '-', '_');
  return absl::StrCat("HETEROACCEL_", part, "_DEVICES");
}

// Identity of a file: a re-created file has another inode or change time.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileId&) const = default;
};

std::optional<FileId> StatFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino,
                static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

// True when something accepts connections on the Unix socket at `path`.
bool SocketAnswers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool answers = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return answers;
}

v1beta1::Device ToWire(const PluginDevice& d) {
  v1beta1::Device out;
  out.set_id(d.id);
  out.set_health(d.healthy ? kHealthy : kUnhealthy);
  if (d.numa_node.has_value()) out.mutable_topology()->add_nodes()->set_id(*d.numa_node);
  return out;
}

grpc::Status ToGrpc(const absl::Status& s) {
  const std::string message(s.message());
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, message};
    case absl::StatusCode::kFailedPrecondition:
      return {grpc::StatusCode::FAILED_PRECONDITION, message};
    default:
      return {grpc::StatusCode::INTERNAL, message};
  }
}

// CPUs never get here (the device source leaves them out); names.h has none for them.
std::string AdvertisedName(DeviceKind kind, bool emulated) {
  return ResourceName(kind, emulated).value_or(std::string(kResourceDomain) + "cpu");
}

}  // namespace

std::string SocketName(DeviceKind kind, bool emulated) {
  return absl::StrCat("heteroaccel-", KindPart(kind, emulated), ".sock");
}

absl::StatusOr<std::vector<std::string>> PreferredAllocation(
    const std::vector<PluginDevice>& devices, const std::vector<std::string>& available,
    const std::vector<std::string>& must_include, int size) {
  std::vector<std::string> free;  // available, de-duplicated, in the kubelet's order
  for (const std::string& id : available) {
    if (std::find(free.begin(), free.end(), id) == free.end()) free.push_back(id);
  }
  if (size < 0 || static_cast<size_t>(size) > free.size()) {
    return absl::InvalidArgumentError(absl::StrCat("asks for ", size, " device(s) but ",
                                                   free.size(), " are available"));
  }
  std::vector<std::string> chosen;
  for (const std::string& id : must_include) {
    if (std::find(free.begin(), free.end(), id) == free.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("must-include device ", id, " is not among the available devices"));
    }
    if (std::find(chosen.begin(), chosen.end(), id) == chosen.end()) chosen.push_back(id);
  }
  if (chosen.size() > static_cast<size_t>(size)) {
    return absl::InvalidArgumentError(absl::StrCat(chosen.size(),
                                                   " must-include devices exceed the size ", size));
  }
  std::map<std::string, int> numa;  // -1 = unknown
  for (const PluginDevice& d : devices) numa[d.id] = d.numa_node.value_or(-1);
  auto node_of = [&](const std::string& id) {
    auto it = numa.find(id);
    return it == numa.end() ? -1 : it->second;
  };
  std::map<int, std::vector<std::string>> groups;
  for (const std::string& id : free) {
    if (std::find(chosen.begin(), chosen.end(), id) == chosen.end()) groups[node_of(id)].push_back(id);
  }
  const size_t wanted = static_cast<size_t>(size) - chosen.size();
  std::optional<int> must_node;
  for (const std::string& id : chosen) {
    const int n = node_of(id);
    if (!must_node.has_value()) must_node = n;
    if (n != *must_node || n < 0) must_node = -2;  // mixed or unknown: no preference
  }
  std::vector<int> order;
  for (const auto& entry : groups) order.push_back(entry.first);
  // The must-include devices' node, then best fit (smallest node that holds the
  // rest alone, keeping big nodes whole), then the largest nodes first.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    auto rank = [&](int n) {
      if (must_node.has_value() && *must_node >= 0 && n == *must_node) return 0;
      return groups[n].size() >= wanted && n >= 0 ? 1 : 2;
    };
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (rank(a) == 1) return groups[a].size() < groups[b].size();
    return groups[a].size() > groups[b].size();
  });
  for (int n : order) {
    for (const std::string& id : groups[n]) {
      if (chosen.size() == static_cast<size_t>(size)) break;
      chosen.push_back(id);
    }
  }
  return chosen;
}

// One advertised resource: its devices, its server and its registration state.
struct Resource {
  DeviceKind kind = DeviceKind::kOther;
  bool emulated = false;
  std::string name;         // heteroaccel.io/gpu
  std::string socket_name;  // heteroaccel-gpu.sock
  std::string socket_path;
  std::vector<PluginDevice> devices;
  uint64_t version = 1;        // bumped on every change of `devices`
  uint64_t epoch = 0;          // bumped when the server is replaced: its streams end
  uint64_t attempts = 0;       // Register calls started
  bool needs_register = true;  // a Register call is due
  absl::Time next_attempt = absl::InfinitePast();
  std::optional<FileId> socket_id;  // the socket file we serve
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Service> service;
};

class DevicePlugin::Impl {
 public:
  explicit Impl(DevicePluginOptions options) : options_(std::move(options)) {}
  ~Impl() { Stop(); }

  absl::Status Start();
  void Stop();
  void Refresh();
  std::set<std::string> AssignedIds() const {
    absl::MutexLock lock(&mu_);
    return assigned_;
  }
  bool IsAssigned(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    return assigned_.contains(id);
  }
  std::vector<std::string> Resources() const {
    std::vector<std::string> names;
    for (const auto& r : resources_) names.push_back(r->name);
    return names;
  }
  int registrations() const {
    absl::MutexLock lock(&mu_);
    return registrations_;
  }

  // The service's handlers.
  grpc::Status ListAndWatch(Resource& r, grpc::ServerContext& context,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>& writer);
  grpc::Status Allocate(Resource& r, const v1beta1::AllocateRequest& request,
                        v1beta1::AllocateResponse& response);
  grpc::Status Preferred(Resource& r, const v1beta1::PreferredAllocationRequest& request,
                         v1beta1::PreferredAllocationResponse& response);

 private:
  absl::Status Serve(Resource& r);
  void Loop();
  void CheckFiles(bool kubelet_created);
  void EnsureServing(Resource& r);
  void Register(Resource& r);
  void PodResourcesLoop();
  absl::StatusOr<std::set<std::string>> ListPodResources();
  void LogPodResources(const absl::Status& status);
  void Wake() const {
    const uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof(one));
  }
  std::string KubeletPath() const { return options_.plugin_dir + "/" + options_.kubelet_socket; }

  const DevicePluginOptions options_;
  // Fixed by Start(); the Resource fields are guarded by mu_ except the
  // server and service, which only Start(), the loop thread and Stop() touch.
  std::vector<std::unique_ptr<Resource>> resources_;
  std::thread thread_;
  std::thread pod_thread_;                // PodResourcesLoop
  std::set<std::string> resource_names_;  // fixed by Start()
  std::optional<bool> pod_resources_ok_;  // pod thread only; nullopt before the first List
  int wake_fd_ = -1;
  int inotify_fd_ = -1;
  std::optional<FileId> kubelet_id_;  // loop thread only
  absl::Mutex poll_mu_;               // one device source call at a time
  std::set<std::string> ignored_kinds_ ABSL_GUARDED_BY(poll_mu_);
  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // device lists, epochs or stopping_ changed
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> assigned_ ABSL_GUARDED_BY(mu_);
  // When each ID was last allocated; pruned by the pod thread.
  std::map<std::string, absl::Time> allocated_at_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* list_context_ ABSL_GUARDED_BY(mu_) = nullptr;  // List in flight
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace {

class ResourceService final : public v1beta1::DevicePlugin::Service {
 public:
  ResourceService(DevicePlugin::Impl& impl, Resource& resource)
      : impl_(impl), resource_(resource) {}

  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const v1beta1::Empty*,
                                      v1beta1::DevicePluginOptions* options) override {
    options->set_pre_start_required(false);
    options->set_get_preferred_allocation_available(true);
    return grpc::Status::OK;
  }
  grpc::Status ListAndWatch(grpc::ServerContext* context, const v1beta1::Empty*,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override {
    return impl_.ListAndWatch(resource_, *context, *writer);
  }
  grpc::Status GetPreferredAllocation(grpc::ServerContext*,
                                      const v1beta1::PreferredAllocationRequest* request,
                                      v1beta1::PreferredAllocationResponse* response) override {
    return impl_.Preferred(resource_, *request, *response);
  }
  grpc::Status Allocate(grpc::ServerContext*, const v1beta1::AllocateRequest* request,
                        v1beta1::AllocateResponse* response) override {
    return impl_.Allocate(resource_, *request, *response);
  }
  grpc::Status PreStartContainer(grpc::ServerContext*, const v1beta1::PreStartContainerRequest*,
                                 v1beta1::PreStartContainerResponse*) override {
    return grpc::Status::OK;
  }

 private:
  DevicePlugin::Impl& impl_;
  Resource& resource_;
};

}  // namespace

absl::Status DevicePlugin::Impl::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("the device plugin was already started");
    started_ = true;
  }
  std::map<std::pair<int, bool>, std::vector<PluginDevice>> by_resource;
  for (PluginDevice& d : options_.devices()) {
    if (d.kind == DeviceKind::kCpu) continue;
    by_resource[{static_cast<int>(d.kind), d.emulated}].push_back(std::move(d));
  }
  for (auto& [key, devices] : by_resource) {
    auto r = std::make_unique<Resource>();
    r->kind = static_cast<DeviceKind>(key.first);
    r->emulated = key.second;
    r->name = AdvertisedName(r->kind, r->emulated);
    r->socket_name = SocketName(r->kind, r->emulated);
    r->socket_path = options_.plugin_dir + "/" + r->socket_name;
    r->devices = std::move(devices);
    if (r->socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat("the socket path ", r->socket_path,
                                                     " is too long for a Unix socket"));
    }
    if (SocketAnswers(r->socket_path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another device plugin already serves ", r->socket_path,
          " (is another heteroaccel agent running on this node?); stop it first"));
    }
    resources_.push_back(std::move(r));
  }
  for (auto& r : resources_) {
    ::unlink(r->socket_path.c_str());  // stale: nobody answers on it
    if (absl::Status s = Serve(*r); !s.ok()) {
      Stop();
      return s;
    }
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ >= 0 &&
      ::inotify_add_watch(inotify_fd_, options_.plugin_dir.c_str(),
                          IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) < 0) {
    ::close(inotify_fd_);
    inotify_fd_ = -1;
  }
  if (inotify_fd_ < 0) {
    spdlog::warn("device plugin: no inotify on {}; watching it every {} ms", options_.plugin_dir,
                 options_.watch_interval.count());
  }
  for (const auto& r : resources_) {
    spdlog::info("device plugin: serving {} on {} ({} device(s))", r->name, r->socket_path,
                 r->devices.size());
  }
  for (const auto& r : resources_) resource_names_.insert(r->name);
  thread_ = std::thread([this] { Loop(); });
  pod_thread_ = std::thread([this] { PodResourcesLoop(); });
  return absl::OkStatus();
}

// Starts (or replaces) the resource's server on its socket. Loop thread or Start() only.
absl::Status DevicePlugin::Impl::Serve(Resource& r) {
  if (r.server) {
    {
      absl::MutexLock lock(&mu_);
      ++r.epoch;  // its streams end
      changed_.SignalAll();
    }
    r.server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    r.server.reset();
  }
  auto service = std::make_unique<ResourceService>(*this, r);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + r.socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve the device plugin socket ",
                                               r.socket_path, "; is the directory writable?"));
  }
  r.server = std::move(server);
  r.service = std::move(service);
  absl::MutexLock lock(&mu_);
  r.socket_id = StatFile(r.socket_path);
  r.needs_register = true;
  r.next_attempt = absl::InfinitePast();
  return absl::OkStatus();
}

void DevicePlugin::Impl::Loop() {
  absl::Time next_poll = absl::Now() + absl::FromChrono(options_.poll_interval);
  while (true) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    ::poll(fds, inotify_fd_ >= 0 ? 2 : 1, static_cast<int>(options_.watch_interval.count()));
    uint64_t count = 0;
    (void)!::read(wake_fd_, &count, sizeof(count));
    bool kubelet_created = false;
    if (inotify_fd_ >= 0) {
      alignas(inotify_event) char buffer[4096];
      ssize_t n = 0;
      while ((n = ::read(inotify_fd_, buffer, sizeof(buffer))) > 0) {
        for (char* p = buffer; p < buffer + n;) {
          const auto* event = reinterpret_cast<const inotify_event*>(p);
          if ((event->mask & (IN_CREATE | IN_MOVED_TO)) != 0 && event->len > 0 &&
              options_.kubelet_socket == event->name) {
            kubelet_created = true;
          }
          p += sizeof(inotify_event) + event->len;
        }
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (absl::Now() >= next_poll) {
      Refresh();
      next_poll = absl::Now() + absl::FromChrono(options_.poll_interval);
    }
    CheckFiles(kubelet_created);
    for (auto& r : resources_) {
      bool due = false;
      {
        absl::MutexLock lock(&mu_);
        due = r->needs_register && absl::Now() >= r->next_attempt && !stopping_;
      }
      if (!due) continue;
      EnsureServing(*r);  // the kubelet may have removed it since CheckFiles
      Register(*r);
    }
  }
}

// Serves the resource's socket again when it was deleted or replaced.
void DevicePlugin::Impl::EnsureServing(Resource& r) {
  std::optional<FileId> now = StatFile(r.socket_path);
  std::optional<FileId> served;
  {
    absl::MutexLock lock(&mu_);
    served = r.socket_id;
  }
  if (now.has_value() && now == served) return;
  spdlog::info("device plugin: {} was removed; serving it again", r.socket_path);
  if (now.has_value()) ::unlink(r.socket_path.c_str());  // someone else's file
  if (absl::Status s = Serve(r); !s.ok()) spdlog::warn("device plugin: {}", std::string(s.message()));
}

// Serves deleted sockets again; re-registers everything when kubelet.sock is new.
void DevicePlugin::Impl::CheckFiles(bool kubelet_created) {
  for (auto& r : resources_) EnsureServing(*r);
  std::optional<FileId> kubelet = StatFile(KubeletPath());
  if (kubelet.has_value() && (kubelet_created || kubelet != kubelet_id_)) {
    if (kubelet_id_.has_value() || kubelet_created) {
      spdlog::info("device plugin: {} was re-created (kubelet restart); registering again",
                   KubeletPath());
    }
    absl::MutexLock lock(&mu_);
    for (auto& r : resources_) {
      r->needs_register = true;
      r->next_attempt = absl::InfinitePast();
    }
  }
  kubelet_id_ = kubelet;
}

void DevicePlugin::Impl::Register(Resource& r) {
  {
    absl::MutexLock lock(&mu_);
    ++r.attempts;  // a stream opened from now on belongs to this registration
    r.needs_register = false;
  }
  v1beta1::RegisterRequest request;
  request.set_version(kDevicePluginVersion);
  request.set_endpoint(r.socket_name);
  request.set_resource_name(r.name);
  request.mutable_options()->set_get_preferred_allocation_available(true);
  v1beta1::Empty reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.register_timeout);
  auto channel = grpc::CreateChannel("unix:" + KubeletPath(), grpc::InsecureChannelCredentials());
  const grpc::Status status = v1beta1::Registration::NewStub(channel)->Register(&context, request,
                                                                                &reply);
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    ++registrations_;
    spdlog::info("device plugin: registered {} with {}", r.name, KubeletPath());
    return;
  }
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
    spdlog::warn("device plugin: the kubelet refused {}: {}", r.name, status.error_message());
  }
  r.needs_register = true;
  r.next_attempt = absl::Now() + absl::FromChrono(options_.retry_interval);
}

void DevicePlugin::Impl::Refresh() {
  absl::MutexLock poll_lock(&poll_mu_);
  std::map<std::pair<int, bool>, std::vector<PluginDevice>> by_resource;
  for (PluginDevice& d : options_.devices()) {
    if (d.kind == DeviceKind::kCpu) continue;
    by_resource[{static_cast<int>(d.kind), d.emulated}].push_back(std::move(d));
  }
  absl::MutexLock lock(&mu_);
  for (auto& r : resources_) {
    auto it = by_resource.find({static_cast<int>(r->kind), r->emulated});
    std::vector<PluginDevice> devices;
    if (it != by_resource.end()) devices = std::move(it->second);
    if (it != by_resource.end()) by_resource.erase(it);
    if (devices == r->devices) continue;
    r->devices = std::move(devices);
    ++r->version;
    changed_.SignalAll();
  }
  for (const auto& entry : by_resource) {
    const std::string name = AdvertisedName(static_cast<DeviceKind>(entry.first.first),
                                          entry.first.second);
    if (ignored_kinds_.insert(name).second) {
      spdlog::warn("device plugin: {} appeared after start; restart the agent to advertise it",
                   name);
    }
  }
}

grpc::Status DevicePlugin::Impl::ListAndWatch(
    Resource& r, grpc::ServerContext& context,
    grpc::ServerWriter<v1beta1::ListAndWatchResponse>& writer) {
  uint64_t sent = 0;
  uint64_t attempts = 0;
  uint64_t epoch = 0;
  {
    absl::MutexLock lock(&mu_);
    attempts = r.attempts;
    epoch = r.epoch;
  }
  while (true) {
    v1beta1::ListAndWatchResponse response;
    bool send = false;  // the whole list, also when it became empty
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_ && r.epoch == epoch && r.version == sent) {
        changed_.WaitWithTimeout(&mu_, kStreamCheck);
      }
      if (stopping_ || r.epoch != epoch) return grpc::Status::OK;
      if (r.version != sent) {
        for (const PluginDevice& d : r.devices) *response.add_devices() = ToWire(d);
        sent = r.version;
        send = true;
      }
    }
    if (context.IsCancelled()) break;
    if (send && !writer.Write(response)) break;
  }
  absl::MutexLock lock(&mu_);
  if (!stopping_ && r.epoch == epoch && r.attempts == attempts) {
    spdlog::info("device plugin: the kubelet closed the {} stream; registering again", r.name);
    r.needs_register = true;
    r.next_attempt = absl::InfinitePast();
    Wake();
  }
  return grpc::Status::OK;
}

grpc::Status DevicePlugin::Impl::Preferred(Resource& r,
                                           const v1beta1::PreferredAllocationRequest& request,
                                           v1beta1::PreferredAllocationResponse& response) {
  std::vector<PluginDevice> devices;
  {
    absl::MutexLock lock(&mu_);
    devices = r.devices;
  }
  for (const auto& c : request.container_requests()) {
    const std::vector<std::string> available(c.available_deviceids().begin(),
                                             c.available_deviceids().end());
    const std::vector<std::string> must(c.must_include_deviceids().begin(),
                                        c.must_include_deviceids().end());
    absl::StatusOr<std::vector<std::string>> ids =
        PreferredAllocation(devices, available, must, c.allocation_size());
    if (!ids.ok()) {
      return ToGrpc(absl::Status(ids.status().code(),
                                 absl::StrCat(r.name, ": ", ids.status().message())));
    }
    auto* out = response.add_container_responses();
    for (const std::string& id : *ids) out->add_deviceids(id);
  }
  return grpc::Status::OK;
}

grpc::Status DevicePlugin::Impl::Allocate(Resource& r, const v1beta1::AllocateRequest& request,
                                          v1beta1::AllocateResponse& response) {
  std::map<std::string, PluginDevice> devices;
  {
    absl::MutexLock lock(&mu_);
    for (const PluginDevice& d : r.devices) devices[d.id] = d;
  }
  std::vector<std::string> allocated;
  for (const auto& c : request.container_requests()) {
    auto* out = response.add_container_responses();
    std::vector<std::string> ids;
    for (const std::string& id : c.devices_ids()) {
      auto it = devices.find(id);
      if (it == devices.end()) {
        std::vector<std::string> known;
        for (const auto& entry : devices) known.push_back(entry.first);
        return {grpc::StatusCode::INVALID_ARGUMENT,
                absl::StrCat("unknown device ", id, " for ", r.name, " (this node has: ",
                             known.empty() ? "none" : absl::StrJoin(known, ", "), ")")};
      }
      const PluginDevice& d = it->second;
      if (!d.healthy) {
        return {grpc::StatusCode::FAILED_PRECONDITION,
                absl::StrCat("device ", id, " (", r.name,
                             ") is unhealthy; the kubelet should pick a healthy one")};
      }
      ids.push_back(id);
      for (const std::string& node : d.device_nodes) {
        if (!StatFile(node).has_value()) continue;
        auto* spec = out->add_devices();
        spec->set_host_path(node);
        spec->set_container_path(node);
        spec->set_permissions("rw");
      }
      if (!d.emulated && !d.cdi_name.empty()) out->add_cdi_devices()->set_name(d.cdi_name);
    }
    const std::string joined = absl::StrJoin(ids, ",");
    (*out->mutable_envs())["HETEROACCEL_DEVICES"] = joined;
    (*out->mutable_envs())[KindEnv(r.kind, r.emulated)] = joined;
    allocated.insert(allocated.end(), ids.begin(), ids.end());
  }
  absl::MutexLock lock(&mu_);
  assigned_.insert(allocated.begin(), allocated.end());
  const absl::Time now = absl::Now();
  for (const std::string& id : allocated) allocated_at_[id] = now;
  return grpc::Status::OK;
}

// Every pod_resources_interval: the kubelet's list replaces AssignedIds, keeping
// allocations made since the previous List started (the kubelet may not have
// recorded them when that List ran).
void DevicePlugin::Impl::PodResourcesLoop() {
  absl::Time previous_start = absl::InfinitePast();
  while (true) {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::set<std::string>> listed = ListPodResources();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      for (auto it = allocated_at_.begin(); it != allocated_at_.end();) {
        if (it->second < previous_start) {
          it = allocated_at_.erase(it);
          continue;
        }
        if (listed.ok()) listed->insert(it->first);
        ++it;
      }
      if (listed.ok()) assigned_ = std::move(*listed);
    }
    LogPodResources(listed.status());
    previous_start = start;
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                         absl::FromChrono(options_.pod_resources_interval));
    if (stopping_) return;
  }
}

// The device IDs of our resources that the kubelet lists for its pods.
absl::StatusOr<std::set<std::string>> DevicePlugin::Impl::ListPodResources() {
  const std::string& path = options_.pod_resources_socket;
  if (!StatFile(path).has_value()) {
    return absl::NotFoundError(absl::StrCat("no kubelet PodResources socket at ", path));
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // no reconnect backoff from earlier calls
  args.SetMaxReceiveMessageSize(kMaxPodResourcesBytes);
  auto channel =
      grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.pod_resources_timeout);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    list_context_ = &context;
  }
  v1::ListPodResourcesResponse response;
  const grpc::Status status =
      v1::PodResourcesLister::NewStub(channel)->List(&context, v1::ListPodResourcesRequest(),
                                                     &response);
  {
    absl::MutexLock lock(&mu_);
    list_context_ = nullptr;
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("the kubelet's PodResources List on ", path,
                                               " failed: ", status.error_message()));
  }
  std::set<std::string> ids;
  for (const v1::PodResources& pod : response.pod_resources()) {
    for (const v1::ContainerResources& container : pod.containers()) {
      for (const v1::ContainerDevices& devices : container.devices()) {
        if (!resource_names_.contains(devices.resource_name())) continue;
        ids.insert(devices.device_ids().begin(), devices.device_ids().end());
      }
    }
  }
  return ids;
}

// Logs once per change between answering and failing, not on every poll.
void DevicePlugin::Impl::LogPodResources(const absl::Status& status) {
  if (status.ok()) {
    if (pod_resources_ok_ != true) {
      spdlog::info("device plugin: pod assignments follow the kubelet's PodResources API on {}",
                   options_.pod_resources_socket);
    }
    pod_resources_ok_ = true;
    return;
  }
  if (status.code() == absl::StatusCode::kCancelled) return;
  if (pod_resources_ok_ != false) {
    spdlog::warn("device plugin: {}; devices stay assigned from Allocate calls, and are not "
                 "freed when their pods end, until it answers",
                 std::string(status.message()));
  }
  pod_resources_ok_ = false;
}

void DevicePlugin::Impl::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    changed_.SignalAll();
    if (list_context_ != nullptr) list_context_->TryCancel();
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  if (pod_thread_.joinable()) pod_thread_.join();
  for (auto& r : resources_) {
    if (!r->server) continue;
    r->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    r->server.reset();
    // Remove the socket only while it is still the one we served.
    std::optional<FileId> served;
    {
      absl::MutexLock lock(&mu_);
      served = r->socket_id;
    }
    if (StatFile(r->socket_path) == served) ::unlink(r->socket_path.c_str());
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  wake_fd_ = inotify_fd_ = -1;
}

absl::StatusOr<std::unique_ptr<DevicePlugin>> DevicePlugin::Create(DevicePluginOptions options) {
  if (!options.devices) return absl::InvalidArgumentError("the device plugin needs a device source");
  struct stat st {};
  if (options.plugin_dir.empty() || ::stat(options.plugin_dir.c_str(), &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the device plugin directory '", options.plugin_dir,
        "' does not exist (on a node: /var/lib/kubelet/device-plugins)"));
  }
  while (options.plugin_dir.size() > 1 && options.plugin_dir.back() == '/') {
    options.plugin_dir.pop_back();
  }
  if (options.pod_resources_socket.empty()) {
    options.pod_resources_socket =
        absl::StrCat(options.plugin_dir, "/../", kPodResourcesSocket);
  }
  if (options.watch_interval <= std::chrono::milliseconds(0) ||
      options.poll_interval <= std::chrono::milliseconds(0) ||
      options.pod_resources_interval <= std::chrono::milliseconds(0) ||
      options.pod_resources_timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("the device plugin's intervals must be positive");
  }
  return std::unique_ptr<DevicePlugin>(
      new DevicePlugin(std::make_unique<Impl>(std::move(options))));
}

DevicePlugin::DevicePlugin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DevicePlugin::~DevicePlugin() { Stop(); }
absl::Status DevicePlugin::Start() { return impl_->Start(); }
void DevicePlugin::Stop() { impl_->Stop(); }
void DevicePlugin::Refresh() { impl_->Refresh(); }
std::set<std::string> DevicePlugin::AssignedIds() const { return impl_->AssignedIds(); }
bool DevicePlugin::IsAssigned(const std::string& id) const { return impl_->IsAssigned(id); }
std::vector<std::string> DevicePlugin::Resources() const { return impl_->Resources(); }
int DevicePlugin::registrations() const { return impl_->registrations(); }

}  // namespace heteroaccel::k8s
