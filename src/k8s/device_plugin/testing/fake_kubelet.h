// FakeKubelet: the kubelet's side of the device plugin API (v1beta1) for tests.
//
// It serves the Registration service on <dir>/kubelet.sock and, like the
// kubelet's device manager, dials back on every accepted Register: it calls
// GetDevicePluginOptions, then keeps ListAndWatch open and records every list.
// A new registration of a resource replaces (cancels) that resource's previous
// endpoint. Register is refused (INVALID_ARGUMENT) for another version, an
// endpoint that is a path, or a resource name without a domain; each refusal
// is recorded in errors().
//
// Restart() does what a kubelet restart does to the directory: it removes every
// plugin socket, stops, and serves again on a new kubelet.sock. BreakStream()
// cancels a resource's stream. Allocate()/Preferred() call the resource's
// current endpoint.
//
// Given a second path, it also serves the PodResources API (v1) there, like
// the kubelet's pod-resources/kubelet.sock: List answers the response last
// given to SetPodResources (empty at first) and counts the calls. Restart()
// serves that socket again too.
//
// Owns its server, channels and threads; Stop() (or the destructor) joins them.
// Thread-safe. Every Wait* is bounded by its timeout.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "k8s/device_plugin/api.grpc.pb.h"
#include "k8s/device_plugin/podresources.grpc.pb.h"

namespace heteroaccel::k8s::testing {

class FakeKubelet {
 public:
  using DeviceList = std::vector<v1beta1::Device>;

  // Serves <dir>/kubelet.sock and, when `pod_resources_socket` is not empty,
  // the PodResources API on that path (its directory is created).
  static absl::StatusOr<std::unique_ptr<FakeKubelet>> Start(
      const std::string& dir, const std::string& pod_resources_socket = "");
  ~FakeKubelet();

  // Removes the plugin sockets, stops, and serves a new kubelet.sock.
  absl::Status Restart();
  // Stops serving and dialing; removes kubelet.sock. Idempotent.
  void Stop();

  // Accepted Register calls for `resource` so far.
  int Registrations(const std::string& resource) const;
  // The last accepted RegisterRequest for `resource` (default when none).
  v1beta1::RegisterRequest LastRequest(const std::string& resource) const;
  // Waits until `resource` has at least `count` registrations whose dial-back
  // got the options and at least one list. False on timeout.
  bool WaitForStreams(const std::string& resource, int count,
                      std::chrono::milliseconds timeout) const;
  // Waits until the latest list of `resource`'s current stream satisfies `ok`.
  bool WaitForList(const std::string& resource, const std::function<bool(const DeviceList&)>& ok,
                   std::chrono::milliseconds timeout) const;
  // The latest list received for `resource` (empty when none).
  DeviceList LastList(const std::string& resource) const;
  // Lists received over every stream of `resource`.
  int ListsReceived(const std::string& resource) const;
  // The options the plugin answered on the latest dial-back.
  v1beta1::DevicePluginOptions Options(const std::string& resource) const;
  // Cancels `resource`'s current ListAndWatch, as a broken connection would.
  void BreakStream(const std::string& resource);

  absl::StatusOr<v1beta1::AllocateResponse> Allocate(
      const std::string& resource, const std::vector<std::vector<std::string>>& containers);
  absl::StatusOr<v1beta1::PreferredAllocationResponse> Preferred(
      const std::string& resource, const v1beta1::PreferredAllocationRequest& request);

  // What List answers from now on.
  void SetPodResources(const v1::ListPodResourcesResponse& response);
  // List calls answered so far.
  int ListCalls() const;
  // Waits until at least `count` List calls were answered. False on timeout.
  bool WaitForListCalls(int count, std::chrono::milliseconds timeout) const;

  std::vector<std::string> errors() const;
  std::string socket_path() const { return dir_ + "/kubelet.sock"; }

  class RegistrationService;
  class PodResourcesService;

 private:
  struct Endpoint {
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::ClientContext> stream_context;
    bool has_options = false;
    v1beta1::DevicePluginOptions options;
    DeviceList last;
    int lists = 0;
    bool closed = false;
  };

  FakeKubelet(std::string dir, std::string pod_resources_socket);
  absl::Status Serve();
  void OnRegister(const v1beta1::RegisterRequest& request);
  void Watch(std::shared_ptr<Endpoint> endpoint, std::string resource);
  std::shared_ptr<Endpoint> Current(const std::string& resource) const;

  const std::string dir_;
  const std::string pod_resources_socket_;  // "" = not served
  std::unique_ptr<RegistrationService> service_;
  std::unique_ptr<PodResourcesService> pod_resources_service_;
  std::unique_ptr<grpc::Server> server_;                // guarded by server_mu_
  std::unique_ptr<grpc::Server> pod_resources_server_;  // guarded by server_mu_
  absl::Mutex server_mu_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, int> registrations_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> lists_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1beta1::RegisterRequest> requests_ ABSL_GUARDED_BY(mu_);
  // Streams fully set up per resource (options answered, one list received).
  std::map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Endpoint>> current_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  v1::ListPodResourcesResponse pod_resources_ ABSL_GUARDED_BY(mu_);
  int list_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace heteroaccel::k8s::testing
