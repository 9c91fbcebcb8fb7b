// model_latency: every inference type x variant x compute target, measured in one
// run on the same machine.
//
// For each variant in the catalog and each target (CPU with 1 thread, CPU with 2
// threads, the OpenCL device), on that type's test image:
//   run_ms       median latency of Model::Run (pre-process, every forward pass,
//                post-process), the image already decoded;
//   forward_ms   median latency of Model::ForwardOnly (the same forward passes on
//                the same prepared inputs, nothing else);
//   overhead     run_ms / forward_ms - 1: what the framework adds to the raw
//                network (issue target: <= 10%);
//   rps          Run calls per second of one loop for --seconds (at least one call).
// Each configuration takes --runs interleaved Run/ForwardOnly pairs, or fewer
// (never under 3) when they would exceed --budget seconds: PoCL's OpenCL device
// is 10-35x slower than the CPU.
// On a machine with more than two cores the CPU is also measured with every core.
// With --devices it first prints what the node's probes (hwloc, OpenCL, NVML, PCI/USB)
// report, so a table is tied to the hardware it was measured on.
// Prints a Markdown table, or JSON with --json.
//
//   model_latency [--seconds S] [--runs N] [--budget S] [--types face,pose] [--no-opencl]
//                 [--devices] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "devices/probe.h"
#include "inference/catalog.h"
#include "inference/opencl_context.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The image each type is measured on (scikit-image test data).
std::string ImageFor(const std::string& type) {
  if (type == "text") return "page.png";
  if (type == "hand" || type == "gesture") return "hands/nocurl.jpg";  // fingerpose, MIT
  return "astronaut.png";
}

struct Options {
  double seconds = 2;
  int runs = 15;
  double budget = 10;
  bool opencl = true;
  bool json = false;
  bool devices = false;
  std::vector<std::string> types;
};

struct TargetConfig {
  std::string name;
  inference::Target target;
  int threads;
};

template <class F>
std::vector<double> Time(int runs, F f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    if (!f()) return {};
    ms.push_back(Ms(Clock::now() - t0));
  }
  return ms;
}

nlohmann::json Measure(const inference::ModelSpec& spec, const TargetConfig& config,
                       const cv::Mat& image, const Options& o) {
  nlohmann::json row = {{"type", spec.type}, {"variant", spec.variant}, {"target", config.name}};
  cv::setNumThreads(config.threads);
  auto model = spec.create({testing::ModelsDir(), config.target, -1});
  if (!model.ok()) {
    row["error"] = std::string(model.status().message());
    return row;
  }
  // Warm up (OpenCL compiles its kernels on the first runs).
  for (int i = 0; i < 2; ++i) {
    auto out = (*model)->Run(image);
    if (!out.ok()) {
      row["error"] = std::string(out.status().message());
      return row;
    }
    row["detections"] = out->detections.size();
  }
  // Interleave so both medians see the same machine state.
  std::vector<double> run_ms, forward_ms;
  const auto budget_end = Clock::now() + std::chrono::duration<double>(o.budget);
  for (int i = 0; i < o.runs && (i < 3 || Clock::now() < budget_end); ++i) {
    auto r = Time(1, [&] { return (*model)->Run(image).ok(); });
    auto f = Time(1, [&] { return (*model)->ForwardOnly().ok(); });
    if (r.empty() || f.empty()) {
      row["error"] = "a run failed while measuring";
      return row;
    }
    run_ms.push_back(r[0]);
    forward_ms.push_back(f[0]);
  }
  long count = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  while (count == 0 || Clock::now() < end) {
    if (!(*model)->Run(image).ok()) break;
    ++count;
  }
  const double run = Median(run_ms);
  const double forward = Median(forward_ms);
  row["run_ms"] = run;
  row["forward_ms"] = forward;
  row["overhead"] = forward > 0 ? run / forward - 1 : 0;
  row["runs"] = run_ms.size();
  row["rps"] =
      static_cast<double>(count) / std::chrono::duration<double>(Clock::now() - start).count();
  return row;
}

