// The finish index against the full scan it replaces.
//
// Earliest-finish places a request, finds probes and expires requests
// through the index (State::VisitByBound, ProbeReady, ExpireType); with
// Options::finish_index = false it weighs every candidate instead. Two schedulers,
// one each way, fed the same random history must make the same decisions at every
// step: the same bindings (device, expected finish), the same expiries and the
// same recorded candidate finishes. The history mixes kinds, slots,
// devices without a reported time (median fallbacks), overruns, failures, lost and
// returning nodes, devices that change kind, groups or variant, deadlines,
// priorities, tenants, pins (device, kind, group, variant; a request pinned to a
// kind, group or variant goes through the index too, over those devices, and
// scans once it has passed over too many devices its other pins exclude), degradation to faster
// variants (tight deadlines, backlogs) and, for odd seeds, steering by the fluid
// ideal.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/fake_clock.h"
#include <gtest/gtest.h>
#include "scheduler/internal/min_tree.h"
#include "scheduler/internal/running_median.h"
#include "scheduler/scheduler.h"
#include "scheduler/testing/cluster.h"

namespace heteroaccel::scheduler {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Running {
  uint64_t id;
  Clock::TimePoint expected;
  Clock::TimePoint bound_at;
};

Options WithIndex(Options options, bool index) {
  options.finish_index = index;
  return options;
}

class Pair {
 public:
  explicit Pair(const Options& options)
      : indexed_(WithIndex(options, true), clock_),
        scanned_(WithIndex(options, false), clock_) {}

