#include "server/config.h"

#include <gtest/gtest.h>

namespace heteroaccel::server {
namespace {

TEST(ServerConfigTest, ReadsEveryKey) {
  auto c = ParseServerConfig(R"(
listen: 0.0.0.0:8000
policy: idle-first
queue_capacity: 64
max_attempts: 2
max_connections: 300
header_timeout_ms: 5000
keepalive_timeout_ms: 15000
max_inflight_body_bytes: 134217728
clock_offset_alert_seconds: 0.05
registry:
  face: {description: faces, variants: {gpu: blazeface-back-256}}
)",
                             "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->policy, "idle-first");
  EXPECT_EQ(c->max_attempts, 2);
  EXPECT_EQ(c->max_connections, 300u);
  EXPECT_EQ(c->header_timeout_ms, 5000);
  EXPECT_EQ(c->keepalive_timeout_ms, 15000);
  EXPECT_EQ(c->max_inflight_body_bytes, 134217728u);
  EXPECT_DOUBLE_EQ(c->clock_offset_alert_seconds, 0.05);
  EXPECT_EQ(c->registry.at("face").variants.at("gpu"), "blazeface-back-256");
}

TEST(ServerConfigTest, RejectsUnknownKeysAndBadValuesNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"max_atempts: 3", "unknown key 'max_atempts'"},
      {"max_attempts: 0", "max_attempts"},
      {"header_timeout_ms: 0", "header_timeout_ms"},
      {"clock_offset_alert_seconds: 0", "clock_offset_alert_seconds"},
      {"queue_capacity: many", "test.yaml"},
      {"- a list", "mapping"},
  };
  for (const auto& [yaml, message] : cases) {
    auto c = ParseServerConfig(yaml, "test.yaml");
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(c.status().message().find(message), std::string::npos) << c.status();
  }
}

TEST(ServerConfigTest, ReadsADegradePolicyAndRoundTripsItThroughJson) {
  auto c = ParseServerConfig(R"(
registry:
  text:
    degrade: {floor: 0.80, variants: {ppocr-v4: 0.86, ppocr-v4-mobile: 0.81}}
)",
                             "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& degrade = c->registry.at("text").degrade;
  ASSERT_TRUE(degrade.has_value());
  EXPECT_DOUBLE_EQ(degrade->floor, 0.80);
  ASSERT_EQ(degrade->variants.size(), 2u);
  EXPECT_EQ(degrade->variants[0].first, "ppocr-v4");
  EXPECT_DOUBLE_EQ(degrade->variants[1].second, 0.81);
  auto back = RegistryFromJson(RegistryToJson(c->registry));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->at("text").degrade.has_value());
  EXPECT_DOUBLE_EQ(back->at("text").degrade->floor, 0.80);
  EXPECT_EQ(back->at("text").degrade->variants.size(), 2u);
}

TEST(ServerConfigTest, RejectsBadDegradePoliciesNamingTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"{floor: 1.5, variants: {a: 0.9}}", "registry 'text': degrade.floor must be"},
      {"{floor: high, variants: {a: 0.9}}", "degrade.floor must be"},
      {"{variants: {a: 0.9}}", "degrade.floor is required"},
      {"{floor: 0.8}", "degrade.variants must list"},
      {"{floor: 0.8, variants: {a: good}}", "degrade.variants.a must be an accuracy"},
      {"{floor: 0.8, variants: {a: -0.1}}", "degrade.variants.a must be an accuracy"},
      {"{floor: 0.8, variants: [a, b]}", "degrade.variants must map"},
      {"{floor: 0.8, variants: {a: 0.9}, flor: 1}", "unknown key 'flor'"},
      {"0.8", "degrade must be a mapping"},
  };
  for (const auto& [block, message] : cases) {
    const std::string yaml = std::string("registry:\n  text:\n    degrade: ") + block + "\n";
    auto c = ParseServerConfig(yaml, "test.yaml");
    ASSERT_FALSE(c.ok()) << block;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << block;
    EXPECT_NE(c.status().message().find(message), std::string::npos) << c.status();
  }
}

}  // namespace
}  // namespace heteroaccel::server
