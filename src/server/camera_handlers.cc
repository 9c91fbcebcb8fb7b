// Cameras and their events (docs/cameras.md): CRUD, start/stop, geometry,
// the latest frame, the pipeline's counters, pushed frames, and the event
// store's queries and snapshots. Reading takes the viewer token, changes the
// admin token (each one recorded in the audit log, action "camera").
// Also the InferenceBackend camera runners use: the dispatcher, as for
// POST /v1/infer.
#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cameras/camera_manager.h"
#include "cameras/inference_backend.h"
#include "events/event_store.h"
#include "pipeline/spec/spec.h"
#include "protocol/errors.h"
#include "server/audit_log.h"
#include "server/handlers.h"
#include "server/placement.h"
#include "server/stream_hub.h"

namespace heteroaccel::server {
namespace {

class DispatcherBackend : public cameras::InferenceBackend {
 public:
  explicit DispatcherBackend(Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

  void Infer(cameras::InferCall call, cameras::InferDoneFn done) override {
    InferWork work;
    work.model = std::move(call.type);
    work.v1 = true;
    work.body = std::move(call.jpeg);
    work.content_type = "image/jpeg";
    work.hints.priority = call.priority;
    work.hints.timeout = call.deadline;
    work.hints.camera = call.camera;  // the scheduler's fair share is per camera
    work.hints.variant = call.variant;  // "" = the scheduler's choice per device
    work.hints.group = call.node_group;  // "" = any node
    dispatcher_.Submit(std::move(work), [done = std::move(done)](InferResult result) {
      if (!result.status.ok()) return done(result.status);
      absl::StatusOr<cameras::InferAnswer> answer = cameras::ParseV1Answer(result.body);
      if (answer.ok() && answer->provenance.variant.empty()) {
        answer->provenance.variant = result.variant;
      }
      done(std::move(answer));
    });
  }

 private:
  Dispatcher& dispatcher_;
};

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A query value, percent-decoded ('+' is a space).
std::string Query(const http::Request& request, std::string_view key) {
  const std::string raw = httpapi::QueryValue(request.query, key);
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && Hex(raw[i + 1]) >= 0 && Hex(raw[i + 2]) >= 0) {
      out += static_cast<char>(Hex(raw[i + 1]) * 16 + Hex(raw[i + 2]));
      i += 2;
    } else {
      out += raw[i] == '+' ? ' ' : raw[i];
    }
  }
  return out;
}

absl::StatusOr<std::optional<int64_t>> IntegerQuery(const http::Request& request,
                                                    std::string_view key) {
  const std::string text = Query(request, key);
  if (text.empty()) return std::optional<int64_t>();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("query '", std::string(key), "' must be an integer, not '", text, "'"));
  }
  return std::optional<int64_t>(value);
}

// A camera document as JSON, or as YAML (Content-Type application/yaml or
// text/yaml: the cameras file's syntax, through the same YAML reader).
absl::StatusOr<nlohmann::json> JsonBody(const http::Request& request) {
  const std::string type = absl::AsciiStrToLower(std::string(request.Header("content-type")));
  if (type.find("yaml") != std::string::npos) {
    auto body = pipeline::YamlToJson(request.body);
    if (!body.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the body is not valid YAML: ", body.status().message()));
    }
    return body;
  }
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return absl::InvalidArgumentError("the body is not valid JSON (send a camera document)");
  }
  return body;
}


nlohmann::json SpecOf(const absl::StatusOr<nlohmann::json>& camera) {
  return camera.ok() ? camera->value("spec", nlohmann::json()) : nlohmann::json();
}

// The cameras' errors: a duplicate id and a push to a camera that takes none
// are conflicts (409); the rest as everywhere.
http::Response Error(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kAlreadyExists ||
      status.code() == absl::StatusCode::kFailedPrecondition) {
    return ServerErrorResponse(protocol::WithHttpStatus(status, 409));
  }
  return ServerErrorResponse(status);
}

