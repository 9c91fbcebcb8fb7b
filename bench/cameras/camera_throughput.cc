// camera_throughput: how many cameras one node's server takes before frames are
// skipped (issue 13, "Throughput").
//
// For each N of --cameras (default 4,8,16,24,32), --runs times:
//   1. a real `heteroaccel server` (--state-dir and --cameras in a temp dir)
//      whose cameras file holds N cameras, all disabled at load;
//   2. a real `heteroaccel agent` whose devices are EMULATED: --gpus GPUs at
//      --gpu-ms for object detection and a CPU at --cpu-ms. An emulated device
//      computes the real result once per distinct input (on this machine's
//      CPU) and answers identical inputs from its result cache, no sooner than
//      its latency;
//   3. the cameras started through POST /v1/cameras/{id}/start, --stagger-ms
//      apart (so they are at different places of the file), each replaying
//      vtest.avi with `realtime: true, loop: true, fps: 10` through
//      detect (object, every: 2 -> 5 fps) -> filter (person) -> track ->
//      zone_intrusion + line_crossing -> sink;
//   4. after --warmup seconds, counters, /metrics (server and agent) and the
//      processes' CPU (/proc) are read, again after --seconds, with the
//      accounting checked every 2 s; then every camera is stopped and
//      captured == processed + skipped + pending + in_flight is checked
//      exactly for each (a mismatch fails the run).
// Reported per N: processed fps against the offered 10 N, skip rate by reason,
// the pipelines' own CPU per frame, the server's and agent's CPU, frame-to-event
// p50/p95 against the detector's p50 service time, device utilisation, and the
// largest N whose skip rate stays under 1 %.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "cameras/internal/graph.h"
#include "client/infer_client.h"
#include "http/client.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kFps = 10;
constexpr int kEvery = 2;
constexpr const char* kAdminToken = "camera-throughput-admin";
constexpr const char* kCountedReasons[] = {"rate_limit", "backpressure", "deadline",
                                           "inference_error"};
constexpr const char* kLoadReasons[] = {"backpressure", "deadline", "inference_error"};

struct Options {
  std::vector<int> cameras = {4, 8, 16, 24, 32};
  int runs = 1;
  double seconds = 30;
  double warmup = 5;
  double stagger_ms = 250;
  int gpus = 2;
  double gpu_ms = 15;
  double cpu_ms = 45;
  int prewarm_frames = 512;  // the agent's result cache holds 512 results
  bool json = false;
};

// ---- Prometheus text -------------------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
using Samples = std::vector<Sample>;

Samples ParseMetrics(const std::string& text) {
  Samples out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) continue;
    s.name = line.substr(0, pos);
    if (line[pos] == '{') {
      const size_t close = line.find('}', pos);
      if (close == std::string::npos) continue;
      for (absl::string_view pair :
           absl::StrSplit(absl::string_view(line).substr(pos + 1, close - pos - 1), ',')) {
        const size_t eq = pair.find('=');
        if (eq == absl::string_view::npos || pair.size() < eq + 3) continue;
        s.labels[std::string(pair.substr(0, eq))] =
            std::string(pair.substr(eq + 2, pair.size() - eq - 3));
      }
      pos = close + 1;
    }
    s.value = std::strtod(line.c_str() + pos, nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

bool Matches(const Sample& s, const std::string& name, const std::string& label,
             const std::string& value) {
  if (s.name != name) return false;
  if (label.empty()) return true;
  auto it = s.labels.find(label);
  return it != s.labels.end() && it->second == value;
}

double Sum(const Samples& m, const std::string& name, const std::string& label = "",
           const std::string& value = "") {
  double total = 0;
  for (const Sample& s : m) {
    if (Matches(s, name, label, value)) total += s.value;
  }
  return total;
}

// Sum of `name` grouped by the values of `by`.
std::map<std::string, double> SumBy(const Samples& m, const std::string& name,
                                    const std::string& by) {
  std::map<std::string, double> out;
  for (const Sample& s : m) {
    if (s.name != name) continue;
    auto it = s.labels.find(by);
    if (it != s.labels.end()) out[it->second] += s.value;
  }
  return out;
}

// Cumulative bucket counts of histogram `name` (summed over series), by `le`.
std::map<double, double> Buckets(const Samples& m, const std::string& name,
                                 const std::string& label = "", const std::string& value = "") {
  std::map<double, double> out;
  for (const Sample& s : m) {
    if (!Matches(s, name + "_bucket", label, value)) continue;
    auto le = s.labels.find("le");
    if (le == s.labels.end()) continue;
    const double bound = le->second == "+Inf" ? INFINITY : std::strtod(le->second.c_str(), nullptr);
    out[bound] += s.value;
  }
  return out;
}

std::map<double, double> Delta(const std::map<double, double>& after,
                               const std::map<double, double>& before) {
  std::map<double, double> out = after;
  for (const auto& [le, n] : before) out[le] -= n;
  return out;
}

// Like PromQL's histogram_quantile: linear within the bucket holding the rank.
// A rank in the +Inf bucket answers the largest finite bound. 0 when empty.
double Quantile(const std::map<double, double>& cumulative, double q) {
  if (cumulative.empty()) return 0;
  const double total = cumulative.rbegin()->second;
  if (total <= 0) return 0;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [le, n] : cumulative) {
    if (n >= rank) {
      if (std::isinf(le)) return lower;
      return n > below ? lower + (le - lower) * (rank - below) / (n - below) : le;
    }
    if (!std::isinf(le)) lower = le;
    below = n;
  }
  return lower;
}

