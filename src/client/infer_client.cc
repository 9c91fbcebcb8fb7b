#include "client/infer_client.h"

#include <chrono>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/detections_codec.h"
#include "common/status_macros.h"
#include "protocol/errors.h"
#include "protocol/inference.h"
#include "protocol/metadata.h"

namespace heteroaccel::client {
namespace {

absl::Status StatusFromHttp(const http::ClientResponse& response) {
  return protocol::StatusFromHttp(response.status, response.body);
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Percent-encodes all but [A-Za-z0-9_.~-], for a query value.
std::string QueryEscape(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '~' ||
        c == '-') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Protocol> ParseProtocol(std::string_view name) {
  if (name == "v2" || name == "v2-binary") return Protocol::kV2Binary;
  if (name == "v2-json") return Protocol::kV2Json;
  if (name == "v1") return Protocol::kV1;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown protocol '", std::string(name), "'; use v2, v2-json or v1"));
}

absl::StatusOr<std::unique_ptr<InferClient>> InferClient::Create(
    const std::string& target, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto http, http::Client::Create(target, timeout));
  return std::unique_ptr<InferClient>(new InferClient(std::move(http)));
}

absl::StatusOr<const InferClient::ModelDescription*> InferClient::Describe(
    const std::string& model) {
  if (auto it = descriptions_.find(model); it != descriptions_.end()) return &it->second;
  ASSIGN_OR_RETURN(http::ClientResponse response, http_->Get(absl::StrCat("/v2/models/", model)));
  if (response.status != 200) return StatusFromHttp(response);
  ModelDescription description;
  try {
    const nlohmann::json json = nlohmann::json::parse(response.body);
    description.keypoint_names = json.value("keypoint_names", std::vector<std::string>{});
    description.skeleton = json.value("skeleton", inference::Skeleton{});
  } catch (const nlohmann::json::exception& e) {
    return absl::InternalError(absl::StrCat("malformed model metadata: ", e.what()));
  }
  return &(descriptions_[model] = std::move(description));
}

absl::StatusOr<inference::Skeleton> InferClient::Skeleton(const std::string& model) {
  ASSIGN_OR_RETURN(const ModelDescription* description, Describe(model));
  return description->skeleton;
}

absl::StatusOr<InferResult> InferClient::Infer(const InferOptions& options, std::string image) {
  InferResult result;
  const auto start = std::chrono::steady_clock::now();
  if (options.protocol == Protocol::kV1) {
    std::string path = absl::StrCat("/v1/infer/", options.model, "?variant=", options.variant,
                                    "&device=", options.device);
    if (options.priority) absl::StrAppend(&path, "&priority=", *options.priority);
    if (options.timeout_ms) absl::StrAppend(&path, "&timeout_ms=", *options.timeout_ms);
    // A name the server accepts needs no escaping; one with other characters is
    // escaped so that it cannot add parameters, and the server refuses it.
    if (!options.camera.empty()) absl::StrAppend(&path, "&camera=", QueryEscape(options.camera));
    const bool png = image.rfind("\x89PNG", 0) == 0;
    ASSIGN_OR_RETURN(http::ClientResponse response,
                     http_->Post(path, png ? "image/png" : "image/jpeg", std::move(image)));
    result.round_trip_ms = MillisecondsSince(start);
    if (response.status != 200) return StatusFromHttp(response);
    try {
      auto json = nlohmann::json::parse(response.body);
      result.served_by = json.at("served_by");
      ASSIGN_OR_RETURN(result.detections, api::DetectionsFromJson(json.at("detections")));
    } catch (const nlohmann::json::exception& e) {
      return absl::InternalError(absl::StrCat("malformed /v1 response: ", e.what()));
    }
    return result;
  }
  ASSIGN_OR_RETURN(const ModelDescription* description, Describe(options.model));
  protocol::InferRequest request;
  request.id = options.id;
  const bool binary = options.protocol == Protocol::kV2Binary;
  // JSON strings cannot hold raw image bytes: JSON requests carry base64.
  if (!binary) image = absl::Base64Escape(image);
  request.inputs.push_back(protocol::Tensor::FromBytesElement("image", image));
  if (!options.device.empty()) request.parameters["device"] = options.device;
  if (options.priority) request.parameters["priority"] = *options.priority;
  if (options.timeout_ms) request.parameters["timeout_ms"] = *options.timeout_ms;
  if (!options.camera.empty()) request.parameters["camera"] = options.camera;
  request.binary_output_default = binary;
  if (binary) request.parameters["binary_data_output"] = true;
  protocol::EncodedBody body = protocol::EncodeInferRequest(request, binary);
  std::vector<std::pair<std::string, std::string>> headers;
  if (body.json_header_length) {
    headers.emplace_back("Inference-Header-Content-Length",
                         std::to_string(*body.json_header_length));
  }
  const std::string path =
      options.variant.empty()
          ? absl::StrCat("/v2/models/", options.model, "/infer")
          : absl::StrCat("/v2/models/", options.model, "/versions/", options.variant, "/infer");
  ASSIGN_OR_RETURN(http::ClientResponse response,
                   http_->Post(path, body.content_type, std::move(body.body), headers));
  result.round_trip_ms = MillisecondsSince(start);
  if (response.status != 200) return StatusFromHttp(response);
  std::optional<size_t> header_length;
  if (std::string_view h = response.Header("inference-header-content-length"); !h.empty()) {
    header_length = std::stoul(std::string(h));
  }
  ASSIGN_OR_RETURN(protocol::InferResponse parsed,
                   protocol::ParseInferResponse(response.body, header_length));
  result.served_by = parsed.parameters;
  result.id = parsed.id;
  ASSIGN_OR_RETURN(result.detections,
                   api::DetectionsFromTensors(parsed.outputs, description->keypoint_names));
  return result;
}

std::string FormatDetections(const InferResult& result) {
  std::string out;
  const nlohmann::json& s = result.served_by;
  absl::StrAppendFormat(
      &out,
      "served by %s on %s (%s%s), variant %s: queue %.2f ms, compute %.2f ms, round trip %.2f ms\n",
      s.value("node", "?"), s.value("device", "?"), s.value("device_kind", "?"),
      s.value("emulated", false) ? ", EMULATED" : "", s.value("variant", "?"),
      s.value("queue_ms", 0.0), s.value("compute_ms", 0.0), result.round_trip_ms);
  if (result.detections.empty()) out += "  no detections\n";
  for (const inference::Detection& d : result.detections) {
    absl::StrAppendFormat(&out, "  %-12s %.3f  box (%.0f,%.0f)-(%.0f,%.0f)", d.label, d.score,
                          d.box.x1, d.box.y1, d.box.x2, d.box.y2);
    if (!d.text.empty()) absl::StrAppendFormat(&out, " \"%s\"", d.text);
    for (const auto& k : d.keypoints)
      absl::StrAppendFormat(&out, " %s(%.0f,%.0f)", k.name, k.x, k.y);
    out += "\n";
  }
  return out;
}

}  // namespace heteroaccel::client
