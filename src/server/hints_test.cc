#include "server/hints.h"

#include <gtest/gtest.h>

namespace heteroaccel::server {
namespace {

TEST(HintsTest, ParsesEveryHint) {
  auto h = ParseHints(nlohmann::json::parse(
      R"({"priority":3,"timeout_ms":250,"device":"edge-1/gpu0","device_kind":"GPU","other":1})"));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->priority, 3);
  EXPECT_EQ(h->timeout, std::chrono::milliseconds(250));
  ASSERT_TRUE(h->device.has_value());
  EXPECT_EQ(h->device->ToString(), "edge-1/gpu0");
  EXPECT_EQ(h->device_kind, "gpu");
}

TEST(HintsTest, RejectsBadHintsNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"priority":"urgent"})", "'priority'"},
      {R"({"priority":"HIGH"})", "'priority'"},
      {R"({"camera":""})", "'camera'"},
      {R"({"camera":"gate 1"})", "'camera'"},
      {R"({"camera":"gate/1"})", "'camera'"},
      {R"({"camera":7})", "'camera'"},
      {R"({"priority":1.5})", "'priority'"},
      {R"({"timeout_ms":0})", "'timeout_ms'"},
      {R"({"timeout_ms":-5})", "'timeout_ms'"},
      {R"({"device":"gpu0"})", "'device'"},
      {R"({"device":"/gpu0"})", "'device'"},
      {R"({"device":7})", "'device'"},
      {R"({"device_kind":"tpu"})", "'device_kind'"},
      {R"({"group":""})", "'group'"},
      {R"({"group":"line 3"})", "'group'"},
      {R"({"group":["a"]})", "'group'"},
      {R"([1,2])", "parameters"},
  };
  for (const auto& [body, name] : cases) {
    auto h = ParseHints(nlohmann::json::parse(body));
    ASSERT_FALSE(h.ok()) << body;
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(h.status().message().find(name), std::string::npos) << h.status();
  }
}

TEST(HintsTest, GroupOverParametersAndQuery) {
  auto h = ParseHints(nlohmann::json::parse(R"({"group":"line-3","device_kind":"gpu"})"));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->group, "line-3");
  EXPECT_EQ(h->device_kind, "gpu");
  h = ParseQueryHints("camera=c1&group=north.A_2");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->group, "north.A_2");
  EXPECT_TRUE(ParseQueryHints("priority=1")->group.empty());
  // Present but empty, or with other characters: refused by name.
  EXPECT_NE(ParseQueryHints("group=").status().message().find("'group'"), std::string::npos);
  EXPECT_NE(ParseQueryHints("x=1&group=a%2Fb").status().message().find("'group'"),
            std::string::npos);
}

TEST(HintsTest, QueryHintsUseTheSameRules) {
  auto h = ParseQueryHints("priority=2&timeout_ms=100&device_kind=npu");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->priority, 2);
  EXPECT_EQ(h->device_kind, "npu");
  EXPECT_FALSE(ParseQueryHints("timeout_ms=abc").ok());
  EXPECT_FALSE(ParseQueryHints("timeout_ms=0").ok());
  EXPECT_FALSE(ParseQueryHints("device=nodevice").ok());
}

TEST(HintsTest, PriorityClassesAndCamera) {
  const std::pair<const char*, int> classes[] = {
      {"critical", 3}, {"high", 2}, {"normal", 0}, {"low", -1}, {"batch", -2}};
  for (const auto& [name, value] : classes) {
    auto h = ParseHints({{"priority", name}, {"camera", "gate-1.north_A"}});
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->priority, value) << name;
    EXPECT_EQ(h->camera, "gate-1.north_A");
  }
  EXPECT_TRUE(ParseHints({{"camera", std::string(64, 'c')}}).ok());
  EXPECT_FALSE(ParseHints({{"camera", std::string(65, 'c')}}).ok());
  auto q = ParseQueryHints("priority=batch&camera=cam7");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->priority, -2);
  EXPECT_EQ(q->camera, "cam7");
  auto empty = ParseQueryHints("timeout_ms=5&camera=");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("'camera'"), std::string::npos) << empty.status();
  EXPECT_FALSE(ParseQueryHints("camera=a%20b").ok());
  EXPECT_FALSE(ParseQueryHints("priority=soon").ok());
}

TEST(HintsTest, DegradeOptOutOverParametersAndQuery) {
  auto h = ParseHints(nlohmann::json::object());
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->degrade) << "allowed unless the client opts out";
  h = ParseHints({{"degrade", false}});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->degrade);
  auto bad = ParseHints({{"degrade", "no"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'degrade' must be true or false"), std::string::npos)
      << bad.status();
  auto q = ParseQueryHints("degrade=false&priority=2");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(q->degrade);
  EXPECT_FALSE(ParseQueryHints("degrade=0").ok());
}

}  // namespace
}  // namespace heteroaccel::server
