// Registration: the server list, address resolution and the heartbeat loops,
// against real HTTP listeners on 127.0.0.1 and 127.0.0.2 (both loopback) that
// share one port, as a headless Service's pods share theirs.
#include "agent/registration.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/config.h"
#include "http/server.h"
#include "inference/catalog.h"
#include "metrics/metrics.h"
#include "node/node_collector.h"
#include "runtime/executor.h"

namespace heteroaccel::agent {
namespace {

using std::chrono::milliseconds;

TEST(ParseServerListTest, SplitsTrimsAndNormalises) {
  auto urls = ParseServerList(" http://a:8000, b:9000 ,,http://a:8000,http://[fd00::1]:80/api ");
  ASSERT_TRUE(urls.ok()) << urls.status();
  EXPECT_EQ(*urls, (std::vector<std::string>{"http://a:8000", "http://b:9000",
                                             "http://[fd00::1]:80/api"}));
  auto empty = ParseServerList("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ParseServerListTest, NamesTheEntryAtFault) {
  auto bad_port = ParseServerList("http://a:8000,http://b:99999");
  EXPECT_EQ(bad_port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_port.status().message().find("http://b:99999"), std::string::npos)
      << bad_port.status();
  auto https = ParseServerList("https://a:8000");
  EXPECT_EQ(https.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(https.status().message().find("only http://"), std::string::npos) << https.status();
  std::string many;
  for (size_t i = 0; i <= kMaxServerUrls; ++i) many += "h" + std::to_string(i) + ":1,";
  auto too_many = ParseServerList(many);
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("at most"), std::string::npos);
}

TEST(ResolveServersTest, OneEndpointPerAddressKeepingPortAndPrefix) {
  const Resolver resolve = [](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    if (host == "peers") return std::vector<std::string>{"10.0.0.1", "10.0.0.2", "fd00::3"};
    return std::vector<std::string>{host};
  };
  auto endpoints =
      ResolveServers({"http://peers:8000/api", "http://10.0.0.1:8000/api"}, resolve, {});
  ASSERT_EQ(endpoints.size(), 3u);  // 10.0.0.1 listed twice heartbeats once
  EXPECT_EQ(endpoints.at("http://10.0.0.1:8000/api").configured, "http://peers:8000/api");
  EXPECT_EQ(endpoints.at("http://10.0.0.2:8000/api").configured, "http://peers:8000/api");
  EXPECT_EQ(endpoints.at("http://[fd00::3]:8000/api").configured, "http://peers:8000/api");
}

TEST(ResolveServersTest, ANameThatFailsToResolveKeepsItsLastAddresses) {
  bool fail = false;
  std::vector<std::string> peers = {"10.0.0.1", "10.0.0.2"};
  const Resolver resolve =
      [&](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    if (host == "peers" && fail) return absl::UnavailableError("no such name");
    if (host == "peers") return peers;
    return std::vector<std::string>{"10.9.9.9"};
  };
  const std::vector<std::string> servers = {"http://peers:8000", "http://other:8000"};
  auto first = ResolveServers(servers, resolve, {});
  ASSERT_EQ(first.size(), 3u);
  peers = {"10.0.0.2", "10.0.0.4"};  // one replica replaced
  auto second = ResolveServers(servers, resolve, first);
  EXPECT_FALSE(second.contains("http://10.0.0.1:8000"));
  EXPECT_TRUE(second.contains("http://10.0.0.2:8000"));
  EXPECT_TRUE(second.contains("http://10.0.0.4:8000"));
  fail = true;
  auto third = ResolveServers(servers, resolve, second);
  EXPECT_EQ(third, second);
}

TEST(ResolveServersTest, BoundsTheAddresses) {
  const Resolver resolve = [](const std::string&) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> many;
    for (int i = 0; i < 200; ++i) many.push_back("10.0.1." + std::to_string(i));
    return many;
  };
  EXPECT_EQ(ResolveServers({"http://peers:8000"}, resolve, {}).size(), kMaxServerAddresses);
}

TEST(SystemResolveTest, ResolvesLiteralsAndRefusesUnknownNames) {
  auto v4 = SystemResolve("127.0.0.2");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(*v4, std::vector<std::string>{"127.0.0.2"});
  auto v6 = SystemResolve("::1");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(*v6, std::vector<std::string>{"::1"});
  EXPECT_EQ(SystemResolve("no-such-host.invalid").status().code(), absl::StatusCode::kUnavailable);
}

// A heartbeat receiver on one loopback address: counts the heartbeats and
// remembers the node name of the last one.
class Replica {
 public:
  static std::unique_ptr<Replica> Start(const std::string& host, uint16_t port) {
    auto replica = std::make_unique<Replica>();
    http::Router router;
    Replica* self = replica.get();
    router.Add("POST", "/v1/cluster/heartbeat",
               [self](http::Request&&, const http::PathParams&, http::Responder respond) {
                 self->beats_.fetch_add(1);
                 respond(http::Response{200, "application/json", {}, "{}"});
               });
    http::ServerOptions options;
    options.host = host;
    options.port = port;
    auto server = http::Server::Create(options, std::move(router));
    if (!server.ok()) return nullptr;
    replica->server_ = std::move(*server);
    replica->server_->Start();
    return replica;
  }
  ~Replica() {
    if (server_) server_->Stop();
  }
  uint16_t port() const { return server_->port(); }
  int beats() const { return beats_.load(); }

