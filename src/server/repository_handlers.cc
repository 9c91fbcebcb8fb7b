// The model repository's routes (docs/model-repository.md): artifacts pushed
// in chunks to a resumable upload, listed, read back by range, and deleted.
//
//   GET    /v1/models[?name=&type=]               versions, newest first per name; usage
//   GET    /v1/models/{name}                      its versions and deployments
//   GET    /v1/models/{name}/versions/{ref}       one version (ref: number, label, latest)
//   GET    /v1/models/{name}/versions/{ref}/blob  the artifact; Range: bytes=A-B (206)
//   DELETE /v1/models/{name}/versions/{ref}       admin; refused while deployed
//   POST   /v1/models/{name}/uploads              admin; {"metadata", "sha256"?, "size"?}
//   PUT    /v1/models/{name}/uploads/{id}?offset=N  admin; the next chunk (a body)
//   GET    /v1/models/{name}/uploads/{id}         admin; the offset to resume from
//   POST   /v1/models/{name}/uploads/{id}/commit  admin; verify and store: the version
//   DELETE /v1/models/{name}/uploads/{id}         admin; abort
//   GET    /v1/deployments[?target=&name=]        what is deployed where
//
// Uploads follow the shape of the OCI distribution API: a session is opened
// with the metadata, chunks (each at most the server's max_body_bytes) are sent
// in order with the offset they start at, and the commit checks the size and
// the digest. A chunk at the wrong offset is 409 with the offset expected, so a
// client that lost an answer resumes where the server is. At most
// kMaxUploads sessions are open at a time; one left idle for kUploadIdle is
// aborted (its temporary file removed) the next time any upload route runs.
// Changes (commit, delete) are audited. Reading needs the viewer token (or
// the admin's); the blob also takes the cluster token, which agents hold.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "protocol/errors.h"
#include "repository/model_store.h"
#include "server/audit_log.h"
#include "server/handlers.h"
#include "server/stream_hub.h"

namespace heteroaccel::server {
namespace {

constexpr size_t kMaxUploads = 8;
constexpr std::chrono::minutes kUploadIdle{10};
// A blob sent whole (no Range) when it is at most this big; larger ones are
// read by ranges (the agents and the CLI do).
constexpr uint64_t kMaxWholeBlob = 16u << 20;

http::Response Error(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kAlreadyExists ||
      status.code() == absl::StatusCode::kFailedPrecondition) {
    return ServerErrorResponse(protocol::WithHttpStatus(status, 409));
  }
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    return ServerErrorResponse(protocol::WithHttpStatus(status, 413));
  }
  return ServerErrorResponse(status);
}

absl::StatusOr<nlohmann::json> JsonBody(const http::Request& request, const char* what) {
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("the body must be a JSON object (", what, ")"));
  }
  return body;
}

// One open upload session.
struct Session {
  std::string name;
  std::unique_ptr<repository::Upload> upload;
  std::chrono::steady_clock::time_point last_used;
};

class Uploads {
 public:
  // The session `id` of model `name`, swept of idle ones first.
  absl::StatusOr<Session*> Find(const std::string& name, const std::string& id) {
    Sweep();
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second.name != name) {
      return absl::NotFoundError(absl::StrCat(
          "no upload \"", id, "\" of model \"", name,
          "\" (it was committed, aborted, or idle for more than ",
          std::chrono::duration_cast<std::chrono::minutes>(kUploadIdle).count(),
          " minutes: start again with POST /v1/models/", name, "/uploads)"));
    }
    it->second.last_used = std::chrono::steady_clock::now();
    return &it->second;
  }
  absl::StatusOr<std::string> Add(std::string name, std::unique_ptr<repository::Upload> upload) {
    Sweep();
    if (sessions_.size() >= kMaxUploads) {
      return absl::UnavailableError(absl::StrCat(
          kMaxUploads, " uploads are open; finish or abort one (DELETE its location) and retry"));
    }
    const std::string id = absl::StrCat("u", ++next_id_);
    sessions_[id] = Session{std::move(name), std::move(upload), std::chrono::steady_clock::now()};
    return id;
  }
  void Remove(const std::string& id) { sessions_.erase(id); }

 private:
  void Sweep() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = now - it->second.last_used > kUploadIdle ? sessions_.erase(it) : std::next(it);
    }
  }
  std::map<std::string, Session> sessions_;
  uint64_t next_id_ = 0;
};

