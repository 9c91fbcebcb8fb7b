// Randomised operation sequences (seeded, so reproducible) checked against a model:
// every accepted request leaves exactly once, assignments respect capacity, pins,
// device state and capabilities, and the introspection counters agree.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scheduler/scheduler.h"
#include "scheduler/testing/cluster.h"
#include "common/fake_clock.h"

namespace heteroaccel::scheduler {
namespace {

using std::chrono::milliseconds;
using ::heteroaccel::FakeClock;
using testing::MakeDevice;

constexpr int kPipelineDepth = 1;
const std::vector<std::string> kTypes = {"face", "pose", "text"};

// Six devices on three nodes; each runs a subset of the types at its own speed.
std::vector<DeviceInfo> Cluster() {
  return {
      MakeDevice("n1", "gpu0", "gpu", {{"face", milliseconds(2)}, {"pose", milliseconds(3)}}, 2),
      MakeDevice("n1", "cpu", "cpu",
                 {{"face", milliseconds(20)}, {"text", milliseconds(9)}, {"pose", milliseconds(0)}},
                 4),
      MakeDevice("n2", "npu0", "npu", {{"face", milliseconds(5)}}),
      MakeDevice("n2", "fpga0", "fpga", {{"pose", milliseconds(7)}, {"text", milliseconds(0)}}),
      MakeDevice("n3", "gpu0", "gpu", {{"face", milliseconds(0)}, {"text", milliseconds(4)}}),
      MakeDevice("n3", "cpu", "cpu", {{"text", milliseconds(11)}}, 2),
  };
}

enum class Where { kQueued, kInFlight };

struct ModelRequest {
  Request request;
  Where where = Where::kQueued;
  DeviceKey device;
};

class InvariantHarness {
 public:
  InvariantHarness(PolicyKind policy, uint64_t seed)
      : rng_(seed), scheduler_(MakeOptions(policy), clock_), cluster_(Cluster()) {
    for (const DeviceInfo& d : cluster_) {
      EXPECT_TRUE(scheduler_.UpsertDevice(d).ok());
      present_[d.key] = d;
    }
  }

  void Run(int steps) {
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) {
      Step();
      CheckCounters();
    }
    Drain();
  }

 private:
  static Options MakeOptions(PolicyKind policy) {
    Options options;
    options.policy = policy;
    options.queue_capacity = 40;
    options.pipeline_depth = kPipelineDepth;
    return options;
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(0, static_cast<int>(v.size()) - 1)];
  }

  void Step() {
    const int op = Uniform(0, 99);
    if (op < 35) {
      EnqueueOne();
    } else if (op < 55) {
      DispatchAll();
    } else if (op < 75) {
      CompleteOne();
    } else if (op < 80) {
      clock_.Advance(milliseconds(Uniform(0, 20)));
    } else if (op < 84) {
      Expire();
    } else if (op < 88) {
      CancelOne();
    } else if (op < 91) {
      Requeued(scheduler_.FailDevice(Pick(cluster_).key), [](const DeviceKey&) { return true; });
    } else if (op < 93) {
      const std::string node = Pick(cluster_).key.node;
      Requeued(scheduler_.FailNode(node), [&node](const DeviceKey& k) { return k.node == node; });
    } else if (op < 97) {
      scheduler_.SetNodeUp(Pick(cluster_).key.node, Uniform(0, 2) != 0);
    } else if (op < 99) {
      const DeviceKey key = Pick(cluster_).key;
      Requeued(scheduler_.RemoveDevice(key), [](const DeviceKey&) { return true; });
      present_.erase(key);
    } else {
      const DeviceInfo& info = Pick(cluster_);
      ASSERT_TRUE(scheduler_.UpsertDevice(info).ok());
      present_[info.key] = info;
    }
  }

