// FakeDeviceProbe: a DeviceProbe that returns whatever the test configured, for tests of
// code that consumes probes (ProbeWith, the agent's device inventory, the device plugin).
//
// Thread-compatible like every DeviceProbe. A test may keep a raw pointer to change the
// result between Probe() calls while a container of probes owns the fake.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "devices/probe.h"

namespace heteroaccel::devices::testing {

class FakeDeviceProbe final : public DeviceProbe {
 public:
  FakeDeviceProbe(std::string name, absl::StatusOr<std::vector<Device>> result)
      : name_(std::move(name)), result_(std::move(result)) {}

  static std::unique_ptr<FakeDeviceProbe> Returning(std::string name, std::vector<Device> devices) {
    return std::make_unique<FakeDeviceProbe>(std::move(name), std::move(devices));
  }
  static std::unique_ptr<FakeDeviceProbe> Failing(std::string name, absl::Status status) {
    return std::make_unique<FakeDeviceProbe>(std::move(name), std::move(status));
  }

  [[nodiscard]] std::string_view Name() const override { return name_; }
  absl::StatusOr<std::vector<Device>> Probe() override {
    ++probe_calls_;
    return result_;
  }

  void SetResult(absl::StatusOr<std::vector<Device>> result) { result_ = std::move(result); }
  [[nodiscard]] int probe_calls() const { return probe_calls_; }

 private:
  std::string name_;
  absl::StatusOr<std::vector<Device>> result_;
  int probe_calls_ = 0;
};

// A Device with the fields tests usually set; attributes may be added afterwards.
inline Device MakeDevice(std::string id, DeviceKind kind, std::string source,
                         std::vector<std::pair<std::string, std::string>> attributes = {}) {
  Device device;
  device.id = std::move(id);
  device.kind = kind;
  device.name = device.id;
  device.source = std::move(source);
  device.attributes = std::move(attributes);
  return device;
}

}  // namespace heteroaccel::devices::testing
