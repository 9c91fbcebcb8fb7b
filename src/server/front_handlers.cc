// Front door: /v2/health/*, /v2, /v2/models/{m}[/ready], POST .../infer,
// POST /v1/infer/{m}, /metrics. Requests are validated here, with the same
// messages as the agent, before they wait for a device.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "api/detections_codec.h"
#include "protocol/errors.h"
#include "protocol/inference.h"
#include "protocol/metadata.h"
#include "server/handlers.h"
#include "server/hints.h"

namespace heteroaccel::server {
namespace {

// The core's result as the HTTP answer: the agent's answer as it sent it, or
// the error with its code (and Retry-After where it applies).
http::Response ToHttp(InferResult result) {
  if (!result.status.ok()) return ServerErrorResponse(result.status);
  http::Response r{200, std::move(result.content_type), {}, std::move(result.body)};
  if (r.content_type.empty()) r.content_type = "application/json";
  if (result.header_length) {
    r.headers.emplace_back("Inference-Header-Content-Length",
                           std::to_string(*result.header_length));
  }
  return r;
}

void Submit(ServerContext& context, InferWork work, http::Responder respond) {
  context.dispatcher.Submit(std::move(work), [respond = std::move(respond)](InferResult result) {
    respond(ToHttp(std::move(result)));
  });
}

void InferV2(ServerContext& context, http::Request&& request, const http::PathParams& params,
             http::Responder respond) {
  InferWork work;
  work.model = httpapi::PathParam(params, "model");
  auto header_length = httpapi::BinaryHeaderLength(request);
  if (!header_length.ok()) return respond(ServerErrorResponse(header_length.status()));
  work.header_length = *header_length;
  auto parsed = protocol::ParseInferRequest(request.body, work.header_length);
  if (!parsed.ok()) return respond(ServerErrorResponse(parsed.status()));
  if (parsed->inputs.empty()) {
    return respond(ServerErrorResponse(
        absl::InvalidArgumentError("the request has no inputs; send one input named 'image'")));
  }
  auto hints = ParseHints(parsed->parameters);
  if (!hints.ok()) return respond(ServerErrorResponse(hints.status()));
  work.hints = *std::move(hints);
  // A version is a variant (GET /v2/models/{model} lists them): only the devices
  // serving it run the request.
  work.hints.variant = httpapi::PathParam(params, "version");
  work.content_type = std::string(request.Header("content-type"));
  if (work.content_type.empty()) work.content_type = "application/json";
  work.body = std::make_shared<const std::string>(std::move(request.body));
  Submit(context, std::move(work), std::move(respond));
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
  auto hints = ParseQueryHints(request.query);
  if (!hints.ok()) return respond(ServerErrorResponse(hints.status()));
  work.hints = *std::move(hints);
  work.content_type = type.empty() ? "application/octet-stream" : std::string(type);
  work.body = std::make_shared<const std::string>(std::move(request.body));
  Submit(context, std::move(work), std::move(respond));
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
               // As the agent answers: 404 for a model no device serves, 503
               // while the devices that serve it are down.
               const std::string name = httpapi::PathParam(p, "model");
               if (context.dispatcher.CanRun(name)) return r(httpapi::StatusResponse(200));
               const std::vector<std::string> models = context.dispatcher.Models();
               if (std::find(models.begin(), models.end(), name) == models.end()) {
                 return r(ServerErrorResponse(absl::NotFoundError(
                     absl::StrCat("no registered device serves model '", name, "'"))));
               }
               r(httpapi::StatusResponse(503));
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
      "GET", "/metrics",
      [&context](http::Request&& request, const http::PathParams&, http::Responder r) {
        if (auto denied = Deny(context, request, Access::kMetrics)) return r(*denied);
        r(http::Response{200, std::string(metrics::kContentType), {}, context.registry.Render()});
      });
}

}  // namespace heteroaccel::server
