// InferenceService: what the gRPC front door serves. The agent and the server
// implement it by delegating to the same code their HTTP handlers use, so both
// front doors answer alike.
//
// Ownership: GrpcServer holds a reference to one InferenceService, which must
// outlive it. Thread-safety: GrpcServer calls every method concurrently from
// gRPC's threads, so implementations must be thread-safe. Every method except
// Infer should return quickly (no I/O, no waiting on devices): they run on a
// gRPC callback thread. Infer is asynchronous and must not block.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "protocol/inference.h"
#include "protocol/metadata.h"

namespace heteroaccel::grpcfront {

class InferenceService {
 public:
  virtual ~InferenceService() = default;

  virtual bool Live() const = 0;
  virtual bool Ready() const = 0;
  // An empty version means "whichever version the server would pick".
  virtual bool ModelReady(const std::string& model, const std::string& version) const = 0;

  // {"name", "version", "extensions": [...]}, as protocol::ServerMetadataJson
  // builds it.
  virtual nlohmann::json ServerMetadata() const = 0;

  // NotFound for an unknown model or version.
  virtual absl::StatusOr<protocol::ModelMetadata> ModelMetadata(
      const std::string& model, const std::string& version) const = 0;

  // Runs one inference. `request` has passed the same checks as an HTTP
  // request (tensor data matches shape and datatype, names are unique, limits
  // hold). `done` must be called exactly once, from any thread, possibly before
  // Infer returns. Errors map to gRPC codes by ToGrpcStatus (NotFound for an
  // unknown model, InvalidArgument for bad input, ResourceExhausted or
  // Unavailable when busy). When `request.outputs` is non-empty, only those
  // outputs are sent back, in that order; the service may return more, and a
  // requested name the response lacks fails the call with InvalidArgument.
  virtual void Infer(const std::string& model, const std::string& version,
                     protocol::InferRequest request,
                     std::function<void(absl::StatusOr<protocol::InferResponse>)> done) = 0;
};

}  // namespace heteroaccel::grpcfront
