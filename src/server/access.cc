// Who may do what: the viewer, admin, metrics and cluster tokens
// (docs/dashboard-api.md), compared in constant time.
#include <openssl/crypto.h>

#include <cctype>

#include "absl/strings/str_cat.h"

#include "server/audit_log.h"
#include "server/handlers.h"
#include "server/placement.h"
#include "server/stream_hub.h"

namespace heteroaccel::server {
namespace {

bool Matches(std::string_view got, const std::string& token) {
  return !token.empty() && got.size() == token.size() &&
         CRYPTO_memcmp(got.data(), token.data(), token.size()) == 0;
}

// The token a request carries: "Authorization: Bearer T", else "?token=T".
std::string TokenOf(const http::Request& request) {
  const std::string_view auth = request.Header("authorization");
  if (auth.rfind("Bearer ", 0) == 0) return std::string(auth.substr(7));
  return httpapi::QueryValue(request.query, "token");
}

}  // namespace

std::optional<http::Response> Deny(const ServerContext& context, const http::Request& request,
                                   Access access) {
  const std::string token = TokenOf(request);
  const bool admin = Matches(token, context.admin_token);
  bool allowed = false;
  switch (access) {
    case Access::kRead:
      allowed = context.viewer_token.empty() || admin || Matches(token, context.viewer_token);
      break;
    case Access::kMetrics:
      allowed = context.metrics_token.empty() || admin || Matches(token, context.metrics_token);
      break;
    case Access::kCluster:
      allowed = context.cluster_token.empty() || Matches(token, context.cluster_token);
      break;
    case Access::kAdmin:
      if (context.admin_token.empty()) {
        return httpapi::ErrorResponse(absl::PermissionDeniedError(
            "changes are disabled on this server: start it with --admin-token"));
      }
      allowed = admin;
      break;
  }
  if (allowed) return std::nullopt;
  const char* message =
      access == Access::kAdmin
          ? "this change needs the admin token (send 'Authorization: Bearer <token>')"
      : access == Access::kCluster
          ? "missing or wrong cluster token (send 'Authorization: Bearer <token>')"
          : "missing or wrong token (send 'Authorization: Bearer <token>' or ?token=)";
  http::Response r = httpapi::ErrorResponse(absl::UnauthenticatedError(message));
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

std::string AuditWho(const http::Request& request) {
  std::string name;
  for (char c : request.Header("x-heteroaccel-user")) {
    if (name.size() >= 64) break;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
        c == '@' || c == ' ') {
      name += c;
    }
  }
  return name.empty() ? "admin" : absl::StrCat("admin (", name, ")");
}

void AuditChange(ServerContext& context, const http::Request& request, const std::string& action,
                 const std::string& comment, nlohmann::json before, nlohmann::json after) {
  if (context.audit == nullptr) return;
  AuditEntry entry;
  entry.who = AuditWho(request);
  entry.action = action;
  entry.comment = comment;
  entry.before = std::move(before);
  entry.after = std::move(after);
  entry.state_before = ToJson(context.dispatcher.placement());
  entry.state_after = entry.state_before;
  entry.version_after = context.dispatcher.PlacementJson().value("version", int64_t{0});
  auto stored = context.audit->Append(std::move(entry));
  if (stored.ok() && context.hub != nullptr) {
    context.hub->Publish("audit", {{"audit", nlohmann::json::array({AuditLog::ToJson(*stored)})}});
  }
}

}  // namespace heteroaccel::server
