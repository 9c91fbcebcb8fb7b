#include "real_cluster.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "http/client.h"
#include "scheduler/types.h"
#include "testing/metrics_text.h"

namespace heteroaccel::testing {
namespace {

constexpr char kClusterToken[] = "real-cluster-token";
constexpr size_t kLogTailBytes = 3'000;

// A YAML flow map of type -> milliseconds.
std::string LatencyMap(const std::map<std::string, double>& latency_ms) {
  std::vector<std::string> entries;
  for (const auto& [type, ms] : latency_ms) entries.push_back(absl::StrCat(type, ": ", ms));
  return absl::StrCat("{", absl::StrJoin(entries, ", "), "}");
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// `frames` small PNGs (160x120), each a different pattern, so the cameras
// send distinct inputs and the agents' result caches fill after one each.
absl::Status WriteFrames(const std::string& dir, int frames) {
  std::filesystem::create_directories(dir);
  for (int i = 0; i < frames; ++i) {
    cv::Mat frame(120, 160, CV_8UC3, cv::Scalar(40 * i % 256, 90, 200 - 30 * i % 200));
    cv::circle(frame, {40 + 20 * i, 60}, 25, cv::Scalar(230, 200, 180), cv::FILLED);
    std::vector<uchar> png;
    if (!cv::imencode(".png", frame, png)) return absl::InternalError("cannot encode a frame");
    RETURN_IF_ERROR(WriteFile(absl::StrFormat("%s/frame-%02d.png", dir, i),
                              std::string(png.begin(), png.end())));
  }
  return absl::OkStatus();
}

std::string Tail(const std::string& text) {
  return text.size() <= kLogTailBytes ? text : text.substr(text.size() - kLogTailBytes);
}

// Every type some camera of the scenario asks for, sorted.
std::vector<std::string> ScenarioTypes(const sim::Scenario& scenario) {
  std::set<std::string> types;
  for (const sim::CameraSpec& camera : scenario.cameras) {
    for (const auto& [type, share] : camera.Shares()) types.insert(type);
  }
  for (const sim::NodeSpec& node : scenario.nodes) {
    for (const sim::DeviceSpec& device : node.devices) {
      for (const std::string& type : device.RunTypes()) types.insert(type);
    }
  }
  return {types.begin(), types.end()};
}

// Whether the server lists every node of `devices` up, with each of its
// devices serving some variant (and, for a node of `urls`, registered from
// that URL: a restarted agent, not the lost one).
bool AllServing(const nlohmann::json& cluster, const std::map<std::string, size_t>& devices,
                const std::map<std::string, std::string>& urls) {
  if (!cluster.is_object() || !cluster.contains("nodes") || !cluster["nodes"].is_array()) {
    return false;
  }
  size_t ready = 0;
  for (const nlohmann::json& node : cluster["nodes"]) {
    const auto expected = devices.find(node.value("node", ""));
    if (expected == devices.end() || !node.value("up", false)) continue;
    if (const auto url = urls.find(expected->first);
        url != urls.end() && node.value("url", "") != url->second) {
      continue;
    }
    size_t serving = 0;
    for (const nlohmann::json& d : node.value("devices", nlohmann::json::array())) {
      serving += d.value("variants", nlohmann::json::array()).empty() ? 0 : 1;
    }
    ready += serving == expected->second ? 1 : 0;
  }
  return ready == devices.size();
}

}  // namespace

std::string AgentConfigYaml(const sim::NodeSpec& node, const std::string& name) {
  std::string yaml = absl::StrCat("node: ", name, "\n");
  if (!node.group.empty()) absl::StrAppend(&yaml, "group: ", node.group, "\n");
  // The node's own CPU runs nothing: only the scenario's devices serve.
  absl::StrAppend(&yaml, "opencl: false\ncpu: {slots: 1, emulated: true, types: []}\ndevices:\n");
  for (const sim::DeviceSpec& d : node.devices) {
    absl::StrAppend(&yaml, "  - {id: ", d.name, ", kind: ", d.kind, ", slots: ", d.slots,
                    ", latency_ms: ", LatencyMap(d.latency_ms),
                    ", default_latency_ms: ", d.default_latency_ms, ", latency_sigma: ", d.sigma,
                    ", types: [", absl::StrJoin(d.RunTypes(), ", "), "], reuse_results: true}\n");
  }
  return yaml;
}

std::string ServerConfigYaml(const sim::Scenario& scenario) {
  return absl::StrCat("policy: ", std::string(scheduler::PolicyName(scenario.policy)),
                      "\nqueue_capacity: ", scenario.queue_capacity,
                      "\nmax_attempts: ", scenario.max_attempts, "\n");
}

absl::StatusOr<loadgen::BenchOptions> BenchOptionsFor(const sim::Scenario& scenario,
                                                      const std::string& target,
                                                      const std::string& images_dir) {
  if (scenario.cameras.empty()) {
    return absl::InvalidArgumentError("the scenario has no cameras to play");
  }
  RETURN_IF_ERROR(PlayedFaults(scenario).status());
  const sim::CameraSpec& camera = scenario.cameras.front();
  if (camera.mix.empty()) {
    return absl::InvalidArgumentError(
        "cameras[0].mix: `heteroaccel bench` cycles a list; weights cannot be played");
  }
  if (camera.Inflight() < 1) {
    return absl::InvalidArgumentError("cameras[0].inflight: `heteroaccel bench` needs at least 1");
  }
  // Entries that differ only in name, count and rate are one bench run whose
  // cameras have weights (bench --camera-weights): its streams are laid out
  // as the simulator's, camera after camera.
  int cameras = 0;
  double rate = 0;
  std::vector<double> weights;
  for (size_t i = 0; i < scenario.cameras.size(); ++i) {
    const sim::CameraSpec& c = scenario.cameras[i];
    if (c.mix != camera.mix || c.arrivals != camera.arrivals || c.on_ms != camera.on_ms ||
        c.off_ms != camera.off_ms || c.Inflight() != camera.Inflight() ||
        c.priority != camera.priority || c.deadline_ms != camera.deadline_ms) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cameras[", i, "]: `heteroaccel bench` plays cameras that differ only in name, count "
          "and rate (its mix, arrivals, inflight, priority and deadline are the first entry's)"));
    }
    cameras += c.count;
    rate += c.rate * c.count;
    weights.insert(weights.end(), c.count, c.rate);
  }
  loadgen::BenchOptions options;
  options.target = target;
  options.cameras = cameras;
  // The cameras send names, as the simulator's do (bench --camera-name), so
  // that the server shares its devices between them as the simulated one does.
  options.camera_name = camera.name;
  if (scenario.cameras.size() > 1) options.camera_weights = weights;
  options.inflight = camera.Inflight();
  options.rate = rate;
  options.mix = camera.mix;
  options.arrivals = camera.arrivals;
  if (camera.arrivals != sim::Arrivals::kPeriodic) {
    // The same seed draws the same gaps as the simulation's arrivals (0 would
    // be a fresh seed in bench).
    options.seed = scenario.seed == 0 ? 1 : scenario.seed;
    options.bursts = {camera.on_ms, camera.off_ms};
  }
  options.duration = scenario.duration;
  options.warmup = scenario.warmup;
  options.images_dir = images_dir;
  options.timeout = std::chrono::milliseconds(60'000);
  if (camera.priority != scheduler::kPriorityNormal) options.priority = camera.priority;
  if (camera.deadline_ms) options.deadline_ms = static_cast<int>(std::lround(*camera.deadline_ms));
  RETURN_IF_ERROR(loadgen::ValidateBenchOptions(options));
  return options;
}

