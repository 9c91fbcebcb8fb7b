// GrpcServer: serves an InferenceService as the KServe v2 gRPC service
// inference.GRPCInferenceService (ServerLive, ServerReady, ModelReady,
// ServerMetadata, ModelMetadata, ModelInfer), so Triton and KServe gRPC clients
// work against it unchanged.
//
// Model: gRPC's callback API. Every method runs on a gRPC callback thread;
// ModelInfer converts and checks the request there (InvalidArgument with a
// message naming the offending tensor), hands it to InferenceService::Infer
// and returns at once, so no gRPC thread waits while a model computes. The
// answer goes out from whichever thread calls `done`. Requests larger than
// max_message_bytes are refused by gRPC with RESOURCE_EXHAUSTED before any of
// our code runs. Outputs always travel as raw_output_contents, as Triton sends
// them. If the service drops `done` without calling it, the call ends with
// INTERNAL instead of hanging.
//
// Ownership and threading: Create() binds and starts serving; the service must
// outlive the server. Stop() (also run by the destructor) stops accepting,
// lets calls in flight finish for shutdown_grace, then cancels them (their
// clients see UNAVAILABLE), and returns only once every pending Infer has
// called (or dropped) its `done`, since the call's state lives until then. It
// must not be called from inside a service method or a `done` callback. All
// public methods are thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "grpc/inference_service.h"
#include "protocol/inference.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace heteroaccel::grpcfront {

struct GrpcServerOptions {
  // host:port as gRPC accepts it ("127.0.0.1:0", "0.0.0.0:8001", "[::]:8001");
  // port 0 picks a free port (see GrpcServer::port()).
  std::string listen = "127.0.0.1:0";
  // Largest request and response message in bytes.
  int max_message_bytes = 16 << 20;
  // Tensor count and element bounds, as on the HTTP path.
  protocol::Limits limits;
  // How long Stop() lets calls in flight finish before cancelling them.
  std::chrono::milliseconds shutdown_grace{2000};
};

class GrpcServer {
 public:
  // Binds and starts serving. InvalidArgument for bad options, Unavailable
  // when the address cannot be bound ("cannot listen on 127.0.0.1:8001 ...").
  // The port is bound exclusively (no SO_REUSEPORT), so a port in use fails
  // here instead of silently sharing traffic with another process.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Create(GrpcServerOptions options,
                                                            InferenceService& service);

  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The bound port (the one picked when the options asked for 0).
  int port() const { return port_; }
  // The listen address with the bound port, e.g. "127.0.0.1:40123"; a client
  // target.
  std::string address() const;

  // Idempotent; see the top of this file.
  void Stop();

 private:
  class Service;

  GrpcServer(GrpcServerOptions options, std::unique_ptr<Service> service,
             std::unique_ptr<grpc::Server> server, int port);

  const GrpcServerOptions options_;
  const std::unique_ptr<Service> service_;
  const int port_;
  std::mutex mu_;
  std::unique_ptr<grpc::Server> server_ ABSL_GUARDED_BY(mu_);
};

}  // namespace heteroaccel::grpcfront
