#include "pipeline/tracking/testing/synthetic_tracks.h"

#include <algorithm>
#include <optional>
#include <random>

namespace heteroaccel::pipeline::testing {
namespace {

std::optional<Rect> BoxAt(const ScriptedObject& o, double t) {
  const auto& p = o.path;
  if (p.empty() || t < p.front().t || t > p.back().t) return std::nullopt;
  size_t i = 0;
  while (i + 1 < p.size() && p[i + 1].t < t) ++i;
  Point c = p[i].centre;
  if (i + 1 < p.size() && p[i + 1].t > p[i].t) {
    const double f = (t - p[i].t) / (p[i + 1].t - p[i].t);
    c.x = static_cast<float>(p[i].centre.x + f * (p[i + 1].centre.x - p[i].centre.x));
    c.y = static_cast<float>(p[i].centre.y + f * (p[i + 1].centre.y - p[i].centre.y));
  }
  return Rect{c.x - o.width / 2, c.y - o.height / 2, c.x + o.width / 2, c.y + o.height / 2};
}

// Fraction of `box` covered by the union of `front` boxes, estimated on a grid.
double CoveredFraction(const Rect& box, const std::vector<Rect>& front) {
  if (front.empty()) return 0;
  constexpr int kGrid = 16;
  int covered = 0;
  for (int i = 0; i < kGrid; ++i) {
    for (int j = 0; j < kGrid; ++j) {
      const float x = box.x1 + (i + 0.5f) * box.Width() / kGrid;
      const float y = box.y1 + (j + 0.5f) * box.Height() / kGrid;
      for (const Rect& f : front) {
        if (x >= f.x1 && x < f.x2 && y >= f.y1 && y < f.y2) {
          ++covered;
          break;
        }
      }
    }
  }
  return static_cast<double>(covered) / (kGrid * kGrid);
}

Rect Clip(Rect r, int w, int h) {
  r.x1 = std::clamp(r.x1, 0.0f, static_cast<float>(w));
  r.x2 = std::clamp(r.x2, 0.0f, static_cast<float>(w));
  r.y1 = std::clamp(r.y1, 0.0f, static_cast<float>(h));
  r.y2 = std::clamp(r.y2, 0.0f, static_cast<float>(h));
  return r;
}

bool Skipped(const SceneOptions& o, int frame) {
  for (const auto& [from, to] : o.gaps) {
    if (frame >= from && frame < to) return true;
  }
  return false;
}

}  // namespace

SyntheticScene RenderScene(const std::vector<ScriptedObject>& objects, const SceneOptions& o) {
  SyntheticScene scene;
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> jitter(0, std::max(o.jitter_px, 1e-9));
  std::uniform_real_distribution<double> unit(0, 1);
  std::poisson_distribution<int> fps_count(std::max(o.fp_per_frame, 1e-9));

  for (int f = 0; f < o.frames; ++f) {
    // Every frame draws the same amount of randomness whether delivered or not,
    // so a gap does not change the noise of the frames around it.
    const double t = f / o.fps;
    FrameResult frame{
        .frame_index = static_cast<uint64_t>(f), .time = t, .width = o.width, .height = o.height};
    std::vector<MotBox> truth;
    std::vector<std::pair<const ScriptedObject*, Rect>> present;
    for (const ScriptedObject& obj : objects) {
      if (auto b = BoxAt(obj, t)) present.emplace_back(&obj, Clip(*b, o.width, o.height));
    }
    for (const auto& [obj, box] : present) {
      std::vector<Rect> front;
      for (const auto& [other, other_box] : present) {
        if (other != obj && other_box.y2 > box.y2) front.push_back(other_box);
      }
      const double covered = CoveredFraction(box, front);
      const double u_drop = unit(rng), u_low = unit(rng), u_score = unit(rng);
      const double j[4] = {jitter(rng), jitter(rng), jitter(rng), jitter(rng)};
      if (box.Area() <= 0 || covered > o.hidden_fraction) continue;
      truth.push_back({obj->id, box});
      if (u_drop < o.dropout) continue;
      const bool low = covered > o.occluded_fraction || u_low < o.low_score_p;
      Detection d;
      d.label = obj->label;
      d.score =
          low ? o.low_score_min + static_cast<float>(u_score) * (o.low_score_max - o.low_score_min)
              : o.score_min + static_cast<float>(u_score) * (1 - o.score_min);
      if (o.jitter_px > 0) {
        d.box = Rect{box.x1 + static_cast<float>(j[0]), box.y1 + static_cast<float>(j[1]),
                     box.x2 + static_cast<float>(j[2]), box.y2 + static_cast<float>(j[3])};
      } else {
        d.box = box;
      }
      frame.detections.push_back(d);
    }
    const int n_fp = o.fp_per_frame > 0 ? fps_count(rng) : 0;
    for (int k = 0; k < n_fp; ++k) {
      const double w = 20 + 60 * unit(rng), h = 30 + 90 * unit(rng);
      const double x = unit(rng) * (o.width - w), y = unit(rng) * (o.height - h);
      Detection d;
      d.label = "person";
      d.box = Rect{static_cast<float>(x), static_cast<float>(y), static_cast<float>(x + w),
                   static_cast<float>(y + h)};
      // Clutter is mostly weak, sometimes confident.
      d.score = static_cast<float>(0.1 + 0.8 * unit(rng));
      frame.detections.push_back(d);
    }
    if (Skipped(o, f)) continue;
    scene.frames.push_back(std::move(frame));
    scene.truth.push_back(std::move(truth));
  }
  return scene;
}

std::vector<MotBox> Hypotheses(const std::vector<Track>& tracks) {
  std::vector<MotBox> out;
  for (const Track& t : tracks) {
    if (t.confirmed && !t.lost) out.push_back({t.id, t.box});
  }
  return out;
}

std::vector<ScriptedObject> LinearScene(double s) {
  return {
      {.id = 1, .path = {{0, {50, 150}}, {s, {700, 150}}}},
      {.id = 2, .path = {{0, {700, 300}}, {s, {60, 330}}}},
      {.id = 3,
       .label = "car",
       .width = 120,
       .height = 70,
       .path = {{0, {100, 480}}, {s, {650, 480}}}},
      {.id = 4, .width = 30, .height = 60, .path = {{0, {400, 40}}, {s, {420, 540}}}},
  };
}

std::vector<ScriptedObject> TurningScene(double s) {
  return {
      {.id = 11, .path = {{0, {60, 60}}, {s / 2, {300, 60}}, {s, {300, 500}}}},
      {.id = 12,
       .label = "car",
       .width = 110,
       .height = 60,
       .path = {{0, {700, 480}}, {s / 3, {450, 480}}, {2 * s / 3, {300, 300}}, {s, {80, 300}}}},
  };
}

std::vector<ScriptedObject> CrossingScene(double s) {
  // An X: at the middle the one nearer the camera hides the other for a few frames.
  return {
      {.id = 21, .path = {{0, {100, 150}}, {s, {650, 420}}}},
      {.id = 22, .path = {{0, {100, 420}}, {s, {650, 150}}}},
  };
}

std::vector<ScriptedObject> StopAndGoScene(double s) {
  return {
      {.id = 31,
       .path = {{0, {80, 250}}, {s / 3, {350, 250}}, {2 * s / 3, {350, 250}}, {s, {680, 260}}}},
  };
}

std::vector<ScriptedObject> OcclusionScene(double s) {
  // 42 walks behind 41 (41's bottom edge is lower: nearer the camera), hidden
  // for a while in the middle, and comes out on the other side.
  return {
      {.id = 41, .width = 60, .height = 130, .path = {{0, {380, 300}}, {s, {390, 300}}}},
      {.id = 42, .width = 36, .height = 80, .path = {{0, {120, 270}}, {s, {650, 270}}}},
  };
}

std::vector<ScriptedObject> MixedScene(double s) {
  std::vector<ScriptedObject> all;
  for (auto part : {LinearScene(s), TurningScene(s), StopAndGoScene(s)}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

}  // namespace heteroaccel::pipeline::testing
