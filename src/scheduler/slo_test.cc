// Unit tests of the SLO-aware parts of the scheduler on the fake clock: pessimistic
// admission with optimistic expiry, fair queueing across tenants, priority classes
// displacing under overload, the tenant holding the most of a full queue giving way.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/fake_clock.h"
#include "scheduler/scheduler.h"
#include "scheduler/testing/cluster.h"

namespace heteroaccel::scheduler {
namespace {

using ::heteroaccel::FakeClock;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::MakeDevice;
using testing::MakeRequest;

std::vector<uint64_t> Ids(const std::vector<Assignment>& a) {
  std::vector<uint64_t> ids;
  for (const Assignment& x : a) ids.push_back(x.request_id);
  return ids;
}
std::vector<uint64_t> Ids(const std::vector<Request>& r) {
  std::vector<uint64_t> ids;
  for (const Request& x : r) ids.push_back(x.id);
  return ids;
}

class SloTest : public ::testing::Test {
 protected:
  Scheduler Make(Options options = {}) {
    options.policy = PolicyKind::kEarliestFinish;
    options.pipeline_depth = 0;
    options.probe_interval = std::chrono::nanoseconds(0);
    return Scheduler(options, clock_);
  }
  // One device, running face in 10 ms; `waiting`: its node down, so that every
  // request waits.
  Scheduler OneFaceDevice(Options options, bool waiting) {
    Scheduler s = Make(options);
    EXPECT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
    if (waiting) s.SetNodeUp("n1", false);
    return s;
  }
  // Runs `n` requests of `type` on the only device able to, each taking `service`.
  void Teach(Scheduler& s, const char* type, std::vector<milliseconds> services) {
    for (milliseconds service : services) {
      ASSERT_TRUE(s.Enqueue(MakeRequest(next_id_, type)).ok());
      ASSERT_EQ(s.Dispatch().size(), 1u);
      clock_.Advance(service);
      ASSERT_TRUE(s.Complete(next_id_++, service, true));
    }
  }
  FakeClock clock_;
  uint64_t next_id_ = 1000;
};

// Ten runs: median 10 ms, 0.9 quantile 40 ms, fastest 8 ms (report 10 ms is a vote).
const std::vector<milliseconds> kSpread = {milliseconds(8),  milliseconds(10), milliseconds(10),
                                           milliseconds(9),  milliseconds(12), milliseconds(40),
                                           milliseconds(11), milliseconds(45), milliseconds(10),
                                           milliseconds(9)};

TEST_F(SloTest, AdmitsOnlyWhenTheQuantileMeetsTheDeadline) {
  Scheduler s = Make();
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  Teach(s, "face", kSpread);
  ASSERT_EQ(s.service_estimate("face", {"n1", "gpu0"}), milliseconds(10));
  Request tight = MakeRequest(1, "face");
  tight.deadline = clock_.Now() + milliseconds(20);  // median fits, 0.9 quantile does not
  ASSERT_TRUE(s.Enqueue(tight).ok());
  EXPECT_TRUE(s.Dispatch().empty()) << "not admitted on the median";
  EXPECT_TRUE(s.ExpireDeadlines().empty()) << "the fastest run (8 ms) still fits";
  clock_.Advance(milliseconds(13));  // 7 ms left: not even the fastest run fits
  EXPECT_THAT(Ids(s.ExpireDeadlines()), ElementsAre(1u)) << "answered early, not run late";
  Request loose = MakeRequest(2, "face");
  loose.deadline = clock_.Now() + milliseconds(40);
  ASSERT_TRUE(s.Enqueue(loose).ok());
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(2u));
}

TEST_F(SloTest, MedianOrdersTheDevicesTheQuantileAdmits) {
  Scheduler s = Make();
  // The GPU is faster on the median but erratic; the NPU slower and steady.
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n2", "npu0", "npu", {{"face", milliseconds(15)}})).ok());
  for (const milliseconds service : kSpread) {
    Request r = MakeRequest(next_id_, "face");
    r.pinned_device = DeviceKey{"n1", "gpu0"};
    ASSERT_TRUE(s.Enqueue(r).ok());
    ASSERT_EQ(s.Dispatch().size(), 1u);
    clock_.Advance(service);
    ASSERT_TRUE(s.Complete(next_id_++, service, true));
  }
  Request relaxed = MakeRequest(1, "face");
  relaxed.deadline = clock_.Now() + milliseconds(100);
  ASSERT_TRUE(s.Enqueue(relaxed).ok());
  std::vector<Assignment> a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, (DeviceKey{"n1", "gpu0"})) << "both admit it; the median prefers the GPU";
  ASSERT_TRUE(s.Complete(1, milliseconds(10), true));
  Request tight = MakeRequest(2, "face");
  tight.deadline = clock_.Now() + milliseconds(25);
  ASSERT_TRUE(s.Enqueue(tight).ok());
  a = s.Dispatch();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].device, (DeviceKey{"n2", "npu0"})) << "only the steady NPU admits 25 ms";
}

