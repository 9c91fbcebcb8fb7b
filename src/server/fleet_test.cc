#include "server/fleet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>

namespace heteroaccel::server {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr int64_t kMs = 1'000'000;

// A wall clock that moves only when told (shared by the fake agent and server).
class FakeWallClock final : public node::WallClock {
 public:
  int64_t NowNanos() const override { return now_.load(); }
  void Advance(int64_t nanos) { now_ += nanos; }

 private:
  std::atomic<int64_t> now_{int64_t{1'700'000'000} * 1'000'000'000};
};

// A fake agent per URL: answers the fleet routes, on a simulated path for time.
struct FakeAgent {
  bool reachable = true;
  int64_t clock_offset = 0;         // the agent's clock minus the server's (ns)
  std::vector<int64_t> path_delays;  // one-way delay per time exchange (ns), cycled
  int packages_status = 200;
  int time_sync_status = 200;  // POST /v1/fleet/time/sync
  int exit_code = 0;
  int calls = 0;
};

class FakeTransport final : public FleetTransport {
 public:
  explicit FakeTransport(FakeWallClock& clock) : clock_(clock) {}
  std::map<std::string, FakeAgent> agents;
  std::mutex mu;

  std::unique_ptr<FleetSession> Open(const std::string& url,
                                     std::chrono::steady_clock::time_point) override {
    return std::make_unique<Session>(*this, url);
  }

 private:
  class Session final : public FleetSession {
   public:
    Session(FakeTransport& t, std::string url) : t_(t), url_(std::move(url)) {}
    absl::StatusOr<http::ClientResponse> Send(std::string_view, std::string_view path,
                                              std::string_view body) override {
      std::lock_guard<std::mutex> lock(t_.mu);
      FakeAgent& a = t_.agents[url_];
      ++a.calls;
      if (!a.reachable) return absl::UnavailableError("cannot connect: Connection refused");
      if (path == "/v1/fleet/time/sync") {
        if (a.time_sync_status != 200) {
          return http::ClientResponse{
              a.time_sync_status, {}, Json{{"error", "start the agent with --allow-time-sync"}}.dump()};
        }
        a.clock_offset = 0;  // the time service stepped the clock
        return http::ClientResponse{
            200, {}, Json{{"service", "chronyd"}, {"exit_code", 0}, {"synced", true}}.dump()};
      }
      if (path.rfind("/v1/fleet/time", 0) == 0) {
        const int64_t delay =
            a.path_delays.empty() ? kMs : a.path_delays[(a.calls - 1) % a.path_delays.size()];
        t_.clock_.Advance(delay);  // request on its way
        const int64_t t1 = t_.clock_.NowNanos() + a.clock_offset;
        t_.clock_.Advance(100'000);  // the agent's handling
        const int64_t t2 = t_.clock_.NowNanos() + a.clock_offset;
        t_.clock_.Advance(delay);  // reply on its way
        Json reply = {{"t1", t1}, {"t2", t2}};
        if (path.find("state=1") != std::string_view::npos) {
          reply["sync"] = {{"service", "chronyd"}, {"kernel_synchronized", true}};
        }
        return http::ClientResponse{200, {}, reply.dump()};
      }
      if (path == "/v1/fleet/packages") {
        if (a.packages_status != 200) {
          return http::ClientResponse{
              a.packages_status, {}, Json{{"error", "start the agent with --allow-package-actions"}}.dump()};
        }
        const Json request = Json::parse(body);
        return http::ClientResponse{
            200, {}, Json{{"ran", true}, {"exit_code", a.exit_code}, {"op", request["op"]}}.dump()};
      }
      if (path.rfind("/v1/fleet/speed/source", 0) == 0) {
        const size_t n = std::stoul(std::string(path.substr(path.find('=') + 1)));
        return http::ClientResponse{200, {}, std::string(n, 'x')};
      }
      if (path == "/v1/fleet/speed/sink") {
        return http::ClientResponse{200, {}, Json{{"received", body.size()}}.dump()};
      }
      return http::ClientResponse{200, {}, Json{{"path", std::string(path)}}.dump()};
    }

   private:
    FakeTransport& t_;
    const std::string url_;
  };

  FakeWallClock& clock_;
};

class FleetTest : public ::testing::Test {
 protected:
  FleetTest() : transport_(clock_), fleet_(FleetOptions{}, transport_, registry_, clock_) {}

