#include "metrics/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "metrics/internal/text_format.h"

namespace heteroaccel::metrics {
namespace {

using internal::Kind;

std::string_view TypeName(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendHeader(const internal::FamilyBase& family, std::string& out) {
  out += "# HELP ";
  out += family.name();
  out += ' ';
  internal::AppendEscapedHelp(family.help(), out);
  out += "\n# TYPE ";
  out += family.name();
  out += ' ';
  out += TypeName(family.kind());
  out += '\n';
}

// Appends `name{labels[,le="..."]} value\n`. `le` is null except for buckets.
void AppendSample(std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, const double* le, double value,
                  std::string& out) {
  out += name;
  out += suffix;
  if (!label_names.empty() || le != nullptr) {
    out += '{';
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) out += ',';
      out += label_names[i];
      out += "=\"";
      internal::AppendEscapedLabelValue(label_values[i], out);
      out += '"';
    }
    if (le != nullptr) {
      if (!label_names.empty()) out += ',';
      out += "le=\"";
      internal::AppendDouble(*le, out);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  internal::AppendDouble(value, out);
  out += '\n';
}

template <class M>
void AppendScalarFamily(const internal::FamilyBase& family,
                        std::span<const internal::ChildRef<M>> children, std::string& out) {
  AppendHeader(family, out);
  for (const auto& child : children) {
    AppendSample(family.name(), "", family.label_names(), *child.label_values, nullptr,
                 child.metric->Value(), out);
  }
}

// Checks everything about a registration that does not depend on other families.
absl::Status ValidateRegistration(Kind kind, const std::string& name,
                                  const std::vector<std::string>& label_names,
                                  std::vector<double>& buckets) {
  if (!internal::IsValidMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name \"", name, "\""));
  }
  if (kind == Kind::kCounter && !name.ends_with("_total")) {
    return absl::InvalidArgumentError(absl::StrCat("counter \"", name, "\" must end in _total"));
  }
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!internal::IsValidLabelName(label) || (kind == Kind::kHistogram && label == "le")) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric \"", name, "\": invalid label name \"", label, "\""));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[j] == label) {
        return absl::InvalidArgumentError(
            absl::StrCat("metric \"", name, "\": duplicate label name \"", label, "\""));
      }
    }
  }
  if (!buckets.empty() && buckets.back() == INFINITY) buckets.pop_back();
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && !(buckets[i - 1] < buckets[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram \"", name, "\": buckets must be finite and strictly ascending, got [",
          absl::StrJoin(buckets, ", "), "]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1)) {}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  snapshot.cumulative_counts.resize(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> buckets;
  if (!(start > 0) || !(factor > 1) || count < 1) return buckets;
  buckets.reserve(static_cast<std::size_t>(count));
  double bound = start;
  for (int i = 0; i < count; ++i) {
    buckets.push_back(bound);
    bound *= factor;
  }
  return buckets;
}

namespace internal {

FamilyBase::FamilyBase(Kind kind, std::string name, std::string help,
                       std::vector<std::string> label_names, std::vector<double> buckets)
    : kind_(kind),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {}

void AppendFamily(const FamilyBase& family, std::span<const ChildRef<Counter>> children,
                  std::string& out) {
  AppendScalarFamily(family, children, out);
}

void AppendFamily(const FamilyBase& family, std::span<const ChildRef<Gauge>> children,
                  std::string& out) {
  AppendScalarFamily(family, children, out);
}

void AppendFamily(const FamilyBase& family, std::span<const ChildRef<Histogram>> children,
                  std::string& out) {
  AppendHeader(family, out);
  const std::string& name = family.name();
  const auto& label_names = family.label_names();
  for (const auto& child : children) {
    const Histogram::Snapshot s = child.metric->Read();
    for (std::size_t i = 0; i < s.cumulative_counts.size(); ++i) {
      const double le = i < s.upper_bounds.size() ? s.upper_bounds[i] : INFINITY;
      AppendSample(name, "_bucket", label_names, *child.label_values, &le,
                   static_cast<double>(s.cumulative_counts[i]), out);
    }
    AppendSample(name, "_sum", label_names, *child.label_values, nullptr, s.sum, out);
    AppendSample(name, "_count", label_names, *child.label_values, nullptr,
                 static_cast<double>(s.count), out);
  }
}

}  // namespace internal

template <class M>
Family<M>& Registry::Add(Kind kind, std::string name, std::string help,
                         std::vector<std::string> label_names, std::vector<double> buckets) {
  absl::Status status = ValidateRegistration(kind, name, label_names, buckets);
  const bool has_labels = !label_names.empty();
  std::unique_lock lock(mu_);
  for (const auto& existing : families_) {
    if (!status.ok() || existing->name() != name) continue;
    if (existing->kind() == kind && existing->label_names() == label_names &&
        existing->buckets() == buckets) {
      return static_cast<Family<M>&>(*existing);
    }
    status = absl::AlreadyExistsError(
        absl::StrCat("metric \"", name, "\" is already registered with another type or labels"));
  }
  auto family = std::make_unique<Family<M>>(kind, std::move(name), std::move(help),
                                            std::move(label_names), std::move(buckets));
  Family<M>& result = *family;
  if (!has_labels) result.WithLabels({});
  if (status.ok()) {
    families_.push_back(std::move(family));
  } else {
    if (registration_status_.ok()) registration_status_ = status;
    rejected_.push_back(std::move(family));
  }
  return result;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add<Counter>(Kind::kCounter, std::move(name), std::move(help), std::move(label_names), {});
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add<Gauge>(Kind::kGauge, std::move(name), std::move(help), std::move(label_names), {});
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> buckets) {
  return Add<Histogram>(Kind::kHistogram, std::move(name), std::move(help), std::move(label_names),
                        std::move(buckets));
}

void Registry::AddCollectHook(std::function<void()> hook) {
  std::unique_lock lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() const {
  std::lock_guard render_lock(render_mu_);
  std::vector<std::function<void()>> hooks;
  {
    std::shared_lock lock(mu_);
    hooks = hooks_;
  }
  // Hooks run without mu_ so they may register families or add hooks.
  for (const auto& hook : hooks) hook();
  std::string out;
  std::shared_lock lock(mu_);
  for (const auto& family : families_) family->Render(out);
  return out;
}

absl::Status Registry::registration_status() const {
  std::shared_lock lock(mu_);
  return registration_status_;
}

}  // namespace heteroaccel::metrics