TEST_F(SloTest, HeavyTenantDoesNotDelayTheOthers) {
  Options options;
  options.fair_quantum = milliseconds(10);  // one request's cost: exact interleaving
  Scheduler s = OneFaceDevice(options, /*waiting=*/false);
  uint64_t id = 1;
  for (int i = 0; i < 8; ++i) {
    Request r = MakeRequest(id++, "face");
    r.tenant = "heavy";
    ASSERT_TRUE(s.Enqueue(r).ok());
  }
  for (int i = 0; i < 2; ++i) {
    Request r = MakeRequest(id++, "face");
    r.tenant = "light";
    ASSERT_TRUE(s.Enqueue(r).ok());
  }
  std::vector<uint64_t> order;
  while (s.queued_total() > 0) {
    std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    order.push_back(a[0].request_id);
    clock_.Advance(milliseconds(10));
    ASSERT_TRUE(s.Complete(a[0].request_id, milliseconds(10), true));
  }
  // The light tenant's two requests go in the first rounds, not after the 8.
  EXPECT_THAT(std::vector<uint64_t>(order.begin(), order.begin() + 4), ElementsAre(1, 9, 2, 10));
}

TEST_F(SloTest, UntaggedRequestsKeepDeadlineOrderWithinAQuantum) {
  Scheduler s = Make();  // 200 ms quantum, 10 ms requests
  ASSERT_TRUE(s.UpsertDevice(MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(10)}})).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face")).ok());
  ASSERT_EQ(s.Dispatch().size(), 1u);
  Request later = MakeRequest(2, "face");
  later.deadline = clock_.Now() + milliseconds(500);
  Request sooner = MakeRequest(3, "face");
  sooner.deadline = clock_.Now() + milliseconds(100);
  ASSERT_TRUE(s.Enqueue(later).ok());
  ASSERT_TRUE(s.Enqueue(sooner).ok());
  clock_.Advance(milliseconds(10));
  ASSERT_TRUE(s.Complete(1, milliseconds(10), true));
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(3u));
}