  void EnqueueOne() {
    Request r;
    r.id = next_id_++;
    r.type = Uniform(0, 30) == 0 ? "unknown" : Pick(kTypes);
    r.priority = Uniform(0, 2);
    r.arrival = clock_.Now();
    if (Uniform(0, 3) == 0) r.deadline = clock_.Now() + milliseconds(Uniform(0, 60));
    const int pin = Uniform(0, 9);
    if (pin == 0) r.pinned_device = Pick(cluster_).key;
    if (pin == 1) r.pinned_kind = Pick(cluster_).kind;
    const absl::Status status = scheduler_.Enqueue(r);
    if (status.ok()) {
      live_[r.id].request = r;
      return;
    }
    // Every rejection must have its documented reason.
    switch (status.code()) {
      case absl::StatusCode::kNotFound:
        EXPECT_FALSE(AnyRuns(r.type)) << status;
        break;
      case absl::StatusCode::kInvalidArgument:
        EXPECT_TRUE(r.pinned_device || !r.pinned_kind.empty()) << status;
        break;
      case absl::StatusCode::kResourceExhausted:
        EXPECT_GE(scheduler_.queued(r.type), 40u) << status;  // re-queued may exceed it
        break;
      default:
        ADD_FAILURE() << status;
    }
  }

  bool AnyRuns(const std::string& type) const {
    for (const auto& [key, info] : present_) {
      if (info.variants.contains(type)) return true;
    }
    return false;
  }

  void DispatchAll() {
    for (const Assignment& a : scheduler_.Dispatch()) {
      auto it = live_.find(a.request_id);
      ASSERT_NE(it, live_.end()) << "assigned an unknown request " << a.request_id;
      ModelRequest& m = it->second;
      ASSERT_EQ(m.where, Where::kQueued) << "assigned twice: " << a.request_id;
      auto device = present_.find(a.device);
      ASSERT_NE(device, present_.end()) << "assigned to a removed device";
      EXPECT_TRUE(DeviceUp(a.device)) << a.device.ToString();
      ASSERT_TRUE(device->second.variants.contains(m.request.type));
      EXPECT_EQ(a.variant, device->second.variants.at(m.request.type));
      if (m.request.pinned_device) {
        EXPECT_EQ(*m.request.pinned_device, a.device);
      }
      if (!m.request.pinned_kind.empty()) {
        EXPECT_EQ(m.request.pinned_kind, device->second.kind);
      }
      if (m.request.deadline) {
        EXPECT_GT(*m.request.deadline, clock_.Now());
      }
      EXPECT_LE(scheduler_.in_flight(a.device), device->second.slots + kPipelineDepth);
      m.where = Where::kInFlight;
      m.device = a.device;
    }
  }

  bool DeviceUp(const DeviceKey& key) const {
    for (const DeviceInfo& d : scheduler_.devices()) {
      if (d.key == key) return d.up;
    }
    return false;
  }

  void CompleteOne() {
    std::vector<uint64_t> in_flight;
    for (const auto& [id, m] : live_) {
      if (m.where == Where::kInFlight) in_flight.push_back(id);
    }
    if (in_flight.empty()) {
      EXPECT_FALSE(scheduler_.Complete(next_id_ + 1000, milliseconds(1), true));
      return;
    }
    const uint64_t id = Pick(in_flight);
    EXPECT_TRUE(scheduler_.Complete(id, milliseconds(Uniform(1, 30)), Uniform(0, 9) != 0));
    Finish(id, "complete");
  }

  void Expire() {
    for (const Request& r : scheduler_.ExpireDeadlines()) {
      ASSERT_TRUE(r.deadline.has_value());
      ASSERT_TRUE(live_.contains(r.id));
      EXPECT_EQ(live_[r.id].where, Where::kQueued);
      Finish(r.id, "expire");
    }
  }

  void CancelOne() {
    if (live_.empty()) return;
    auto it = live_.begin();
    std::advance(it, Uniform(0, static_cast<int>(live_.size()) - 1));
    const uint64_t id = it->first;
    const bool queued = it->second.where == Where::kQueued;
    std::optional<Request> cancelled = scheduler_.Cancel(id);
    EXPECT_EQ(cancelled.has_value(), queued);
    if (cancelled) {
      EXPECT_EQ(cancelled->id, id);
      Finish(id, "cancel");
    }
  }

