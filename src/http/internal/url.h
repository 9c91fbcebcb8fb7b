// URL helpers shared by the router, the server and the client. Stateless and
// thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace heteroaccel::http::internal {

// Decodes %XX escapes ('+' stays '+': it means space only in form bodies).
// Returns false, leaving `out` unspecified, on a malformed escape.
bool PercentDecode(std::string_view in, std::string& out);

// Splits an origin-form request target "/a/b?x=1" into path and query (without
// '?'). An absolute-form target "http://host/a?x" yields "/a"; an authority
// without a path yields "/".
void SplitTarget(std::string_view target, std::string_view& path, std::string_view& query);

}  // namespace heteroaccel::http::internal