absl::StatusOr<std::vector<PlayedFault>> PlayedFaults(const sim::Scenario& scenario) {
  std::vector<PlayedFault> out;
  for (size_t i = 0; i < scenario.faults.size(); ++i) {
    const sim::FaultSpec& f = scenario.faults[i];
    std::string node = f.node, device;
    if (!f.device.empty()) {
      const size_t slash = f.device.find('/');
      node = f.device.substr(0, slash);
      device = slash == std::string::npos ? "" : f.device.substr(slash + 1);
    }
    size_t agent = 0;
    bool found = false;
    for (const sim::NodeSpec& spec : scenario.nodes) {
      for (const std::string& name : spec.Names()) {
        if (name == node || spec.name == node) {
          out.push_back({i, f.at, agent, device, f.slowdown, f.down_for});
          found = true;
        }
        ++agent;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("faults[", i, "]: no node '", node, "' in the scenario"));
    }
  }
  // Applied in time order; a device's factors multiply, as in the simulation.
  std::stable_sort(out.begin(), out.end(),
                   [](const PlayedFault& x, const PlayedFault& y) { return x.at < y.at; });
  return out;
}

absl::StatusOr<std::unique_ptr<RealCluster>> RealCluster::Start(const sim::Scenario& scenario,
                                                                const RealClusterOptions& options) {
  RETURN_IF_ERROR(PlayedFaults(scenario).status());
  if (scenario.nodes.empty()) return absl::InvalidArgumentError("the scenario has no nodes");
  std::unique_ptr<RealCluster> cluster(new RealCluster());
  cluster->options_ = options;
  if (cluster->options_.binary.empty()) cluster->options_.binary = HeteroaccelBinary();
  if (cluster->options_.models_dir.empty()) cluster->options_.models_dir = ModelsDir();
  cluster->nodes_ = scenario.nodes;
  std::string dir_template = (std::filesystem::temp_directory_path() / "heteroaccel_real_XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return absl::InternalError("cannot create a temporary folder");
  }
  cluster->dir_ = dir_template;
  cluster->images_dir_ = cluster->dir_ + "/frames";
  RETURN_IF_ERROR(WriteFrames(cluster->images_dir_, std::max(1, options.frames)));
  RETURN_IF_ERROR(cluster->Launch(scenario));
  return cluster;
}

