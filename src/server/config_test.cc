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
  EXPECT_EQ(c->registry.at("face").variants.at("gpu"), "blazeface-back-256");
}

TEST(ServerConfigTest, RejectsUnknownKeysAndBadValuesNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"max_atempts: 3", "unknown key 'max_atempts'"},
      {"max_attempts: 0", "max_attempts"},
      {"header_timeout_ms: 0", "header_timeout_ms"},
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

}  // namespace
}  // namespace heteroaccel::server