// "bytes=A-B", "bytes=A-" or "bytes=-N" against `size`: [first, last].
absl::StatusOr<std::pair<uint64_t, uint64_t>> ParseRange(std::string_view text, uint64_t size) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "Range must be one range 'bytes=FIRST-LAST', 'bytes=FIRST-' or 'bytes=-SUFFIX' within the ",
        size, " bytes of the artifact"));
  };
  if (text.rfind("bytes=", 0) != 0) return bad();
  text.remove_prefix(6);
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos || text.find(',') != std::string_view::npos) return bad();
  const absl::string_view a(text.data(), dash), b(text.data() + dash + 1, text.size() - dash - 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {
    uint64_t suffix = 0;
    if (!absl::SimpleAtoi(b, &suffix) || suffix == 0 || size == 0) return bad();
    first = suffix >= size ? 0 : size - suffix;
    last = size - 1;
  } else {
    if (!absl::SimpleAtoi(a, &first) || first >= size) return bad();
    if (b.empty()) {
      last = size - 1;
    } else if (!absl::SimpleAtoi(b, &last) || last < first) {
      return bad();
    }
    last = std::min(last, size - 1);
  }
  return std::make_pair(first, last);
}

nlohmann::json UsageJson(const repository::Usage& u) {
  return {{"total_bytes", u.total_bytes},
          {"max_total_bytes", u.max_total_bytes},
          {"blobs", u.blobs},
          {"versions", u.versions},
          {"uploads_in_progress", u.uploads_in_progress}};
}

}  // namespace

