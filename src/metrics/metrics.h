// Metrics: a small Prometheus client (text exposition format 0.0.4).
//
// A Registry owns metric families; each component receives the Registry by
// reference, declares its families once at construction and keeps the returned
// references (families live as long as the Registry). There is no global
// registry. A Family is one metric name with fixed label names; WithLabels()
// returns its child for one set of label values, creating it on first use.
//
// Thread safety: everything here may be used from any thread. The hot path
// (Counter::Increment, Gauge::Set/Add, Histogram::Observe) is a few relaxed
// atomic operations on a child that sits on its own cache line; no lock is
// taken. WithLabels() takes a reader lock on its family (a writer lock only
// when it creates a child), so request handlers should look a child up once and
// keep the reference. Render() runs the collect hooks, one Render at a time, and
// then reads every family under that family's reader lock.
//
// Naming rules enforced at registration: metric names match
// [a-zA-Z_:][a-zA-Z0-9_:]*, label names match [a-zA-Z_][a-zA-Z0-9_]* and do not
// start with "__", counter names end in "_total", histograms do not use the
// label "le" and take finite, strictly ascending bucket bounds. A registration
// that breaks a rule is not fatal: it records an error in
// Registry::registration_status() and returns a working family that is never
// rendered. Tests assert registration_status().ok().
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace heteroaccel::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Children are aligned to a cache line so that two children updated by
// different threads never share one.
inline constexpr std::size_t kCacheLineSize = 64;

