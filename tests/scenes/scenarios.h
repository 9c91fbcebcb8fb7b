// The scripted scenes the camera pipeline is measured on, each with the camera
// document that watches it (zones, lines, pipeline; the source is left for the
// caller to point at the rendered file) and the events it must produce.
//
//   two_way_line    six people cross a line, three each way, one more hovers at
//                   the line without crossing it (no count)
//   loiterer        one person stays in a zone past `seconds`, another walks
//                   through it (and in front of the first) without stopping
//   crowd           four people gather one by one in a zone and stay
//   left_object     a person puts a cup down and walks away (the detector knows
//                   no bag class; see sprites.h)
//   parked_car      one car parks in a bay, another drives through it
//   crossing_paths  two people walk towards each other, one hiding the other as
//                   they pass, both crossing a line (one each way); one then
//                   enters a zone (intrusion)
// Expected start times come from the scripted paths (when the anchor reaches
// the line or zone, when the condition began), tolerance 1 s.
// Plain values; deterministic.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "scenes/evaluate.h"
#include "scenes/scene.h"
#include "scenes/sprites.h"

namespace heteroaccel::scenes {

struct Scenario {
  Scene scene;
  nlohmann::json camera;  // a camera document; "source" set by WithSource
  std::vector<ExpectedEvent> expected;
  std::map<std::pair<std::string, std::string>, int> line_counts;  // exact
};

std::vector<std::string> ScenarioNames();
// An empty scene (no name) for an unknown name.
Scenario MakeScenario(const std::string& name, const SpriteLibrary& sprites);

// The camera document reading `path` as a file source (every frame, media time).
nlohmann::json WithSource(const Scenario& s, const std::string& path);

}  // namespace heteroaccel::scenes
