// GrpcService: the server's Open Inference Protocol over gRPC. Each ModelInfer
// becomes the same work item as an HTTP request (encoded with the binary
// tensor extension) and goes through the Dispatcher, so both front doors
// share one queue, one scheduler and one set of errors. Thread-safe; holds a
// reference to the Dispatcher, which must outlive it.
#pragma once

#include "grpc/inference_service.h"
#include "server/dispatcher.h"

namespace heteroaccel::server {

class GrpcService final : public grpcfront::InferenceService {
 public:
  explicit GrpcService(Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

  bool Live() const override { return true; }
  bool Ready() const override { return dispatcher_.Ready(); }
  bool ModelReady(const std::string& model, const std::string& version) const override;
  nlohmann::json ServerMetadata() const override;
  absl::StatusOr<protocol::ModelMetadata> ModelMetadata(const std::string& model,
                                                        const std::string& version) const override;
  void Infer(const std::string& model, const std::string& version, protocol::InferRequest request,
             std::function<void(absl::StatusOr<protocol::InferResponse>)> done) override;

 private:
  Dispatcher& dispatcher_;
};

}  // namespace heteroaccel::server
