// libFuzzer target: bytes as a cameras file (YAML) and as one camera's JSON
// (the /v1/cameras body), through the one validator both go through
// (pipeline/spec) and the source parser (video/source). Properties checked
// beyond "never crashes, never throws":
//   - a parsed camera round-trips: ParseCameraSpec(ToJson(spec)) == spec;
//   - its blocks have a topological order (cycles were refused);
//   - a geometry edit either applies or leaves the spec unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "pipeline/spec/spec.h"
#include "video/source.h"

namespace {

using heteroaccel::pipeline::CameraSpec;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckCamera(const CameraSpec& spec, const nlohmann::json& geometry) {
  const auto again = heteroaccel::pipeline::ParseCameraSpec(heteroaccel::pipeline::ToJson(spec));
  Check(again.ok() && *again == spec);
  Check(heteroaccel::pipeline::TopologicalOrder(spec).ok());
  (void)heteroaccel::video::ParseSourceSpec(spec.source, spec.id);
  CameraSpec edited = spec;
  if (!heteroaccel::pipeline::SetGeometry(edited, geometry).ok()) Check(edited == spec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto cameras = heteroaccel::pipeline::ParseCamerasYaml(text); cameras.ok()) {
    for (const CameraSpec& spec : *cameras) CheckCamera(spec, nlohmann::json::object());
  }
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  (void)heteroaccel::video::ParseSourceSpec(json, "fuzz");
  if (auto spec = heteroaccel::pipeline::ParseCameraSpec(json); spec.ok()) {
    // The document's own zones and lines as an edit, then none at all.
    CheckCamera(*spec, json);
    CheckCamera(*spec, nlohmann::json::object());
  }
  return 0;
}
