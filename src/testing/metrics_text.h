// MetricValue: one sample's value in the Prometheus text exposition that
// /metrics answers (metrics::Registry::Render), for tests and test harnesses
// that read what a process counted.
#pragma once

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

namespace heteroaccel::testing {

// The value of the sample line `SERIES VALUE`, where `series` is the metric's
// name with its labels exactly as rendered
// (`heteroaccel_device_slots{device="npu0"}`); nullopt when no line is that
// series or its value does not parse.
inline std::optional<double> MetricValue(std::string_view text, std::string_view series) {
  for (size_t at = text.find(series); at != std::string_view::npos;
       at = text.find(series, at + 1)) {
    const size_t value = at + series.size();
    if ((at != 0 && text[at - 1] != '\n') || value >= text.size() || text[value] != ' ') continue;
    const size_t end = std::min(text.find('\n', value), text.size());
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + value + 1, text.data() + end, v);
    if (ec != std::errc()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

}  // namespace heteroaccel::testing
