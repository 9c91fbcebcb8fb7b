// /v2/models/{model}[/versions/{version}][/ready] and /v1/models.
// A model's versions are its variants ("blazeface-front-128", ...).
#include "agent/context.h"
#include "api/detections_codec.h"
#include "protocol/metadata.h"

namespace heteroaccel::agent {
namespace {

// `specs`: the catalog as one copy (it can change: deployed variants).
protocol::ModelMetadata Metadata(const AgentContext& context, const inference::ModelSpec& spec,
                                 const std::vector<inference::ModelSpec>& specs) {
  using protocol::DataType;
  protocol::ModelMetadata m;
  m.name = spec.type;
  for (const inference::ModelSpec& s : specs) {
    if (s.type == spec.type) m.versions.push_back(s.variant);
  }
  m.platform = "opencv_dnn";
  m.inputs = {{"image", DataType::kBytes, {1}, "an encoded JPEG or PNG"}};
  m.outputs = api::DetectionOutputSpecs(static_cast<int64_t>(spec.keypoint_names.size()));
  nlohmann::json devices = nlohmann::json::array();
  for (const runtime::DeviceState& d : context.executor.Snapshot()) {
    const std::string key = spec.type + "/" + spec.variant;
    if (std::find(d.variants.begin(), d.variants.end(), key) != d.variants.end()) {
      devices.push_back(d.device.device.id);
    }
  }
  m.extra = {{"variant", spec.variant},     {"description", spec.description},
             {"precision", spec.precision}, {"keypoint_names", spec.keypoint_names},
             {"skeleton", spec.skeleton},   {"devices", devices}};
  if (!spec.labels.empty()) m.extra["labels"] = spec.labels;
  return m;
}

void Describe(AgentContext& context, const http::PathParams& params, http::Responder respond) {
  auto spec = context.catalog.Find(PathParam(params, "model"), PathParam(params, "version"));
  if (!spec.ok()) return respond(ErrorResponse(spec.status()));
  respond(JsonResponse(protocol::ToJson(Metadata(context, **spec, context.catalog.specs()))));
}

void Ready(AgentContext& context, const http::PathParams& params, http::Responder respond) {
  const std::string model = PathParam(params, "model");
  const std::string version = PathParam(params, "version");
  if (auto spec = context.catalog.Find(model, version); !spec.ok()) {
    return respond(ErrorResponse(spec.status()));
  }
  const bool ready = context.executor.CanRun(model, version);
  http::Response r{ready ? 200 : 503, "application/json", {}, ""};
  if (!ready) r.headers.emplace_back("Retry-After", "1");
  respond(std::move(r));
}

}  // namespace

void AddModelRoutes(http::Router& router, AgentContext& context) {
  auto describe = [&context](http::Request&&, const http::PathParams& p, http::Responder r) {
    Describe(context, p, std::move(r));
  };
  auto ready = [&context](http::Request&&, const http::PathParams& p, http::Responder r) {
    Ready(context, p, std::move(r));
  };
  router.Add("GET", "/v2/models/{model}", describe);
  router.Add("GET", "/v2/models/{model}/versions/{version}", describe);
  router.Add("GET", "/v2/models/{model}/ready", ready);
  router.Add("GET", "/v2/models/{model}/versions/{version}/ready", ready);
  router.Add("GET", "/v1/models",
             [&context](http::Request&&, const http::PathParams&, http::Responder respond) {
               nlohmann::json models = nlohmann::json::array();
               const std::vector<inference::ModelSpec> specs = context.catalog.specs();
               for (const inference::ModelSpec& spec : specs) {
                 nlohmann::json m = protocol::ToJson(Metadata(context, spec, specs));
                 m["ready"] = context.executor.CanRun(spec.type, spec.variant);
                 models.push_back(std::move(m));
               }
               respond(JsonResponse({{"models", models}}));
             });
}

}  // namespace heteroaccel::agent