  void Upsert(const DeviceInfo& info) {
    ASSERT_TRUE(indexed_.UpsertDevice(info).ok());
    ASSERT_TRUE(scanned_.UpsertDevice(info).ok());
  }
  void Enqueue(const Request& request) {
    const bool a = indexed_.Enqueue(request).ok();
    const bool b = scanned_.Enqueue(request).ok();
    ASSERT_EQ(a, b);
  }
  // Expires and dispatches on both; expects the same outcome and keeps the bindings.
  void Step() {
    std::vector<uint64_t> expired_a, expired_b;
    for (const Request& r : indexed_.ExpireDeadlines()) expired_a.push_back(r.id);
    for (const Request& r : scanned_.ExpireDeadlines()) expired_b.push_back(r.id);
    std::sort(expired_a.begin(), expired_a.end());
    std::sort(expired_b.begin(), expired_b.end());
    ASSERT_EQ(expired_a, expired_b) << "expiry differs at step " << steps_;
    const std::vector<Assignment> a = indexed_.Dispatch();
    const std::vector<Assignment> b = scanned_.Dispatch();
    ASSERT_EQ(a.size(), b.size()) << "bindings differ at step " << steps_;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].request_id, b[i].request_id) << "step " << steps_;
      ASSERT_EQ(a[i].device, b[i].device) << "request " << a[i].request_id;
      ASSERT_EQ(a[i].expected_finish, b[i].expected_finish) << "request " << a[i].request_id;
      ASSERT_EQ(a[i].variant, b[i].variant);
      ASSERT_EQ(Finishes(a[i]), Finishes(b[i])) << "request " << a[i].request_id;
      running_.push_back({a[i].request_id, a[i].expected_finish, clock_.Now()});
      degraded_ += a[i].degraded_from.empty() ? 0 : 1;
    }
    bound_ += a.size();
    expired_ += expired_a.size();
    ++steps_;
  }
  // Completes running request `i`, reporting `factor` times the time from its
  // binding to its expected finish as its service time.
  void Complete(size_t i, double factor, bool ok) {
    const Running r = running_[i];
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    const auto service = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(microseconds(100), std::chrono::duration_cast<microseconds>(
                                        (r.expected - r.bound_at) * factor)));
    EXPECT_EQ(indexed_.Complete(r.id, service, ok), scanned_.Complete(r.id, service, ok));
  }
  void FailNode(const std::string& node) {
    std::vector<uint64_t> a, b;
    for (const Request& r : indexed_.FailNode(node)) a.push_back(r.id);
    for (const Request& r : scanned_.FailNode(node)) b.push_back(r.id);
    ASSERT_EQ(a, b);
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [&](const Running& r) {
                                    return std::find(a.begin(), a.end(), r.id) != a.end();
                                  }),
                   running_.end());
  }
  void NodeUp(const std::string& node) {
    indexed_.SetNodeUp(node, true);
    scanned_.SetNodeUp(node, true);
  }

  FakeClock& clock() { return clock_; }
  std::vector<Running>& running() { return running_; }
  size_t bound() const { return bound_; }
  size_t expired() const { return expired_; }
  size_t degraded() const { return degraded_; }
  size_t queued() const { return indexed_.queued_total(); }

 private:
  static std::vector<Clock::TimePoint> Finishes(const Assignment& a) {
    std::vector<Clock::TimePoint> out;
    for (const CandidateFinish& c : a.candidates) out.push_back(c.expected_finish);
    std::sort(out.begin(), out.end());
    return out;
  }

  FakeClock clock_;
  Scheduler indexed_;
  Scheduler scanned_;
  std::vector<Running> running_;
  size_t bound_ = 0;
  size_t expired_ = 0;
  size_t degraded_ = 0;
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
  options.lp_steering = GetParam() % 2 == 1;  // both ways
  options.steering_interval = milliseconds(50);
  options.record_candidates = true;
  options.queue_capacity = 400;
  options.probe_interval = milliseconds(200);
  options.degrade_backlog = 0.1;  // 40 waiting of a type: its requests may degrade
  Pair pair(options);
  const std::vector<std::string> types = {"face", "pose", "text"};
  const std::vector<std::string> kinds = {"gpu", "npu", "cpu"};
  // 120 devices: more than a pinned request passes over in the index before it
  // scans instead (the "rare" group's few devices are often further down).
  constexpr int kNodes = 40;
  std::vector<DeviceInfo> infos;
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
      DeviceInfo info = testing::MakeDevice("node" + std::to_string(n), kinds[k], kinds[k],
                                            service, 1 + static_cast<int>(rng() % 3));
      // Faster variants to degrade to: few distinct accuracies (ties), some
      // below the floor, some without a reported time.
      for (const auto& [type, time] : service) {
        if (!chance(0.5)) continue;
        Degradation& degradation = info.degrade[type];
        degradation.floor = 0.6;
        for (int a = 0; a < 1 + static_cast<int>(rng() % 2); ++a) {
          const double accuracy = std::array{0.5, 0.7, 0.8, 0.8, 0.9}[rng() % 5];
          const auto reported = std::chrono::duration_cast<std::chrono::nanoseconds>(
              chance(0.2) ? std::chrono::nanoseconds(0) : time * uniform(0.05, 0.3));
          degradation.alternates.push_back(
              {"lite-" + std::to_string(a), accuracy, reported});
        }
      }
      info.groups = {n % 2 == 0 ? "even" : "odd"};
      if (n < 2) info.groups.push_back("rare");
      pair.Upsert(info);
      infos.push_back(info);
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
      r.may_degrade = !chance(0.2);
      if (chance(0.15)) {  // tight: often only a faster variant makes it
        r.deadline = pair.clock().Now() + microseconds(static_cast<int64_t>(uniform(1e3, 6e3)));
      } else if (chance(0.55)) {
        r.deadline = pair.clock().Now() + microseconds(static_cast<int64_t>(uniform(2e3, 1e5)));
      }
      // Pins, each checked by the scheduler (a pin nothing satisfies is refused
      // by both).
      if (chance(0.04)) {
        r.pinned_device = DeviceKey{"node" + std::to_string(rng() % kNodes), kinds[rng() % 3]};
      } else if (chance(0.1)) {
        r.pinned_kind = kinds[rng() % 3];
      } else if (chance(0.15)) {
        // The rare group's six devices are often busy: its requests expire
        // where the others' would not.
        r.group = chance(0.4) ? "rare" : chance(0.5) ? "even" : "odd";
      } else if (chance(0.06)) {
        // A variant: each kind's, or the second one a few devices serve.
        r.pinned_variant = r.type + (chance(0.3) ? "@v2" : "@" + kinds[rng() % 3]);
      }
      pair.Enqueue(r);
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
    if (chance(0.005)) {  // a device changes kind, groups or a variant: the index's scopes
      DeviceInfo& info = infos[rng() % infos.size()];
      if (chance(0.3)) {
        info.kind = kinds[rng() % 3];
      } else if (chance(0.5)) {
        // Its first type's variant, to or from the second one.
        auto& [type, variant] = *info.variants.begin();
        variant = variant == type + "@v2" ? type + "@" + info.kind : type + "@v2";
      } else {
        info.groups = {chance(0.5) ? "even" : "odd"};
        if (chance(0.3)) info.groups.push_back("rare");
      }
      pair.Upsert(info);
    }
    pair.Step();
  }
  // The history must have exercised every decision, degradation included.
  EXPECT_GT(pair.bound(), 2000u);
  EXPECT_GT(pair.expired(), 100u);
  EXPECT_GT(pair.degraded(), 100u);
  std::printf("  seed %d: %zu bound (%zu degraded), %zu expired\n", GetParam(), pair.bound(),
              pair.degraded(), pair.expired());
}

