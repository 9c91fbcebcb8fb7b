#include "k8s/device_plugin/testing/fake_kubelet.h"

#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace heteroaccel::k8s::testing {

constexpr auto kCallTimeout = std::chrono::seconds(5);

class FakeKubelet::RegistrationService final : public v1beta1::Registration::Service {
 public:
  explicit RegistrationService(FakeKubelet& kubelet) : kubelet_(kubelet) {}

  grpc::Status Register(grpc::ServerContext*, const v1beta1::RegisterRequest* request,
                        v1beta1::Empty*) override {
    std::string error;
    if (request->version() != "v1beta1") {
      error = absl::StrCat("unsupported version '", request->version(), "'");
    } else if (request->endpoint().empty() || absl::StrContains(request->endpoint(), "/")) {
      error = absl::StrCat("endpoint '", request->endpoint(), "' must be a file name");
    } else if (!absl::StrContains(request->resource_name(), "/")) {
      error = absl::StrCat("resource name '", request->resource_name(), "' has no domain");
    }
    if (!error.empty()) {
      absl::MutexLock lock(&kubelet_.mu_);
      kubelet_.errors_.push_back(error);
      return {grpc::StatusCode::INVALID_ARGUMENT, error};
    }
    kubelet_.OnRegister(*request);
    return grpc::Status::OK;
  }

 private:
  FakeKubelet& kubelet_;
};

class FakeKubelet::PodResourcesService final : public v1::PodResourcesLister::Service {
 public:
  explicit PodResourcesService(FakeKubelet& kubelet) : kubelet_(kubelet) {}

  grpc::Status List(grpc::ServerContext*, const v1::ListPodResourcesRequest*,
                    v1::ListPodResourcesResponse* response) override {
    absl::MutexLock lock(&kubelet_.mu_);
    *response = kubelet_.pod_resources_;
    ++kubelet_.list_calls_;
    return grpc::Status::OK;
  }

 private:
  FakeKubelet& kubelet_;
};

FakeKubelet::FakeKubelet(std::string dir, std::string pod_resources_socket)
    : dir_(std::move(dir)), pod_resources_socket_(std::move(pod_resources_socket)) {}

FakeKubelet::~FakeKubelet() { Stop(); }

absl::StatusOr<std::unique_ptr<FakeKubelet>> FakeKubelet::Start(
    const std::string& dir, const std::string& pod_resources_socket) {
  std::unique_ptr<FakeKubelet> kubelet(new FakeKubelet(dir, pod_resources_socket));
  kubelet->service_ = std::make_unique<RegistrationService>(*kubelet);
  kubelet->pod_resources_service_ = std::make_unique<PodResourcesService>(*kubelet);
  if (absl::Status s = kubelet->Serve(); !s.ok()) return s;
  return kubelet;
}

absl::Status FakeKubelet::Serve() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  ::unlink(socket_path().c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path(), grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  absl::MutexLock lock(&server_mu_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::UnavailableError("cannot serve " + socket_path());
  if (pod_resources_socket_.empty()) return absl::OkStatus();
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(pod_resources_socket_).parent_path(),
                                      ignored);
  ::unlink(pod_resources_socket_.c_str());
  grpc::ServerBuilder pod_builder;
  pod_builder.AddListeningPort("unix:" + pod_resources_socket_, grpc::InsecureServerCredentials());
  pod_builder.RegisterService(pod_resources_service_.get());
  pod_resources_server_ = pod_builder.BuildAndStart();
  if (pod_resources_server_ == nullptr) {
    return absl::UnavailableError("cannot serve " + pod_resources_socket_);
  }
  return absl::OkStatus();
}

void FakeKubelet::OnRegister(const v1beta1::RegisterRequest& request) {
  auto endpoint = std::make_shared<Endpoint>();
  endpoint->endpoint = request.endpoint();
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  ++registrations_[request.resource_name()];
  requests_[request.resource_name()] = request;
  // The device manager replaces the resource's endpoint: the old stream ends.
  if (auto it = current_.find(request.resource_name()); it != current_.end()) {
    if (it->second->stream_context) it->second->stream_context->TryCancel();
  }
  endpoint->stream_context = std::make_unique<grpc::ClientContext>();
  current_[request.resource_name()] = endpoint;
  threads_.emplace_back(
      [this, endpoint, resource = request.resource_name()] { Watch(endpoint, resource); });
}

void FakeKubelet::Watch(std::shared_ptr<Endpoint> endpoint, std::string resource) {
  auto channel = grpc::CreateChannel("unix:" + dir_ + "/" + endpoint->endpoint,
                                     grpc::InsecureChannelCredentials());
  auto stub = v1beta1::DevicePlugin::NewStub(channel);
  v1beta1::DevicePluginOptions options;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    const grpc::Status s = stub->GetDevicePluginOptions(&context, v1beta1::Empty(), &options);
    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      errors_.push_back(absl::StrCat(resource, ": GetDevicePluginOptions: ", s.error_message()));
      endpoint->closed = true;
      return;
    }
    endpoint->channel = channel;
    endpoint->options = options;
    endpoint->has_options = true;
  }
  grpc::ClientContext* context = endpoint->stream_context.get();  // lives as long as endpoint
  auto reader = stub->ListAndWatch(context, v1beta1::Empty());
  v1beta1::ListAndWatchResponse response;
  while (reader->Read(&response)) {
    absl::MutexLock lock(&mu_);
    endpoint->last.assign(response.devices().begin(), response.devices().end());
    if (++endpoint->lists == 1) ++streams_[resource];
    ++lists_[resource];
  }
  reader->Finish().IgnoreError();
  absl::MutexLock lock(&mu_);
  endpoint->closed = true;
}

