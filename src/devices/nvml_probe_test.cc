#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "devices/probe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kFakeNvml = HETEROACCEL_FAKE_NVML_PATH;

// Sets an environment variable for one test and restores the previous state.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

int FakeActiveInits() {
  void* library = dlopen(kFakeNvml, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return -1;
  auto fn = reinterpret_cast<int (*)()>(dlsym(library, "fakeNvmlActiveInits"));
  const int result = fn ? fn() : -1;
  dlclose(library);
  return result;
}

TEST(NvmlProbeTest, MissingLibraryMeansNoDevicesAndNoError) {
  for (const char* path : {"/nonexistent/libnvidia-ml.so.1", "libheteroaccel-no-such-nvml.so.1"}) {
    absl::StatusOr<std::vector<Device>> devices = MakeNvmlProbe(path)->Probe();
    ASSERT_TRUE(devices.ok()) << path << ": " << devices.status();
    EXPECT_THAT(*devices, IsEmpty());
  }
}

TEST(NvmlProbeTest, ReportsEachGpuByUuidWithPciAddressAndMemory) {
  absl::StatusOr<std::vector<Device>> devices = MakeNvmlProbe(kFakeNvml)->Probe();
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 2u);
  const Device& gpu = devices->front();
  EXPECT_EQ(gpu.id, "nvidia-GPU-11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(gpu.kind, DeviceKind::kGpu);
  EXPECT_EQ(gpu.name, "NVIDIA A2");
  EXPECT_EQ(gpu.vendor, "NVIDIA");
  EXPECT_EQ(gpu.source, "nvml");
  EXPECT_EQ(gpu.state, DeviceState::kReady);
  EXPECT_EQ(gpu.Attribute("pci_bus_id"), "0000:17:00.0");
  EXPECT_EQ(gpu.Attribute("memory_bytes"), std::to_string(16ULL << 30));
  EXPECT_EQ(gpu.Attribute("driver_version"), "550.54.15");
  // The fake predates nvmlDeviceGetCudaComputeCapability: the attribute is simply absent.
  EXPECT_FALSE(gpu.HasAttribute("compute_capability"));
  EXPECT_EQ((*devices)[1].Attribute("pci_bus_id"), "0000:65:00.0");
}

TEST(NvmlProbeTest, EachProbeReleasesNvml) {
  std::unique_ptr<DeviceProbe> probe = MakeNvmlProbe(kFakeNvml);
  ASSERT_TRUE(probe->Probe().ok());
  ASSERT_TRUE(probe->Probe().ok());
  EXPECT_EQ(FakeActiveInits(), 0);
}

TEST(NvmlProbeTest, DriverNotLoadedIsUnavailableAndActionable) {
  ScopedEnv mode("HETEROACCEL_FAKE_NVML_MODE", "no_driver");
  absl::StatusOr<std::vector<Device>> devices = MakeNvmlProbe(kFakeNvml)->Probe();
  ASSERT_FALSE(devices.ok());
  EXPECT_EQ(devices.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(devices.status().message(), HasSubstr("kernel driver is not loaded"));
  EXPECT_THAT(devices.status().message(), HasSubstr("Driver Not Loaded"));
}

TEST(NvmlProbeTest, ExistingFileThatIsNotALibraryIsAnError) {
  const std::filesystem::path bogus =
      std::filesystem::path(::testing::TempDir()) / "libnvidia-ml-bogus.so.1";
  std::ofstream(bogus) << "not an ELF file\n";
  absl::StatusOr<std::vector<Device>> devices = MakeNvmlProbe(bogus.string())->Probe();
  std::filesystem::remove(bogus);
  ASSERT_FALSE(devices.ok());
  EXPECT_EQ(devices.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(devices.status().message(), HasSubstr("cannot load"));
}

}  // namespace
}  // namespace heteroaccel::devices