// A request pinned to a kind builds that kind's trees when it is first placed.
// Here that happens in a pass after a device without room was reserved, and the
// request then takes a probe, so that no visit of its type follows in the pass:
// the reservation must still leave the keys when the pass ends, or the device
// keeps a bound too high and the next request goes elsewhere than the scan
// sends it (debug builds also check every key after each pass, CheckKeys).
TEST(FinishIndexScopeTest, AScopeBuiltAfterAReservationForgetsItWithThePass) {
  Options options;
  options.policy = PolicyKind::kEarliestFinish;
  options.probe_interval = milliseconds(10);
  options.pipeline_depth = 1;
  Pair pair(options);
  // In key order: a (1 ms), b (50 ms), c (3.5 ms, two slots); b and c idle,
  // unconfirmed and due a probe once 10 ms have passed.
  pair.Upsert(testing::MakeDevice("a", "gpu0", "gpu", {{"face", microseconds(1000)}}, 1));
  pair.Upsert(testing::MakeDevice("b", "gpu0", "gpu", {{"face", milliseconds(50)}}, 1));
  pair.Upsert(testing::MakeDevice("c", "gpu0", "gpu", {{"face", microseconds(3500)}}, 2));
  pair.clock().Advance(milliseconds(20));
  Request probe_c = testing::MakeRequest(1, "face");  // c busy: no longer idle
  probe_c.pinned_device = DeviceKey{"c", "gpu0"};
  pair.Enqueue(probe_c);
  pair.Step();
  ASSERT_EQ(pair.bound(), 1u);
  // One pass: two requests fill a, a third reserves it (c would finish later,
  // b and c's probes miss their deadline); then one pinned to the kind builds
  // the kind's trees and probes b.
  for (uint64_t id = 2; id <= 4; ++id) {
    Request r = testing::MakeRequest(id, "face");
    r.deadline = pair.clock().Now() + microseconds(3200);
    pair.Enqueue(r);
  }
  Request pinned = testing::MakeRequest(5, "face");
  pinned.pinned_kind = "gpu";
  pair.Enqueue(pinned);
  pair.Step();
  ASSERT_EQ(pair.bound(), 4u);  // a twice, b's probe; the third still waits for a
  // The next request, of a higher class (weighed before the third re-reserves
  // a): a finishes it at 3 ms (no room: it waits for a), c at 3.5 ms.
  pair.Enqueue(testing::MakeRequest(6, "face", /*priority=*/1));
  pair.Step();
  EXPECT_EQ(pair.bound(), 4u);
}

// The tournament tree against a brute-force minimum: random sets, raises, drops
// and clears of a few positions (so that one position is often the minimum of
// many nodes), each order checked after every change, MinExcept at a random
// position and FirstAtMost from one too.
TEST(MultiMinTreeTest, MinimaMatchBruteForce) {
  using internal::MultiMinTree;
  using internal::TreeKey;
  std::mt19937_64 rng(7);
  for (const int32_t n : {1, 2, 3, 5, 16, 37}) {
    MultiMinTree<2> tree;
    tree.Reset(n);
    std::vector<MultiMinTree<2>::Keys> keys(static_cast<size_t>(n));
    auto brute = [&](int k, int32_t except) {
      TreeKey least;
      for (int32_t p = 0; p < n; ++p) {
        if (p != except && keys[static_cast<size_t>(p)][static_cast<size_t>(k)] < least) {
          least = keys[static_cast<size_t>(p)][static_cast<size_t>(k)];
        }
      }
      return least;
    };
    for (int step = 0; step < 4000; ++step) {
      const auto pos = static_cast<int32_t>(rng() % static_cast<uint64_t>(n));
      MultiMinTree<2>::Keys next{};
      for (int k = 0; k < 2; ++k) {
        if (rng() % 4 == 0) continue;  // absent
        // Few distinct bounds, so that ties fall to `tie`.
        next[static_cast<size_t>(k)] = {static_cast<internal::Ticks>(rng() % 8),
                                        ((rng() % 4) << 32) | static_cast<uint32_t>(pos)};
      }
      keys[static_cast<size_t>(pos)] = next;
      tree.Set(pos, next);
      for (int k = 0; k < 2; ++k) {
        ASSERT_EQ(tree.Min(k), brute(k, -1)) << "n " << n << " step " << step << " order " << k;
        const auto except = static_cast<int32_t>(rng() % static_cast<uint64_t>(n));
        ASSERT_EQ(tree.MinExcept(except, k), brute(k, except)) << "n " << n << " step " << step;
        // The first position from a random one with a bound within a random limit.
        const auto limit = static_cast<internal::Ticks>(rng() % 9);
        const auto from = static_cast<int32_t>(rng() % static_cast<uint64_t>(n + 1));
        int32_t first = -1;
        for (int32_t p = from; p < n && first < 0; ++p) {
          const TreeKey& key = keys[static_cast<size_t>(p)][static_cast<size_t>(k)];
          if (!key.absent() && key.bound <= limit) first = p;
        }
        ASSERT_EQ(tree.FirstAtMost(limit, from, k), first)
            << "n " << n << " step " << step << " limit " << limit << " from " << from;
      }
    }
  }
}