  template <typename Matches>
  void Requeued(const std::vector<Request>& requests, Matches matches) {
    for (const Request& r : requests) {
      ASSERT_TRUE(live_.contains(r.id));
      ModelRequest& m = live_[r.id];
      EXPECT_EQ(m.where, Where::kInFlight) << r.id;
      EXPECT_TRUE(matches(m.device));
      EXPECT_EQ(r.retries, m.request.retries + 1);
      m.request.retries = r.retries;
      m.where = Where::kQueued;
    }
  }

  void Finish(uint64_t id, const char* how) {
    ASSERT_TRUE(live_.contains(id)) << how << " of unknown request " << id;
    EXPECT_TRUE(finished_.insert(id).second) << id << " left twice (" << how << ")";
    live_.erase(id);
  }

  void CheckCounters() {
    size_t queued = 0;
    std::map<DeviceKey, int> load;
    for (const auto& [id, m] : live_) {
      if (m.where == Where::kQueued) {
        ++queued;
      } else {
        ++load[m.device];
      }
    }
    ASSERT_EQ(scheduler_.queued_total(), queued);
    for (const DeviceInfo& d : cluster_) {
      ASSERT_EQ(scheduler_.in_flight(d.key), load[d.key]) << d.key.ToString();
    }
  }

  // Brings every device back and runs until nothing is left.
  void Drain() {
    for (const DeviceInfo& d : cluster_) {
      ASSERT_TRUE(scheduler_.UpsertDevice(d).ok());
      present_[d.key] = d;
    }
    for (int round = 0; round < 10000 && !live_.empty(); ++round) {
      DispatchAll();
      Expire();
      while (true) {
        std::vector<uint64_t> in_flight;
        for (const auto& [id, m] : live_) {
          if (m.where == Where::kInFlight) in_flight.push_back(id);
        }
        if (in_flight.empty()) break;
        for (uint64_t id : in_flight) {
          EXPECT_TRUE(scheduler_.Complete(id, milliseconds(5), true));
          Finish(id, "drain");
        }
      }
      clock_.Advance(milliseconds(1));
      CheckCounters();
    }
    EXPECT_TRUE(live_.empty()) << live_.size() << " requests never left";
    EXPECT_EQ(scheduler_.queued_total(), 0u);
    for (uint64_t id = 1; id < next_id_; ++id) {
      // Each id was either rejected at Enqueue or left exactly once (checked in Finish).
      EXPECT_FALSE(live_.contains(id));
    }
  }

  std::mt19937_64 rng_;
  FakeClock clock_;
  Scheduler scheduler_;
  std::vector<DeviceInfo> cluster_;
  std::map<DeviceKey, DeviceInfo> present_;
  std::map<uint64_t, ModelRequest> live_;
  std::set<uint64_t> finished_;
  uint64_t next_id_ = 1;
};

class SchedulerInvariantTest : public ::testing::TestWithParam<std::tuple<PolicyKind, uint64_t>> {};

TEST_P(SchedulerInvariantTest, EveryRequestLeavesExactlyOnce) {
  const auto [policy, seed] = GetParam();
  InvariantHarness harness(policy, seed);
  harness.Run(5000);
}

INSTANTIATE_TEST_SUITE_P(PoliciesAndSeeds, SchedulerInvariantTest,
                         ::testing::Combine(::testing::Values(PolicyKind::kStatic,
                                                              PolicyKind::kIdleFirst,
                                                              PolicyKind::kEarliestFinish),
                                            ::testing::Values(1u, 2u, 3u, 4u, 5u)),
                         [](const auto& param_info) {
                           std::string name(PolicyName(std::get<0>(param_info.param)));
                           std::erase(name, '-');
                           return absl::StrCat(name, "_seed", std::get<1>(param_info.param));
                         });

}  // namespace
}  // namespace heteroaccel::scheduler