absl::Status RealCluster::Launch(const sim::Scenario& scenario) {
  const std::string server_config = dir_ + "/server.yaml";
  RETURN_IF_ERROR(WriteFile(server_config, ServerConfigYaml(scenario)));
  ASSIGN_OR_RETURN(server_, Subprocess::Start({options_.binary, "server", "--listen",
                                               "127.0.0.1:0", "--config", server_config,
                                               "--cluster-token", kClusterToken}));
  server_url_ = WaitForListeningUrl(*server_, options_.start_timeout);
  if (server_url_.empty()) {
    return absl::UnavailableError(absl::StrCat("the server did not start: ", Logs()));
  }
  const std::vector<std::string> types = ScenarioTypes(scenario);
  std::map<std::string, size_t> expected;  // node name -> devices that must serve
  for (const sim::NodeSpec& node : scenario.nodes) {
    for (const std::string& name : node.Names()) {
      const std::string config = absl::StrCat(dir_, "/agent-", name, ".yaml");
      RETURN_IF_ERROR(WriteFile(config, AgentConfigYaml(node, name)));
      std::vector<std::string> argv = {options_.binary, "agent",          "--listen",
                                       "127.0.0.1:0",   "--models-dir",   options_.models_dir,
                                       "--config",      config,           "--server",
                                       server_url_,     "--cluster-token", kClusterToken,
                                       "--no-opencl",   "--no-warm-up",   "--models"};
      argv.insert(argv.end(), types.begin(), types.end());
      agent_argv_.push_back(std::move(argv));
      agent_names_.push_back(name);
      agent_devices_.push_back(node.devices.size());
      agents_.emplace_back();
      agent_urls_.emplace_back();
      expected[name] = node.devices.size();
    }
  }
  for (size_t i = 0; i < agents_.size(); ++i) {
    ASSIGN_OR_RETURN(agents_[i], Subprocess::Start(agent_argv_[i]));
  }
  for (size_t i = 0; i < agents_.size(); ++i) {
    agent_urls_[i] = WaitForListeningUrl(*agents_[i], options_.start_timeout);
    if (agent_urls_[i].empty()) {
      return absl::UnavailableError(absl::StrCat("an agent did not start: ", Logs()));
    }
  }
  return WaitServing(expected);
}

absl::Status RealCluster::StartAgent(size_t i) {
  ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> agent, Subprocess::Start(agent_argv_[i]));
  const std::string url = WaitForListeningUrl(*agent, options_.start_timeout);
  if (url.empty()) {
    return absl::UnavailableError(
        absl::StrCat("agent ", agent_names_[i], " did not start again: ", Tail(agent->Output())));
  }
  std::lock_guard<std::mutex> lock(mu_);
  agents_[i] = std::move(agent);
  agent_urls_[i] = url;
  return absl::OkStatus();
}

