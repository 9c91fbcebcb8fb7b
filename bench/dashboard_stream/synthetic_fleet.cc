#include "synthetic_fleet.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace heteroaccel::bench {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

const cluster::VariantKey kFaceFront{"face", "blazeface-front-128"};
const cluster::VariantKey kFaceBack{"face", "blazeface-back-256"};
const cluster::VariantKey kObject{"object", "ssd-mobilenetv2-oidv4"};

// Mean service times by kind, in the range of the model_latency table
// (BENCHMARKS.md) for the CPU and scaled for the others; each device gets its
// own factor around them.
struct KindProfile {
  std::string_view label;
  int slots;
  double face_front_ms, face_back_ms, object_ms;  // 0: not loaded on this kind
};

KindProfile Profile(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kCpu:
      return {"CPU", 2, 2.9, 15.5, 31.7};
    case DeviceKind::kGpu:
      return {"GPU", 4, 1.1, 3.2, 7.4};
    case DeviceKind::kNpu:
      return {"NPU", 1, 3.6, 0, 22.0};
    case DeviceKind::kFpga:
      return {"FPGA", 2, 6.5, 0, 0};
    case DeviceKind::kOther:
      break;
  }
  return {"device", 1, 5.0, 0, 40.0};
}

double Clamp(double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); }

// Keeps a random walk inside [lo, hi] by reflecting it at the bounds.
double Reflect(double v, double lo, double hi) {
  if (v < lo) v = lo + (lo - v);
  if (v > hi) v = hi - (v - hi);
  return Clamp(v, lo, hi);
}

double Round(double v, double step) { return std::round(v / step) * step; }

}  // namespace

std::string SyntheticFleet::NodeName(int node) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "synthetic-node-%03d", node);
  return buffer;
}

SyntheticFleet::SyntheticFleet(const FleetOptions& options) : options_(options) {
  nodes_.resize(static_cast<size_t>(std::max(0, options.nodes)));
  for (int i = 0; i < size(); ++i) {
    Node& n = nodes_[i];
    n.rng.seed(options.seed * 1'000'003 + static_cast<uint64_t>(i));
    n.name = NodeName(i);
    n.group = absl::StrCat("synthetic-line-", i % 4 + 1);
    std::map<DeviceKind, int> count;
    std::discrete_distribution<int> pick({4, 3, 2, 1});  // gpu, npu, fpga, cpu
    constexpr DeviceKind kOthers[] = {DeviceKind::kGpu, DeviceKind::kNpu, DeviceKind::kFpga,
                                      DeviceKind::kCpu};
    for (int d = 0; d < options.devices_per_node; ++d) {
      const DeviceKind kind = d == 0 ? DeviceKind::kCpu : kOthers[pick(n.rng)];
      n.devices.push_back(MakeDevice(kind, count[kind]++, n.rng));
    }
    n.memory_total = (n.rng() % 2 == 0 ? 8 : 16) * kGiB;
    n.memory_used_ratio = std::uniform_real_distribution<double>(0.25, 0.7)(n.rng);
    n.temperature = std::uniform_real_distribution<double>(38, 55)(n.rng);
  }
}

SyntheticFleet::Device SyntheticFleet::MakeDevice(DeviceKind kind, int index_of_kind,
                                                  std::mt19937_64& rng) {
  const KindProfile p = Profile(kind);
  Device d;
  d.report.id = absl::StrCat(std::string(KindName(kind)), index_of_kind);
  d.report.kind = kind;
  d.report.name = absl::StrCat("Synthetic ", std::string(p.label), " (synthetic)");
  d.report.emulated = true;
  d.report.slots = p.slots;
  d.report.warm = true;
  const double factor = std::uniform_real_distribution<double>(0.8, 1.25)(rng);
  const auto load = [&](const cluster::VariantKey& key, double ms) {
    if (ms <= 0) return;
    d.report.models.push_back(key);
    d.mean_service_ms[key] = ms * factor;
  };
  load(kFaceFront, p.face_front_ms);
  // Half the GPUs also carry the larger face model, as a site that tried it would.
  if (kind != DeviceKind::kGpu || rng() % 2 == 0) load(kFaceBack, p.face_back_ms);
  load(kObject, p.object_ms);
  d.utilisation = std::uniform_real_distribution<double>(0.05, 0.9)(rng);
  return d;
}