TEST_F(SloTest, HigherClassDisplacesTheNewestOfTheLowestClass) {
  Options options;
  options.queue_capacity = 3;
  Scheduler s = OneFaceDevice(options, /*waiting=*/true);
  ASSERT_TRUE(s.Enqueue(MakeRequest(1, "face", kPriorityNormal)).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(2, "face", kPriorityBatch)).ok());
  ASSERT_TRUE(s.Enqueue(MakeRequest(3, "face", kPriorityBatch)).ok());
  std::vector<Request> displaced;
  ASSERT_TRUE(s.Enqueue(MakeRequest(4, "face", kPriorityHigh), displaced).ok());
  EXPECT_THAT(Ids(displaced), ElementsAre(3u)) << "the newest of the lowest class";
  ASSERT_TRUE(s.Enqueue(MakeRequest(5, "face", kPriorityLow), displaced).ok());
  EXPECT_THAT(Ids(displaced), ElementsAre(3u, 2u));
  absl::Status full = s.Enqueue(MakeRequest(6, "face", kPriorityLow), displaced);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << "no class below low is left";
  EXPECT_EQ(s.Enqueue(MakeRequest(7, "face", kPriorityCritical)).code(),
            absl::StatusCode::kResourceExhausted)
      << "without a place for displaced requests nothing is displaced";
  EXPECT_EQ(displaced.size(), 2u);
  // A displaced request has left: it ends exactly once.
  EXPECT_FALSE(s.Cancel(3).has_value());
  EXPECT_FALSE(s.Complete(2, milliseconds(1), true));
  s.SetNodeUp("n1", true);
  EXPECT_THAT(Ids(s.Dispatch()), ElementsAre(4u));
}

Request FromTenant(uint64_t id, const char* tenant, int priority = kPriorityNormal) {
  Request r = MakeRequest(id, "face", priority);
  r.tenant = tenant;
  return r;
}

// Longest queue drop: in a full queue a tenant holding at least two fewer takes the
// place of the newest request of the tenant holding the most; no tenant crowds the
// others out of the queue by sending more.
TEST_F(SloTest, TenantHoldingTheMostGivesWayInAFullQueue) {
  Options options;
  options.queue_capacity = 5;
  Scheduler s = OneFaceDevice(options, /*waiting=*/true);
  for (uint64_t id : {1, 2, 3, 4}) ASSERT_TRUE(s.Enqueue(FromTenant(id, "a")).ok());
  ASSERT_TRUE(s.Enqueue(FromTenant(5, "b")).ok());
  std::vector<Request> displaced;
  ASSERT_TRUE(s.Enqueue(FromTenant(6, "b"), displaced).ok());
  EXPECT_THAT(Ids(displaced), ElementsAre(4u)) << "a held 4 against b's 1: a's newest leaves";
  EXPECT_EQ(s.Enqueue(FromTenant(7, "b"), displaced).code(), absl::StatusCode::kResourceExhausted)
      << "a holds 3 against b's 2: nothing to gain";
  EXPECT_EQ(s.Enqueue(FromTenant(8, "a"), displaced).code(), absl::StatusCode::kResourceExhausted)
      << "the tenant holding the most never displaces";
  ASSERT_TRUE(s.Enqueue(FromTenant(9, "c"), displaced).ok());
  EXPECT_THAT(Ids(displaced), ElementsAre(4u, 3u)) << "a, with 3, gives way to c, with none";
  // A higher class displaces the lowest class first, even from a tenant holding
  // the most of the queue; within that class, the tenant holding the most gives way.
  ASSERT_TRUE(s.Enqueue(FromTenant(10, "a", kPriorityHigh), displaced).ok());
  EXPECT_EQ(displaced.size(), 3u);
  EXPECT_EQ(displaced.back().id, 6u) << "b's newest: b held 2 against c's 1";
  // Without a place for displaced requests, a full queue refuses as before.
  EXPECT_EQ(s.Enqueue(FromTenant(11, "d")).code(), absl::StatusCode::kResourceExhausted);
  // Every displaced request has left; the rest are served.
  for (const Request& r : displaced) EXPECT_FALSE(s.Cancel(r.id).has_value());
  s.SetNodeUp("n1", true);
  std::vector<uint64_t> served;
  for (int i = 0; i < 5; ++i) {
    const std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    served.push_back(a[0].request_id);
    clock_.Advance(milliseconds(10));
    ASSERT_TRUE(s.Complete(a[0].request_id, milliseconds(10), true));
  }
  std::sort(served.begin(), served.end());
  EXPECT_THAT(served, ElementsAre(1u, 2u, 5u, 9u, 10u));
}

