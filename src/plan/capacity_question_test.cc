#include "plan/capacity_question.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

namespace heteroaccel::plan {
namespace {

using ::testing::HasSubstr;

// Two GPUs at 10 ms for faces and one NPU at 20 ms: 150 faces/s against a fluid
// capacity of 100 + 100 + 50 = 250 requests/s.
CapacityQuestion Fleet() {
  CapacityQuestion q;
  q.fleet = {{.node = "a", .device = "gpu0", .kind = "gpu", .service_ms = {{"face", 10}}},
             {.node = "a", .device = "gpu1", .kind = "gpu", .service_ms = {{"face", 10}}},
             {.node = "b", .device = "npu0", .kind = "npu", .service_ms = {{"face", 20}}},
             // Measured nothing asked for: not part of any profile.
             {.node = "b", .device = "cpu", .kind = "cpu", .service_ms = {{"pose", 50}}}};
  q.rates = {{"face", 150}};
  q.deadline_ms = 200;
  q.attainment = 0.99;
  // Generous: these tests check what the answer says. Under a sanitizer on a
  // busy machine its simulations take many times longer than here
  // (StopsAtItsTimeLimit checks the limit itself).
  q.time_limit_ms = 120'000;
  return q;
}

TEST(CapacityQuestionTest, ParsesTheBodyAndNamesTheKeyAtFault) {
  CapacityQuestion q = Fleet();
  ASSERT_TRUE(ParseCapacityRequest(
                  R"({"growth": 2, "deadline_ms": 300, "attainment": 0.999, "rates": {"pose": 5}})",
                  q)
                  .ok());
  EXPECT_EQ(q.growth, 2);
  EXPECT_EQ(q.deadline_ms, 300);
  EXPECT_EQ(q.attainment, 0.999);
  EXPECT_EQ(q.rates, (std::map<std::string, double>{{"pose", 5}}));
  EXPECT_TRUE(ParseCapacityRequest("", q).ok());  // every key optional

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{", "not valid JSON"},
      {"[1]", "must be a JSON object"},
      {R"({"growht": 2})", "growht: unknown key"},
      {R"({"growth": "2"})", "growth: must be a number"},
      {R"({"growth": 0})", "growth: must be in"},
      {R"({"growth": 1e9})", "growth: must be in"},
      {R"({"attainment": 1.5})", "attainment: must be in"},
      {R"({"rates": {}})", "rates: must map"},
      {R"({"rates": {"a b": 1}})", "rates.a b: an inference type"},
      {R"({"rates": {"face": -1}})", "rates.face: must be requests/s"},
      {R"({"catalog": [1]})", "catalog: must be"},
  };
  for (const auto& [body, message] : bad) {
    absl::Status s = ParseCapacityRequest(body, q);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(std::string(s.message()), HasSubstr(message)) << body;
  }
  EXPECT_EQ(ParseCapacityRequest(std::string(kMaxCapacityRequestBytes + 1, ' '), q).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CapacityQuestionTest, TheFleetBecomesOneProfilePerKind) {
  auto file = PlanFileFor(Fleet(), /*fleet_catalog=*/true, 1.0);
  ASSERT_TRUE(file.ok()) << file.status();
  const nlohmann::json& profiles = (*file)["catalog"]["profiles"];
  ASSERT_EQ(profiles.size(), 2u) << file->dump();  // the CPU measured no face
  EXPECT_EQ(profiles[0]["name"], "gpu");
  EXPECT_EQ(profiles[0]["latency_ms"]["face"], 10);
  EXPECT_EQ(profiles[1]["name"], "npu");
  EXPECT_EQ((*file)["cameras"][0]["deadline_ms"], 200);
  EXPECT_EQ((*file)["slo"]["attainment"], 0.99);
}

TEST(CapacityQuestionTest, NoTrafficIsAnActionableError) {
  CapacityQuestion q = Fleet();
  q.rates = {{"face", 0}};
  auto answer = Answer(q);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(answer.status().message()), HasSubstr("rates"));
}

TEST(CapacityQuestionTest, AnswersHowManyDevicesTheGrowthNeedsAndTheMarginNow) {
  CapacityQuestion q = Fleet();
  q.growth = 2;  // 300 faces/s: more than the 250/s the fleet can serve at all
  auto answer = Answer(q);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const nlohmann::json& a = *answer;
  // Now: 150/s on 250/s of capacity meets the SLO with a margin below 250/150.
  EXPECT_TRUE(a["current"]["at_slo"]["meets_slo"].get<bool>()) << a.dump();
  EXPECT_GT(a["margin_now"].get<double>(), 1.2);
  EXPECT_LE(a["margin_now"].get<double>(), 250.0 / 150 + 1e-9);
  // Grown: the plan meets the SLO at 300/s and needs devices beyond the three of now.
  EXPECT_TRUE(a["plan"]["at_slo"]["meets_slo"].get<bool>()) << a.dump();
  EXPECT_GE(a["plan"]["ideal_rps"].get<double>(), 300.0);
  EXPECT_GT(a["devices_to_add"].get<int>(), 0) << a.dump();
  int planned = 0;
  for (const auto& [profile, n] : a["plan"]["counts"].items()) planned += n.get<int>();
  EXPECT_EQ(planned, a["plan"]["devices"].get<int>());
  const int now = 3;
  int added = 0;
  for (const auto& [profile, n] : a["add"].items()) added += n.get<int>();
  EXPECT_EQ(now + added, planned);
}

TEST(CapacityQuestionTest, AGivenCatalogIsCheckedByThePlanParser) {
  CapacityQuestion q = Fleet();
  ASSERT_TRUE(ParseCapacityRequest(
                  R"({"catalog": {"profiles": [{"name": "t4", "kind": "gpu",
                      "latency_ms": {"face": -3}}]}})",
                  q)
                  .ok());
  // Refused before anything is simulated: whatever the machine's speed, and at
  // once.
  q.time_limit_ms = 1;
  const auto start = std::chrono::steady_clock::now();
  auto answer = Answer(q);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kInvalidArgument) << answer.status();
  EXPECT_THAT(std::string(answer.status().message()), HasSubstr("catalog.profiles[0]"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(CapacityQuestionTest, StopsAtItsTimeLimit) {
  CapacityQuestion q = Fleet();
  q.time_limit_ms = 1;
  auto answer = Answer(q);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace heteroaccel::plan