void SyntheticFleet::Advance(Device& device, double elapsed_s, std::mt19937_64& rng) {
  std::normal_distribution<double> unit(0, 1);
  // A random walk whose spread per second does not depend on the beat interval.
  device.utilisation =
      Reflect(device.utilisation + 0.09 * std::sqrt(elapsed_s) * unit(rng), 0.02, 0.97);
  cluster::DeviceReport& r = device.report;
  r.busy_seconds += device.utilisation * r.slots * elapsed_s;
  r.allocated = std::binomial_distribution<int>(r.slots, device.utilisation)(rng);
  r.queue_depth = device.utilisation > 0.7
                      ? std::poisson_distribution<int>(30 * (device.utilisation - 0.7))(rng)
                      : 0;
  for (const auto& [key, mean] : device.mean_service_ms) {
    r.service_ms[key] = Round(mean * (1 + 0.02 * unit(rng)), 0.001);
  }
}

cluster::NodeReport SyntheticFleet::Beat(int node, double now_s, bool with_model_info) {
  Node& n = nodes_[node];
  const double elapsed = n.last_beat_s < 0 ? 0 : std::max(0.0, now_s - n.last_beat_s);
  n.last_beat_s = now_s;
  std::normal_distribution<double> unit(0, 1);
  double mean_utilisation = 0;
  cluster::NodeReport report;
  report.node = n.name;
  report.url = options_.url;
  report.ready = true;
  report.group = n.group;
  for (Device& d : n.devices) {
    Advance(d, elapsed, n.rng);
    mean_utilisation += d.utilisation / static_cast<double>(n.devices.size());
    report.devices.push_back(d.report);
  }
  n.memory_used_ratio =
      Reflect(n.memory_used_ratio + 0.02 * std::sqrt(elapsed) * unit(n.rng), 0.15, 0.9);
  // The hottest sensor follows the load with a ~10 s lag.
  const double target_temperature = 35 + 45 * mean_utilisation;
  n.temperature += (target_temperature - n.temperature) * (1 - std::exp(-elapsed / 10.0));
  report.stats.cpu_utilisation =
      Round(Clamp(0.05 + 0.5 * mean_utilisation + 0.03 * unit(n.rng), 0, 1), 0.001);
  report.stats.memory_total_bytes = n.memory_total;
  report.stats.memory_available_bytes = Round(n.memory_total * (1 - n.memory_used_ratio), 4096.0);
  report.stats.temperature_celsius = Round(n.temperature + 0.3 * unit(n.rng), 0.1);
  if (with_model_info) report.model_info = SyntheticModelInfo();
  return report;
}

std::map<std::string, cluster::TypeInfo> SyntheticModelInfo() {
  std::map<std::string, cluster::TypeInfo> info;
  cluster::TypeInfo& face = info["face"];
  face.labels = {"face"};
  face.keypoint_names = {"right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear"};
  face.variants["blazeface-front-128"] = {"synthetic: short-range face detector", "fp32",
                                          "synthetic", true};
  face.variants["blazeface-back-256"] = {"synthetic: full-range face detector", "fp32", "synthetic",
                                         true};
  cluster::TypeInfo& object = info["object"];
  object.labels = {"Person", "Car", "Bicycle", "Bus", "Truck", "Dog", "Cat"};
  object.variants["ssd-mobilenetv2-oidv4"] = {"synthetic: SSD MobileNetV2 object detector", "fp32",
                                              "synthetic", true};
  return info;
}

}  // namespace heteroaccel::bench