// A request displaced from a full queue is not charged to its tenant: the tenant's
// next request is tagged as if the displaced one had not been sent. (Charged, a
// tenant losing requests to the others would fall ever further behind them.)
TEST_F(SloTest, DisplacedRequestsAreNotChargedToTheirTenant) {
  Options options;
  options.queue_capacity = 4;
  options.fair_quantum = milliseconds(1);  // tags (10 ms apart) order strictly
  Scheduler s = OneFaceDevice(options, /*waiting=*/false);
  std::vector<Request> displaced;
  // Alone, a fills the queue: tags 0, 10, 20, 30.
  for (uint64_t id : {1, 2, 3, 4}) ASSERT_TRUE(s.Enqueue(FromTenant(id, "a"), displaced).ok());
  ASSERT_TRUE(s.Enqueue(FromTenant(5, "b"), displaced).ok());  // tag 0
  ASSERT_TRUE(s.Enqueue(FromTenant(6, "b"), displaced).ok());  // tag 10
  ASSERT_THAT(Ids(displaced), ElementsAre(4u, 3u));
  std::vector<uint64_t> order;
  const auto serve_one = [&] {
    const std::vector<Assignment> a = s.Dispatch();
    ASSERT_EQ(a.size(), 1u);
    order.push_back(a[0].request_id);
    clock_.Advance(milliseconds(10));
    ASSERT_TRUE(s.Complete(a[0].request_id, milliseconds(10), true));
  };
  serve_one();                                                 // 1
  ASSERT_TRUE(s.Enqueue(FromTenant(7, "a"), displaced).ok());  // 20, charged only for 1 and 2
  serve_one();                                                 // 5
  ASSERT_TRUE(s.Enqueue(FromTenant(8, "b"), displaced).ok());  // 20
  for (int i = 0; i < 4; ++i) serve_one();
  EXPECT_THAT(order, ElementsAre(1u, 5u, 2u, 6u, 7u, 8u));
}

// While others wait, a tenant holds at most an equal share of a type's queue, so
// its requests wait no longer than its share takes to serve however much it sends.
TEST_F(SloTest, TenantHoldsAtMostItsShareWhileOthersWait) {
  Options options;
  options.queue_capacity = 6;
  Scheduler s = OneFaceDevice(options, /*waiting=*/true);
  ASSERT_TRUE(s.Enqueue(FromTenant(1, "b")).ok());
  ASSERT_TRUE(s.Enqueue(FromTenant(2, "a")).ok());
  ASSERT_TRUE(s.Enqueue(FromTenant(3, "a")).ok());
  ASSERT_TRUE(s.Enqueue(FromTenant(4, "a")).ok());
  const absl::Status over = s.Enqueue(FromTenant(5, "a"));
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted) << "a holds 3 of 6 with b waiting";
  EXPECT_THAT(over.message(), ::testing::HasSubstr("camera 'a' already holds 3 of the 6 places"));
  ASSERT_TRUE(s.Enqueue(FromTenant(6, "c")).ok());  // three wait now: shares of 2
  ASSERT_TRUE(s.Enqueue(FromTenant(7, "b")).ok());
  EXPECT_EQ(s.Enqueue(FromTenant(8, "b")).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(s.Enqueue(FromTenant(9, "d")).code() == absl::StatusCode::kResourceExhausted)
      << "the queue is full";
  // Another class has its own shares; it displaces from the fullest of the class below.
  std::vector<Request> displaced;
  EXPECT_TRUE(s.Enqueue(FromTenant(10, "a", kPriorityHigh), displaced).ok());
  EXPECT_THAT(Ids(displaced), ElementsAre(4u));
  // Alone, a tenant may fill the queue.
  Scheduler alone = OneFaceDevice(options, /*waiting=*/true);
  for (uint64_t id = 1; id <= 6; ++id) EXPECT_TRUE(alone.Enqueue(FromTenant(id, "a")).ok());
}