void AddRepositoryRoutes(http::Router& router, ServerContext& context) {
  // Every route: the token, then the store (a server without --state-dir keeps none).
  auto guard = [&context](const http::Request& request,
                          Access access) -> std::optional<http::Response> {
    // Agents read (the artifacts they install) with the cluster token.
    const bool agent = access == Access::kRead && !context.cluster_token.empty() &&
                       !Deny(context, request, Access::kCluster).has_value();
    if (!agent) {
      if (auto denied = Deny(context, request, access)) return denied;
    }
    if (context.models == nullptr) {
      return Error(absl::UnavailableError(
          "this server keeps no model repository: start it with --state-dir (the repository "
          "lives in <state-dir>/models)"));
    }
    return std::nullopt;
  };
  auto uploads = std::make_shared<Uploads>();
  auto uploads_mu = std::make_shared<std::mutex>();
  router.Add("GET", "/v1/models",
             [guard, &context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = guard(request, Access::kRead)) return r(*denied);
               repository::ListFilter filter{httpapi::QueryValue(request.query, "name"),
                                             httpapi::QueryValue(request.query, "type")};
               for (const std::string* v : {&filter.name, &filter.type}) {
                 if (v->empty()) continue;
                 if (auto s = repository::ValidateName(v == &filter.name ? "name" : "type", *v);
                     !s.ok()) {
                   return r(Error(s));
                 }
               }
               auto list = context.models->List(filter);
               if (!list.ok()) return r(Error(list.status()));
               nlohmann::json out = nlohmann::json::array();
               for (const repository::ModelVersion& v : *list) out.push_back(repository::ToJson(v));
               r(httpapi::JsonResponse(
                   {{"versions", std::move(out)}, {"usage", UsageJson(context.models->usage())}}));
             });

  router.Add("GET", "/v1/models/{name}",
             [guard, &context](http::Request&& request, const http::PathParams& p,
                             http::Responder r) {
               if (auto denied = guard(request, Access::kRead)) return r(*denied);
               const std::string name = httpapi::PathParam(p, "name");
               if (auto s = repository::ValidateName("model name", name); !s.ok()) {
                 return r(Error(s));
               }
               auto list = context.models->List({name, ""});
               if (!list.ok()) return r(Error(list.status()));
               if (list->empty()) {
                 return r(Error(absl::NotFoundError(absl::StrCat("no model \"", name, "\""))));
               }
               nlohmann::json versions = nlohmann::json::array();
               for (const auto& v : *list) versions.push_back(repository::ToJson(v));
               auto deployments = context.models->Deployments(std::nullopt, name);
               if (!deployments.ok()) return r(Error(deployments.status()));
               nlohmann::json deployed = nlohmann::json::array();
               for (const auto& d : *deployments) deployed.push_back(repository::ToJson(d));
               r(httpapi::JsonResponse({{"name", name},
                                        {"versions", std::move(versions)},
                                        {"deployments", std::move(deployed)}}));
             });

  router.Add("GET", "/v1/models/{name}/versions/{ref}",
             [guard, &context](http::Request&& request, const http::PathParams& p,
                             http::Responder r) {
               if (auto denied = guard(request, Access::kRead)) return r(*denied);
               auto v = context.models->Resolve(httpapi::PathParam(p, "name"), httpapi::PathParam(p, "ref"));
               if (!v.ok()) return r(Error(v.status()));
               r(httpapi::JsonResponse(repository::ToJson(*v)));
             });

  router.Add(
      "GET", "/v1/models/{name}/versions/{ref}/blob",
      [guard, &context](http::Request&& request, const http::PathParams& p, http::Responder r) {
        if (auto denied = guard(request, Access::kRead)) return r(*denied);
        auto v = context.models->Resolve(httpapi::PathParam(p, "name"), httpapi::PathParam(p, "ref"));
        if (!v.ok()) return r(Error(v.status()));
        auto blob = context.models->OpenBlob(v->sha256);
        if (!blob.ok()) return r(Error(blob.status()));
        const std::string_view range = request.Header("range");
        uint64_t first = 0, last = blob->size() == 0 ? 0 : blob->size() - 1;
        int status = 200;
        if (!range.empty()) {
          auto parsed = ParseRange(range, blob->size());
          if (!parsed.ok()) {
            http::Response bad = ServerErrorResponse(protocol::WithHttpStatus(parsed.status(), 416));
            bad.headers.emplace_back("Content-Range", absl::StrCat("bytes */", blob->size()));
            return r(std::move(bad));
          }
          std::tie(first, last) = *parsed;
          status = 206;
        } else if (blob->size() > kMaxWholeBlob) {
          return r(Error(absl::InvalidArgumentError(absl::StrCat(
              "the artifact is ", blob->size(), " bytes: read it by ranges of at most ",
              kMaxWholeBlob, " (send 'Range: bytes=0-", kMaxWholeBlob - 1, "', and so on)"))));
        }
        const uint64_t want = blob->size() == 0 ? 0 : last - first + 1;
        if (want > kMaxWholeBlob) last = first + kMaxWholeBlob - 1;  // a shorter 206
        auto bytes = blob->ReadAt(first, static_cast<size_t>(std::min(want, kMaxWholeBlob)));
        if (!bytes.ok()) return r(Error(bytes.status()));
        http::Response out;
        out.status = status;
        out.content_type = "application/octet-stream";
        out.body = *std::move(bytes);
        out.headers.emplace_back("ETag", absl::StrCat("\"sha256:", blob->sha256(), "\""));
        out.headers.emplace_back("X-Content-Sha256", blob->sha256());
        out.headers.emplace_back("Accept-Ranges", "bytes");
        if (status == 206) {
          out.headers.emplace_back(
              "Content-Range", absl::StrCat("bytes ", first, "-", first + out.body.size() - 1, "/",
                                            blob->size()));
        }
        r(std::move(out));
      });

  router.Add(
      "DELETE", "/v1/models/{name}/versions/{ref}",
      [guard, &context](http::Request&& request, const http::PathParams& p,
                                http::Responder r) {
        if (auto denied = guard(request, Access::kAdmin)) return r(*denied);
        auto v = context.models->Resolve(httpapi::PathParam(p, "name"), httpapi::PathParam(p, "ref"));
        if (!v.ok()) return r(Error(v.status()));
        if (auto s = context.models->Delete(v->name, v->version); !s.ok()) return r(Error(s));
        AuditChange(context, request, "model", absl::StrCat("deleted model ", v->name, " version ", v->version),
              repository::ToJson(*v), nullptr);
        r(httpapi::StatusResponse(204));
      });

  router.Add(
      "POST", "/v1/models/{name}/uploads",
      [guard, &context, uploads, uploads_mu](http::Request&& request, const http::PathParams& p,
                                           http::Responder r) {
        if (auto denied = guard(request, Access::kAdmin)) return r(*denied);
        const std::string name = httpapi::PathParam(p, "name");
        auto body = JsonBody(request, R"({"metadata": {...}, "sha256": "<hex>", "size": N})");
        if (!body.ok()) return r(Error(body.status()));
        for (const auto& [key, value] : body->items()) {
          if (key != "metadata" && key != "sha256" && key != "size") {
            return r(Error(absl::InvalidArgumentError(absl::StrCat(
                "unknown field \"", key, "\" (an upload takes metadata, sha256 and size)"))));
          }
        }
        if (!body->contains("metadata")) {
          return r(Error(absl::InvalidArgumentError(
              "metadata is required: {\"type\", \"variant\", \"format\", ...} "
              "(docs/model-repository.md)")));
        }
        auto metadata = repository::ParseMetadata(body->at("metadata"));
        if (!metadata.ok()) return r(Error(metadata.status()));
        repository::UploadRequest up;
        up.name = name;
        up.who = AuditWho(request);
        up.metadata = *std::move(metadata);
        if (body->contains("sha256")) {
          const nlohmann::json& h = body->at("sha256");
          if (!h.is_string()) {
            return r(Error(absl::InvalidArgumentError("sha256 must be 64 lowercase hex digits")));
          }
          up.expected_sha256 = h.get<std::string>();
          if (auto s = repository::ValidateSha256(*up.expected_sha256); !s.ok()) {
            return r(Error(s));
          }
        }
        if (body->contains("size")) {
          const nlohmann::json& s = body->at("size");
          if (!s.is_number_unsigned()) {
            return r(Error(absl::InvalidArgumentError("size must be a whole number of bytes")));
          }
          up.declared_size = s.get<uint64_t>();
        }
        auto upload = context.models->BeginUpload(std::move(up));
        if (!upload.ok()) return r(Error(upload.status()));
        std::lock_guard<std::mutex> lock(*uploads_mu);
        auto id = uploads->Add(name, *std::move(upload));
        if (!id.ok()) {
          http::Response busy = Error(id.status());
          busy.headers.emplace_back("Retry-After", "10");
          return r(std::move(busy));
        }
        const std::string location = absl::StrCat("/v1/models/", name, "/uploads/", *id);
        http::Response out = httpapi::JsonResponse(
            {{"upload", *id}, {"location", location}, {"offset", 0}}, 201);
        out.headers.emplace_back("Location", location);
        r(std::move(out));
      });

  router.Add("GET", "/v1/models/{name}/uploads/{id}",
             [guard, uploads, uploads_mu](http::Request&& request, const http::PathParams& p,
                                          http::Responder r) {
               if (auto denied = guard(request, Access::kAdmin)) return r(*denied);
               std::lock_guard<std::mutex> lock(*uploads_mu);
               auto s = uploads->Find(httpapi::PathParam(p, "name"), httpapi::PathParam(p, "id"));
               if (!s.ok()) return r(Error(s.status()));
               r(httpapi::JsonResponse({{"offset", (*s)->upload->bytes_received()}}));
             });

  router.Add(
      "PUT", "/v1/models/{name}/uploads/{id}",
      [guard, uploads, uploads_mu](http::Request&& request, const http::PathParams& p,
                                   http::Responder r) {
        if (auto denied = guard(request, Access::kAdmin)) return r(*denied);
        const std::string offset_text = httpapi::QueryValue(request.query, "offset");
        uint64_t offset = 0;
        if (!absl::SimpleAtoi(offset_text, &offset)) {
          return r(Error(absl::InvalidArgumentError(
              "?offset=N is required: the byte of the artifact this chunk starts at")));
        }
        const std::string id = httpapi::PathParam(p, "id");
        std::lock_guard<std::mutex> lock(*uploads_mu);
        auto s = uploads->Find(httpapi::PathParam(p, "name"), id);
        if (!s.ok()) return r(Error(s.status()));
        const uint64_t at = (*s)->upload->bytes_received();
        if (offset != at) {
          http::Response conflict = ServerErrorResponse(protocol::WithHttpStatus(
              absl::FailedPreconditionError(absl::StrCat(
                  "this chunk starts at ", offset, " but the upload has ", at,
                  " bytes: send from offset ", at)),
              409));
          conflict.headers.emplace_back("Upload-Offset", absl::StrCat(at));
          return r(std::move(conflict));
        }
        if (auto appended = (*s)->upload->Append(request.body); !appended.ok()) {
          uploads->Remove(id);  // a failed Append aborted the upload
          return r(Error(appended));
        }
        r(httpapi::JsonResponse({{"offset", (*s)->upload->bytes_received()}}));
      });

  router.Add(
      "POST", "/v1/models/{name}/uploads/{id}/commit",
      [guard, uploads, uploads_mu, &context](http::Request&& request, const http::PathParams& p,
                                             http::Responder r) {
        if (auto denied = guard(request, Access::kAdmin)) return r(*denied);
        const std::string id = httpapi::PathParam(p, "id");
        absl::StatusOr<repository::ModelVersion> version;
        {
          std::lock_guard<std::mutex> lock(*uploads_mu);
          auto s = uploads->Find(httpapi::PathParam(p, "name"), id);
          if (!s.ok()) return r(Error(s.status()));
          version = (*s)->upload->Commit();
          uploads->Remove(id);  // committed, or aborted by the failed Commit
        }
        if (!version.ok()) return r(Error(version.status()));
        AuditChange(context, request, "model",
              absl::StrCat("stored model ", version->name, " version ", version->version, " (",
                           version->size, " bytes, sha256 ", version->sha256, ")"),
              nullptr, repository::ToJson(*version));
        r(httpapi::JsonResponse(repository::ToJson(*version), 201));
      });

  router.Add("DELETE", "/v1/models/{name}/uploads/{id}",
             [guard, uploads, uploads_mu](http::Request&& request, const http::PathParams& p,
                                          http::Responder r) {
               if (auto denied = guard(request, Access::kAdmin)) return r(*denied);
               const std::string id = httpapi::PathParam(p, "id");
               std::lock_guard<std::mutex> lock(*uploads_mu);
               auto s = uploads->Find(httpapi::PathParam(p, "name"), id);
               if (!s.ok()) return r(Error(s.status()));
               uploads->Remove(id);  // the Upload's destructor aborts it
               r(httpapi::StatusResponse(204));
             });

  router.Add("GET", "/v1/deployments",
             [guard, &context](http::Request&& request, const http::PathParams&, http::Responder r) {
               if (auto denied = guard(request, Access::kRead)) return r(*denied);
               std::optional<repository::DeploymentTarget> target;
               if (const std::string t = httpapi::QueryValue(request.query, "target"); !t.empty()) {
                 auto parsed = repository::DeploymentTarget::Parse(t);
                 if (!parsed.ok()) return r(Error(parsed.status()));
                 target = *parsed;
               }
               const std::string name = httpapi::QueryValue(request.query, "name");
               if (!name.empty()) {
                 if (auto s = repository::ValidateName("name", name); !s.ok()) return r(Error(s));
               }
               auto list = context.models->Deployments(target, name);
               if (!list.ok()) return r(Error(list.status()));
               nlohmann::json out = nlohmann::json::array();
               for (const auto& d : *list) out.push_back(repository::ToJson(d));
               r(httpapi::JsonResponse({{"deployments", std::move(out)}}));
             });
}

}  // namespace heteroaccel::server
