#include "grpc/client.h"

#include <utility>

#include "common/status_macros.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::grpcfront {

using protocol::internal::StrCat;

absl::StatusOr<std::unique_ptr<GrpcClient>> GrpcClient::Create(std::string target,
                                                               GrpcClientOptions options) {
  if (target.empty()) {
    return absl::InvalidArgumentError("the gRPC target is empty; use host:port");
  }
  if (options.max_message_bytes <= 0 || options.timeout.count() <= 0) {
    return absl::InvalidArgumentError(StrCat("max_message_bytes and timeout must be positive, got ",
                                             options.max_message_bytes, " bytes and ",
                                             options.timeout.count(), " ms"));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  auto stub = ::inference::GRPCInferenceService::NewStub(channel);
  return std::unique_ptr<GrpcClient>(new GrpcClient(std::move(target), options, std::move(stub)));
}

GrpcClient::GrpcClient(std::string target, GrpcClientOptions options,
                       std::unique_ptr<::inference::GRPCInferenceService::Stub> stub)
    : target_(std::move(target)), options_(options), stub_(std::move(stub)) {}

void GrpcClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
}

absl::StatusOr<bool> GrpcClient::ServerLive() {
  grpc::ClientContext context;
  Prepare(context);
  ::inference::ServerLiveResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ServerLive(&context, {}, &response)));
  return response.live();
}

absl::StatusOr<bool> GrpcClient::ServerReady() {
  grpc::ClientContext context;
  Prepare(context);
  ::inference::ServerReadyResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ServerReady(&context, {}, &response)));
  return response.ready();
}

absl::StatusOr<bool> GrpcClient::ModelReady(const std::string& model, const std::string& version) {
  grpc::ClientContext context;
  Prepare(context);
  ::inference::ModelReadyRequest request;
  request.set_name(model);
  request.set_version(version);
  ::inference::ModelReadyResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ModelReady(&context, request, &response)));
  return response.ready();
}

absl::StatusOr<nlohmann::json> GrpcClient::ServerMetadata() {
  grpc::ClientContext context;
  Prepare(context);
  ::inference::ServerMetadataResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ServerMetadata(&context, {}, &response)));
  return ServerMetadataFromProto(response);
}

absl::StatusOr<protocol::ModelMetadata> GrpcClient::ModelMetadata(const std::string& model,
                                                                  const std::string& version) {
  grpc::ClientContext context;
  Prepare(context);
  ::inference::ModelMetadataRequest request;
  request.set_name(model);
  request.set_version(version);
  ::inference::ModelMetadataResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ModelMetadata(&context, request, &response)));
  return ModelMetadataFromProto(response);
}

absl::StatusOr<protocol::InferResponse> GrpcClient::Infer(const std::string& model,
                                                          const std::string& version,
                                                          const protocol::InferRequest& request) {
  ASSIGN_OR_RETURN(const ::inference::ModelInferRequest proto,
                   InferRequestToProto(request, model, version, options_.encoding));
  ASSIGN_OR_RETURN(const ::inference::ModelInferResponse response, ModelInfer(proto));
  return InferResponseFromProto(response);
}

absl::StatusOr<::inference::ModelInferResponse> GrpcClient::ModelInfer(
    const ::inference::ModelInferRequest& request) {
  grpc::ClientContext context;
  Prepare(context);
  ::inference::ModelInferResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(stub_->ModelInfer(&context, request, &response)));
  return response;
}

}  // namespace heteroaccel::grpcfront
