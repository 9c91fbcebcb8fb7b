// Text exposition format 0.0.4 helpers: number formatting and escaping.
//
// Pure functions on caller-owned strings; safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace heteroaccel::metrics::internal {

// Shortest text that parses back to `v` (std::to_chars); "+Inf", "-Inf", "NaN".
void AppendDouble(double v, std::string& out);

// Label values escape backslash, double quote and newline.
void AppendEscapedLabelValue(std::string_view value, std::string& out);

// HELP text escapes backslash and newline (quotes stay as they are).
void AppendEscapedHelp(std::string_view help, std::string& out);

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace heteroaccel::metrics::internal
