// The finish index against the full scan it replaces.
//
// Earliest-finish places an unpinned request through the index (State::VisitByBound)
// and a pinned one by weighing every candidate its pins allow; expiry likewise
// (State::ExpireType against ExpireByScan). A group that holds every device pins a
// request without narrowing it, so two schedulers fed the same random history, one
// with plain requests and one with every request in that group, must make the same
// decisions: the same bindings (device, expected finish), the same expiries and the
// same recorded candidate finishes. The history mixes kinds, slots, devices without a
// reported time (median fallbacks), overruns, failures, lost and returning nodes,
// deadlines, priorities and tenants.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/fake_clock.h"
#include <gtest/gtest.h>
#include "scheduler/scheduler.h"
#include "scheduler/testing/cluster.h"

namespace heteroaccel::scheduler {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Running {
  uint64_t id;
  Clock::TimePoint expected;
};

class Pair {
 public:
  explicit Pair(const Options& options) : plain_(options, clock_), grouped_(options, clock_) {}

  void Upsert(DeviceInfo info) {
    info.groups = {"all"};
    ASSERT_TRUE(plain_.UpsertDevice(info).ok());
    ASSERT_TRUE(grouped_.UpsertDevice(info).ok());
  }
  void Enqueue(Request request) {
    Request grouped = request;
    grouped.group = "all";
    const bool a = plain_.Enqueue(std::move(request)).ok();
    const bool b = grouped_.Enqueue(std::move(grouped)).ok();
    ASSERT_EQ(a, b);
  }
  // Expires and dispatches on both; expects the same outcome and keeps the bindings.
  void Step() {
    std::vector<uint64_t> expired_a, expired_b;
    for (const Request& r : plain_.ExpireDeadlines()) expired_a.push_back(r.id);
    for (const Request& r : grouped_.ExpireDeadlines()) expired_b.push_back(r.id);
    std::sort(expired_a.begin(), expired_a.end());
    std::sort(expired_b.begin(), expired_b.end());
    ASSERT_EQ(expired_a, expired_b) << "expiry differs at step " << steps_;
    const std::vector<Assignment> a = plain_.Dispatch();
    const std::vector<Assignment> b = grouped_.Dispatch();
    ASSERT_EQ(a.size(), b.size()) << "bindings differ at step " << steps_;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].request_id, b[i].request_id) << "step " << steps_;
      ASSERT_EQ(a[i].device, b[i].device) << "request " << a[i].request_id;
      ASSERT_EQ(a[i].expected_finish, b[i].expected_finish) << "request " << a[i].request_id;
      ASSERT_EQ(a[i].variant, b[i].variant);
      ASSERT_EQ(Finishes(a[i]), Finishes(b[i])) << "request " << a[i].request_id;
      running_.push_back({a[i].request_id, a[i].expected_finish});
    }
    bound_ += a.size();
    expired_ += expired_a.size();
    ++steps_;
  }
  // Completes running request `i` after `factor` times its expected service.
  void Complete(size_t i, double factor, bool ok) {
    const Running r = running_[i];
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    const auto service = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(microseconds(100), std::chrono::duration_cast<microseconds>(
                                        (r.expected - clock_.Now()) * factor)));
    EXPECT_EQ(plain_.Complete(r.id, service, ok), grouped_.Complete(r.id, service, ok));
  }
  void FailNode(const std::string& node) {
    std::vector<uint64_t> a, b;
    for (const Request& r : plain_.FailNode(node)) a.push_back(r.id);
    for (const Request& r : grouped_.FailNode(node)) b.push_back(r.id);
    ASSERT_EQ(a, b);
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [&](const Running& r) {
                                    return std::find(a.begin(), a.end(), r.id) != a.end();
                                  }),
                   running_.end());
  }
  void NodeUp(const std::string& node) {
    plain_.SetNodeUp(node, true);
    grouped_.SetNodeUp(node, true);
  }

  FakeClock& clock() { return clock_; }
  std::vector<Running>& running() { return running_; }
  size_t bound() const { return bound_; }
  size_t expired() const { return expired_; }
  size_t queued() const { return plain_.queued_total(); }

 private:
  static std::vector<Clock::TimePoint> Finishes(const Assignment& a) {
    std::vector<Clock::TimePoint> out;
    for (const CandidateFinish& c : a.candidates) out.push_back(c.expected_finish);
    std::sort(out.begin(), out.end());
    return out;
  }

  FakeClock clock_;
  Scheduler plain_;
  Scheduler grouped_;
  std::vector<Running> running_;
  size_t bound_ = 0;
  size_t expired_ = 0;
  int steps_ = 0;
};