// A monotonically increasing value.
class alignas(kCacheLineSize) Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `v`. Negative and NaN increments are ignored: a counter never goes down.
  void Increment(double v = 1.0) {
    if (!(v >= 0.0)) return;
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  // Replaces the value with a total kept elsewhere (e.g. the kernel's byte
  // counters). The source is expected to be monotonic apart from resets, which
  // Prometheus detects on its own.
  void SetTotal(double v) { value_.store(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that can go up and down.
class alignas(kCacheLineSize) Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets `v <= upper_bound`, plus an implicit +Inf
// bucket. Buckets are stored per bucket (not cumulative) so Observe touches one
// counter; the cumulative view is built when reading.
class alignas(kCacheLineSize) Histogram {
 public:
  struct Snapshot {
    std::vector<double> upper_bounds;         // finite, ascending; +Inf is implicit
    std::vector<uint64_t> cumulative_counts;  // upper_bounds.size() + 1 entries
    double sum = 0.0;
    uint64_t count = 0;  // == cumulative_counts.back()
  };

  // `upper_bounds` must be finite and strictly ascending (the Registry checks
  // this before constructing children).
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN lands in the +Inf bucket and makes the sum NaN, as in other clients.
  void Observe(double v) {
    const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v);
    const std::size_t i =
        std::isnan(v) ? upper_bounds_.size() : static_cast<std::size_t>(it - upper_bounds_.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }

  // The count is derived from the buckets, so `+Inf` always equals `count` even
  // while other threads observe; the sum may trail by in-flight observations.
  Snapshot Read() const;

 private:
  const std::vector<double> upper_bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // upper_bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// Returns `count` bounds start, start*factor, start*factor^2, ...; empty when
// start <= 0, factor <= 1 or count < 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

namespace internal {

enum class Kind { kCounter, kGauge, kHistogram };

// The part of a family that does not depend on the metric type.
class FamilyBase {
 public:
  FamilyBase(Kind kind, std::string name, std::string help, std::vector<std::string> label_names,
             std::vector<double> buckets);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& buckets() const { return buckets_; }

  // Appends HELP, TYPE and all samples; nothing when the family has no children.
  virtual void Render(std::string& out) const = 0;

 private:
  const Kind kind_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;  // histograms only
};

template <class M>
struct ChildRef {
  const std::vector<std::string>* label_values;
  const M* metric;
};

// Append HELP/TYPE and the samples of children (already sorted); in metrics.cc.
void AppendFamily(const FamilyBase& family, std::span<const ChildRef<Counter>> children,
                  std::string& out);
void AppendFamily(const FamilyBase& family, std::span<const ChildRef<Gauge>> children,
                  std::string& out);
void AppendFamily(const FamilyBase& family, std::span<const ChildRef<Histogram>> children,
                  std::string& out);

}  // namespace internal

// One metric name with fixed label names. Created by Registry; never destroyed
// before it.
template <class M>
class Family final : public internal::FamilyBase {
 public:
  using LabelValues = std::vector<std::string>;

  Family(internal::Kind kind, std::string name, std::string help, LabelValues label_names,
         std::vector<double> buckets)
      : FamilyBase(kind, std::move(name), std::move(help), std::move(label_names),
                   std::move(buckets)) {}

  // Returns the child for `values` (one per label name, in order), creating it
  // on first use. The reference stays valid until Remove() of the same values
  // or the Registry's destruction. A wrong number of values does not fail:
  // missing values are taken as "" and extra values are dropped.
  M& WithLabels(const LabelValues& values) ABSL_LOCKS_EXCLUDED(mu_) {
    if (values.size() == label_names().size()) {
      std::shared_lock lock(mu_);
      if (auto it = children_.find(values); it != children_.end()) return *it->second;
    }
    LabelValues key = values;
    key.resize(label_names().size());
    std::unique_lock lock(mu_);
    auto& child = children_[std::move(key)];
    if (child == nullptr) child = MakeChild();
    return *child;
  }

  // Destroys the child for `values` (normalised as in WithLabels), so it is no
  // longer exported. References to it must not be used afterwards.
  void Remove(const LabelValues& values) ABSL_LOCKS_EXCLUDED(mu_) {
    LabelValues key = values;
    key.resize(label_names().size());
    std::unique_lock lock(mu_);
    children_.erase(key);
  }

  void Render(std::string& out) const override ABSL_LOCKS_EXCLUDED(mu_) {
    std::shared_lock lock(mu_);
    if (children_.empty()) return;
    std::vector<internal::ChildRef<M>> sorted;
    sorted.reserve(children_.size());
    for (const auto& [values, child] : children_) sorted.push_back({&values, child.get()});
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return *a.label_values < *b.label_values; });
    internal::AppendFamily(*this, sorted, out);
  }

 private:
  std::unique_ptr<M> MakeChild() const {
    if constexpr (std::is_same_v<M, Histogram>) {
      return std::make_unique<Histogram>(buckets());
    } else {
      return std::make_unique<M>();
    }
  }

  // std::shared_mutex rather than absl::Mutex: the prebuilt Abseil is not
  // TSan-instrumented, so its mutex would hide this synchronisation from TSan.
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<LabelValues, std::unique_ptr<M>> children_ ABSL_GUARDED_BY(mu_);
};

// Owns families and renders them in registration order.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name again with the same type, label names (and buckets)
  // returns the existing family; any other clash is a registration error. A
  // family without labels gets its single child at once, so it is exported
  // (as 0) before the first update.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names);
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> label_names);
  // A trailing +Inf in `buckets` is accepted and dropped; +Inf is implicit.
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> buckets);

  // `hook` runs at the start of every Render(), never concurrently with another
  // hook of this registry; it may update metrics but must not call Render().
  void AddCollectHook(std::function<void()> hook) ABSL_LOCKS_EXCLUDED(mu_);

  // The exposition text, to be served with kContentType.
  std::string Render() const ABSL_LOCKS_EXCLUDED(render_mu_, mu_);

  // OK, or the first registration error (invalid or clashing name, bad buckets).
  absl::Status registration_status() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  template <class M>
  Family<M>& Add(internal::Kind kind, std::string name, std::string help,
                 std::vector<std::string> label_names, std::vector<double> buckets)
      ABSL_LOCKS_EXCLUDED(mu_);

  mutable std::mutex render_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<internal::FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  // Families whose registration failed: usable, never rendered.
  std::vector<std::unique_ptr<internal::FamilyBase>> rejected_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> hooks_ ABSL_GUARDED_BY(mu_);
  absl::Status registration_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace heteroaccel::metrics