// The queue's sharing rules against a model of the waiting requests, through a
// random history of tenants arriving, being served, cancelled and displaced (so
// that tenants leave and come back and their ids are reused): every admission,
// refusal and displacement is the one the rules give.
TEST_F(SloTest, QueueSharingMatchesAModelThroughARandomHistory) {
  Options options;
  options.queue_capacity = 6;
  Scheduler s = OneFaceDevice(options, /*waiting=*/true);
  struct Waiting {
    std::string tenant;
    int priority;
  };
  std::map<uint64_t, Waiting> model;  // by id: ids grow with arrival
  std::mt19937_64 rng(17);
  const char* const names[] = {"a", "b", "c", "d", "e", ""};
  uint64_t next = 1;
  for (int step = 0; step < 5000; ++step) {
    const uint64_t op = rng() % 10;
    if (op < 7) {
      const std::string tenant = names[rng() % 6];
      const int priority = rng() % 3 == 0 ? kPriorityHigh : kPriorityNormal;
      const uint64_t id = next++;
      // The rules on the model.
      std::map<std::pair<int, std::string>, int> held;
      for (const auto& [i, w] : model) ++held[{w.priority, w.tenant}];
      int tenants = held.count({priority, tenant}) > 0 ? 0 : 1;
      for (const auto& [key, n] : held) tenants += key.first == priority ? 1 : 0;
      const int mine = held.count({priority, tenant}) > 0 ? held[{priority, tenant}] : 0;
      const int share = (options.queue_capacity + tenants - 1) / tenants;
      bool admit = tenants < 2 || mine < share;
      if (admit && static_cast<int>(model.size()) >= options.queue_capacity) {
        admit = false;
        int lowest = kPriorityHigh + 1;
        for (const auto& [i, w] : model) lowest = std::min(lowest, w.priority);
        int most = 0;
        for (const auto& [key, n] : held) {
          if (key.first == lowest) most = std::max(most, n);
        }
        if (lowest < priority || (lowest == priority && most >= mine + 2)) {
          admit = true;
          // One of the fullest tenants of the lowest class gives its newest.
          std::set<uint64_t> candidates;
          for (const auto& [key, n] : held) {
            if (key.first != lowest || n != most) continue;
            uint64_t newest = 0;
            for (const auto& [i, w] : model) {
              if (w.priority == lowest && w.tenant == key.second) newest = i;
            }
            candidates.insert(newest);
          }
          std::vector<Request> displaced;
          Request r = MakeRequest(id, "face", priority);
          r.tenant = tenant;
          ASSERT_TRUE(s.Enqueue(r, displaced).ok()) << "step " << step;
          ASSERT_EQ(displaced.size(), 1u) << "step " << step;
          ASSERT_TRUE(candidates.contains(displaced[0].id))
              << "step " << step << ": displaced " << displaced[0].id;
          model.erase(displaced[0].id);
          model[id] = {tenant, priority};
          continue;
        }
      }
      std::vector<Request> displaced;
      Request r = MakeRequest(id, "face", priority);
      r.tenant = tenant;
      const absl::Status status = s.Enqueue(r, displaced);
      ASSERT_EQ(status.ok(), admit) << "step " << step << ": " << status;
      ASSERT_TRUE(displaced.empty()) << "step " << step;
      if (admit) model[id] = {tenant, priority};
    } else if (op < 9 && !model.empty()) {
      // Serve one: the device comes up for one dispatch.
      s.SetNodeUp("n1", true);
      const std::vector<Assignment> a = s.Dispatch();
      s.SetNodeUp("n1", false);
      ASSERT_EQ(a.size(), 1u) << "step " << step;
      ASSERT_EQ(model.erase(a[0].request_id), 1u) << "step " << step;
      clock_.Advance(milliseconds(1));
      ASSERT_TRUE(s.Complete(a[0].request_id, milliseconds(1), true));
    } else if (!model.empty()) {
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      ASSERT_TRUE(s.Cancel(it->first).has_value()) << "step " << step;
      model.erase(it);
    }
  }
}

}  // namespace
}  // namespace heteroaccel::scheduler
