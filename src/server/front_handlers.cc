// Front door: /v2/health/*, /v2, /v2/models/{m}[/ready], POST .../infer,
// POST /v1/infer/{m}, /metrics. Requests are validated here, with the same
// messages as the agent, before they wait for a device.
#include <charconv>

#include "absl/strings/str_cat.h"
#include "api/detections_codec.h"
#include "protocol/errors.h"
#include "protocol/inference.h"
#include "protocol/metadata.h"
#include "server/handlers.h"

namespace heteroaccel::server {
namespace {

// Scheduling hints shared by both protocols: priority, timeout_ms, device
// ("node/device"), device_kind.
absl::Status ApplyHints(const nlohmann::json& p, InferWork& work) {
  try {
    if (p.contains("priority")) work.priority = p["priority"].get<int>();
    if (p.contains("timeout_ms")) {
      const int64_t ms = p["timeout_ms"].get<int64_t>();
      if (ms <= 0) return absl::InvalidArgumentError("timeout_ms must be positive");
      work.timeout = std::chrono::milliseconds(ms);
    }
    if (p.contains("device")) work.pinned_device = p["device"].get<std::string>();
    if (p.contains("device_kind")) work.pinned_kind = p["device_kind"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        "parameters: priority and timeout_ms must be integers, device and device_kind strings");
  }
  return absl::OkStatus();
}

void InferV2(ServerContext& context, http::Request&& request, const http::PathParams& params,
             http::Responder respond) {
  InferWork work;
  work.model = httpapi::PathParam(params, "model");
  if (!httpapi::PathParam(params, "version").empty()) {
    return respond(ServerErrorResponse(absl::InvalidArgumentError(
        "the server picks the variant for each device; send the request without a version")));
  }
  auto header_length = httpapi::BinaryHeaderLength(request);
  if (!header_length.ok()) return respond(ServerErrorResponse(header_length.status()));
  work.header_length = *header_length;
  auto parsed = protocol::ParseInferRequest(request.body, work.header_length);
  if (!parsed.ok()) return respond(ServerErrorResponse(parsed.status()));
  if (parsed->inputs.empty()) {
    return respond(ServerErrorResponse(
        absl::InvalidArgumentError("the request has no inputs; send one input named 'image'")));
  }
  if (absl::Status s = ApplyHints(parsed->parameters, work); !s.ok()) {
    return respond(ServerErrorResponse(s));
  }
  work.content_type = std::string(request.Header("content-type"));
  if (work.content_type.empty()) work.content_type = "application/json";
  work.body = std::make_shared<const std::string>(std::move(request.body));
  context.dispatcher.Submit(std::move(work), std::move(respond));
}

void InferV1(ServerContext& context, http::Request&& request, const http::PathParams& params,
             http::Responder respond) {
  InferWork work;
  work.v1 = true;
  work.model = httpapi::PathParam(params, "model");
  if (absl::Status s = httpapi::CheckImageContentType(request); !s.ok()) {
    return respond(ServerErrorResponse(s));
  }
  const std::string_view type = request.Header("content-type");
  if (request.body.empty()) {
    return respond(ServerErrorResponse(absl::InvalidArgumentError("image is empty")));
  }
  nlohmann::json hints = nlohmann::json::object();
  for (const char* key : {"device", "device_kind"}) {
    if (std::string v = httpapi::QueryValue(request.query, key); !v.empty()) hints[key] = v;
  }
  for (const char* key : {"priority", "timeout_ms"}) {
    if (std::string v = httpapi::QueryValue(request.query, key); !v.empty()) {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size()) {
        return respond(ServerErrorResponse(
            absl::InvalidArgumentError(absl::StrCat(key, " must be an integer"))));
      }
      hints[key] = n;
    }
  }
  if (absl::Status s = ApplyHints(hints, work); !s.ok()) return respond(ServerErrorResponse(s));
  work.content_type = type.empty() ? "application/octet-stream" : std::string(type);
  work.body = std::make_shared<const std::string>(std::move(request.body));
  context.dispatcher.Submit(std::move(work), std::move(respond));
}

}  // namespace

void AddFrontRoutes(http::Router& router, ServerContext& context) {
  router.Add("GET", "/v2/health/live",
             [](http::Request&&, const http::PathParams&, http::Responder r) {
               r(httpapi::StatusResponse(200));
             });
  router.Add("GET", "/v2/health/ready",
             [&context](http::Request&&, const http::PathParams&, http::Responder r) {
               r(httpapi::StatusResponse(context.dispatcher.Ready() ? 200 : 503));
             });
  router.Add("GET", "/v2", [](http::Request&&, const http::PathParams&, http::Responder r) {
    r(httpapi::JsonResponse(protocol::ServerMetadataJson("heteroaccel-server", HETEROACCEL_VERSION,
                                                         {"binary_tensor_data"})));
  });
  auto model = [&context](http::Request&&, const http::PathParams& p, http::Responder r) {
    const std::string name = httpapi::PathParam(p, "model");
    nlohmann::json served = context.dispatcher.ModelJson(name);
    if (served["devices"].empty()) {
      return r(ServerErrorResponse(
          absl::NotFoundError(absl::StrCat("no registered device serves model '", name, "'"))));
    }
    protocol::ModelMetadata m;
    m.name = name;
    m.versions = served["variants"].get<std::vector<std::string>>();
    m.platform = "heteroaccel";
    m.inputs = {{"image", protocol::DataType::kBytes, {1}, "an encoded JPEG or PNG"}};
    const nlohmann::json keypoint_names =
        served["info"].value("keypoint_names", nlohmann::json::array());
    m.outputs = api::DetectionOutputSpecs(static_cast<int64_t>(keypoint_names.size()));
    m.extra = {{"devices", served["devices"]},
               {"keypoint_names", keypoint_names},
               {"skeleton", served["info"].value("skeleton", nlohmann::json::array())},
               {"labels", served["info"].value("labels", nlohmann::json::array())}};
    r(httpapi::JsonResponse(protocol::ToJson(m)));
  };
  router.Add("GET", "/v2/models/{model}", model);
  router.Add("GET", "/v2/models/{model}/ready",
             [&context](http::Request&&, const http::PathParams& p, http::Responder r) {
               r(httpapi::StatusResponse(
                   context.dispatcher.CanRun(httpapi::PathParam(p, "model")) ? 200 : 503));
             });
  auto v2 = [&context](http::Request&& request, const http::PathParams& p, http::Responder r) {
    InferV2(context, std::move(request), p, std::move(r));
  };
  router.Add("POST", "/v2/models/{model}/infer", v2);
  router.Add("POST", "/v2/models/{model}/versions/{version}/infer", v2);
  router.Add("POST", "/v1/infer/{model}",
             [&context](http::Request&& request, const http::PathParams& p, http::Responder r) {
               InferV1(context, std::move(request), p, std::move(r));
             });
  router.Add(
      "GET", "/metrics", [&context](http::Request&&, const http::PathParams&, http::Responder r) {
        r(http::Response{200, std::string(metrics::kContentType), {}, context.registry.Render()});
      });
}

}  // namespace heteroaccel::server