double Count(const std::map<double, double>& cumulative) {
  return cumulative.empty() ? 0 : cumulative.rbegin()->second;
}

// ---- processes and the machine ---------------------------------------------

// CPU time so far of all of process `pid`'s threads, in seconds.
double ProcessCpuSeconds(int pid) {
  double total_ns = 0;
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "schedstat");
    double run_ns = 0;
    if (stat >> run_ns) total_ns += run_ns;
  }
  return total_ns / 1e9;
}

// CPU seconds of process `pid`'s threads grouped by thread name: a camera
// source's reader ("cam-<id>", where frames are decoded) as "cam-*", other
// names without their trailing digits ("http-io:3" -> "http-io:").
std::map<std::string, double> ThreadCpuByName(int pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "schedstat"), comm(task.path() / "comm");
    double run_ns = 0;
    std::string name;
    if (!(stat >> run_ns) || !std::getline(comm, name)) continue;
    if (name.rfind("cam-", 0) == 0) {
      name = "cam-*";
    } else {
      while (!name.empty() && std::isdigit(static_cast<unsigned char>(name.back())))
        name.pop_back();
    }
    out[name] += run_ns / 1e9;
  }
  return out;
}

// The 1-minute load average (other work on the machine during a run).
double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

// (busy, total) jiffies of the whole machine, from /proc/stat.
std::pair<double, double> MachineJiffies() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double busy = user + nice + system + irq + softirq + steal;
  return {busy, busy + idle + iowait};
}

struct Http {
  std::string url;
  std::string token;
  absl::StatusOr<http::ClientResponse> Send(const std::string& method, const std::string& path,
                                            const std::string& body = "") const {
    auto client = http::Client::Create(url, std::chrono::seconds(10));
    if (!client.ok()) return client.status();
    return (*client)->Send(method, path, body.empty() ? "" : "application/json", body,
                           {{"Authorization", "Bearer " + token}});
  }
  Json GetJson(const std::string& path) const {
    auto r = Send("GET", path);
    if (!r.ok() || r->status != 200) return Json();
    return Json::parse(r->body, nullptr, false);
  }
  Samples Metrics() const {
    auto r = Send("GET", "/metrics");
    return r.ok() && r->status == 200 ? ParseMetrics(r->body) : Samples();
  }
};

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// A number as YAML/JSON writes it: "15", "12.5".
std::string Num(double v) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", v);
  return out;
}

std::string CameraId(int i) {
  char id[16];
  std::snprintf(id, sizeof(id), "cam-%02d", i);
  return id;
}

// N cameras over vtest.avi (768x576): a zone over the middle of the plaza and a
// line across it. Disabled at load: the benchmark starts them once the agent
// serves the detector.
std::string CamerasYaml(int n, const std::string& video) {
  std::string yaml = "cameras:\n";
  for (int i = 0; i < n; ++i) {
    yaml += "  - id: " + CameraId(i) +
            "\n    enabled: false\n    source: {type: file, path: " + video +
            ", loop: true, realtime: true, fps: " + std::to_string(static_cast<int>(kFps)) +
            R"(}
    zones:
      - {name: plaza, polygon: [[180, 220], [600, 220], [600, 520], [180, 520]]}
    lines:
      - {name: mid, from: [0, 330], to: [768, 330]}
    pipeline:
      - {id: det, block: detect, input: source, type: object, deadline_ms: 1000, every: )" +
            std::to_string(kEvery) + R"(}
      - {id: people, block: filter, input: det, classes: [person], min_score: 0.4}
      - {id: trk, block: track, input: people, min_hits: 3, max_lost: 30, iou: 0.3}
      - {id: in-zone, block: zone_intrusion, input: trk, zone: plaza, classes: [person], inertia: 3}
      - {id: cross, block: line_crossing, input: trk, line: mid, classes: [person], hysteresis_px: 8}
      - {id: out, block: sink, input: [in-zone, cross]}
)";
  }
  return yaml;
}