// The finish index's tree keeps its sparse last order apart: it answers as a
// MultiMinTree of all three does through random sets and clears, the last order
// often absent everywhere (untouched then) and present again.
TEST(SparseLastMinTreeTest, AnswersAsTheDenseTree) {
  using internal::MultiMinTree;
  using internal::SparseLastMinTree;
  using internal::TreeKey;
  std::mt19937_64 rng(13);
  for (const int32_t n : {1, 2, 5, 16, 37}) {
    SparseLastMinTree<3> sparse;
    MultiMinTree<3> dense;
    sparse.Reset(n);
    dense.Reset(n);
    for (int step = 0; step < 6000; ++step) {
      const auto pos = static_cast<int32_t>(rng() % static_cast<uint64_t>(n));
      // Phases: the last order present at some positions, then at none.
      const bool last_allowed = (step / 500) % 2 == 0;
      MultiMinTree<3>::Keys next{};
      for (int k = 0; k < 3; ++k) {
        if (rng() % 4 == 0 || (k == 2 && !last_allowed)) continue;
        next[static_cast<size_t>(k)] = {static_cast<internal::Ticks>(rng() % 8),
                                        ((rng() % 4) << 32) | static_cast<uint32_t>(pos)};
      }
      if (rng() % 8 == 0) {
        sparse.Clear(pos);
        dense.Clear(pos);
      } else {
        sparse.Set(pos, next);
        dense.Set(pos, next);
      }
      const auto at = static_cast<int32_t>(rng() % static_cast<uint64_t>(n));
      ASSERT_EQ(sparse.at(at), dense.at(at)) << "n " << n << " step " << step;
      for (int k = 0; k < 3; ++k) {
        ASSERT_EQ(sparse.Min(k), dense.Min(k)) << "n " << n << " step " << step << " order " << k;
        ASSERT_EQ(sparse.MinExcept(at, k), dense.MinExcept(at, k))
            << "n " << n << " step " << step << " order " << k;
      }
    }
    sparse.Reset(n);
    for (int k = 0; k < 3; ++k) EXPECT_TRUE(sparse.Min(k).absent()) << "reset forgets every key";
  }
}

// The running median against sorting: random inserts, erases (of present and
// absent values) and replacements over few distinct values (many duplicates),
// with the count swept from 1 to 8 (where each half's edge cases are) and on to
// 64.
TEST(RunningMedianTest, MedianMatchesSorting) {
  std::mt19937_64 rng(11);
  internal::RunningMedian median;
  std::vector<int64_t> values;
  for (int step = 0; step < 20000; ++step) {
    const size_t cap = step < 16000 ? 1 + static_cast<size_t>(step / 200) % 8 : 64;
    const uint64_t op = values.size() > cap ? 1 : rng() % 3;
    // Over the cap, a present value goes.
    const auto v = op == 1 && values.size() > cap ? values[rng() % values.size()]
                                                  : static_cast<int64_t>(rng() % 12);
    const bool present = std::find(values.begin(), values.end(), v) != values.end();
    if (op == 0 || values.empty()) {
      median.Insert(v);
      values.push_back(v);
    } else if (op == 1) {
      ASSERT_EQ(median.Erase(v), present) << "step " << step;
      if (present) values.erase(std::find(values.begin(), values.end(), v));
    } else {
      const int64_t from = rng() % 2 == 0 ? values[rng() % values.size()] : v;
      const auto to = static_cast<int64_t>(rng() % 12);
      const bool had = std::find(values.begin(), values.end(), from) != values.end();
      ASSERT_EQ(median.Replace(from, to), had) << "step " << step;
      if (had) *std::find(values.begin(), values.end(), from) = to;
    }
    ASSERT_EQ(median.size(), values.size());
    if (values.empty()) {
      ASSERT_TRUE(median.empty());
      continue;
    }
    std::vector<int64_t> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const int64_t expected = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    ASSERT_EQ(median.median(), expected) << "step " << step << " size " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, FinishIndexTest, ::testing::Values(1, 2, 3, 4, 5, 6));

}  // namespace
}  // namespace heteroaccel::scheduler
