// POST /v2/models/{model}[/versions/{version}]/infer (Open Inference Protocol,
// JSON or binary tensor extension) and POST /v1/infer/{model} (the image file as
// the body, one JSON document back).
//
// Handlers parse on the io thread, hand the job to the executor and answer from
// the slot's thread when it finishes (that thread writes the answer to the socket).

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/context.h"
#include "api/detections_codec.h"
#include "cluster/contract.h"
#include "common/status_macros.h"
#include "protocol/errors.h"
#include "protocol/inference.h"

namespace heteroaccel::agent {
namespace {

// The forwarding headers of the agent<->server contract, lower-cased as the
// HTTP layer stores request header names.
std::string Lower(std::string_view name) {
  return absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
}
const std::string kDeviceHeader = Lower(cluster::kDeviceHeader);
const std::string kServerQueueMsHeader = Lower(cluster::kServerQueueMsHeader);
const std::string kAttemptHeader = Lower(cluster::kAttemptHeader);
const std::string kDegradedFromHeader = Lower(cluster::kDegradedFromHeader);

// What the server said of a request it forwarded: added to the answer's
// "who served it" so the server passes the answer on unchanged.
struct Forwarded {
  std::optional<double> server_queue_ms;
  std::optional<int> attempts;
  // The device's primary variant the server degraded from under load.
  std::string degraded_from;
};

Forwarded ReadForwarded(const http::Request& request) {
  const auto header = [&request](const std::string& name) {
    const std::string_view value = request.Header(name);
    return absl::string_view(value.data(), value.size());
  };
  Forwarded f;
  double ms = 0;
  int attempt = 0;
  if (absl::SimpleAtod(header(kServerQueueMsHeader), &ms) && ms >= 0) f.server_queue_ms = ms;
  if (absl::SimpleAtoi(header(kAttemptHeader), &attempt) && attempt > 0) {
    f.attempts = attempt;
  }
  // Echoed into the answer: only a name the catalog could hold, never raw bytes.
  const absl::string_view from = header(kDegradedFromHeader);
  if (!from.empty() && from.size() <= 128 && std::all_of(from.begin(), from.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
               c == '-' || c == '@';
      })) {
    f.degraded_from = std::string(from);
  }
  return f;
}

bool LooksLikeImage(std::string_view bytes) {
  return bytes.rfind("\x89PNG", 0) == 0 || bytes.rfind("\xff\xd8\xff", 0) == 0;
}

// The image input: BYTES [1] holding an encoded JPEG/PNG (raw in binary
// requests, raw or base64 in JSON ones) holding an encoded JPEG/PNG, or UINT8 [H,W,3]
// (optionally [1,H,W,3]) pixels in RGB order.
absl::StatusOr<runtime::ImageInput> TakeImage(protocol::InferRequest& request) {
  protocol::Tensor* tensor = nullptr;
  for (protocol::Tensor& t : request.inputs) {
    if (t.name == "image" || request.inputs.size() == 1) tensor = &t;
  }
  if (tensor == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected one input named 'image', got ", request.inputs.size(), " inputs"));
  }
  runtime::ImageInput image;
  const std::string name = tensor->name;
  if (tensor->datatype == protocol::DataType::kBytes) {
    ASSIGN_OR_RETURN(std::vector<std::string_view> elements, tensor->BytesElements());
    if (elements.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", name, "' holds ", elements.size(),
                       " images; send one encoded image per request (BYTES, shape [1])"));
    }
    // One element: the data is its 4-byte length, then the bytes; keep the
    // buffer instead of copying the image out of it.
    tensor->data.erase(0, tensor->data.size() - elements[0].size());
    image.encoded = std::move(tensor->data);
    // JSON strings cannot carry raw image bytes, so JSON clients send base64.
    if (!LooksLikeImage(image.encoded)) {
      std::string decoded;
      if (absl::Base64Unescape(image.encoded, &decoded) && LooksLikeImage(decoded)) {
        image.encoded = std::move(decoded);
      }
    }
    return image;
  }
  std::vector<int64_t> shape = tensor->shape;
  if (shape.size() == 4 && shape[0] == 1) shape.erase(shape.begin());
  if (tensor->datatype != protocol::DataType::kUint8 || shape.size() != 3 || shape[2] != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input '", name, "' is ", std::string(protocol::DataTypeName(tensor->datatype)), " ",
        protocol::ShapeString(tensor->shape),
        "; send BYTES [1] (an encoded JPEG/PNG) or UINT8 [H,W,3] (RGB pixels)"));
  }
  image.height = shape[0];
  image.width = shape[1];
  image.rgb_pixels = std::move(tensor->data);
  return image;
}

std::string StringParameter(const nlohmann::json& parameters, const char* key) {
  auto it = parameters.find(key);
  return it != parameters.end() && it->is_string() ? it->get<std::string>() : "";
}

nlohmann::json ServedBy(const AgentContext& context, const runtime::JobResult& r,
                        const Forwarded& forwarded) {
  nlohmann::json served = {{"node", context.facts.hostname},
                           {"device", r.device_id},
                           {"device_kind", r.device_kind},
                           {"emulated", r.emulated},
                           {"variant", r.variant},
                           {"slot", r.slot},
                           {"result_reused", r.result_reused},
                           {"queue_ms", r.queue_seconds * 1e3},
                           {"compute_ms", r.compute_seconds * 1e3}};
  if (forwarded.server_queue_ms) served["server_queue_ms"] = *forwarded.server_queue_ms;
  if (forwarded.attempts) served["attempts"] = *forwarded.attempts;
  if (!forwarded.degraded_from.empty()) served["degraded_from"] = forwarded.degraded_from;
  return served;
}

