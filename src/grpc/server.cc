#include "grpc/server.h"

#include <atomic>
#include <utility>

#include "grpc/convert.h"
#include "grpc/predict_v2.grpc.pb.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_callback.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::grpcfront {
namespace {

using protocol::internal::StrCat;

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status NeedModelName(std::string_view field) {
  return {grpc::StatusCode::INVALID_ARGUMENT,
          StrCat("the request needs a model name in '", field, "'")};
}

// Finishes one ModelInfer call exactly once: with the service's answer, or
// with INTERNAL when the last copy of `done` is destroyed unanswered. Shared
// by every copy of the `done` function handed to the service.
class InferCompletion {
 public:
  InferCompletion(grpc::ServerUnaryReactor* reactor, ::inference::ModelInferResponse* response,
                  protocol::InferRequest echo)
      : reactor_(reactor), response_(response), echo_(std::move(echo)) {}

  ~InferCompletion() {
    if (!finished_.exchange(true)) {
      reactor_->Finish(grpc::Status(grpc::StatusCode::INTERNAL,
                                    "the inference service dropped the request without answering"));
    }
  }

  InferCompletion(const InferCompletion&) = delete;
  InferCompletion& operator=(const InferCompletion&) = delete;

  void Complete(absl::StatusOr<protocol::InferResponse> result) {
    // A second call is a bug in the service; the call already ended, and the
    // reactor and response may be gone, so it is ignored.
    if (finished_.exchange(true)) return;
    if (!result.ok()) {
      reactor_->Finish(ToGrpcStatus(result.status()));
      return;
    }
    absl::Status converted = InferResponseToProto(*std::move(result), echo_, response_);
    if (!converted.ok()) response_->Clear();
    reactor_->Finish(ToGrpcStatus(converted));
  }

 private:
  grpc::ServerUnaryReactor* const reactor_;
  ::inference::ModelInferResponse* const response_;
  // The request's id and requested outputs; its inputs went to the service.
  const protocol::InferRequest echo_;
  std::atomic<bool> finished_{false};
};

// "host:port" with the port replaced; unchanged for a Unix socket or when
// there is no port.
std::string WithPort(const std::string& listen, int port) {
  if (listen.rfind("unix:", 0) == 0) return listen;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || listen.find(']', colon) != std::string::npos) return listen;
  return StrCat(listen.substr(0, colon + 1), port);
}

}  // namespace

class GrpcServer::Service final : public ::inference::GRPCInferenceService::CallbackService {
 public:
  Service(InferenceService& service, protocol::Limits limits)
      : service_(service), limits_(limits) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const ::inference::ServerLiveRequest* /*request*/,
                                       ::inference::ServerLiveResponse* response) override {
    response->set_live(service_.Live());
    return FinishNow(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const ::inference::ServerReadyRequest* /*request*/,
                                        ::inference::ServerReadyResponse* response) override {
    response->set_ready(service_.Ready());
    return FinishNow(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const ::inference::ModelReadyRequest* request,
                                       ::inference::ModelReadyResponse* response) override {
    if (request->name().empty()) return FinishNow(context, NeedModelName("name"));
    response->set_ready(service_.ModelReady(request->name(), request->version()));
    return FinishNow(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const ::inference::ServerMetadataRequest* /*request*/,
                                           ::inference::ServerMetadataResponse* response) override {
    *response = ServerMetadataToProto(service_.ServerMetadata());
    return FinishNow(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const ::inference::ModelMetadataRequest* request,
                                          ::inference::ModelMetadataResponse* response) override {
    if (request->name().empty()) return FinishNow(context, NeedModelName("name"));
    absl::StatusOr<protocol::ModelMetadata> metadata =
        service_.ModelMetadata(request->name(), request->version());
    if (!metadata.ok()) return FinishNow(context, ToGrpcStatus(metadata.status()));
    *response = ModelMetadataToProto(*metadata);
    return FinishNow(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const ::inference::ModelInferRequest* request,
                                       ::inference::ModelInferResponse* response) override {
    if (request->model_name().empty()) return FinishNow(context, NeedModelName("model_name"));
    absl::StatusOr<protocol::InferRequest> parsed = InferRequestFromProto(*request, limits_);
    if (!parsed.ok()) return FinishNow(context, ToGrpcStatus(parsed.status()));
    protocol::InferRequest echo;
    echo.id = parsed->id;
    echo.outputs = parsed->outputs;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto completion = std::make_shared<InferCompletion>(reactor, response, std::move(echo));
    // The service may answer before Infer returns; the reactor allows that.
    service_.Infer(request->model_name(), request->model_version(), *std::move(parsed),
                   [completion = std::move(completion)](
                       absl::StatusOr<protocol::InferResponse> result) mutable {
                     completion->Complete(std::move(result));
                   });
    return reactor;
  }

 private:
  InferenceService& service_;
  const protocol::Limits limits_;
};

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Create(GrpcServerOptions options,
                                                               InferenceService& service) {
  if (options.listen.empty()) {
    return absl::InvalidArgumentError(
        "the gRPC listen address is empty; use host:port, e.g. 127.0.0.1:8001");
  }
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        StrCat("max_message_bytes must be positive, got ", options.max_message_bytes));
  }
  auto impl = std::make_unique<Service>(service, options.limits);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind a port
  // in use and quietly take part of its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(impl.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(
        StrCat("cannot listen on ", options.listen,
               " for gRPC: the address is in use or not a valid host:port"));
  }
  return std::unique_ptr<GrpcServer>(
      new GrpcServer(std::move(options), std::move(impl), std::move(server), port));
}

GrpcServer::GrpcServer(GrpcServerOptions options, std::unique_ptr<Service> service,
                       std::unique_ptr<grpc::Server> server, int port)
    : options_(std::move(options)),
      service_(std::move(service)),
      port_(port),
      server_(std::move(server)) {}

GrpcServer::~GrpcServer() { Stop(); }

std::string GrpcServer::address() const { return WithPort(options_.listen, port_); }

void GrpcServer::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_grace);
  server_->Wait();
  server_.reset();
}

}  // namespace heteroaccel::grpcfront
