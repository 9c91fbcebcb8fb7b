#include "devices/device.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices {
namespace {

using ::testing::HasSubstr;

TEST(DeviceKindTest, NamesRoundTripThroughParseKind) {
  for (DeviceKind kind : {DeviceKind::kCpu, DeviceKind::kGpu, DeviceKind::kNpu, DeviceKind::kFpga,
                          DeviceKind::kOther}) {
    absl::StatusOr<DeviceKind> parsed = ParseKind(KindName(kind));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(KindName(DeviceKind::kFpga), "fpga");
}

TEST(DeviceKindTest, ParseKindIgnoresCaseAndSurroundingSpace) {
  absl::StatusOr<DeviceKind> parsed = ParseKind(" GPU ");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, DeviceKind::kGpu);
}

TEST(DeviceKindTest, ParseKindErrorNamesTheAcceptedValues) {
  absl::StatusOr<DeviceKind> parsed = ParseKind("tpu");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("\"tpu\""));
  EXPECT_THAT(parsed.status().message(), HasSubstr("cpu, gpu, npu, fpga, other"));
}

TEST(DeviceStateTest, NamesAreLowerCase) {
  EXPECT_EQ(StateName(DeviceState::kReady), "ready");
  EXPECT_EQ(StateName(DeviceState::kUnsupported), "unsupported");
}

TEST(DeviceTest, AttributeIsEmptyWhenAbsentAndSetAttributeReplaces) {
  Device device;
  EXPECT_EQ(device.Attribute("cores"), "");
  EXPECT_FALSE(device.HasAttribute("cores"));
  device.SetAttribute("cores", "4");
  device.SetAttribute("pus", "8");
  device.SetAttribute("cores", "6");
  EXPECT_EQ(device.Attribute("cores"), "6");
  ASSERT_EQ(device.attributes.size(), 2u);
  EXPECT_EQ(device.attributes[0].first, "cores");
}

TEST(NormalizePciBusIdTest, AcceptsTheSpellingsDriversUse) {
  EXPECT_EQ(NormalizePciBusId("0000:03:00.0").value(), "0000:03:00.0");
  EXPECT_EQ(NormalizePciBusId("00000000:3B:00.1").value(), "0000:3b:00.1");
  EXPECT_EQ(NormalizePciBusId("65:00.0").value(), "0000:65:00.0");
  EXPECT_EQ(NormalizePciBusId("0001:0:1f.7\n").value(), "0001:00:1f.7");
}

TEST(NormalizePciBusIdTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "garbage", "0000:03:00", "0000:03:20.0", "0000:03:00.8",
                          "0000:103:00.0", "1:2:3:4.0", "usb1"}) {
    absl::StatusOr<std::string> id = NormalizePciBusId(bad);
    ASSERT_FALSE(id.ok()) << bad;
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(id.status().message(), HasSubstr("malformed PCI bus id"));
  }
}

}  // namespace
}  // namespace heteroaccel::devices
