// How the model store keeps metadata in its database columns: accelerator
// kinds as "gpu,npu" and accuracy figures as a JSON object. Pure functions,
// thread-safe. The public validation and JSON functions are in model_store.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/device_kind.h"

namespace heteroaccel::repository::internal {

std::string AcceleratorsText(const std::vector<DeviceKind>& kinds);
// Unknown kinds (a newer writer) are skipped.
std::vector<DeviceKind> ParseAcceleratorsText(const std::string& text);
std::string AccuracyText(const std::map<std::string, double>& accuracy);
// Anything unreadable gives an empty map.
std::map<std::string, double> ParseAccuracyText(const std::string& text);

}  // namespace heteroaccel::repository::internal