http::Response Jpeg(std::string bytes) {
  http::Response r{200, "image/jpeg", {}, std::move(bytes)};
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

using Handler = std::function<http::Response(http::Request&, const std::string& id)>;

// A route on one camera: access checked, the id taken from the path, nothing
// thrown escapes.
http::Handler OnCamera(ServerContext& context, Access access, Handler handler) {
  return [&context, access, handler = std::move(handler)](
             http::Request&& request, const http::PathParams& params, http::Responder r) {
    if (auto denied = Deny(context, request, access)) return r(*denied);
    if (context.cameras == nullptr) {
      return r(Error(absl::UnavailableError("this server runs no cameras")));
    }
    try {
      r(handler(request, httpapi::PathParam(params, "id")));
    } catch (const std::exception& e) {
      r(Error(absl::InternalError(absl::StrCat("camera request failed: ", e.what()))));
    }
  };
}

http::Response Answer(const absl::StatusOr<nlohmann::json>& result, int status = 200) {
  if (!result.ok()) return Error(result.status());
  return httpapi::JsonResponse(*result, status);
}

absl::StatusOr<events::EventQuery> EventQueryOf(const http::Request& request) {
  events::EventQuery q;
  q.camera = Query(request, "camera");
  q.group = Query(request, "group");
  q.type = Query(request, "type");
  q.cursor = Query(request, "cursor");
  auto since = IntegerQuery(request, "since");
  if (!since.ok()) return since.status();
  q.since_ms = *since;
  auto until = IntegerQuery(request, "until");
  if (!until.ok()) return until.status();
  q.until_ms = *until;
  auto limit = IntegerQuery(request, "limit");
  if (!limit.ok()) return limit.status();
  if (*limit) {
    if (**limit < 1 || **limit > events::EventStore::kMaxLimit) {
      return absl::InvalidArgumentError(
          absl::StrCat("query 'limit' must be from 1 to ", events::EventStore::kMaxLimit));
    }
    q.limit = static_cast<int>(**limit);
  }
  const std::string active = Query(request, "active");
  if (!active.empty() && active != "true" && active != "false" && active != "1" && active != "0") {
    return absl::InvalidArgumentError("query 'active' must be true or false");
  }
  q.active_only = active == "true" || active == "1";
  return q;
}

void AddEventRoutes(http::Router& router, ServerContext& context) {
  auto guard = [&context](const http::Request& request) -> std::optional<http::Response> {
    if (auto denied = Deny(context, request, Access::kRead)) return denied;
    if (context.events == nullptr) {
      return Error(absl::UnavailableError("this server keeps no events"));
    }
    return std::nullopt;
  };
  router.Add(
      "GET", "/v1/events",
      [&context, guard](http::Request&& request, const http::PathParams&, http::Responder r) {
        if (auto denied = guard(request)) return r(*denied);
        auto query = EventQueryOf(request);
        if (!query.ok()) return r(Error(query.status()));
        auto page = context.events->Query(*query);
        if (!page.ok()) return r(Error(page.status()));
        nlohmann::json list = nlohmann::json::array();
        for (const events::StoredEvent& e : page->events) list.push_back(events::ToJson(e));
        r(httpapi::JsonResponse({{"events", std::move(list)}, {"next_cursor", page->next_cursor}}));
      });
  router.Add(
      "GET", "/v1/events/{id}",
      [&context, guard](http::Request&& request, const http::PathParams& p, http::Responder r) {
        if (auto denied = guard(request)) return r(*denied);
        const std::string id = httpapi::PathParam(p, "id");
        std::optional<events::StoredEvent> e = context.events->Get(id);
        if (!e) {
          return r(Error(absl::NotFoundError(absl::StrCat("no event \"", id, "\""))));
        }
        r(httpapi::JsonResponse(events::ToJson(*e)));
      });
  router.Add(
      "GET", "/v1/events/{id}/snapshot.jpg",
      [&context, guard](http::Request&& request, const http::PathParams& p, http::Responder r) {
        if (auto denied = guard(request)) return r(*denied);
        auto bytes = context.events->Snapshot(httpapi::PathParam(p, "id"));
        if (!bytes.ok()) return r(Error(bytes.status()));
        r(Jpeg(*std::move(bytes)));
      });
}

}  // namespace

std::unique_ptr<cameras::InferenceBackend> MakeDispatcherBackend(Dispatcher& dispatcher) {
  return std::make_unique<DispatcherBackend>(dispatcher);
}

