#include "scenes/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <unordered_map>

namespace heteroaccel::scenes {
namespace {

std::string Describe(const pipeline::Event& e) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "produced %s %s zone=%s dir=%s track=%llu start=%.2f",
                e.rule.c_str(), e.type.c_str(), e.zone.c_str(), e.direction.c_str(),
                static_cast<unsigned long long>(e.track_id), e.start);
  return buf;
}

std::string Describe(const ExpectedEvent& e) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "expected %s %s zone=%s dir=%s actor=%d start=%.2f",
                e.rule.c_str(), e.type.c_str(), e.zone.c_str(), e.direction.c_str(), e.actor,
                e.start);
  return buf;
}

bool ActorMatches(const ExpectedEvent& want, const pipeline::Event& got,
                  const std::vector<GtFrame>& truth) {
  if (want.actor == 0 || truth.empty() || got.box.Area() <= 0) return true;
  if (got.snapshot_frame >= truth.size()) return false;
  for (const GtBox& b : truth[got.snapshot_frame].boxes) {
    if (b.actor == want.actor) return pipeline::IoU(b.box, got.box) >= kActorIoU;
  }
  return false;
}

pipeline::Rect BoxFromJson(const nlohmann::json& j) {
  pipeline::Rect r;
  if (j.is_array() && j.size() == 4 && j[0].is_number()) {
    r = {j[0].get<float>(), j[1].get<float>(), j[2].get<float>(), j[3].get<float>()};
  } else if (j.is_object()) {
    r = {j.value("x1", 0.F), j.value("y1", 0.F), j.value("x2", 0.F), j.value("y2", 0.F)};
  }
  return r;
}

}  // namespace

std::vector<pipeline::Event> Distinct(const std::vector<pipeline::Event>& events) {
  std::vector<pipeline::Event> out;
  std::unordered_map<std::string, size_t> at;
  for (const pipeline::Event& e : events) {
    auto [it, inserted] = at.emplace(e.id, out.size());
    if (inserted) {
      out.push_back(e);
    } else {
      out[it->second] = e;
    }
  }
  return out;
}

std::vector<pipeline::Event> EventsFromJson(const nlohmann::json& body) {
  const nlohmann::json* list = &body;
  if (body.is_object() && body.contains("events")) list = &body["events"];
  std::vector<pipeline::Event> out;
  if (!list->is_array()) return out;
  for (const nlohmann::json& j : *list) {
    if (!j.is_object()) continue;
    pipeline::Event e;
    auto str = [&j](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    e.id = str("id");
    e.camera = str("camera");
    e.rule = str("rule");
    e.type = str("type");
    e.zone = str("zone");
    e.direction = str("direction");
    e.object = str("object");
    if (auto it = j.find("track_id");
        it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 0) {
      e.track_id = it->get<uint64_t>();
    }
    if (auto it = j.find("start_time"); it != j.end() && it->is_number())
      e.start = it->get<double>();
    if (auto it = j.find("end_time"); it != j.end() && it->is_number()) e.end = it->get<double>();
    if (auto it = j.find("snapshot_frame");
        it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 0) {
      e.snapshot_frame = it->get<uint64_t>();
    }
    if (auto it = j.find("box"); it != j.end()) e.box = BoxFromJson(*it);
    out.push_back(std::move(e));
  }
  return out;
}

Evaluation Evaluate(const std::vector<ExpectedEvent>& expected,
                    const std::vector<pipeline::Event>& produced_all,
                    const std::vector<GtFrame>& truth) {
  const std::vector<pipeline::Event> produced = Distinct(produced_all);
  Evaluation ev;
  for (const ExpectedEvent& e : expected) ev.rules[e.rule].expected++;
  for (const pipeline::Event& e : produced) {
    ev.rules[e.rule].produced++;
    if (e.type == "line_crossing") ev.line_counts[{e.zone, e.direction}]++;
  }
  struct Pair {
    double error;
    size_t want, got;
  };
  std::vector<Pair> pairs;
  for (size_t w = 0; w < expected.size(); ++w) {
    const ExpectedEvent& want = expected[w];
    for (size_t g = 0; g < produced.size(); ++g) {
      const pipeline::Event& got = produced[g];
      if (got.rule != want.rule || got.type != want.type || got.zone != want.zone ||
          got.direction != want.direction) {
        continue;
      }
      const double error = std::abs(got.start - want.start);
      if (error > want.tolerance || !ActorMatches(want, got, truth)) continue;
      pairs.push_back({error, w, g});
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const Pair& a, const Pair& b) { return a.error < b.error; });
  std::vector<bool> want_used(expected.size()), got_used(produced.size());
  for (const Pair& p : pairs) {
    if (want_used[p.want] || got_used[p.got]) continue;
    want_used[p.want] = got_used[p.got] = true;
    RuleScore& s = ev.rules[expected[p.want].rule];
    s.matched++;
    s.mean_start_error += p.error;
    s.max_start_error = std::max(s.max_start_error, p.error);
  }
  for (size_t w = 0; w < expected.size(); ++w) {
    if (!want_used[w]) ev.rules[expected[w].rule].unmatched.push_back(Describe(expected[w]));
  }
  for (size_t g = 0; g < produced.size(); ++g) {
    if (!got_used[g]) ev.rules[produced[g].rule].unmatched.push_back(Describe(produced[g]));
  }
  for (auto& [rule, s] : ev.rules) {
    s.rule = rule;
    s.precision = s.produced > 0 ? static_cast<double>(s.matched) / s.produced : 1.0;
    s.recall = s.expected > 0 ? static_cast<double>(s.matched) / s.expected : 1.0;
    if (s.matched > 0) s.mean_start_error /= s.matched;
  }
  return ev;
}

std::string Evaluation::Summary() const {
  std::ostringstream out;
  for (const auto& [rule, s] : rules) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "rule %s: expected %d produced %d matched %d precision %.3f recall %.3f "
                  "start error mean %.2f s max %.2f s\n",
                  rule.c_str(), s.expected, s.produced, s.matched, s.precision, s.recall,
                  s.mean_start_error, s.max_start_error);
    out << buf;
    for (const std::string& u : s.unmatched) out << "  unmatched " << u << "\n";
  }
  for (const auto& [key, n] : line_counts) {
    out << "line " << key.first << " " << key.second << ": " << n << "\n";
  }
  return out.str();
}

}  // namespace heteroaccel::scenes