absl::Status RealCluster::WaitServing(const std::map<std::string, size_t>& devices,
                                      const std::map<std::string, std::string>& urls) {
  ASSIGN_OR_RETURN(std::unique_ptr<http::Client> http, http::Client::Create(server_url_));
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  while (true) {
    auto response = http->Get("/v1/cluster");
    if (response.ok() && response->status == 200 &&
        AllServing(nlohmann::json::parse(response->body, nullptr, false), devices, urls)) {
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          "not every node was serving after ", options_.start_timeout.count(), " ms: ",
          response.ok() ? response->body : response.status().ToString(), "\n", Logs()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

RealCluster::~RealCluster() {
  for (auto& agent : agents_) agent.reset();
  server_.reset();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::StatusOr<loadgen::BenchReport> RealCluster::Run(const sim::Scenario& scenario) {
  if (scenario.nodes != nodes_) {
    return absl::InvalidArgumentError(
        "nodes: the scenario's nodes differ from those the cluster was started with");
  }
  ASSIGN_OR_RETURN(loadgen::BenchOptions options,
                   BenchOptionsFor(scenario, server_url_, images_dir_));
  options.protocol = options_.protocol;
  ASSIGN_OR_RETURN(const std::vector<PlayedFault> faults, PlayedFaults(scenario));
  fault_timings_.clear();
  hold_lateness_.clear();
  // The holds of the measured window, from the end of the bench's warm-up (in
  // which each agent computes every frame once, before it reuses the results).
  absl::StatusOr<std::map<std::string, HoldLateness>> before = absl::UnknownError("not read");
  std::thread at_warmup([&, urls = agent_urls_] {
    std::this_thread::sleep_for(scenario.warmup);
    before = ScrapeLateness(urls);
  });
  absl::StatusOr<loadgen::BenchReport> report = Play(options, faults);
  at_warmup.join();
  if (!report.ok()) return report.status();
  RETURN_IF_ERROR(before.status());
  ASSIGN_OR_RETURN(const auto after, ScrapeLateness(agent_urls_));
  // An agent started again (a node loss) counts from its start, in the run.
  std::set<std::string> restarted;
  for (const PlayedFault& f : faults) {
    if (f.device.empty()) restarted.insert(absl::StrCat(agent_names_[f.agent], "/"));
  }
  for (auto [device, late] : after) {
    const bool counted_from_start =
        restarted.contains(device.substr(0, device.find('/') + 1));
    if (const auto was = before->find(device); was != before->end() && !counted_from_start) {
      late.holds -= was->second.holds;
      late.late_ms -= was->second.late_ms;
      late.lost_ms -= was->second.lost_ms;
    }
    if (late.holds > 0) hold_lateness_[device] = late;
  }
  return report;
}

absl::StatusOr<std::map<std::string, RealCluster::HoldLateness>> RealCluster::ScrapeLateness(
    const std::vector<std::string>& urls) const {
  constexpr absl::string_view kLateness = "heteroaccel_emulated_hold_lateness_seconds";
  constexpr absl::string_view kLost = "heteroaccel_emulated_hold_lost_seconds_total";
  std::map<std::string, HoldLateness> out;
  size_t i = 0;  // the agents were started in the nodes' order (Launch)
  for (const sim::NodeSpec& node : nodes_) {
    for (const std::string& name : node.Names()) {
      const std::string& url = urls[i++];
      ASSIGN_OR_RETURN(std::unique_ptr<http::Client> http, http::Client::Create(url));
      ASSIGN_OR_RETURN(http::ClientResponse response, http->Get("/metrics"));
      if (response.status != 200) {
        return absl::InternalError(
            absl::StrCat("GET ", url, "/metrics answered ", response.status, ": ", response.body));
      }
      for (const sim::DeviceSpec& device : node.devices) {
        const std::string labels = absl::StrCat("{device=\"", device.name, "\"}");
        HoldLateness& late = out[absl::StrCat(name, "/", device.name)];
        late.holds =
            MetricValue(response.body, absl::StrCat(kLateness, "_count", labels)).value_or(0);
        late.late_ms =
            1e3 * MetricValue(response.body, absl::StrCat(kLateness, "_sum", labels)).value_or(0);
        late.lost_ms = 1e3 * MetricValue(response.body, absl::StrCat(kLost, labels)).value_or(0);
      }
    }
  }
  return out;
}

absl::StatusOr<loadgen::BenchReport> RealCluster::Play(const loadgen::BenchOptions& options,
                                                      const std::vector<PlayedFault>& faults) {
  if (faults.empty()) return loadgen::RunBench(options);
  // The faults are timed from (about) the bench's start: it only checks that
  // the server is ready before its cameras start.
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = false;
    fault_status_ = absl::OkStatus();
  }
  // The bench runs on its own thread and the faults on this one: an agent
  // started again must outlive the thread that starts it (testing::Subprocess).
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<loadgen::BenchReport> report = absl::UnknownError("the bench did not run");
  std::thread bench([&] {
    report = loadgen::RunBench(options);
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    stop_.notify_all();
  });
  PlayFaults(faults, start);
  bench.join();
  // Whole again for a later Run: every agent up, every device at its profile.
  std::map<std::string, size_t> restarted;
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (agents_[i] != nullptr) continue;
    absl::Status status = StartAgent(i);
    if (!status.ok()) return status;
    restarted[agent_names_[i]] = agent_devices_[i];
  }
  if (!restarted.empty()) RETURN_IF_ERROR(WaitServing(restarted));
  for (const PlayedFault& f : faults) {
    if (f.device.empty()) continue;
    absl::Status status = SetSlowdown(agent_urls_[f.agent], f.device, 1.0);
    if (fault_status_.ok() && !status.ok()) fault_status_ = std::move(status);
  }
  if (!fault_status_.ok()) return fault_status_;
  return report;
}

void RealCluster::PlayFaults(const std::vector<PlayedFault>& faults,
                             std::chrono::steady_clock::time_point start) {
  // Node losses come back after down_for: their returns join the timeline.
  struct Step {
    std::chrono::milliseconds at;
    const PlayedFault* fault;
    bool back;
  };
  std::vector<Step> steps;
  for (const PlayedFault& f : faults) {
    steps.push_back({f.at, &f, false});
    if (f.device.empty() && f.down_for) steps.push_back({f.at + *f.down_for, &f, true});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& x, const Step& y) { return x.at < y.at; });
  const auto since_start = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  const auto fail = [&](absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fault_status_.ok()) fault_status_ = std::move(status);
  };
  std::map<std::pair<size_t, std::string>, double> factors;  // a device's factors multiply
  for (const Step& step : steps) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_.wait_until(lock, start + step.at, [&] { return done_; })) return;
    }
    const PlayedFault& f = *step.fault;
    if (!f.device.empty()) {
      double& factor = factors.try_emplace({f.agent, f.device}, 1.0).first->second;
      factor *= f.slowdown;
      std::string url;
      {
        std::lock_guard<std::mutex> lock(mu_);
        url = agent_urls_[f.agent];
      }
      if (absl::Status status = SetSlowdown(url, f.device, factor); !status.ok()) fail(status);
      continue;
    }
    if (!step.back) {
      std::unique_ptr<Subprocess> killed;
      {
        std::lock_guard<std::mutex> lock(mu_);
        killed = std::move(agents_[f.agent]);
      }
      if (killed != nullptr) killed->Stop(SIGKILL, std::chrono::seconds(10));
      std::lock_guard<std::mutex> lock(mu_);
      fault_timings_.push_back({f.fault, since_start(), std::nullopt});
      continue;
    }
    if (absl::Status status = StartAgent(f.agent); !status.ok()) {
      fail(status);
      continue;
    }
    std::string url;
    {
      std::lock_guard<std::mutex> lock(mu_);
      url = agent_urls_[f.agent];
    }
    if (absl::Status status = WaitServing({{agent_names_[f.agent], agent_devices_[f.agent]}},
                                          {{agent_names_[f.agent], url}});
        !status.ok()) {
      fail(status);
      continue;
    }
    const double back = since_start();
    std::lock_guard<std::mutex> lock(mu_);
    for (FaultTiming& t : fault_timings_) {
      if (t.fault == f.fault && !t.back_ms) t.back_ms = back;
    }
  }
}

