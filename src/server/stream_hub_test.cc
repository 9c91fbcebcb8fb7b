#include "server/stream_hub.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

// Collects what the hub writes; can be made to refuse (a client gone).
class Collector : public http::StreamWriter {
 public:
  bool Write(std::string_view bytes) override {
    if (closed_) return false;
    text += bytes;
    return true;
  }
  void Close() override { closed_ = true; }
  bool closed() const override { return closed_; }
  void OnClose(std::function<void()> callback) override { callback_ = std::move(callback); }
  uint64_t bytes_sent() const override { return text.size(); }

  // Each event's (name, id, data) in order.
  std::vector<std::tuple<std::string, std::string, Json>> Events() const {
    std::vector<std::tuple<std::string, std::string, Json>> out;
    size_t pos = 0;
    while (true) {
      const size_t end = text.find("\n\n", pos);
      if (end == std::string::npos) break;
      std::string name, id;
      Json data;
      for (size_t line = pos; line < end;) {
        size_t eol = text.find('\n', line);
        if (eol == std::string::npos || eol > end) eol = end;
        const std::string l = text.substr(line, eol - line);
        if (l.rfind("event: ", 0) == 0) name = l.substr(7);
        if (l.rfind("id: ", 0) == 0) id = l.substr(4);
        if (l.rfind("data: ", 0) == 0) data = Json::parse(l.substr(6));
        line = eol + 1;
      }
      if (!name.empty()) out.emplace_back(name, id, data);
      pos = end + 2;
    }
    return out;
  }

  std::string text;
  bool closed_ = false;
  std::function<void()> callback_;
};

TEST(MergeDiffTest, PatchTurnsTheOldDocumentIntoTheNew) {
  const Json from = {{"a", 1}, {"b", {{"x", 1}, {"y", 2}}}, {"gone", "z"}, {"list", {1, 2}}};
  const Json to = {
      {"a", 1}, {"b", {{"x", 1}, {"y", 3}, {"w", 4}}}, {"list", {1, 2, 3}}, {"new", true}};
  const Json patch = MergeDiff(from, to);
  EXPECT_EQ(
      patch,
      (Json{{"b", {{"y", 3}, {"w", 4}}}, {"gone", nullptr}, {"list", {1, 2, 3}}, {"new", true}}));
  Json applied = from;
  MergeApply(applied, patch);
  EXPECT_EQ(applied, to);
  EXPECT_TRUE(MergeDiff(to, to).empty());
}

TEST(StreamHubTest, SnapshotThenPatchesOnlyWhenSomethingChanged) {
  StreamHub hub(256, 0);
  hub.SetSnapshotExtras([] { return Json{{"decisions", Json::array()}}; });
  hub.SetState({{"nodes", {{"n1", {{"up", true}}}}}});
  auto client = std::make_shared<Collector>();
  hub.Attach(client, std::nullopt);
  hub.SetState({{"nodes", {{"n1", {{"up", true}}}}}});  // unchanged: nothing sent
  hub.SetState({{"nodes", {{"n1", {{"up", false}}}}}});
  hub.Publish("decisions", {{"decisions", Json::array({{{"id", 7}}})}});
  hub.Heartbeat();
  const auto events = client->Events();
  ASSERT_EQ(events.size(), 4u) << client->text;
  EXPECT_EQ(std::get<0>(events[0]), "snapshot");
  EXPECT_EQ(std::get<2>(events[0])["state"]["nodes"]["n1"]["up"], true);
  EXPECT_TRUE(std::get<2>(events[0]).contains("decisions"));
  EXPECT_EQ(std::get<0>(events[1]), "patch");
  EXPECT_EQ(std::get<1>(events[1]), "2");
  EXPECT_EQ(std::get<2>(events[1])["patch"], (Json{{"nodes", {{"n1", {{"up", false}}}}}}));
  EXPECT_EQ(std::get<0>(events[2]), "decisions");
  EXPECT_EQ(std::get<2>(events[2])["seq"], 3);
  EXPECT_EQ(std::get<0>(events[3]), "heartbeat");
  EXPECT_EQ(std::get<1>(events[3]), "") << "heartbeats carry no id";
}

TEST(StreamHubTest, AReconnectResumesOrGetsASnapshotWhenTooFarBehind) {
  StreamHub hub(/*ring=*/4, /*first_seq=*/0);
  for (int i = 1; i <= 3; ++i) hub.SetState({{"v", i}});
  auto resumed = std::make_shared<Collector>();
  hub.Attach(resumed, 1);
  auto events = resumed->Events();
  ASSERT_EQ(events.size(), 2u) << resumed->text;
  EXPECT_EQ(std::get<1>(events[0]), "2");
  EXPECT_EQ(std::get<1>(events[1]), "3");

  auto current = std::make_shared<Collector>();
  hub.Attach(current, 3);
  EXPECT_TRUE(current->Events().empty()) << "up to date: nothing to replay";

  for (int i = 4; i <= 10; ++i) hub.SetState({{"v", i}});
  auto behind = std::make_shared<Collector>();
  hub.Attach(behind, 2);
  events = behind->Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<0>(events[0]), "snapshot");
  EXPECT_EQ(std::get<2>(events[0])["state"]["v"], 10);

  auto future = std::make_shared<Collector>();
  hub.Attach(future, 99);  // an id this hub never gave: start over
  EXPECT_EQ(std::get<0>(future->Events().at(0)), "snapshot");

  // A restarted server's ids are all newer than those of the one before.
  StreamHub before;
  before.SetState({{"v", 1}});
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  StreamHub after;
  after.SetState({{"v", 2}});
  after.SetState({{"v", 3}});
  EXPECT_GT(after.seq(), before.seq());
  auto old_client = std::make_shared<Collector>();
  after.Attach(old_client, before.seq());
  EXPECT_EQ(std::get<0>(old_client->Events().at(0)), "snapshot");
}

TEST(StreamHubTest, ClientsThatAreGoneAreDropped) {
  StreamHub hub;
  auto a = std::make_shared<Collector>();
  auto b = std::make_shared<Collector>();
  hub.Attach(a, std::nullopt);
  hub.Attach(b, std::nullopt);
  EXPECT_EQ(hub.clients(), 2u);
  b->closed_ = true;
  hub.SetState({{"x", 1}});
  EXPECT_EQ(hub.clients(), 1u);
  EXPECT_EQ(hub.StateJson()["state"]["x"], 1);
}

}  // namespace
}  // namespace heteroaccel::server