std::string AgentYaml(const Options& o) {
  std::string yaml = "node: camera-node\nopencl: false\n";
  yaml += "cpu: {slots: 1, emulated: true, latency_ms: {object: " + Num(o.cpu_ms) +
          "}, reuse_results: true}\ndevices:\n";
  for (int g = 0; g < o.gpus; ++g) {
    yaml += "  - {id: gpu" + std::to_string(g) + ", kind: gpu, name: Emulated GPU " +
            std::to_string(g) + ", slots: 1, latency_ms: {object: " + Num(o.gpu_ms) +
            "}, reuse_results: true}\n";
  }
  return yaml;
}

// The first `frames` frames of `video`, decoded with FFmpeg and encoded like a
// camera's (the same JPEG bytes), each sent once to the agent for object
// detection on 3 connections, so that the emulated devices hold the real
// results before the cameras start and the run measures the server, not this
// machine running the detector. Returns the frames sent, -1 on a failure.
int Prewarm(const std::string& agent_url, const std::string& video, int frames) {
  cv::VideoCapture capture;
  if (frames <= 0 || !capture.open(video, cv::CAP_FFMPEG)) return frames <= 0 ? 0 : -1;
  std::vector<std::string> jpegs;
  cv::Mat bgr;
  while (static_cast<int>(jpegs.size()) < frames && capture.read(bgr) && !bgr.empty()) {
    jpegs.push_back(cameras::internal::EncodeJpeg(bgr, 85));
    bgr = cv::Mat();
  }
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      auto c = client::InferClient::Create(agent_url);
      if (!c.ok()) return void(++failed);
      for (size_t i = next++; i < jpegs.size(); i = next++) {
        if (!(*c)->Infer({"object", "", "", client::Protocol::kV2Binary}, jpegs[i]).ok()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed > 0 ? -1 : static_cast<int>(jpegs.size());
}

// ---- one run -----------------------------------------------------------------

struct Snapshot {
  Json cameras;  // GET /v1/cameras
  Samples server, agent;
  double server_cpu = 0, agent_cpu = 0;
  std::map<std::string, double> server_threads;
  std::pair<double, double> machine;
  Clock::time_point at;
};

Snapshot Take(const Http& server, const Http& agent, int server_pid, int agent_pid) {
  Snapshot s;
  s.at = Clock::now();
  s.server_cpu = ProcessCpuSeconds(server_pid);
  s.server_threads = ThreadCpuByName(server_pid);
  s.agent_cpu = ProcessCpuSeconds(agent_pid);
  s.machine = MachineJiffies();
  s.cameras = server.GetJson("/v1/cameras");
  s.server = server.Metrics();
  s.agent = agent.Metrics();
  return s;
}

struct Frames {
  double captured = 0, processed = 0, pending = 0, in_flight = 0;
  std::map<std::string, double> skipped;
};

std::map<std::string, Frames> FramesById(const Json& cameras) {
  std::map<std::string, Frames> out;
  if (!cameras.is_object() || !cameras.contains("cameras")) return out;
  for (const Json& c : cameras["cameras"]) {
    const Json& f = c["status"]["frames"];
    if (!f.is_object()) continue;
    Frames fr;
    fr.captured = f.value("captured", 0.0);
    fr.processed = f.value("processed", 0.0);
    fr.pending = f.value("pending", 0.0);
    fr.in_flight = f.value("in_flight", 0.0);
    if (f.contains("skipped") && f["skipped"].is_object()) {
      for (const auto& [reason, n] : f["skipped"].items()) fr.skipped[reason] = n.get<double>();
    }
    out[c.value("id", "")] = fr;
  }
  return out;
}

// captured - (processed + skipped + pending + in_flight); decode_error is not
// part of captured.
double Unaccounted(const Frames& f) {
  double accounted = f.processed + f.pending + f.in_flight;
  for (const auto& [reason, n] : f.skipped) {
    if (reason != "decode_error") accounted += n;
  }
  return f.captured - accounted;
}

Json Fail(const std::string& why) { return Json{{"error", why}}; }

Json RunOnce(const Options& o, int n, int run) {
  char tmpl[] = "/tmp/camera_throughput.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Fail("mkdtemp failed");
  const std::string dir = tmpl;
  const std::string video = testing::ModelsDir() + "/video/vtest.avi";
  if (!std::filesystem::exists(video)) return Fail(video + " missing (set HETEROACCEL_MODELS_DIR)");
  std::ofstream(dir + "/cameras.yaml") << CamerasYaml(n, video);
  std::ofstream(dir + "/agent.yaml") << AgentYaml(o);
  std::filesystem::create_directories(dir + "/state");
  const std::string binary = testing::HeteroaccelBinary();
  auto server_p = testing::Subprocess::Start({binary, "server", "--listen", "127.0.0.1:0",
                                              "--state-dir", dir + "/state", "--cameras",
                                              dir + "/cameras.yaml", "--admin-token", kAdminToken});
  if (!server_p.ok()) return Fail("server: " + server_p.status().ToString());
  auto& server_proc = **server_p;
  const Http server{testing::WaitForListeningUrl(server_proc), kAdminToken};
  if (server.url.empty()) return Fail("server did not start:\n" + server_proc.Output());
  auto agent_p = testing::Subprocess::Start(
      {binary, "agent", "--listen", "127.0.0.1:0", "--config", dir + "/agent.yaml", "--models",
       "object", "--models-dir", testing::ModelsDir(), "--server", server.url});
  if (!agent_p.ok()) return Fail("agent: " + agent_p.status().ToString());
  auto& agent_proc = **agent_p;
  const Http agent{testing::WaitForListeningUrl(agent_proc), ""};
  if (agent.url.empty() || !agent_proc.WaitForLine("ready", std::chrono::minutes(1)) ||
      !WaitFor(
          [&] {
            auto r = server.Send("GET", "/v2/models/object/ready");
            return r.ok() && r->status == 200;
          },
          std::chrono::seconds(30))) {
    return Fail("agent not serving object:\n" + agent_proc.Output() + server_proc.Output());
  }
  const auto prewarm_start = Clock::now();
  const int prewarmed = Prewarm(agent.url, video, o.prewarm_frames);
  if (prewarmed < 0) return Fail("prewarming the agent's result cache failed");
  const double prewarm_s = std::chrono::duration<double>(Clock::now() - prewarm_start).count();
  // Staggered starts.
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_until(t0 +
                                  std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double, std::milli>(o.stagger_ms * i)));
    auto r = server.Send("POST", "/v1/cameras/" + CameraId(i) + "/start");
    if (!r.ok() || r->status != 200) {
      return Fail("start " + CameraId(i) + ": " +
                  (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString()));
    }
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  const int spid = server_proc.pid(), apid = agent_proc.pid();
  const Snapshot a = Take(server, agent, spid, apid);
  // The accounting, live: the status reads the source's counters and the
  // pipeline's under two locks, so a frame moving between them may show as
  // off by the window (4) for one read; the exact check is after the stop.
  double live_gap = 0;
  const auto end =
      a.at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  while (Clock::now() + std::chrono::seconds(2) < end) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    for (const auto& [id, f] : FramesById(server.GetJson("/v1/cameras"))) {
      live_gap = std::max(live_gap, std::abs(Unaccounted(f)));
    }
  }
  std::this_thread::sleep_until(end);
  const Snapshot b = Take(server, agent, spid, apid);
  const double seconds = std::chrono::duration<double>(b.at - a.at).count();

  // Stop every camera, then the exact check.
  for (int i = 0; i < n; ++i) (void)server.Send("POST", "/v1/cameras/" + CameraId(i) + "/stop");
  std::map<std::string, Frames> final_frames;
  WaitFor(
      [&] {
        final_frames = FramesById(server.GetJson("/v1/cameras"));
        for (const auto& [id, f] : final_frames) {
          if (f.in_flight > 0 || f.pending > 0) return false;
        }
        return static_cast<int>(final_frames.size()) == n;
      },
      std::chrono::seconds(15));
  Json accounting = Json::object();
  std::string unaccounted;
  double max_frames_reached = 0;
  for (const auto& [id, f] : final_frames) {
    const double gap = Unaccounted(f);
    accounting[id] = {{"captured", f.captured}, {"processed", f.processed}, {"skipped", f.skipped},
                      {"pending", f.pending},   {"in_flight", f.in_flight}, {"unaccounted", gap}};
    if (gap != 0) unaccounted += " " + id + " (" + std::to_string(gap) + ")";
    max_frames_reached = std::max(max_frames_reached, f.captured);
  }
  if (static_cast<int>(final_frames.size()) != n)
    unaccounted += " (cameras missing from /v1/cameras)";

  // Deltas over the measured window.
  const auto fa = FramesById(a.cameras), fb = FramesById(b.cameras);
  double captured = 0, processed = 0, min_cam_fps = 1e9;
  std::map<std::string, double> skipped;
  for (const char* r : kCountedReasons) skipped[r] = 0;
  Json per_camera = Json::object();
  for (const auto& [id, after] : fb) {
    auto it = fa.find(id);
    const Frames before = it == fa.end() ? Frames{} : it->second;
    const double c = after.captured - before.captured, p = after.processed - before.processed;
    captured += c;
    processed += p;
    Json cam_skipped = Json::object();
    for (const auto& [reason, count] : after.skipped) {
      auto bi = before.skipped.find(reason);
      const double d = count - (bi == before.skipped.end() ? 0 : bi->second);
      skipped[reason] += d;
      if (d > 0) cam_skipped[reason] = d;
    }
    min_cam_fps = std::min(min_cam_fps, p / seconds);
    per_camera[id] = {{"captured", c}, {"processed", p}, {"skipped", cam_skipped}};
  }
  double skipped_all = 0, skipped_load = 0;
  Json skip_rate = Json::object();
  for (const auto& [reason, d] : skipped) {
    if (reason == "decode_error") continue;
    skipped_all += d;
    skip_rate[reason] = captured > 0 ? d / captured : 0;
  }
  for (const char* r : kLoadReasons) skipped_load += skipped[r];

  const double pipeline_cpu = Sum(b.server, "heteroaccel_camera_pipeline_cpu_seconds_total") -
                              Sum(a.server, "heteroaccel_camera_pipeline_cpu_seconds_total");
  const auto f2e = Delta(Buckets(b.server, "heteroaccel_camera_frame_to_event_seconds"),
                         Buckets(a.server, "heteroaccel_camera_frame_to_event_seconds"));
  const auto det = Delta(Buckets(b.server, "heteroaccel_camera_detection_seconds"),
                         Buckets(a.server, "heteroaccel_camera_detection_seconds"));
  const auto compute =
      Delta(Buckets(b.agent, "heteroaccel_inference_compute_seconds", "model", "object"),
            Buckets(a.agent, "heteroaccel_inference_compute_seconds", "model", "object"));
  const auto queue =
      Delta(Buckets(b.agent, "heteroaccel_inference_queue_seconds", "model", "object"),
            Buckets(a.agent, "heteroaccel_inference_queue_seconds", "model", "object"));
  Json devices = Json::object();
  {
    const auto busy_b = SumBy(b.agent, "heteroaccel_device_busy_seconds_total", "device");
    const auto busy_a = SumBy(a.agent, "heteroaccel_device_busy_seconds_total", "device");
    const auto inf_b = SumBy(b.agent, "heteroaccel_inferences_total", "device");
    const auto inf_a = SumBy(a.agent, "heteroaccel_inferences_total", "device");
    for (const auto& [dev, busy] : busy_b) {
      const double before = busy_a.count(dev) ? busy_a.at(dev) : 0;
      const double ib = inf_b.count(dev) ? inf_b.at(dev) : 0,
                   ia = inf_a.count(dev) ? inf_a.at(dev) : 0;
      devices[dev] = {{"utilisation", (busy - before) / seconds}, {"inferences", ib - ia}};
      // Answers later than the device's emulated latency (its histogram bucket):
      // the real detector's runs for inputs not in the result cache, and
      // answers late because the machine's CPU was busy.
      const double latency = (dev.rfind("gpu", 0) == 0 ? o.gpu_ms : o.cpu_ms) / 1e3;
      const auto hist =
          Delta(Buckets(b.agent, "heteroaccel_inference_compute_seconds", "device", dev),
                Buckets(a.agent, "heteroaccel_inference_compute_seconds", "device", dev));
      const auto bound = hist.lower_bound(latency);
      if (bound != hist.end()) {
        devices[dev]["answers_later_than_emulated"] = Count(hist) - bound->second;
      }
    }
  }
  Json threads = Json::object();
  for (const auto& [name, cpu] : b.server_threads) {
    auto it = a.server_threads.find(name);
    threads[name] = (cpu - (it == a.server_threads.end() ? 0 : it->second)) / seconds;
  }
  const double decode_cpu = threads.value("cam-*", 0.0) * seconds;
  const double server_cpu = b.server_cpu - a.server_cpu, agent_cpu = b.agent_cpu - a.agent_cpu;
  const double machine_busy = (b.machine.first - a.machine.first) /
                              std::max(1.0, b.machine.second - a.machine.second) *
                              static_cast<double>(std::thread::hardware_concurrency());
  const double compute_p50 = Quantile(compute, 0.5);
  const double f2e_p50 = Quantile(f2e, 0.5), f2e_p95 = Quantile(f2e, 0.95);
  const double detections_total = Count(Buckets(b.server, "heteroaccel_camera_detection_seconds"));

  Json out = {
      {"cameras", n},
      {"run", run},
      {"seconds", seconds},
      {"offered_fps", kFps * n},
      {"captured_fps", captured / seconds},
      {"processed_fps", processed / seconds},
      {"min_camera_processed_fps", fb.empty() ? 0 : min_cam_fps},
      {"captured", captured},
      {"processed", processed},
      {"skipped", skipped},
      {"skip_rate", captured > 0 ? skipped_all / captured : 0},
      {"load_skip_rate", captured > 0 ? skipped_load / captured : 0},
      {"skip_rate_by_reason", skip_rate},
      {"pipeline_cpu_ms_per_frame", processed > 0 ? pipeline_cpu * 1e3 / processed : 0},
      {"pipeline_cpu_cores", pipeline_cpu / seconds},
      // The sources' reader threads (decode of every frame of the file).
      {"decode_cpu_ms_per_captured_frame", captured > 0 ? decode_cpu * 1e3 / captured : 0},
      {"decode_cpu_cores", decode_cpu / seconds},
      {"server_threads_cpu_cores", threads},
      {"server_cpu_cores", server_cpu / seconds},
      {"server_cpu_ms_per_frame", processed > 0 ? server_cpu * 1e3 / processed : 0},
      {"agent_cpu_cores", agent_cpu / seconds},
      {"machine_busy_cores", machine_busy},
      {"load_average_at_end", LoadAverage()},
      {"events", Count(f2e)},
      {"frame_to_event_ms", {{"p50", f2e_p50 * 1e3}, {"p95", f2e_p95 * 1e3}}},
      {"detection_ms",
       {{"p50", Quantile(det, 0.5) * 1e3},
        {"p95", Quantile(det, 0.95) * 1e3},
        {"count", Count(det)}}},
      {"detector_service_ms",
       {{"p50", compute_p50 * 1e3},
        {"p95", Quantile(compute, 0.95) * 1e3},
        {"count", Count(compute)}}},
      {"agent_queue_ms",
       {{"p50", Quantile(queue, 0.5) * 1e3}, {"p95", Quantile(queue, 0.95) * 1e3}}},
      {"frame_to_event_p50_over_service_p50", compute_p50 > 0 ? f2e_p50 / compute_p50 : 0},
      {"frame_to_event_p95_over_service_p50", compute_p50 > 0 ? f2e_p95 / compute_p50 : 0},
      {"devices", devices},
      // An emulated device runs the real detector once per distinct input:
      // distinct inputs are at most the frames of the file the leading camera
      // reached (every camera replays the same file), against every detection
      // requested since the start.
      {"distinct_frames_reached", max_frames_reached},
      {"prewarmed_frames", prewarmed},
      {"prewarm_s", prewarm_s},
      {"detections_requested_since_start", detections_total},
      {"live_accounting_max_gap", live_gap},
      {"per_camera", per_camera},
      {"final_accounting", accounting},
  };
  if (!unaccounted.empty()) out["error"] = "frames unaccounted for after stop:" + unaccounted;
  agent_p->reset();
  server_p->reset();
  std::filesystem::remove_all(dir);
  return out;
}

