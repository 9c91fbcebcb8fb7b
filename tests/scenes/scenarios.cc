#include "scenes/scenarios.h"

namespace heteroaccel::scenes {
namespace {

using nlohmann::json;

constexpr double kFps = 5;
constexpr float kPersonHeight = 165;  // tall enough for the detector (see the detector test)
constexpr float kCarHeight = 135;
constexpr float kCupHeight = 200;

Actor Make(int id, const Sprite& sprite, std::vector<Waypoint> path) {
  return Actor{id, sprite, std::move(path)};
}

Waypoint W(double t, float x, float y, float h = kPersonHeight) { return {t, x, y, h}; }

json Poly(std::vector<std::pair<int, int>> pts) {
  json out = json::array();
  for (auto [x, y] : pts) out.push_back({x, y});
  return out;
}

// detect -> filter -> track, then `rules`.
json Pipeline(std::vector<std::string> classes, json rules) {
  json p = json::array();
  p.push_back({{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}});
  p.push_back({{"id", "objects"},
               {"block", "filter"},
               {"input", "det"},
               {"classes", classes},
               {"min_score", 0.5}});
  p.push_back({{"id", "trk"},
               {"block", "track"},
               {"input", "objects"},
               {"min_hits", 3},
               {"max_lost", 10},
               {"iou", 0.2}});
  for (json& r : rules) {
    r["input"] = "trk";
    p.push_back(r);
  }
  return p;
}

Scene NewScene(const std::string& name, const SpriteLibrary& lib, double duration, uint64_t seed,
               double fps = kFps) {
  Scene s;
  s.name = name;
  s.background = lib.background;
  s.fps = fps;
  s.duration = duration;
  s.seed = seed;
  return s;
}

// When the linear move p -> q reaches coordinate `v` on the axis `get` picks.
template <typename Get>
double When(const Waypoint& p, const Waypoint& q, float v, Get get) {
  return p.t + (q.t - p.t) * (v - get(p)) / (get(q) - get(p));
}
double WhenY(const Waypoint& p, const Waypoint& q, float y) {
  return When(p, q, y, [](const Waypoint& w) { return w.y; });
}
double WhenX(const Waypoint& p, const Waypoint& q, float x) {
  return When(p, q, x, [](const Waypoint& w) { return w.x; });
}

Scenario TwoWayLine(const SpriteLibrary& lib) {
  Scenario sc;
  sc.scene = NewScene("two_way_line", lib, 19, 11);
  constexpr float kLineY = 380;
  // Down the frame = forward (the line runs left to right; its left is above).
  struct Walk {
    int walker;
    float x;
    double t0, t1;
    bool down;
  };
  const Walk walks[] = {{0, 110, 0, 4.5, true},   {2, 300, 1, 5.5, false},
                        {3, 630, 3, 7.5, true},   {4, 460, 6, 10.5, false},
                        {5, 700, 10, 14.5, true}, {1, 560, 12, 16.5, false}};
  int id = 1;
  for (const Walk& w : walks) {
    const Waypoint a = W(w.t0, w.x, w.down ? 240 : 545);
    const Waypoint b = W(w.t1, w.x, w.down ? 545 : 240);
    sc.scene.actors.push_back(Make(id, lib.walkers[static_cast<size_t>(w.walker)], {a, b}));
    sc.expected.push_back({"cross", "line_crossing", id, "entry", w.down ? "forward" : "backward",
                           WhenY(a, b, kLineY)});
    ++id;
  }
  // Hovers at the line: within hysteresis_px of it on the far side, then back.
  sc.scene.actors.push_back(Make(id, lib.walkers[6],
                                 {W(2, 220, 250), W(5, 220, 372), W(6, 220, 392), W(7, 220, 366),
                                  W(8, 220, 394), W(9, 220, 370), W(12, 220, 250)}));
  sc.line_counts[{"entry", "forward"}] = 3;
  sc.line_counts[{"entry", "backward"}] = 3;
  sc.camera = {
      {"id", "two-way-line"},
      {"lines", json::array({{{"name", "entry"}, {"from", {0, kLineY}}, {"to", {768, kLineY}}}})},
      {"pipeline", Pipeline({"person"}, json::array({{{"id", "cross"},
                                                      {"block", "line_crossing"},
                                                      {"line", "entry"},
                                                      {"classes", {"person"}},
                                                      {"hysteresis_px", 25}}}))}};
  return sc;
}

Scenario Loiterer(const SpriteLibrary& lib) {
  Scenario sc;
  sc.scene = NewScene("loiterer", lib, 17, 12);
  // Zone: the lawn's left part; the anchor is inside while x < 360 and y > 400.
  const Waypoint in0 = W(0, 520, 500), in1 = W(3, 250, 500);
  sc.scene.actors.push_back(Make(1, lib.walkers[2],
                                 {in0, in1, W(6, 130, 520), W(10, 130, 520), W(12, 220, 510),
                                  W(14, 300, 500), W(16, 560, 500)}));
  // Walks through the zone (about 3 s inside), behind the loiterer.
  sc.scene.actors.push_back(Make(2, lib.walkers[4], {W(4, 620, 450), W(10, -40, 450)}));
  sc.expected.push_back({"loiter", "loitering", 1, "lawn", "", WhenX(in0, in1, 360)});
  sc.camera = {
      {"id", "loiterer"},
      {"zones", json::array({{{"name", "lawn"},
                              {"polygon", Poly({{0, 400}, {360, 400}, {360, 576}, {0, 576}})}}})},
      {"pipeline", Pipeline({"person"}, json::array({{{"id", "loiter"},
                                                      {"block", "loitering"},
                                                      {"zone", "lawn"},
                                                      {"classes", {"person"}},
                                                      {"seconds", 6}}}))}};
  return sc;
}

Scenario Crowd(const SpriteLibrary& lib) {
  Scenario sc;
  sc.scene = NewScene("crowd", lib, 18, 13);
  // Zone: the road, x 200..740, y 300..460. People arrive from the sides and stay.
  struct Arrival {
    int walker;
    float from_x, to_x, y;
    double t0, t1;
  };
  const Arrival arrivals[] = {{0, -30, 260, 360, 0, 3},
                              {2, 800, 640, 420, 2, 4},
                              {4, -30, 400, 440, 4, 7},
                              {6, 800, 520, 340, 7, 9}};
  double fourth_in = 0;
  int id = 1;
  for (const Arrival& a : arrivals) {
    const Waypoint p = W(a.t0, a.from_x, a.y), q = W(a.t1, a.to_x, a.y);
    const bool from_left = a.from_x < a.to_x;
    const float edge = from_left ? 200 : 740;
    fourth_in = WhenX(p, q, edge);
    sc.scene.actors.push_back(Make(id++, lib.walkers[static_cast<size_t>(a.walker)],
                                   {p, q, W(14, a.to_x, a.y), W(17, a.from_x, a.y)}));
  }
  sc.expected.push_back({"crowd", "crowding", 0, "road", "", fourth_in});
  sc.camera = {
      {"id", "crowd"},
      {"zones",
       json::array({{{"name", "road"},
                     {"polygon", Poly({{200, 300}, {740, 300}, {740, 460}, {200, 460}})}}})},
      {"pipeline", Pipeline({"person"}, json::array({{{"id", "crowd"},
                                                      {"block", "crowding"},
                                                      {"zone", "road"},
                                                      {"classes", {"person"}},
                                                      {"count", 4},
                                                      {"seconds", 3}}}))}};
  return sc;
}

Scenario LeftObject(const SpriteLibrary& lib) {
  Scenario sc;
  // 10 fps: a person starting to walk from a standstill moves less between frames.
  sc.scene = NewScene("left_object", lib, 13, 14, 10);
  // The cup's centre is (200, 440); the person stops next to it, puts it down at
  // t = 3 and leaves: the anchor passes 200 px from the cup's centre at x ~ 383.
  const Waypoint stand = W(3.5, 340, 520), gone = W(7, 800, 520);
  sc.scene.actors.push_back(
      Make(1, lib.walkers[3], {W(0, 620, 520), W(2.5, 340, 520), stand, gone}));
  sc.scene.actors.push_back(
      Make(2, lib.cup, {W(3, 200, 540, kCupHeight), W(13, 200, 540, kCupHeight)}));
  sc.expected.push_back({"bag", "abandoned", 2, "", "", WhenX(stand, gone, 383)});
  sc.camera = {
      {"id", "left-object"},
      {"pipeline", Pipeline({"person", "coffee cup"}, json::array({{{"id", "bag"},
                                                                    {"block", "abandoned_object"},
                                                                    {"classes", {"coffee cup"}},
                                                                    {"seconds", 4},
                                                                    {"person_distance_px", 200},
                                                                    {"still_px", 15}}}))}};
  return sc;
}

Scenario ParkedCar(const SpriteLibrary& lib) {
  Scenario sc;
  sc.scene = NewScene("parked_car", lib, 14, 15);
  // Bay: the road's right part. One car drives in and stops at t = 3; another
  // passes through the bay in under 2 s.
  const Waypoint stop = W(3, 520, 340, kCarHeight);
  sc.scene.actors.push_back(
      Make(1, lib.car, {W(0, 880, 340, kCarHeight), stop, W(14, 520, 340, kCarHeight)}));
  sc.scene.actors.push_back(
      Make(2, lib.car, {W(6, -100, 500, kCarHeight), W(10, 900, 500, kCarHeight)}));
  sc.expected.push_back({"park", "parking", 1, "bay", "", stop.t});
  sc.camera = {
      {"id", "parked-car"},
      {"zones",
       json::array({{{"name", "bay"},
                     {"polygon", Poly({{360, 250}, {768, 250}, {768, 540}, {360, 540}})}}})},
      {"pipeline", Pipeline({"car"}, json::array({{{"id", "park"},
                                                   {"block", "parking"},
                                                   {"zone", "bay"},
                                                   {"classes", {"car"}},
                                                   {"seconds", 5},
                                                   {"still_px", 25}}}))}};
  return sc;
}

Scenario CrossingPaths(const SpriteLibrary& lib) {
  Scenario sc;
  sc.scene = NewScene("crossing_paths", lib, 12, 16);
  // A vertical line at x = 384 drawn top to bottom: its left (as drawn) is the
  // frame's right half, so right-to-left is forward.
  const Waypoint a0 = W(0, 40, 450), a1 = W(11, 740, 450);
  const Waypoint b0 = W(0, 720, 430), b1 = W(10, 40, 430);
  sc.scene.actors.push_back(Make(1, lib.walkers[0], {a0, a1}));  // nearer: hides the other
  sc.scene.actors.push_back(Make(2, lib.walkers[4], {b0, b1}));
  sc.expected.push_back({"cross", "line_crossing", 1, "middle", "backward", WhenX(a0, a1, 384)});
  sc.expected.push_back({"cross", "line_crossing", 2, "middle", "forward", WhenX(b0, b1, 384)});
  sc.expected.push_back({"lawn", "intrusion", 1, "corner", "", WhenX(a0, a1, 580)});
  sc.line_counts[{"middle", "forward"}] = 1;
  sc.line_counts[{"middle", "backward"}] = 1;
  sc.camera = {
      {"id", "crossing-paths"},
      {"zones",
       json::array({{{"name", "corner"},
                     {"polygon", Poly({{580, 440}, {768, 440}, {768, 576}, {580, 576}})}}})},
      {"lines", json::array({{{"name", "middle"}, {"from", {384, 250}}, {"to", {384, 570}}}})},
      {"pipeline", Pipeline({"person"}, json::array({{{"id", "cross"},
                                                      {"block", "line_crossing"},
                                                      {"line", "middle"},
                                                      {"classes", {"person"}},
                                                      {"hysteresis_px", 15}},
                                                     {{"id", "lawn"},
                                                      {"block", "zone_intrusion"},
                                                      {"zone", "corner"},
                                                      {"classes", {"person"}},
                                                      {"inertia", 2}}}))}};
  return sc;
}

}  // namespace

std::vector<std::string> ScenarioNames() {
  return {"two_way_line", "loiterer", "crowd", "left_object", "parked_car", "crossing_paths"};
}

Scenario MakeScenario(const std::string& name, const SpriteLibrary& sprites) {
  if (name == "two_way_line") return TwoWayLine(sprites);
  if (name == "loiterer") return Loiterer(sprites);
  if (name == "crowd") return Crowd(sprites);
  if (name == "left_object") return LeftObject(sprites);
  if (name == "parked_car") return ParkedCar(sprites);
  if (name == "crossing_paths") return CrossingPaths(sprites);
  return {};
}

json WithSource(const Scenario& s, const std::string& path) {
  json camera = s.camera;
  camera["source"] = {{"type", "file"}, {"path", path}};
  return camera;
}

}  // namespace heteroaccel::scenes
