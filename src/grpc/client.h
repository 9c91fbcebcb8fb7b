// GrpcClient: a small synchronous client of the KServe v2 gRPC service, for
// tools and tests. It speaks to any v2 server (ours, Triton, KServe runtimes).
//
// Every call blocks until the answer arrives or `timeout` passes. Errors carry
// the server's gRPC code and message mapped to absl (NOT_FOUND -> NotFound,
// INVALID_ARGUMENT -> InvalidArgument, ...); an unreachable server yields
// Unavailable and a late one DeadlineExceeded.
//
// Ownership and threading: the client owns its channel; the connection is made
// on the first call and re-made after failures. All methods are thread-safe and
// may be called concurrently; calls share one HTTP/2 connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpc/convert.h"
#include "grpc/predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "protocol/inference.h"
#include "protocol/metadata.h"

namespace heteroaccel::grpcfront {

struct GrpcClientOptions {
  // Largest request and response message in bytes (gRPC's own default for
  // received messages is 4 MiB, too small for images).
  int max_message_bytes = 64 << 20;
  // Deadline of each call.
  std::chrono::milliseconds timeout{30000};
  // How Infer sends input elements. Answers are read in either form.
  ContentsEncoding encoding = ContentsEncoding::kRaw;
};

class GrpcClient {
 public:
  // `target` is "host:port" (or any gRPC target such as "unix:/path").
  // InvalidArgument for an empty target or bad options; no connection is made
  // yet.
  static absl::StatusOr<std::unique_ptr<GrpcClient>> Create(std::string target,
                                                            GrpcClientOptions options = {});

  absl::StatusOr<bool> ServerLive();
  absl::StatusOr<bool> ServerReady();
  absl::StatusOr<bool> ModelReady(const std::string& model, const std::string& version = "");
  // {"name", "version", "extensions"}.
  absl::StatusOr<nlohmann::json> ServerMetadata();
  absl::StatusOr<protocol::ModelMetadata> ModelMetadata(const std::string& model,
                                                        const std::string& version = "");

  // Sends `request`'s inputs (as options.encoding says), id, parameters and
  // requested output names. The response's outputs are checked like a request
  // (InvalidArgument when malformed).
  absl::StatusOr<protocol::InferResponse> Infer(const std::string& model,
                                                const std::string& version,
                                                const protocol::InferRequest& request);

  // Sends a hand-built message unchanged, for callers that need fields or
  // mistakes the typed API does not produce.
  absl::StatusOr<::inference::ModelInferResponse> ModelInfer(
      const ::inference::ModelInferRequest& request);

  const std::string& target() const { return target_; }

 private:
  GrpcClient(std::string target, GrpcClientOptions options,
             std::unique_ptr<::inference::GRPCInferenceService::Stub> stub);

  // Sets the call's deadline.
  void Prepare(grpc::ClientContext& context) const;

  const std::string target_;
  const GrpcClientOptions options_;
  const std::unique_ptr<::inference::GRPCInferenceService::Stub> stub_;
};

}  // namespace heteroaccel::grpcfront