absl::Status RealCluster::SetSlowdown(const std::string& agent_url, const std::string& device,
                                      double factor) {
  ASSIGN_OR_RETURN(std::unique_ptr<http::Client> http, http::Client::Create(agent_url));
  const nlohmann::json body = {{"device", device}, {"slowdown", factor}};
  auto response = http->Post("/v1/fleet/emulation", "application/json", body.dump(),
                             {{"Authorization", absl::StrCat("Bearer ", kClusterToken)}});
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::InternalError(absl::StrCat("POST ", agent_url, "/v1/fleet/emulation answered ",
                                            response->status, ": ", response->body));
  }
  return absl::OkStatus();
}

std::string RealCluster::Logs() const {
  std::string out;
  if (server_) absl::StrAppend(&out, "--- server\n", Tail(server_->Output()), "\n");
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (agents_[i] == nullptr) continue;  // lost (a fault)
    absl::StrAppend(&out, "--- agent ", i, "\n", Tail(agents_[i]->Output()), "\n");
  }
  return out;
}

absl::StatusOr<Overheads> MeasureOverheads(const std::vector<std::string>& types,
                                           const OverheadOptions& options) {
  if (types.empty()) return absl::InvalidArgumentError("types: measure at least one type");
  // One node whose one device (`name`) takes `ms` for every type, no spread.
  auto one_device = [&](const std::string& name, double ms) {
    sim::Scenario scenario;
    scenario.name = "overheads";
    sim::NodeSpec node;
    node.name = "overheads";
    sim::DeviceSpec device;
    device.name = name;
    device.kind = "gpu";
    for (const std::string& type : types) device.latency_ms[type] = ms;
    device.default_latency_ms = ms;
    node.devices.push_back(device);
    scenario.nodes.push_back(node);
    return scenario;
  };
  loadgen::BenchOptions bench;
  bench.cameras = 1;
  bench.mix = types;
  bench.duration = options.duration;
  bench.warmup = options.duration / 4;
  bench.protocol = options.cluster.protocol;
  auto run = [](loadgen::BenchOptions b,
                const std::string& target) -> absl::StatusOr<loadgen::BenchReport> {
    b.target = target;
    ASSIGN_OR_RETURN(loadgen::BenchReport report, loadgen::RunBench(b));
    if (report.succeeded == 0 || report.errors > 0) {
      return absl::InternalError(absl::StrCat("the overhead run against ", target, " failed:\n",
                                              loadgen::FormatTable(report)));
    }
    return report;
  };
  Overheads overheads;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<RealCluster> cluster,
                     RealCluster::Start(one_device("zero0", 0), options.cluster));
    bench.images_dir = cluster->images_dir();
    ASSIGN_OR_RETURN(loadgen::BenchReport direct, run(bench, cluster->agent_urls().front()));
    overheads.agent_round_trip_ms = direct.latency.p50;
    ASSIGN_OR_RETURN(loadgen::BenchReport through, run(bench, cluster->server_url()));
    overheads.server_round_trip_ms = through.latency.p50;
    loadgen::BenchOptions open_loop = bench;
    open_loop.cameras = options.cameras;
    open_loop.inflight = options.inflight;
    open_loop.arrivals = options.arrivals;
    open_loop.bursts = options.bursts;
    open_loop.seed = 1;
    for (const double rate : options.rates) {
      open_loop.rate = rate;
      ASSIGN_OR_RETURN(loadgen::BenchReport at_rate, run(open_loop, cluster->server_url()));
      overheads.server_round_trip_at_ms[rate] = at_rate.latency.p50;
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RealCluster> cluster,
                   RealCluster::Start(one_device("hold0", Overheads::kHoldMs), options.cluster));
  bench.images_dir = cluster->images_dir();
  bench.cameras = OverheadOptions::kHoldClients;  // the device's queue is never empty
  ASSIGN_OR_RETURN(loadgen::BenchReport held, run(bench, cluster->agent_urls().front()));
  for (const auto& [key, device] : held.per_device) {
    if (device.device == "hold0") overheads.hold_compute_ms = device.mean_compute_ms;
  }
  if (held.throughput_rps > 0) overheads.hold_occupancy_ms = 1e3 / held.throughput_rps;
  if (overheads.hold_compute_ms <= 0 || overheads.hold_occupancy_ms <= 0) {
    return absl::InternalError(absl::StrCat("the hold run reported no compute time:\n",
                                            loadgen::FormatTable(held)));
  }
  return overheads;
}

}  // namespace heteroaccel::testing