// ---- summary -------------------------------------------------------------------

double At(const Json& j, const std::string& pointer) {
  const Json& v = j.at(Json::json_pointer(pointer));
  return v.is_number() ? v.get<double>() : 0;
}

Json MedianRange(const std::vector<Json>& runs, const std::string& pointer) {
  std::vector<double> v;
  for (const Json& r : runs) v.push_back(At(r, pointer));
  std::sort(v.begin(), v.end());
  return {{"median", v[v.size() / 2]}, {"min", v.front()}, {"max", v.back()}};
}

const char* kSummaryKeys[] = {"/processed_fps",
                              "/skip_rate",
                              "/load_skip_rate",
                              "/skip_rate_by_reason/rate_limit",
                              "/skip_rate_by_reason/backpressure",
                              "/skip_rate_by_reason/deadline",
                              "/skip_rate_by_reason/inference_error",
                              "/pipeline_cpu_ms_per_frame",
                              "/decode_cpu_ms_per_captured_frame",
                              "/server_cpu_cores",
                              "/server_cpu_ms_per_frame",
                              "/agent_cpu_cores",
                              "/machine_busy_cores",
                              "/events",
                              "/frame_to_event_ms/p50",
                              "/frame_to_event_ms/p95",
                              "/detection_ms/p50",
                              "/detector_service_ms/p50",
                              "/frame_to_event_p95_over_service_p50"};