void AddCameraRoutes(http::Router& router, ServerContext& context) {
  AddEventRoutes(router, context);
  auto collection = [&context](Access access) {
    return
        [&context, access](http::Request&& request, const http::PathParams& p, http::Responder r) {
          OnCamera(context, access, [&context](http::Request& req, const std::string&) {
            if (req.method == "GET") return httpapi::JsonResponse(context.cameras->List());
            auto body = JsonBody(req);
            if (!body.ok()) return Error(body.status());
            std::lock_guard<std::mutex> lock(context.change_mu);
            auto added = context.cameras->Add(*body);
            if (added.ok()) {
              AuditChange(context, req, "camera", absl::StrCat("camera ", added->value("id", ""), " created"),
                    nullptr, SpecOf(added));
            }
            return Answer(added, 201);
          })(std::move(request), p, std::move(r));
        };
  };
  router.Add("GET", "/v1/cameras", collection(Access::kRead));
  router.Add("POST", "/v1/cameras", collection(Access::kAdmin));

  router.Add("GET", "/v1/cameras/{id}",
             OnCamera(context, Access::kRead, [&context](http::Request&, const std::string& id) {
               return Answer(context.cameras->Get(id));
             }));
  router.Add(
      "PUT", "/v1/cameras/{id}",
      OnCamera(context, Access::kAdmin, [&context](http::Request& req, const std::string& id) {
        auto body = JsonBody(req);
        if (!body.ok()) return Error(body.status());
        std::lock_guard<std::mutex> lock(context.change_mu);
        const nlohmann::json before = SpecOf(context.cameras->Get(id));
        auto replaced = context.cameras->Replace(id, *std::move(body));
        if (replaced.ok()) {
          AuditChange(context, req, "camera", absl::StrCat("camera ", id, " replaced"), before, SpecOf(replaced));
        }
        return Answer(replaced);
      }));
  router.Add(
      "DELETE", "/v1/cameras/{id}",
      OnCamera(context, Access::kAdmin, [&context](http::Request& req, const std::string& id) {
        std::lock_guard<std::mutex> lock(context.change_mu);
        const nlohmann::json before = SpecOf(context.cameras->Get(id));
        if (absl::Status s = context.cameras->Remove(id); !s.ok()) {
          return Error(s);
        }
        AuditChange(context, req, "camera", absl::StrCat("camera ", id, " deleted"), before, nullptr);
        return httpapi::JsonResponse({{"deleted", id}});
      }));
  for (const char* verb : {"start", "stop"}) {
    router.Add("POST", absl::StrCat("/v1/cameras/{id}/", verb),
               OnCamera(context, Access::kAdmin,
                        [&context, start = std::string(verb) == "start"](http::Request& req,
                                                                         const std::string& id) {
                          std::lock_guard<std::mutex> lock(context.change_mu);
                          auto result =
                              start ? context.cameras->Start(id) : context.cameras->Stop(id);
                          if (result.ok()) {
                            AuditChange(context, req, "camera",
                                  absl::StrCat("camera ", id, start ? " started" : " stopped"),
                                  nullptr, nullptr);
                          }
                          return Answer(result);
                        }));
  }
  router.Add(
      "PUT", "/v1/cameras/{id}/geometry",
      OnCamera(context, Access::kAdmin, [&context](http::Request& req, const std::string& id) {
        auto body = JsonBody(req);
        if (!body.ok()) return Error(body.status());
        if (!body->is_object()) {
          return Error(
              absl::InvalidArgumentError("the body must be {\"zones\": [...], \"lines\": [...]}"));
        }
        std::lock_guard<std::mutex> lock(context.change_mu);
        const nlohmann::json before = SpecOf(context.cameras->Get(id));
        auto result = context.cameras->SetGeometry(id, *body);
        if (result.ok()) {
          const nlohmann::json after = SpecOf(result);
          AuditChange(context, req, "camera", absl::StrCat("camera ", id, " geometry"),
                {{"zones", before.value("zones", nlohmann::json())},
                 {"lines", before.value("lines", nlohmann::json())}},
                {{"zones", after.value("zones", nlohmann::json())},
                 {"lines", after.value("lines", nlohmann::json())}});
        }
        return Answer(result);
      }));
  router.Add("GET", "/v1/cameras/{id}/frame.jpg",
             OnCamera(context, Access::kRead, [&context](http::Request&, const std::string& id) {
               auto frame = context.cameras->LatestFrame(id);
               if (!frame.ok()) return Error(frame.status());
               return Jpeg(**frame);
             }));
  router.Add("GET", "/v1/cameras/{id}/pipeline",
             OnCamera(context, Access::kRead, [&context](http::Request&, const std::string& id) {
               return Answer(context.cameras->Pipeline(id));
             }));
  router.Add(
      "POST", "/v1/cameras/{id}/frames",
      OnCamera(context, Access::kAdmin, [&context](http::Request& req, const std::string& id) {
        if (req.body.empty()) {
          return Error(absl::InvalidArgumentError("the body is empty: send one JPEG or PNG image"));
        }
        if (absl::Status s = context.cameras->Push(id, req.body); !s.ok()) {
          return Error(s);
        }
        return httpapi::JsonResponse({{"accepted", true}}, 202);
      }));
}

}  // namespace heteroaccel::server
