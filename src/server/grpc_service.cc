#include "server/grpc_service.h"

#include "absl/strings/str_cat.h"
#include "api/detections_codec.h"
#include "protocol/errors.h"
#include "protocol/inference.h"
#include "protocol/metadata.h"

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
  if (!version.empty()) {
    return done(absl::InvalidArgumentError(
        "the server picks the variant for each device; send the request without a version"));
  }
  InferWork work;
  work.model = model;
  const nlohmann::json& p = request.parameters;
  if (p.contains("priority") && p["priority"].is_number_integer()) work.priority = p["priority"];
  if (p.contains("timeout_ms") && p["timeout_ms"].is_number_integer() &&
      p["timeout_ms"].get<int64_t>() > 0) {
    work.timeout = std::chrono::milliseconds(p["timeout_ms"].get<int64_t>());
  }
  if (p.contains("device") && p["device"].is_string()) work.pinned_device = p["device"];
  if (p.contains("device_kind") && p["device_kind"].is_string())
    work.pinned_kind = p["device_kind"];
  // The agent answers in binary, which converts to the gRPC raw contents as is.
  request.binary_output_default = true;
  protocol::EncodedBody body = protocol::EncodeInferRequest(request, true);
  work.header_length = body.json_header_length;
  work.content_type = body.content_type;
  work.body = std::make_shared<const std::string>(std::move(body.body));
  dispatcher_.Submit(std::move(work), [done = std::move(done)](http::Response r) {
    if (r.status != 200) return done(protocol::StatusFromHttp(r.status, r.body));
    std::optional<size_t> header_length;
    for (const auto& [name, value] : r.headers) {
      if (name == "Inference-Header-Content-Length") header_length = std::stoul(value);
    }
    done(protocol::ParseInferResponse(r.body, header_length));
  });
}

}  // namespace heteroaccel::server