// What the node's probes report, one line per device, to stderr (the table stays on stdout).
void PrintDevices() {
  const devices::ProbeReport report = devices::ProbeAll({});
  for (const devices::Device& d : report.devices) {
    std::vector<std::string> attributes;
    for (const auto& [key, value] : d.attributes) attributes.push_back(key + "=" + value);
    std::fprintf(stderr, "device %s kind=%s name=\"%s\" vendor=\"%s\" source=%s state=%s%s%s %s\n",
                 d.id.c_str(), std::string(devices::KindName(d.kind)).c_str(), d.name.c_str(),
                 d.vendor.c_str(), d.source.c_str(), std::string(devices::StateName(d.state)).c_str(),
                 d.state_reason.empty() ? "" : " reason=", d.state_reason.c_str(),
                 absl::StrJoin(attributes, " ").c_str());
  }
  for (const std::string& w : report.warnings) std::fprintf(stderr, "probe warning: %s\n", w.c_str());
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--seconds")
      o.seconds = std::stod(next());
    else if (a == "--runs")
      o.runs = std::stoi(next());
    else if (a == "--budget")
      o.budget = std::stod(next());
    else if (a == "--types")
      o.types = absl::StrSplit(next(), ',');
    else if (a == "--no-opencl")
      o.opencl = false;
    else if (a == "--json")
      o.json = true;
    else if (a == "--devices")
      o.devices = true;
    else {
      std::fprintf(stderr,
                   "usage: model_latency [--seconds S] [--runs N] [--budget S] [--types a,b] "
                   "[--no-opencl] [--devices] [--json]\n");
      return 2;
    }
  }
  std::vector<TargetConfig> configs = {{"cpu-1t", inference::Target::kCpu, 1},
                                       {"cpu-2t", inference::Target::kCpu, 2}};
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (cores > 2) configs.push_back({"cpu-" + std::to_string(cores) + "t", inference::Target::kCpu, cores});
  if (o.devices) PrintDevices();
  std::string opencl_name;
  if (o.opencl) {
    auto info = inference::InitOpenCl("");
    if (info.ok()) {
      opencl_name = info->name;
      configs.push_back({"opencl", inference::Target::kOpenCl, 2});
    } else {
      std::fprintf(stderr, "no OpenCL device: %s\n", std::string(info.status().message()).c_str());
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const inference::ModelSpec& spec : inference::Catalog::BuiltIn().specs()) {
    if (!o.types.empty() && std::find(o.types.begin(), o.types.end(), spec.type) == o.types.end())
      continue;
    const std::string path = testing::ModelsDir() + "/images/" + ImageFor(spec.type);
    const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    if (image.empty()) {
      std::fprintf(stderr, "%s is missing; run `make setup`\n", path.c_str());
      return 1;
    }
    for (const TargetConfig& config : configs) {
      if (config.target == inference::Target::kOpenCl && !spec.opencl) continue;
      nlohmann::json row = Measure(spec, config, image, o);
      row["image"] = ImageFor(spec.type);
      if (!o.json) std::fprintf(stderr, "%s\n", row.dump().c_str());
      rows.push_back(std::move(row));
    }
  }
  if (o.json) {
    std::printf("%s\n",
                nlohmann::json{{"opencl_device", opencl_name}, {"rows", rows}}.dump(2).c_str());
    return 0;
  }
  std::printf("OpenCL device: %s\n\n", opencl_name.empty() ? "none" : opencl_name.c_str());
  std::printf(
      "| type | variant | target | image | run ms (median) | forward ms | overhead | req/s |\n");
  std::printf("|---|---|---|---|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    if (r.contains("error")) {
      std::printf("| %s | %s | %s | %s | error: %s | | | |\n", r["type"].get<std::string>().c_str(),
                  r["variant"].get<std::string>().c_str(), r["target"].get<std::string>().c_str(),
                  r["image"].get<std::string>().c_str(), r["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("| %s | %s | %s | %s | %.2f | %.2f | %+.1f%% | %.1f |\n",
                r["type"].get<std::string>().c_str(), r["variant"].get<std::string>().c_str(),
                r["target"].get<std::string>().c_str(), r["image"].get<std::string>().c_str(),
                r["run_ms"].get<double>(), r["forward_ms"].get<double>(),
                100 * r["overhead"].get<double>(), r["rps"].get<double>());
  }
  return 0;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) { return heteroaccel::Main(argc, argv); }
