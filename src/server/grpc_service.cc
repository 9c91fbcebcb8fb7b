#include "server/grpc_service.h"

#include "absl/strings/str_cat.h"
#include "api/detections_codec.h"
#include "protocol/errors.h"
#include "protocol/inference.h"
#include "protocol/metadata.h"
#include "server/hints.h"

namespace heteroaccel::server {

bool GrpcService::ModelReady(const std::string& model, const std::string&) const {
  return dispatcher_.CanRun(model);
}

nlohmann::json GrpcService::ServerMetadata() const {
  return protocol::ServerMetadataJson("heteroaccel-server", HETEROACCEL_VERSION,
                                      {"binary_tensor_data"});
}

absl::StatusOr<protocol::ModelMetadata> GrpcService::ModelMetadata(const std::string& model,
                                                                   const std::string&) const {
  const nlohmann::json served = dispatcher_.ModelJson(model);
  if (served["devices"].empty()) {
    return absl::NotFoundError(absl::StrCat("no registered device serves model '", model, "'"));
  }
  protocol::ModelMetadata m;
  m.name = model;
  m.versions = served["variants"].get<std::vector<std::string>>();
  m.platform = "heteroaccel";
  m.inputs = {{"image", protocol::DataType::kBytes, {1}, "an encoded JPEG or PNG"}};
  m.outputs = api::DetectionOutputSpecs(
      static_cast<int64_t>(served["info"].value("keypoint_names", nlohmann::json::array()).size()));
  return m;
}

void GrpcService::Infer(const std::string& model, const std::string& version,
                        protocol::InferRequest request,
                        std::function<void(absl::StatusOr<protocol::InferResponse>)> done) {
  auto hints = ParseHints(request.parameters);
  if (!hints.ok()) return done(hints.status());
  InferWork work;
  work.model = model;
  work.hints = *std::move(hints);
  work.hints.variant = version;  // a version is a variant: only its devices run it
  // The agent answers in binary, which converts to the gRPC raw contents as is.
  request.binary_output_default = true;
  protocol::EncodedBody body = protocol::EncodeInferRequest(request, true);
  work.header_length = body.json_header_length;
  work.content_type = body.content_type;
  work.body = std::make_shared<const std::string>(std::move(body.body));
  // The core's typed result: the agent's binary answer converts to the gRPC
  // raw contents as is; an error keeps its code.
  dispatcher_.Submit(std::move(work), [done = std::move(done)](InferResult result) {
    if (!result.status.ok()) return done(std::move(result.status));
    done(protocol::ParseInferResponse(result.body, result.header_length));
  });
}

}  // namespace heteroaccel::server