 private:
  std::atomic<int> beats_{0};
  std::unique_ptr<http::Server> server_;
};

// Waits until `condition` holds or `timeout` passes; returns whether it held.
template <typename F>
bool WaitFor(F condition, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return condition();
}

class RegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto collector = node::NodeCollector::Create({}, registry_);
    ASSERT_TRUE(collector.ok()) << collector.status();
    collector_ = std::move(*collector);
    EmulatedDeviceConfig config{"gpu0", "gpu", "Test GPU", 1, {}};
    auto device = EmulatedDevice(config);
    ASSERT_TRUE(device.ok());
    runtime::ExecutorOptions options;
    options.warm_up = false;
    auto executor = runtime::Executor::Create(options, {*device}, inference::Catalog::BuiltIn(),
                                              registry_, SystemClock());
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = std::move(*executor);
    context_ = std::make_unique<AgentContext>(AgentContext{
        inference::Catalog::BuiltIn(), *executor_, registry_, *collector_, {}, "", {}, {}, {}});
    context_->facts.hostname = "node-a";
  }

  metrics::Registry registry_;
  std::unique_ptr<node::NodeCollector> collector_;
  std::unique_ptr<runtime::Executor> executor_;
  std::unique_ptr<AgentContext> context_;
};

TEST_F(RegistrationTest, HeartbeatsEveryAddressAndFollowsTheName) {
  // The first replica picks a free port; the others share it, as pods do.
  auto first = Replica::Start("127.0.0.1", 0);
  ASSERT_NE(first, nullptr);
  const uint16_t port = first->port();
  auto second = Replica::Start("127.0.0.2", port);
  ASSERT_NE(second, nullptr) << "127.0.0.2:" << port << " is taken";

  std::mutex mu;
  std::vector<std::string> peers = {"127.0.0.1"};
  Registration::Options options;
  options.server = "http://peers:" + std::to_string(port);
  options.token = "t";
  options.advertise_url = "http://127.0.0.1:1";
  options.interval = milliseconds(20);
  options.resolve_interval = milliseconds(200);
  options.resolver = [&](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    EXPECT_EQ(host, "peers");
    std::lock_guard<std::mutex> lock(mu);
    return peers;
  };
  Registration registration(options, *context_);
  ASSERT_TRUE(WaitFor([&] { return first->beats() >= 3; }, milliseconds(5'000)));
  EXPECT_EQ(second->beats(), 0);

  // A replica joins the name: it gets heartbeats within one resolve interval.
  const auto joined = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    peers = {"127.0.0.1", "127.0.0.2"};
  }
  ASSERT_TRUE(WaitFor([&] { return second->beats() >= 1; }, milliseconds(5'000)));
  EXPECT_LT(std::chrono::steady_clock::now() - joined, milliseconds(200 + 500));
  EXPECT_EQ(registration.Endpoints().size(), 2u);

  // The first leaves the name: its heartbeats stop while the second's go on.
  {
    std::lock_guard<std::mutex> lock(mu);
    peers = {"127.0.0.2"};
  }
  ASSERT_TRUE(WaitFor([&] { return registration.Endpoints().size() == 1; }, milliseconds(5'000)));
  std::this_thread::sleep_for(milliseconds(50));  // a heartbeat in flight lands
  const int first_beats = first->beats();
  const int second_beats = second->beats();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(first->beats(), first_beats);
  EXPECT_GE(second->beats(), second_beats + 5);
  registration.Stop();
}

TEST_F(RegistrationTest, AReplicaThatHangsDoesNotDelayTheOthers) {
  auto live = Replica::Start("127.0.0.1", 0);
  ASSERT_NE(live, nullptr);
  // A listener that accepts connections but never answers: each heartbeat to
  // it waits out the client's 2 s timeout.
  http::Router router;
  std::vector<http::Responder> held;
  std::mutex held_mu;
  router.Add("POST", "/v1/cluster/heartbeat",
             [&](http::Request&&, const http::PathParams&, http::Responder respond) {
               std::lock_guard<std::mutex> lock(held_mu);
               held.push_back(std::move(respond));
             });
  auto hung = http::Server::Create({}, std::move(router));
  ASSERT_TRUE(hung.ok());
  (*hung)->Start();

  Registration::Options options;
  options.server =
      "http://" + (*hung)->address() + ",http://127.0.0.1:" + std::to_string(live->port());
  options.interval = milliseconds(20);
  Registration registration(options, *context_);
  // 1 s at 20 ms: ~50 heartbeats to the live replica, none waiting on the hung one.
  std::this_thread::sleep_for(milliseconds(1'000));
  EXPECT_GE(live->beats(), 20);
  registration.Stop();
  (*hung)->Stop();
}

}  // namespace
}  // namespace heteroaccel::agent
