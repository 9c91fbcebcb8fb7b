// MqttPublisher against a real mosquitto broker started by the test.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "events/event_store.h"
#include "events/mqtt_publisher.h"
#include "events/testing/mosquitto_broker.h"
#include "testing/subprocess.h"

namespace heteroaccel::events {
namespace {

using testing::MosquittoBroker;
using testing::MqttSubscriber;

template <typename F>
bool WaitFor(F condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

nlohmann::json Message(int i) {
  return {{"id", absl::StrCat("gate-1/cross/", i)},
          {"camera", "gate-1"},
          {"type", "line_crossing"},
          {"seq", i}};
}

std::set<int> Seqs(const std::vector<testing::MqttMessage>& messages) {
  std::set<int> seqs;
  for (const testing::MqttMessage& m : messages) {
    nlohmann::json j = nlohmann::json::parse(m.payload, nullptr, false);
    if (j.is_object() && j.contains("seq")) seqs.insert(j["seq"].get<int>());
  }
  return seqs;
}

class MqttPublisherE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!MosquittoBroker::Available()) GTEST_SKIP() << "mosquitto is not installed";
  }
};

TEST_F(MqttPublisherE2ETest, SubscriberReceivesTheEventJsonAndTheRetainedState) {
  auto broker = MosquittoBroker::Start();
  ASSERT_TRUE(broker.ok()) << broker.status();
  auto subscriber = MqttSubscriber::Connect((*broker)->host(), (*broker)->port(), "ha/events/#");
  ASSERT_TRUE(subscriber.ok()) << subscriber.status();
  auto publisher =
      MqttPublisher::Create({.host = (*broker)->host(), .port = (*broker)->port(), .prefix = "ha"});
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE(WaitFor([&] { return (*publisher)->connected(); }, std::chrono::seconds(10)));

  auto store = EventStore::Open({});
  pipeline::Event e;
  e.id = "gate-1/in-door/1";
  e.camera = "gate-1";
  e.type = "intrusion";
  e.object = "person";
  ASSERT_TRUE((*store)->Upsert(e, 1000, "jpeg").ok());
  const nlohmann::json sent = EventMessage(*(*store)->Get(e.id), pipeline::EventPhase::kNew);
  (*publisher)->Publish(sent);
  (*publisher)->PublishState("gate-1", {{"state", "running"}, {"fps", 5}});

  ASSERT_TRUE((*subscriber)->WaitForCount(1, std::chrono::seconds(10)));
  const std::vector<testing::MqttMessage> got = (*subscriber)->Messages();
  EXPECT_EQ(got[0].topic, "ha/events/gate-1/intrusion");
  EXPECT_FALSE(got[0].retain);
  EXPECT_EQ(nlohmann::json::parse(got[0].payload), sent);
  EXPECT_TRUE(
      WaitFor([&] { return (*publisher)->counters().published == 2; }, std::chrono::seconds(10)));

  // The state is retained: a subscriber arriving later gets it at once.
  auto late = MqttSubscriber::Connect((*broker)->host(), (*broker)->port(), "ha/cameras/+/state");
  ASSERT_TRUE(late.ok()) << late.status();
  ASSERT_TRUE((*late)->WaitForCount(1, std::chrono::seconds(10)));
  EXPECT_EQ((*late)->Messages()[0].topic, "ha/cameras/gate-1/state");
  EXPECT_TRUE((*late)->Messages()[0].retain);
  EXPECT_EQ(nlohmann::json::parse((*late)->Messages()[0].payload)["state"], "running");
}

TEST_F(MqttPublisherE2ETest, EventsQueuedWhileTheBrokerIsDownArriveAfterItRestarts) {
  auto broker = MosquittoBroker::Start({.persistence = true});
  ASSERT_TRUE(broker.ok()) << broker.status();
  // A persistent session: the broker keeps it (and queues for it) across the restart.
  auto subscriber = MqttSubscriber::Connect((*broker)->host(), (*broker)->port(), "heteroaccel/#",
                                            absl::StrCat("sub-", getpid()), false);
  ASSERT_TRUE(subscriber.ok()) << subscriber.status();
  auto publisher = MqttPublisher::Create({.host = (*broker)->host(),
                                          .port = (*broker)->port(),
                                          .reconnect_min_s = 1,
                                          .reconnect_max_s = 2,
                                          .max_queue = 100});
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE(WaitFor([&] { return (*publisher)->connected(); }, std::chrono::seconds(10)));
  for (int i = 0; i < 10; ++i) (*publisher)->Publish(Message(i));
  ASSERT_TRUE((*subscriber)->WaitForCount(10, std::chrono::seconds(10)));

  (*broker)->Stop();
  ASSERT_TRUE(WaitFor([&] { return !(*publisher)->connected(); }, std::chrono::seconds(10)));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 10; i < 40; ++i) (*publisher)->Publish(Message(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500))
      << "publishing never blocks";
  EXPECT_EQ((*publisher)->counters().queued, 30u);

  ASSERT_TRUE((*broker)->Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return Seqs((*subscriber)->Messages()).size() == 40; },
                      std::chrono::seconds(20)))
      << "got " << Seqs((*subscriber)->Messages()).size() << "\n"
      << (*broker)->Output();
  std::set<int> all;
  for (int i = 0; i < 40; ++i) all.insert(i);
  EXPECT_EQ(Seqs((*subscriber)->Messages()), all);
  const MqttCounters c = (*publisher)->counters();
  EXPECT_TRUE(c.connected);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_TRUE(
      WaitFor([&] { return (*publisher)->counters().published >= 40; }, std::chrono::seconds(10)));
}

TEST_F(MqttPublisherE2ETest, BrokerAbsentAtStartKeepsTheNewestWithinTheBound) {
  auto broker = MosquittoBroker::Start({.persistence = true});
  ASSERT_TRUE(broker.ok()) << broker.status();
  {
    auto subscriber = MqttSubscriber::Connect((*broker)->host(), (*broker)->port(), "heteroaccel/#",
                                              absl::StrCat("late-", getpid()), false);
    ASSERT_TRUE(subscriber.ok()) << subscriber.status();
  }
  (*broker)->Stop();

  auto publisher = MqttPublisher::Create({.host = (*broker)->host(),
                                          .port = (*broker)->port(),
                                          .reconnect_min_s = 1,
                                          .reconnect_max_s = 1,
                                          .max_queue = 5});
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  for (int i = 0; i < 12; ++i) (*publisher)->Publish(Message(i));
  EXPECT_EQ((*publisher)->counters().dropped, 7u);
  EXPECT_EQ((*publisher)->counters().queued, 5u);

  ASSERT_TRUE((*broker)->Restart().ok());
  ASSERT_TRUE(
      WaitFor([&] { return (*publisher)->counters().published == 5; }, std::chrono::seconds(15)));
  auto subscriber = MqttSubscriber::Connect((*broker)->host(), (*broker)->port(), "heteroaccel/#",
                                            absl::StrCat("late-", getpid()), false);
  ASSERT_TRUE(subscriber.ok()) << subscriber.status();
  ASSERT_TRUE((*subscriber)->WaitForCount(5, std::chrono::seconds(10)));
  std::vector<int> order;
  for (const testing::MqttMessage& m : (*subscriber)->Messages()) {
    order.push_back(nlohmann::json::parse(m.payload)["seq"].get<int>());
  }
  EXPECT_EQ(order, (std::vector<int>{7, 8, 9, 10, 11})) << "the oldest were dropped, in order";
}

}  // namespace
}  // namespace heteroaccel::events