void FakeKubelet::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [resource, endpoint] : current_) {
      if (endpoint->stream_context) endpoint->stream_context->TryCancel();
    }
    current_.clear();
    threads.swap(threads_);
  }
  {
    absl::MutexLock lock(&server_mu_);
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
      server_.reset();
      ::unlink(socket_path().c_str());
    }
    if (pod_resources_server_) {
      pod_resources_server_->Shutdown(std::chrono::system_clock::now() +
                                      std::chrono::milliseconds(200));
      pod_resources_server_.reset();
      ::unlink(pod_resources_socket_.c_str());
    }
  }
  for (std::thread& t : threads) t.join();
}

absl::Status FakeKubelet::Restart() {
  if (DIR* d = ::opendir(dir_.c_str()); d != nullptr) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "kubelet.sock" && absl::EndsWith(name, ".sock")) {
        ::unlink((dir_ + "/" + name).c_str());
      }
    }
    ::closedir(d);
  }
  Stop();
  return Serve();
}

std::shared_ptr<FakeKubelet::Endpoint> FakeKubelet::Current(const std::string& resource) const {
  absl::MutexLock lock(&mu_);
  auto it = current_.find(resource);
  return it == current_.end() ? nullptr : it->second;
}

int FakeKubelet::Registrations(const std::string& resource) const {
  absl::MutexLock lock(&mu_);
  auto it = registrations_.find(resource);
  return it == registrations_.end() ? 0 : it->second;
}

v1beta1::RegisterRequest FakeKubelet::LastRequest(const std::string& resource) const {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(resource);
  return it == requests_.end() ? v1beta1::RegisterRequest() : it->second;
}

bool FakeKubelet::WaitForStreams(const std::string& resource, int count,
                                 std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = streams_.find(resource);
    return it != streams_.end() && it->second >= count;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), absl::FromChrono(timeout));
}

bool FakeKubelet::WaitForList(const std::string& resource,
                              const std::function<bool(const DeviceList&)>& ok,
                              std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = current_.find(resource);
    return it != current_.end() && it->second->lists > 0 && ok(it->second->last);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), absl::FromChrono(timeout));
}

FakeKubelet::DeviceList FakeKubelet::LastList(const std::string& resource) const {
  absl::MutexLock lock(&mu_);
  auto it = current_.find(resource);
  return it == current_.end() ? DeviceList() : it->second->last;
}

int FakeKubelet::ListsReceived(const std::string& resource) const {
  absl::MutexLock lock(&mu_);
  auto it = lists_.find(resource);
  return it == lists_.end() ? 0 : it->second;
}

v1beta1::DevicePluginOptions FakeKubelet::Options(const std::string& resource) const {
  absl::MutexLock lock(&mu_);
  auto it = current_.find(resource);
  return it == current_.end() ? v1beta1::DevicePluginOptions() : it->second->options;
}

void FakeKubelet::BreakStream(const std::string& resource) {
  absl::MutexLock lock(&mu_);
  auto it = current_.find(resource);
  if (it != current_.end() && it->second->stream_context) it->second->stream_context->TryCancel();
}

absl::StatusOr<v1beta1::AllocateResponse> FakeKubelet::Allocate(
    const std::string& resource, const std::vector<std::vector<std::string>>& containers) {
  std::shared_ptr<Endpoint> endpoint = Current(resource);
  std::shared_ptr<grpc::Channel> channel;
  if (endpoint != nullptr) {
    absl::MutexLock lock(&mu_);
    channel = endpoint->channel;
  }
  if (channel == nullptr) return absl::FailedPreconditionError(resource + " has no endpoint");
  v1beta1::AllocateRequest request;
  for (const auto& ids : containers) {
    auto* c = request.add_container_requests();
    for (const std::string& id : ids) c->add_devices_ids(id);
  }
  v1beta1::AllocateResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  const grpc::Status s = v1beta1::DevicePlugin::NewStub(channel)->Allocate(&context, request,
                                                                           &response);
  if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  return response;
}

absl::StatusOr<v1beta1::PreferredAllocationResponse> FakeKubelet::Preferred(
    const std::string& resource, const v1beta1::PreferredAllocationRequest& request) {
  std::shared_ptr<Endpoint> endpoint = Current(resource);
  std::shared_ptr<grpc::Channel> channel;
  if (endpoint != nullptr) {
    absl::MutexLock lock(&mu_);
    channel = endpoint->channel;
  }
  if (channel == nullptr) return absl::FailedPreconditionError(resource + " has no endpoint");
  v1beta1::PreferredAllocationResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  const grpc::Status s =
      v1beta1::DevicePlugin::NewStub(channel)->GetPreferredAllocation(&context, request, &response);
  if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  return response;
}

void FakeKubelet::SetPodResources(const v1::ListPodResourcesResponse& response) {
  absl::MutexLock lock(&mu_);
  pod_resources_ = response;
}

int FakeKubelet::ListCalls() const {
  absl::MutexLock lock(&mu_);
  return list_calls_;
}

bool FakeKubelet::WaitForListCalls(int count, std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return list_calls_ >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), absl::FromChrono(timeout));
}

std::vector<std::string> FakeKubelet::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

}  // namespace heteroaccel::k8s::testing
