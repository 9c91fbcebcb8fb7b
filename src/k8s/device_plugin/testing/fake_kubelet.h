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

namespace heteroaccel::k8s::testing {

class FakeKubelet {
 public:
  using DeviceList = std::vector<v1beta1::Device>;

  // Serves <dir>/kubelet.sock.
  static absl::StatusOr<std::unique_ptr<FakeKubelet>> Start(const std::string& dir);
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

  std::vector<std::string> errors() const;
  std::string socket_path() const { return dir_ + "/kubelet.sock"; }

  class RegistrationService;

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

  explicit FakeKubelet(std::string dir);
  absl::Status Serve();
  void OnRegister(const v1beta1::RegisterRequest& request);
  void Watch(std::shared_ptr<Endpoint> endpoint, std::string resource);
  std::shared_ptr<Endpoint> Current(const std::string& resource) const;

  const std::string dir_;
  std::unique_ptr<RegistrationService> service_;
  std::unique_ptr<grpc::Server> server_;  // guarded by server_mu_
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
};

}  // namespace heteroaccel::k8s::testing
