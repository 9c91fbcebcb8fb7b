#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "devices/probe.h"
#include "devices/testing/fake_sysfs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices {
namespace {

using ::testing::ElementsAre;
using testing::FakeSysfs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Ids(const std::vector<Device>& devices) {
  std::vector<std::string> ids;
  ids.reserve(devices.size());
  for (const Device& d : devices) ids.push_back(d.id);
  return ids;
}

class BusProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeSysfs>> sysfs = FakeSysfs::Create();
    ASSERT_TRUE(sysfs.ok()) << sysfs.status();
    sysfs_ = *std::move(sysfs);
  }

  std::vector<Device> Probe() {
    absl::StatusOr<std::vector<Device>> devices = MakeBusProbe(sysfs_->root())->Probe();
    EXPECT_TRUE(devices.ok()) << devices.status();
    return devices.ok() ? *std::move(devices) : std::vector<Device>{};
  }

  std::unique_ptr<FakeSysfs> sysfs_;
};

TEST_F(BusProbeTest, ReportsNcs2AsUnsupportedNpu) {
  ASSERT_TRUE(sysfs_->AddUsbDevice("1-2", 0x03e7, 0x2485, "Movidius MyriadX", "03e72485").ok());
  const std::vector<Device> devices = Probe();
  ASSERT_EQ(devices.size(), 1u);
  const Device& ncs2 = devices[0];
  EXPECT_EQ(ncs2.id, "usb-1-2");
  EXPECT_EQ(ncs2.kind, DeviceKind::kNpu);
  EXPECT_EQ(ncs2.name, "Intel Movidius Myriad X (NCS2)");
  EXPECT_EQ(ncs2.source, "usb");
  EXPECT_EQ(ncs2.state, DeviceState::kUnsupported);
  EXPECT_THAT(ncs2.state_reason, HasSubstr("OpenVINO"));
  EXPECT_FALSE(ncs2.emulated);
  EXPECT_EQ(ncs2.Attribute("usb_vendor_id"), "03e7");
  EXPECT_EQ(ncs2.Attribute("usb_product_id"), "2485");
  EXPECT_EQ(ncs2.Attribute("usb_product"), "Movidius MyriadX");
  EXPECT_EQ(ncs2.Attribute("usb_serial"), "03e72485");
}

TEST_F(BusProbeTest, ReportsCoralUsbBeforeAndAfterFirmwareLoad) {
  ASSERT_TRUE(sysfs_->AddUsbDevice("2-1.4", 0x18d1, 0x9302).ok());  // booted
  ASSERT_TRUE(sysfs_->AddUsbDevice("1-1", 0x1a6e, 0x089a).ok());    // before firmware load
  const std::vector<Device> devices = Probe();
  EXPECT_THAT(Ids(devices), ElementsAre("usb-1-1", "usb-2-1.4"));
  for (const Device& coral : devices) {
    EXPECT_EQ(coral.kind, DeviceKind::kNpu);
    EXPECT_EQ(coral.vendor, "Google");
    EXPECT_THAT(coral.name, HasSubstr("Coral USB"));
    EXPECT_THAT(coral.state_reason, HasSubstr("Edge TPU runtime"));
  }
}

TEST_F(BusProbeTest, ReportsAlteraFpgaWithItsPciAddress) {
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:3b:00.0", 0x1172, 0x5052, 0x120000).ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:af:00.0", 0x1172, 0x0000, 0x120000, "dfl-pci").ok());
  const std::vector<Device> devices = Probe();
  ASSERT_THAT(Ids(devices), ElementsAre("pci-0000:3b:00.0", "pci-0000:af:00.0"));
  EXPECT_EQ(devices[0].kind, DeviceKind::kFpga);
  EXPECT_EQ(devices[0].source, "pci");
  EXPECT_EQ(devices[0].state, DeviceState::kUnsupported);
  EXPECT_EQ(devices[0].Attribute("pci_bus_id"), "0000:3b:00.0");
  EXPECT_EQ(devices[0].Attribute("pci_vendor_id"), "1172");
  EXPECT_EQ(devices[0].Attribute("pci_device_id"), "5052");
  EXPECT_THAT(devices[0].state_reason, HasSubstr("no kernel driver is bound"));
  EXPECT_THAT(devices[1].state_reason, HasSubstr("kernel driver in use: dfl-pci"));
  EXPECT_EQ(devices[1].Attribute("kernel_driver"), "dfl-pci");
}

TEST_F(BusProbeTest, IgnoresUnknownDevicesGpusAndBridges) {
  ASSERT_TRUE(sysfs_->AddUsbDevice("1-3", 0x046d, 0xc52b, "USB Receiver").ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:00:19.0", 0x8086, 0x1533, 0x020000).ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:17:00.0", 0x10de, 0x2330, 0x030200).ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:3a:00.0", 0x1172, 0x1234, 0x060400).ok());
  EXPECT_THAT(Probe(), IsEmpty());
}