class FinishIndexTest : public ::testing::TestWithParam<int> {};

TEST_P(FinishIndexTest, IndexedChoiceIsTheFullScansChoice) {
  std::mt19937_64 rng(static_cast<uint64_t>(GetParam()));
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return uniform(0, 1) < p; };
  Options options;
  options.policy = PolicyKind::kEarliestFinish;
  options.lp_steering = false;  // pinned requests are never steered
  options.record_candidates = true;
  options.queue_capacity = 400;
  options.probe_interval = milliseconds(200);
  Pair pair(options);
  const std::vector<std::string> types = {"face", "pose", "text"};
  const std::vector<std::string> kinds = {"gpu", "npu", "cpu"};
  constexpr int kNodes = 12;
  for (int n = 0; n < kNodes; ++n) {
    for (int k = 0; k < 3; ++k) {
      std::map<std::string, std::chrono::nanoseconds> service;
      for (const std::string& type : types) {
        if (chance(0.2)) continue;  // cannot run it
        // Some report nothing: they take the medians until they have run.
        service[type] = chance(0.2) ? std::chrono::nanoseconds(0)
                                    : microseconds(static_cast<int64_t>(uniform(2e3, 4e4)));
      }
      if (service.empty()) service["face"] = milliseconds(5);
      pair.Upsert(testing::MakeDevice("node" + std::to_string(n), kinds[k], kinds[k], service,
                                      1 + static_cast<int>(rng() % 3)));
    }
  }
  uint64_t next_id = 1;
  std::vector<int> down;
  for (int step = 0; step < 4000 && !::testing::Test::HasFatalFailure(); ++step) {
    // Calm and overloaded phases in turn.
    const int arrivals = static_cast<int>(rng() % (step % 1000 < 500 ? 4 : 9));
    for (int i = 0; i < arrivals; ++i) {
      Request r = testing::MakeRequest(next_id++, types[rng() % types.size()],
                                       static_cast<int>(rng() % 3 == 0));
      r.tenant = "cam" + std::to_string(rng() % 6);
      r.arrival = pair.clock().Now();
      if (chance(0.6)) {
        r.deadline = pair.clock().Now() + microseconds(static_cast<int64_t>(uniform(2e3, 1e5)));
      }
      pair.Enqueue(std::move(r));
    }
    pair.clock().Advance(microseconds(static_cast<int64_t>(uniform(0, 8e3))));
    // Completions: mostly near the estimate, some overrun it, a few fail.
    for (size_t i = 0; i < pair.running().size();) {
      if (pair.running()[i].expected <= pair.clock().Now() || chance(0.05)) {
        pair.Complete(i, uniform(0.6, 1.8), !chance(0.03));
      } else {
        ++i;
      }
    }
    if (chance(0.004)) {
      const int n = static_cast<int>(rng() % kNodes);
      pair.FailNode("node" + std::to_string(n));
      down.push_back(n);
    }
    if (!down.empty() && chance(0.01)) {
      pair.NodeUp("node" + std::to_string(down.back()));
      down.pop_back();
    }
    pair.Step();
  }
  // The history must have exercised both decisions.
  EXPECT_GT(pair.bound(), 2000u);
  EXPECT_GT(pair.expired(), 100u);
  std::printf("  seed %d: %zu bound, %zu expired\n", GetParam(), pair.bound(), pair.expired());
}

INSTANTIATE_TEST_SUITE_P(Seeds, FinishIndexTest, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace heteroaccel::scheduler
