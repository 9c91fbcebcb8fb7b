#include "events/mqtt_publisher.h"

#include <gtest/gtest.h>

namespace heteroaccel::events {
namespace {

TEST(MqttPublisherTest, RejectsBadOptionsNamingTheKey) {
  struct Case {
    MqttOptions options;
    std::string needle;
  };
  std::vector<Case> cases;
  cases.push_back({MqttOptions{.host = ""}, "host"});
  cases.push_back({MqttOptions{.port = 0}, "port"});
  cases.push_back({MqttOptions{.port = 70000}, "port"});
  cases.push_back({MqttOptions{.prefix = "a/#"}, "prefix"});
  cases.push_back({MqttOptions{.prefix = "/a"}, "prefix"});
  cases.push_back({MqttOptions{.prefix = ""}, "prefix"});
  cases.push_back({MqttOptions{.reconnect_min_s = 5, .reconnect_max_s = 1}, "reconnect"});
  cases.push_back({MqttOptions{.max_queue = 0}, "max_queue"});
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<MqttPublisher>> p = MqttPublisher::Create(c.options);
    ASSERT_FALSE(p.ok()) << c.needle;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.needle), std::string::npos) << p.status();
  }
}

TEST(MqttPublisherTest, TopicsAreSanitizedAndNeverBlockWithoutABroker) {
  // Nothing listens on port 1 of loopback: the publisher keeps retrying in
  // the background while Publish only queues.
  absl::StatusOr<std::unique_ptr<MqttPublisher>> p =
      MqttPublisher::Create({.port = 1, .prefix = "site/a", .max_queue = 3});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->EventTopic("gate-1", "line_crossing"), "site/a/events/gate-1/line_crossing");
  EXPECT_EQ((*p)->EventTopic("a/+/#", ""), "site/a/events/a____/_");
  EXPECT_EQ((*p)->StateTopic("cam.2"), "site/a/cameras/cam.2/state");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) (*p)->Publish({{"camera", "c"}, {"type", "fall"}, {"i", i}});
  (*p)->Publish(nlohmann::json("not an object"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  const MqttCounters c = (*p)->counters();
  EXPECT_FALSE(c.connected);
  EXPECT_EQ(c.queued, 3u);
  EXPECT_EQ(c.dropped, 8u);
  EXPECT_EQ(c.published, 0u);
}

}  // namespace
}  // namespace heteroaccel::events