// What limits a node at this load, from the measured run.
std::string Limit(const Json& s, const Options& o) {
  std::vector<std::string> why;
  double util = 0;
  for (const auto& [dev, d] : s["devices"].items())
    util = std::max(util, d["utilisation"].get<double>());
  const double cores = std::thread::hardware_concurrency();
  if (s["machine_busy_cores"].get<double>() >= 0.9 * cores) {
    why.push_back("machine CPU (" +
                  std::to_string(s["machine_busy_cores"].get<double>()).substr(0, 4) + " of " +
                  std::to_string(static_cast<int>(cores)) + " cores busy)");
  }
  if (util >= 0.9)
    why.push_back("detector (a device busy " + std::to_string(util * 100).substr(0, 4) + "%)");
  (void)o;
  return why.empty() ? "none reached" : why.front() + (why.size() > 1 ? " and " + why[1] : "");
}

void PrintRun(const Json& r) {
  std::fprintf(stderr,
               "N=%2d run %d: processed %.1f/%.0f fps, skips %.2f%% (rate_limit %.2f%%, "
               "backpressure %.2f%%, deadline %.2f%%, error %.2f%%), pipeline CPU %.2f ms/frame, "
               "server %.2f cores, agent %.2f cores, machine %.2f cores, events %.0f, f2e p50 %.0f "
               "p95 %.0f ms, detection p50 %.1f ms, service p50 %.1f ms%s\n",
               r["cameras"].get<int>(), r["run"].get<int>(), r["processed_fps"].get<double>(),
               r["offered_fps"].get<double>(), 100 * r["skip_rate"].get<double>(),
               100 * At(r, "/skip_rate_by_reason/rate_limit"),
               100 * At(r, "/skip_rate_by_reason/backpressure"),
               100 * At(r, "/skip_rate_by_reason/deadline"),
               100 * At(r, "/skip_rate_by_reason/inference_error"),
               r["pipeline_cpu_ms_per_frame"].get<double>(), r["server_cpu_cores"].get<double>(),
               r["agent_cpu_cores"].get<double>(), r["machine_busy_cores"].get<double>(),
               r["events"].get<double>(), At(r, "/frame_to_event_ms/p50"),
               At(r, "/frame_to_event_ms/p95"), At(r, "/detection_ms/p50"),
               At(r, "/detector_service_ms/p50"),
               r.contains("error") ? ("  ERROR: " + r["error"].get<std::string>()).c_str() : "");
}