// The device's own time, for the server's service-time estimates.
void AddComputeHeader(const runtime::JobResult& r, http::Response& response) {
  response.headers.emplace_back(std::string(cluster::kComputeMsHeader),
                                absl::StrCat(r.compute_seconds * 1e3));
}

void InferV2(AgentContext& context, http::Request&& request, const http::PathParams& params,
             http::Responder respond) {
  const std::string model = PathParam(params, "model");
  auto spec = context.catalog.Find(model, PathParam(params, "version"));
  if (!spec.ok()) return respond(ErrorResponse(spec.status()));
  // Every variant of a type has the same keypoints (the catalog's tests say so),
  // so the answer's shape is known whichever variant serves it.
  const size_t keypoints = (*spec)->keypoint_names.size();
  auto header_length = httpapi::BinaryHeaderLength(request);
  if (!header_length.ok()) return respond(ErrorResponse(header_length.status()));
  auto parsed = protocol::ParseInferRequest(request.body, *header_length);
  if (!parsed.ok()) return respond(ErrorResponse(parsed.status()));
  if (auto s = protocol::ValidateRequestedOutputs(*parsed, api::DetectionOutputNames()); !s.ok()) {
    return respond(ErrorResponse(s));
  }
  auto image = TakeImage(*parsed);
  if (!image.ok()) return respond(ErrorResponse(image.status()));
  parsed->inputs.clear();  // the image now lives in the job

  runtime::Job job;
  job.model = model;
  job.variant = PathParam(params, "version");
  if (job.variant.empty()) job.variant = StringParameter(parsed->parameters, "variant");
  job.device_id = StringParameter(parsed->parameters, "device");
  if (job.device_id.empty()) job.device_id = std::string(request.Header(kDeviceHeader));
  job.image = *std::move(image);
  job.done = [&context, model, keypoints, infer = std::move(*parsed),
              forwarded = ReadForwarded(request),
              respond = std::move(respond)](absl::StatusOr<runtime::JobResult> result) {
    if (!result.ok()) return respond(ErrorResponse(result.status()));
    protocol::InferResponse response;
    response.model_name = model;
    response.model_version = result->variant;
    response.id = infer.id;
    response.parameters = ServedBy(context, *result, forwarded);
    response.outputs = api::DetectionsToTensors(result->output, keypoints);
    protocol::EncodedBody body = protocol::EncodeInferResponse(response, infer);
    http::Response r{200, body.content_type, {}, std::move(body.body)};
    if (body.json_header_length) {
      r.headers.emplace_back("Inference-Header-Content-Length",
                             std::to_string(*body.json_header_length));
    }
    AddComputeHeader(*result, r);
    respond(std::move(r));
  };
  context.executor.Submit(std::move(job));
}

void InferV1(AgentContext& context, http::Request&& request, const http::PathParams& params,
             http::Responder respond) {
  const std::string model = PathParam(params, "model");
  const std::string variant = QueryValue(request.query, "variant");
  if (auto spec = context.catalog.Find(model, variant); !spec.ok()) {
    return respond(ErrorResponse(spec.status()));
  }
  if (absl::Status s = httpapi::CheckImageContentType(request); !s.ok()) {
    return respond(ErrorResponse(s));
  }
  if (request.body.empty()) {
    return respond(ErrorResponse(absl::InvalidArgumentError("image is empty")));
  }
  runtime::Job job;
  job.model = model;
  job.variant = variant;
  job.device_id = QueryValue(request.query, "device");
  if (job.device_id.empty()) job.device_id = std::string(request.Header(kDeviceHeader));
  job.image.encoded = std::move(request.body);
  job.done = [&context, forwarded = ReadForwarded(request),
              respond = std::move(respond)](absl::StatusOr<runtime::JobResult> result) {
    if (!result.ok()) return respond(ErrorResponse(result.status()));
    nlohmann::json body = {
        {"model", result->model},
        {"image", {{"width", result->output.image_width}, {"height", result->output.image_height}}},
        {"served_by", ServedBy(context, *result, forwarded)},
        {"detections", api::DetectionsToJson(result->output.detections)}};
    http::Response r = JsonResponse(body);
    AddComputeHeader(*result, r);
    respond(std::move(r));
  };
  context.executor.Submit(std::move(job));
}

}  // namespace

void AddInferRoutes(http::Router& router, AgentContext& context) {
  auto v2 = [&context](http::Request&& request, const http::PathParams& p, http::Responder r) {
    InferV2(context, std::move(request), p, std::move(r));
  };
  router.Add("POST", "/v2/models/{model}/infer", v2);
  router.Add("POST", "/v2/models/{model}/versions/{version}/infer", v2);
  router.Add("POST", "/v1/infer/{model}",
             [&context](http::Request&& request, const http::PathParams& p, http::Responder r) {
               InferV1(context, std::move(request), p, std::move(r));
             });
}

}  // namespace heteroaccel::agent