  static FleetNode Node(const std::string& name, const std::string& group) {
    return {name, group, "http://" + name, true, 0.1};
  }
  FleetRequest Request(const std::string& action, const std::string& body) {
    absl::StatusOr<FleetRequest> r = ParseFleetRequest(action, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  // Runs to the end; the results by node.
  std::map<std::string, FleetNodeResult> RunAll(FleetRequest request,
                                                std::vector<FleetNode> nodes) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::map<std::string, FleetNodeResult> results;
    EXPECT_TRUE(fleet_
                    .Start(std::move(request), std::move(nodes),
                           [&](const FleetNodeResult& r) { results[r.node] = r; },
                           [&](const FleetSummary&) {
                             std::lock_guard<std::mutex> lock(mu);
                             done = true;
                             cv.notify_all();
                           })
                    .ok());
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
    return results;
  }

  FakeWallClock clock_;
  FakeTransport transport_;
  metrics::Registry registry_;
  Fleet fleet_;
};

TEST(ParseFleetRequestTest, TargetsParamsAndErrors) {
  absl::StatusOr<FleetRequest> r =
      ParseFleetRequest("time", R"({"target": "group/line-3", "params": {"samples": 4}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->target.kind, FleetTarget::Kind::kGroup);
  EXPECT_EQ(r->target.ToString(), "group/line-3");
  EXPECT_FALSE(r->serial);
  EXPECT_TRUE(ParseFleetRequest("packages", R"({"target": "all"})")->serial);

  EXPECT_EQ(ParseFleetRequest("reboot", R"({"target": "all"})").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(ParseFleetRequest("facts", R"({"target": "rack/1"})").status().message(),
              HasSubstr("node/NAME"));
  EXPECT_THAT(ParseFleetRequest("facts", R"({})").status().message(), HasSubstr("target is required"));
  EXPECT_THAT(ParseFleetRequest("facts", R"({"target": "all", "params": {"x": 1}})").status().message(),
              HasSubstr("takes none"));
  EXPECT_THAT(ParseFleetRequest("time", R"({"target": "all", "params": {"samples": 99}})")
                  .status()
                  .message(),
              HasSubstr("1 to 32"));
  EXPECT_THAT(ParseFleetRequest("speed", R"({"target": "all", "params": {"bytes": 1e12}})")
                  .status()
                  .message(),
              HasSubstr("params.bytes"));
  EXPECT_THAT(ParseFleetRequest("packages",
                                R"({"target": "all", "params": {"op": "upgrade", "packages": ["-y"]}})")
                  .status()
                  .message(),
              HasSubstr("Debian Policy"));
  EXPECT_THAT(ParseFleetRequest("packages", R"({"target": "all", "params": {"op": "rm"}})")
                  .status()
                  .message(),
              HasSubstr("not one of"));
  EXPECT_EQ(ParseFleetRequest("facts", "[1]").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SelectNodesTest, ByNameGroupAndAllWithHelpfulNotFound) {
  std::vector<FleetNode> nodes = {{"b", "pi", "", true, 0}, {"a", "gpu", "", true, 0},
                                  {"c", "pi", "", false, 0}};
  auto all = SelectNodes(*ParseFleetTarget("all"), nodes);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "a");
  auto pi = SelectNodes(*ParseFleetTarget("group/pi"), nodes);
  ASSERT_EQ(pi->size(), 2u);
  EXPECT_EQ(SelectNodes(*ParseFleetTarget("node/c"), nodes)->size(), 1u);
  absl::Status missing = SelectNodes(*ParseFleetTarget("group/x"), nodes).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("known groups: gpu, pi"));
  EXPECT_THAT(SelectNodes(*ParseFleetTarget("node/z"), nodes).status().message(),
              HasSubstr("known nodes: a, b, c"));
}

TEST_F(FleetTest, TimeOffsetFromTheLowestDelayExchange) {
  transport_.agents["http://n1"].clock_offset = 750 * kMs;
  // Mostly slow exchanges and one fast one; every path is symmetric.
  transport_.agents["http://n1"].path_delays = {40 * kMs, 30 * kMs, kMs / 2, 25 * kMs};
  FleetNodeResult r = fleet_.RunOnNode(Request("time", R"({"target": "all"})"), Node("n1", ""));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NEAR(r.data["offset_seconds"].get<double>(), 0.750, 1e-6);
  EXPECT_NEAR(r.data["delay_seconds"].get<double>(), 0.001, 1e-6);
  EXPECT_TRUE(r.data["alert"].get<bool>());  // over the default 0.5 s
  EXPECT_EQ(r.data["samples"], 8);
  EXPECT_EQ(r.data["sync"]["service"], "chronyd");
  EXPECT_THAT(registry_.Render(),
              HasSubstr("heteroaccel_server_node_clock_offset_seconds{node=\"n1\"} 0.75"));
}

TEST_F(FleetTest, TimeWithinThresholdAndSyncNowWhereTheNodeAllowsIt) {
  transport_.agents["http://n1"].clock_offset = -20 * kMs;
  const FleetRequest sync =
      Request("time", R"({"target": "all", "params": {"samples": 2, "sync": true}})");
  FleetNodeResult r = fleet_.RunOnNode(sync, Node("n1", ""));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_NEAR(r.data["offset_seconds"].get<double>(), -0.020, 1e-6);  // measured before
  EXPECT_FALSE(r.data["alert"].get<bool>());
  EXPECT_EQ(r.data["sync_now"]["synced"], true);
  EXPECT_EQ(r.data["sync_now"]["service"], "chronyd");
  // A node that does not allow it: still measured (ok), the refusal said in sync_now.
  transport_.agents["http://n2"].time_sync_status = 403;
  r = fleet_.RunOnNode(sync, Node("n2", ""));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.data["sync_now"]["synced"], false);
  EXPECT_NE(r.data["sync_now"]["error"].get<std::string>().find("--allow-time-sync"),
            std::string::npos);
}

TEST_F(FleetTest, UnreachableNodeAndTheOthersSucceed) {
  transport_.agents["http://down"].reachable = false;
  auto results = RunAll(Request("connectivity", R"({"target": "all"})"),
                        {Node("up", "g"), Node("down", "g")});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results["down"].status, "unreachable");
  EXPECT_THAT(results["down"].error, HasSubstr("refused"));
  EXPECT_EQ(results["down"].data["reachable"], false);
  EXPECT_EQ(results["up"].status, "ok") << results["up"].error;
  EXPECT_EQ(results["up"].data["reachable"], true);
  EXPECT_TRUE(results["up"].data.contains("control_rtt_ms"));
  EXPECT_TRUE(results["up"].data.contains("data_rtt_ms"));
}

TEST_F(FleetTest, PackagesRefusedCarryTheAgentsReason) {
  transport_.agents["http://n1"].packages_status = 403;
  FleetNodeResult r = fleet_.RunOnNode(Request("packages", R"({"target": "all"})"), Node("n1", ""));
  EXPECT_EQ(r.status, "refused");
  EXPECT_THAT(r.error, HasSubstr("--allow-package-actions"));
}

TEST_F(FleetTest, SerialRealUpgradeStopsAtTheFirstFailure) {
  transport_.agents["http://a"].exit_code = 100;
  auto results = RunAll(
      Request("packages", R"({"target": "all", "params": {"op": "upgrade", "dry_run": false}})"),
      {Node("a", "g"), Node("b", "g"), Node("c", "g")});
  EXPECT_EQ(results["a"].status, "failed");
  EXPECT_THAT(results["a"].error, HasSubstr("exited with 100"));
  EXPECT_EQ(results["b"].status, "skipped");
  EXPECT_EQ(results["c"].status, "skipped");
  EXPECT_EQ(transport_.agents["http://b"].calls, 0);

  // A dry run goes on through the group.
  auto dry = RunAll(Request("packages", R"({"target": "all", "params": {"op": "upgrade"}})"),
                    {Node("a", "g"), Node("b", "g")});
  EXPECT_EQ(dry["a"].status, "failed");
  EXPECT_EQ(dry["b"].status, "ok");
}

TEST_F(FleetTest, SpeedMovesTheBytesBothWays) {
  FleetNodeResult r = fleet_.RunOnNode(
      Request("speed", R"({"target": "all", "params": {"bytes": 65536}})"), Node("n1", ""));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.data["bytes"], 65536);
  EXPECT_GT(r.data["downlink_mbit_per_second"].get<double>(), 0);
  EXPECT_GT(r.data["uplink_mbit_per_second"].get<double>(), 0);
}

TEST_F(FleetTest, TooManyRunsAreRefused) {
  FleetOptions options;
  options.max_runs = 0;
  Fleet none(options, transport_, registry_, clock_);
  absl::Status s = none.Start(Request("facts", R"({"target": "all"})"), {Node("a", "")}, nullptr,
                              nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace heteroaccel::server