int Run(const Options& o) {
  Json runs = Json::array(), summary = Json::array();
  bool failed = false;
  int capacity = 0;
  std::string limit_at_capacity, limit_beyond;
  for (int n : o.cameras) {
    std::vector<Json> mine;
    for (int run = 1; run <= o.runs; ++run) {
      Json r = RunOnce(o, n, run);
      if (!r.contains("cameras")) {
        std::fprintf(stderr, "N=%d run %d failed: %s\n", n, run, r.value("error", "").c_str());
        return 1;
      }
      PrintRun(r);
      if (r.contains("error")) failed = true;
      runs.push_back(r);
      mine.push_back(r);
    }
    Json s = {{"cameras", n}, {"runs", o.runs}, {"offered_fps", kFps * n}};
    for (const char* key : kSummaryKeys) s[Json::json_pointer(key)] = MedianRange(mine, key);
    // The median run (by skip rate) for what limits it.
    std::sort(mine.begin(), mine.end(), [](const Json& x, const Json& y) {
      return x["skip_rate"].get<double>() < y["skip_rate"].get<double>();
    });
    s["limit"] = Limit(mine[mine.size() / 2], o);
    if (s["skip_rate"]["median"].get<double>() < 0.01) {
      if (n > capacity) capacity = n, limit_at_capacity = s["limit"];
    } else if (limit_beyond.empty()) {
      limit_beyond = s["limit"];
    }
    summary.push_back(s);
  }
  Json out = {
      {"benchmark", "camera_throughput"},
      {"devices",
       "EMULATED: " + std::to_string(o.gpus) + " GPUs at " + Num(o.gpu_ms) + " ms and a CPU at " +
           Num(o.cpu_ms) +
           " ms for object detection; the real detector runs once per distinct input on this "
           "machine's CPU, identical inputs are answered from the result cache"},
      {"config",
       {{"fps", kFps},
        {"detect_every", kEvery},
        {"seconds", o.seconds},
        {"warmup_s", o.warmup},
        {"stagger_ms", o.stagger_ms},
        {"prewarm_frames", o.prewarm_frames},
        {"runs", o.runs},
        {"cores", std::thread::hardware_concurrency()}}},
      {"summary", summary},
      {"largest_n_skip_rate_under_1pct", capacity},
      {"limit_beyond", limit_beyond.empty() ? "not reached in this sweep" : limit_beyond},
      {"runs", runs}};
  if (o.json) std::printf("%s\n", out.dump(2).c_str());
  if (!o.json) {
    std::printf("devices: %s\n", out["devices"].get<std::string>().c_str());
    std::printf("%4s %10s %8s %8s %8s %10s %8s %8s %9s %9s %8s %s\n", "N", "proc fps", "offered",
                "skip%", "load%", "pipe ms/f", "server", "machine", "f2e p50", "f2e p95", "p95/svc",
                "limit");
    for (const Json& s : summary) {
      std::printf("%4d %10.1f %8.0f %8.2f %8.2f %10.2f %8.2f %8.2f %9.0f %9.0f %8.1f %s\n",
                  s["cameras"].get<int>(), At(s, "/processed_fps/median"),
                  s["offered_fps"].get<double>(), 100 * At(s, "/skip_rate/median"),
                  100 * At(s, "/load_skip_rate/median"), At(s, "/pipeline_cpu_ms_per_frame/median"),
                  At(s, "/server_cpu_cores/median"), At(s, "/machine_busy_cores/median"),
                  At(s, "/frame_to_event_ms/p50/median"), At(s, "/frame_to_event_ms/p95/median"),
                  At(s, "/frame_to_event_p95_over_service_p50/median"),
                  s["limit"].get<std::string>().c_str());
    }
    std::printf("largest N with skip rate < 1%%: %d (beyond it: %s)\n", capacity,
                out["limit_beyond"].get<std::string>().c_str());
  }
  if (failed) std::fprintf(stderr, "FAILED: frames unaccounted for (see final_accounting)\n");
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  heteroaccel::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--json") {
      o.json = true;
    } else if (a == "--cameras") {
      o.cameras.clear();
      for (absl::string_view n : absl::StrSplit(next(), ',')) {
        const int v = std::atoi(std::string(n).c_str());
        if (v > 0 && v <= 256) o.cameras.push_back(v);
      }
    } else if (a == "--runs") {
      o.runs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--seconds") {
      o.seconds = std::max(4.0, std::atof(next().c_str()));
    } else if (a == "--warmup") {
      o.warmup = std::max(0.0, std::atof(next().c_str()));
    } else if (a == "--stagger-ms") {
      o.stagger_ms = std::max(0.0, std::atof(next().c_str()));
    } else if (a == "--prewarm-frames") {
      o.prewarm_frames = std::clamp(std::atoi(next().c_str()), 0, 100000);
    } else if (a == "--gpus") {
      o.gpus = std::clamp(std::atoi(next().c_str()), 0, 16);
    } else if (a == "--gpu-ms") {
      o.gpu_ms = std::max(0.0, std::atof(next().c_str()));
    } else if (a == "--cpu-ms") {
      o.cpu_ms = std::max(0.0, std::atof(next().c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: camera_throughput [--cameras 4,8,16,24,32] [--runs K] [--seconds S] "
                   "[--warmup S] [--stagger-ms MS] [--prewarm-frames F] [--gpus G] [--gpu-ms MS] "
                   "[--cpu-ms MS] "
                   "[--json]\n");
      return 2;
    }
  }
  if (o.cameras.empty()) return std::fprintf(stderr, "--cameras: no valid count\n"), 2;
  return heteroaccel::Run(o);
}