TEST_F(BusProbeTest, IdsDoNotDependOnDiscoveryOrderOrRepeatedProbes) {
  ASSERT_TRUE(sysfs_->AddUsbDevice("3-1", 0x03e7, 0x2150).ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:b3:00.0", 0x10ee, 0x5000, 0x058000).ok());
  ASSERT_TRUE(sysfs_->AddUsbDevice("1-2", 0x03e7, 0x2485).ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:04:00.0", 0x1e60, 0x2864, 0x128000).ok());

  absl::StatusOr<std::unique_ptr<FakeSysfs>> other = FakeSysfs::Create();
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->AddPciDevice("0000:04:00.0", 0x1e60, 0x2864, 0x128000).ok());
  ASSERT_TRUE((*other)->AddUsbDevice("1-2", 0x03e7, 0x2485).ok());
  ASSERT_TRUE((*other)->AddPciDevice("0000:b3:00.0", 0x10ee, 0x5000, 0x058000).ok());
  ASSERT_TRUE((*other)->AddUsbDevice("3-1", 0x03e7, 0x2150).ok());

  const std::vector<std::string> ids = Ids(Probe());
  EXPECT_THAT(ids, ElementsAre("pci-0000:04:00.0", "pci-0000:b3:00.0", "usb-1-2", "usb-3-1"));
  EXPECT_EQ(Ids(Probe()), ids);
  EXPECT_EQ(Ids(MakeBusProbe((*other)->root())->Probe().value()), ids);
}

struct KnownPci {
  uint32_t vendor;
  uint32_t device;
  uint32_t class_code;
  DeviceKind kind;
  const char* name_part;
  const char* reason_part;
};

class BusProbeTableTest : public BusProbeTest, public ::testing::WithParamInterface<KnownPci> {};

TEST_P(BusProbeTableTest, RecognisesKnownPciAccelerator) {
  const KnownPci& known = GetParam();
  ASSERT_TRUE(
      sysfs_->AddPciDevice("0000:05:00.0", known.vendor, known.device, known.class_code).ok());
  const std::vector<Device> devices = Probe();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].kind, known.kind);
  EXPECT_THAT(devices[0].name, HasSubstr(known.name_part));
  EXPECT_THAT(devices[0].state_reason, HasSubstr(known.reason_part));
}

INSTANTIATE_TEST_SUITE_P(
    KnownAccelerators, BusProbeTableTest,
    ::testing::Values(KnownPci{0x1ac1, 0x089a, 0x088000, DeviceKind::kNpu, "Edge TPU", "apex"},
                      KnownPci{0x1e60, 0x2864, 0x128000, DeviceKind::kNpu, "Hailo-8", "HailoRT"},
                      KnownPci{0x8086, 0x09c4, 0x120000, DeviceKind::kFpga, "Arria 10", "OPAE"},
                      KnownPci{0x8086, 0x0b2b, 0x120000, DeviceKind::kFpga, "D5005", "OPAE"},
                      KnownPci{0x8086, 0x0b30, 0x120000, DeviceKind::kFpga, "N3000", "OPAE"},
                      KnownPci{0x10ee, 0x5000, 0x058000, DeviceKind::kFpga, "Xilinx", "XRT"}));

TEST_F(BusProbeTest, EmptyTreeHasNoDevices) { EXPECT_THAT(Probe(), IsEmpty()); }

TEST(BusProbeRootTest, MissingRootIsNotFound) {
  absl::StatusOr<std::vector<Device>> devices = MakeBusProbe("/nonexistent/sysfs")->Probe();
  ASSERT_FALSE(devices.ok());
  EXPECT_EQ(devices.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(devices.status().message(), HasSubstr("/nonexistent/sysfs"));
}

TEST_F(BusProbeTest, PciGpuProbeReportsVendorGpusAsUnsupported) {
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:17:00.0", 0x10de, 0x2330, 0x030200, "nouveau").ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:c1:00.0", 0x1002, 0x740f, 0x038000).ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:00:02.0", 0x8086, 0x4680, 0x030000, "i915").ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:03:00.0", 0x1a03, 0x2000, 0x030000, "ast").ok());
  ASSERT_TRUE(sysfs_->AddPciDevice("0000:3b:00.0", 0x1172, 0x5052, 0x120000).ok());

  absl::StatusOr<std::vector<Device>> gpus = MakePciGpuProbe(sysfs_->root())->Probe();
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  ASSERT_THAT(Ids(*gpus), ElementsAre("pci-0000:00:02.0", "pci-0000:17:00.0", "pci-0000:c1:00.0"));
  const Device& nvidia = (*gpus)[1];
  EXPECT_EQ(nvidia.kind, DeviceKind::kGpu);
  EXPECT_EQ(nvidia.vendor, "NVIDIA");
  EXPECT_EQ(nvidia.name, "NVIDIA GPU [10de:2330]");
  EXPECT_EQ(nvidia.state, DeviceState::kUnsupported);
  EXPECT_THAT(nvidia.state_reason, HasSubstr("install the NVIDIA driver"));
  EXPECT_THAT(nvidia.state_reason, HasSubstr("kernel driver in use: nouveau"));
  EXPECT_THAT((*gpus)[2].state_reason, HasSubstr("no kernel driver is bound"));
}

}  // namespace
}  // namespace heteroaccel::devices
