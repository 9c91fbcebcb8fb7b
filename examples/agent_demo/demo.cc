// The demo: starts a real agent on this machine, sends every bundled image
// through every model on every device that can run it, and prints what was
// found where and how fast; then starts a server with two agents (the real CPU
// plus emulated accelerators), replays four cameras and prints the per-device
// split and latencies. Pictures of what each type found (drawn by the render
// component) go to PICTURES_DIR, and so do the logs of the processes it starts.
//
// It must finish, in minutes, on a newcomer's fresh 2-core machine without a
// GPU, where the OpenCL device is PoCL's CPU device. There, OpenCV compiles a
// model's OpenCL kernels on its first run (10 s to a minute per model on a
// fresh 2-core machine, past a request's 30 s deadline), and a two-stage model's
// second stage only when the first finds something. So the agent skips its own
// warm-up (which would compile every variant on every device, most of which
// the demo never runs there), and the demo warms up what it runs: one request
// per model and device, on an image that takes every stage, under a budget of
// its own, before the timed table.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/infer_client.h"
#include "http/client.h"
#include "loadgen/bench.h"
#include "render/draw.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kImages[] = {"astronaut.png",     "chelsea.png", "coffee.png",
                                   "camera.png",        "page.png",    "hands/nocurl.jpg",
                                   "hands/fullcurl.jpg"};
// How long a process may take to start listening, and to load its models.
constexpr auto kStartBudget = std::chrono::seconds(60);
constexpr auto kLoadBudget = std::chrono::minutes(5);
// One model's first run on one device, kernel compilation included.
constexpr auto kWarmUpBudget = std::chrono::minutes(10);

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string ContentType(const std::string& image) {
  return image.ends_with(".png") ? "image/png" : "image/jpeg";
}

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The PNG without its iCCP chunk (the ICC colour profile). Three bundled images
// carry profiles that libpng rejects with a warning on stderr ("iCCP: known
// incorrect sRGB profile", "invalid rendering intent"), once per decode.
// OpenCV ignores colour profiles, so the pixels are the same; the demo draws
// from this copy and sends the agent the file as it is (its warnings go to its
// log). A malformed file comes back unchanged, for the decoder to report.
std::string WithoutColourProfile(const std::string& bytes) {
  constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  if (!bytes.starts_with(kSignature)) return bytes;
  std::string out(kSignature);
  size_t at = kSignature.size();
  while (at + 12 <= bytes.size()) {
    const size_t length = BigEndian32(bytes, at);
    if (length > bytes.size() - at - 12) return bytes;
    if (bytes.compare(at + 4, 4, "iCCP") != 0) out.append(bytes, at, 12 + length);
    at += 12 + length;
  }
  return at == bytes.size() ? out : bytes;
}

// The image on which every stage of a type runs: a face, a person (pose
// landmarks run only on a person found), a hand, text lines (the recogniser
// runs only on lines found).
std::string WarmUpImage(const std::string& type) {
  static const std::map<std::string, std::string> kByType = {
      {"face", "astronaut.png"},    {"object", "chelsea.png"},       {"pose", "astronaut.png"},
      {"hand", "hands/nocurl.jpg"}, {"gesture", "hands/nocurl.jpg"}, {"text", "page.png"}};
  auto it = kByType.find(type);
  return it == kByType.end() ? kImages[0] : it->second;
}

std::string Summary(const client::InferResult& r) {
  std::map<std::string, int> counts;
  for (const auto& d : r.detections) ++counts[d.label];
  if (counts.empty()) return "nothing";
  std::vector<std::string> parts;
  for (const auto& [label, n] : counts) parts.push_back(absl::StrFormat("%d %s", n, label));
  return absl::StrJoin(parts, ", ");
}

// One line, whatever a model or a server put in a string.
std::string OneLine(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }, ' ');
  return s;
}

// A short text for a `text` result: the first recognised strings.
std::string TextSample(const client::InferResult& r) {
  std::string out;
  for (const auto& d : r.detections) {
    if (d.text.empty()) continue;
    if (out.size() + d.text.size() > 40) return out + " ...";
    out += (out.empty() ? "\"" : " \"") + OneLine(d.text) + "\"";
  }
  return out;
}

// Writes IMAGE_TYPE.png under `dir` with the detections drawn.
absl::Status WritePicture(const std::string& dir, const std::string& image, const std::string& type,
                          const std::string& bytes, const client::InferResult& r,
                          const inference::Skeleton& skeleton) {
  std::string stem = image.substr(0, image.rfind('.'));
  std::replace(stem.begin(), stem.end(), '/', '_');  // hands/nocurl -> hands_nocurl
  return render::DrawToFile(WithoutColourProfile(bytes), r.detections, skeleton,
                            dir + "/" + stem + "_" + type + ".png");
}

void SaveLog(const std::string& dir, const std::string& name, const testing::Subprocess& p) {
  std::ofstream(dir + "/" + name) << p.Output();
}

// Starts `argv` and returns it with its URL once it listens and, for an agent,
// reports ready (GET /v2/health/ready answers 200; a server is ready only once
// agents have joined); nullptr after printing why not.
std::unique_ptr<testing::Subprocess> StartReady(const std::vector<std::string>& argv,
                                                const std::string& log_path, std::string& url) {
  const bool agent = argv.size() > 1 && argv[1] == "agent";
  auto process = testing::Subprocess::Start(argv);
  if (!process.ok()) {
    std::printf("cannot start %s: %s\n", argv[0].c_str(),
                std::string(process.status().message()).c_str());
    return nullptr;
  }
  auto line = (*process)->WaitForLine("listening on http://", kStartBudget);
  if (line) {
    url = line->substr(line->find("http://"));
    url = url.substr(0, url.find(' '));
    if (!agent) return *std::move(process);
    auto http = http::Client::Create(url, std::chrono::seconds(5));
    const auto deadline = Clock::now() + kLoadBudget;
    while (http.ok() && Clock::now() < deadline) {
      auto r = (*http)->Get("/v2/health/ready");
      if (r.ok() && r->status == 200) return *std::move(process);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  std::ofstream(log_path) << (*process)->Output();
  std::printf("%s %s did not become ready; its output is in %s\n", argv[0].c_str(), argv[1].c_str(),
              log_path.c_str());
  return nullptr;
}

struct Device {
  std::string id;
  std::vector<std::string> models;  // "type/variant"
  bool cpu = false;
  bool pocl = false;  // PoCL's OpenCL CPU device
  bool opencl = false;
};

struct Node {
  std::vector<Device> devices;
  std::map<std::string, std::string> defaults;  // type -> default variant
};

Node Describe(http::Client& http) {
  Node node;
  const nlohmann::json facts = nlohmann::json::parse(http.Get("/v1/node")->body);
  std::printf("node %s: %s, %s\n\ndevices:\n", facts["hostname"].get<std::string>().c_str(),
              facts["os"].get<std::string>().c_str(), facts["kernel"].get<std::string>().c_str());
  size_t id_width = 0;
  for (const auto& d : facts["devices"]) {
    id_width = std::max(id_width, d["id"].get<std::string>().size());
  }
  for (const auto& d : facts["devices"]) {
    std::printf("  %-*s %-5s %-11s %s%s\n", static_cast<int>(id_width),
                d["id"].get<std::string>().c_str(), d["kind"].get<std::string>().c_str(),
                d["state"].get<std::string>().c_str(), d["name"].get<std::string>().c_str(),
                d["emulated"].get<bool>() ? " (EMULATED)" : "");
    if (!d.contains("models")) continue;
    const auto& attributes = d["attributes"];
    Device device{d["id"], d["models"]};
    device.opencl = d.value("target", "") == "opencl";
    device.cpu = d["kind"] == "cpu" && !device.opencl;
    device.pocl = device.opencl &&
                  attributes.value("opencl_platform", "") == "Portable Computing Language" &&
                  attributes.value("opencl_type", "") == "cpu";
    node.devices.push_back(std::move(device));
  }
  // Each type's default variant: the first the agent lists in /v1/models.
  const nlohmann::json listed = nlohmann::json::parse(http.Get("/v1/models")->body);
  for (const auto& m : listed["models"]) {
    node.defaults.emplace(m["name"].get<std::string>(), m["variant"].get<std::string>());
  }
  return node;
}

// What runs on `device`: every variant on a CPU; on an OpenCL device, which is
// slower than the CPU on a machine without a GPU, each type's default only.
// PoCL's CPU device leaves out text (printed): its detector's input follows
// each image's size, so every image recompiles its kernels, and page.png, whose
// every line the recogniser reads in 320-pixel windows, takes over a minute
// there even with its kernels compiled (under 3 s on the CPU).
std::vector<std::string> Plan(const Device& device, const Node& node) {
  std::vector<std::string> plan;
  for (const std::string& key : device.models) {
    const std::string type = key.substr(0, key.find('/'));
    const bool is_default = node.defaults.at(type) == key.substr(key.find('/') + 1);
    if (device.opencl && !is_default) continue;
    if (device.pocl && type == "text") {
      std::printf(
          "%s: %s left out: on PoCL's CPU device it recompiles its kernels for each "
          "image size and takes over a minute on page.png (`heteroaccel infer --model "
          "text` runs it there)\n",
          device.id.c_str(), key.c_str());
      continue;
    }
    plan.push_back(key);
  }
  return plan;
}

// `head` then `items` joined by ", ", continued on indented lines of at most
// 100 columns.
std::string Wrapped(const std::string& head, const std::vector<std::string>& items) {
  std::string out = head;
  size_t line_start = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (out.size() > head.size() && out.size() - line_start + 1 + item.size() > 100) {
      line_start = out.size() + 1;
      out += "\n" + std::string(head.size(), ' ');
    } else if (out.size() > head.size()) {
      out += " ";
    }
    out += item;
  }
  return out;
}

enum class WarmUp { kDone, kFailed, kOutOfTime };

// The first run of `key` on `device`, retried until kWarmUpBudget passes: a
// connection may end before a long first run does, and the retry then waits
// behind it in the slot's queue.
WarmUp WarmUpOne(const std::string& url, const std::string& models_dir, const std::string& device,
                 const std::string& key, double& seconds) {
  const std::string type = key.substr(0, key.find('/'));
  const std::string image = WarmUpImage(type);
  const std::string bytes = testing::ReadFileOrDie(models_dir + "/images/" + image);
  const std::string path = absl::StrFormat("/v1/infer/%s?device=%s&variant=%s", type, device,
                                           key.substr(key.find('/') + 1));
  const auto start = Clock::now();
  const auto deadline = start + kWarmUpBudget;
  while (Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto http = http::Client::Create(url, std::max(left, std::chrono::milliseconds(1)));
    if (!http.ok()) break;
    auto r = (*http)->Post(path, ContentType(image), bytes);
    seconds = SecondsSince(start);
    if (r.ok() && r->status == 200) return WarmUp::kDone;
    if (r.ok() || absl::StrContains(r.status().message(), "cannot connect")) {
      const std::string why = r.ok() ? absl::StrFormat("HTTP %d: %s", r->status, OneLine(r->body))
                                     : std::string(r.status().message());
      std::printf("  %s on %s: %s\n", key.c_str(), device.c_str(), why.c_str());
      return WarmUp::kFailed;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  seconds = SecondsSince(start);
  return WarmUp::kOutOfTime;
}

// Warms up every planned model; returns the failures. A PoCL device whose
// model runs out of budget is left out of the table (printed).
int WarmUpAll(const std::string& url, const std::string& models_dir,
              std::vector<std::pair<Device, std::vector<std::string>>>& plans) {
  std::printf(
      "\nwarming up: the first run of each model on each device (OpenCL kernels "
      "compile then)\n");
  int failures = 0;
  for (auto& [device, plan] : plans) {
    std::vector<std::string> times;
    for (const std::string& key : plan) {
      double seconds = 0;
      const WarmUp result = WarmUpOne(url, models_dir, device.id, key, seconds);
      times.push_back(absl::StrFormat("%s %.1f s", key.substr(key.find('/') + 1), seconds));
      if (result == WarmUp::kFailed) ++failures;
      if (result != WarmUp::kOutOfTime) continue;
      if (!device.pocl) {
        std::printf("  %s on %s: no answer in %.0f s\n", key.c_str(), device.id.c_str(), seconds);
        ++failures;
        continue;
      }
      std::printf(
          "  %s: left out: %s did not finish its first run in %.0f s (kernel "
          "compilation on PoCL)\n",
          device.id.c_str(), key.c_str(), seconds);
      plan.clear();
      break;
    }
    std::printf("%s\n", Wrapped("  " + device.id + ": ", times).c_str());
  }
  return failures;
}

struct Columns {
  int image = 5, model = 5, variant = 7, device = 6;
};

Columns Widths(const std::vector<std::pair<Device, std::vector<std::string>>>& plans) {
  Columns c;
  for (const char* image : kImages) c.image = std::max<int>(c.image, std::strlen(image));
  for (const auto& [device, plan] : plans) {
    c.device = std::max<int>(c.device, device.id.size());
    for (const std::string& key : plan) {
      c.model = std::max<int>(c.model, key.find('/'));
      c.variant = std::max<int>(c.variant, key.size() - key.find('/') - 1);
    }
  }
  return c;
}

int RunImages(const std::string& url, const std::string& models_dir,
              const std::string& pictures_dir, const Node& node,
              const std::vector<std::pair<Device, std::vector<std::string>>>& plans) {
  const Columns w = Widths(plans);
  std::printf("\n%-*s %-*s %-*s %-*s %10s %10s  %s\n", w.image, "image", w.model, "model",
              w.variant, "variant", w.device, "device", "compute ms", "total ms", "found");
  auto c = *client::InferClient::Create(url);
  int failures = 0;
  int pictures = 0;
  for (const std::string image : kImages) {
    const std::string bytes = testing::ReadFileOrDie(models_dir + "/images/" + image);
    for (const auto& [device, plan] : plans) {
      for (const std::string& key : plan) {
        const std::string type = key.substr(0, key.find('/'));
        const std::string variant = key.substr(key.find('/') + 1);
        std::printf("%-*s %-*s %-*s %-*s ", w.image, image.c_str(), w.model, type.c_str(),
                    w.variant, variant.c_str(), w.device, device.id.c_str());
        auto r = c->Infer({type, variant, device.id, client::Protocol::kV2Binary}, bytes);
        if (!r.ok()) {
          ++failures;
          std::printf(" error: %s\n", OneLine(std::string(r.status().message())).c_str());
          continue;
        }
        const std::string text = TextSample(*r);
        std::printf("%10.1f %10.1f  %s%s%s\n", r->served_by.value("compute_ms", 0.0),
                    r->round_trip_ms, Summary(*r).c_str(), text.empty() ? "" : " ", text.c_str());
        // The first CPU device draws each type's default variant.
        if (&device != &plans.front().first || node.defaults.at(type) != variant) continue;
        auto skeleton = c->Skeleton(type);
        absl::Status drawn = skeleton.ok()
                                 ? WritePicture(pictures_dir, image, type, bytes, *r, *skeleton)
                                 : skeleton.status();
        if (drawn.ok()) {
          ++pictures;
        } else {
          ++failures;
          std::printf("  picture of %s for %s: %s\n", type.c_str(), image.c_str(),
                      std::string(drawn.message()).c_str());
        }
      }
    }
  }
  std::printf("\n%d pictures with the detections drawn in %s/\n", pictures, pictures_dir.c_str());
  return failures;
}

int Run(const std::string& binary, const std::string& models_dir, const std::string& pictures_dir) {
  std::filesystem::create_directories(pictures_dir);
  const std::string log = pictures_dir + "/agent.log";
  std::printf("starting %s agent (models in %s) ...\n", binary.c_str(), models_dir.c_str());
  std::string url;
  auto agent = StartReady(
      {binary, "agent", "--listen", "127.0.0.1:0", "--models-dir", models_dir, "--no-warm-up"}, log,
      url);
  if (!agent) return 1;
  std::printf("agent at %s\n", url.c_str());
  auto http = *http::Client::Create(url);
  const Node node = Describe(*http);
  std::vector<std::pair<Device, std::vector<std::string>>> plans;
  // CPU devices first: the first one draws the pictures.
  for (const Device& d : node.devices) {
    if (d.cpu) plans.emplace_back(d, Plan(d, node));
  }
  for (const Device& d : node.devices) {
    if (!d.cpu) plans.emplace_back(d, Plan(d, node));
  }
  int failures = WarmUpAll(url, models_dir, plans);
  failures += RunImages(url, models_dir, pictures_dir, node, plans);
  std::printf("metrics: %s/metrics   node: %s/v1/node   agent log: %s\n", url.c_str(), url.c_str(),
              log.c_str());
  SaveLog(pictures_dir, "agent.log", *agent);
  return failures == 0 ? 0 : 1;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

// The full path of `program` on $PATH, or "" when it is not installed.
std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string candidate = std::string(dirs.substr(0, colon)) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
  }
  return "";
}

// Keeps the cluster serving replayed cameras with the dashboard open, until
// Ctrl-C or `seconds` (negative: until Ctrl-C).
void StayUp(const std::string& binary, const std::string& url, const std::string& models_dir,
            const std::string& logs_dir, int prometheus_port, int seconds) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::unique_ptr<testing::Subprocess> prometheus;
  if (prometheus_port > 0) {
    const std::string config = logs_dir + "/prometheus.yml";
    std::ofstream(config) << "global: {scrape_interval: 5s, evaluation_interval: 5s}\n"
                          << "scrape_configs:\n  - job_name: heteroaccel\n    http_sd_configs:\n"
                          << "      - url: " << url << "/v1/sd/targets\n"
                          << "        refresh_interval: 10s\n";
    auto started = testing::Subprocess::Start(
        {FindOnPath("prometheus"), "--config.file=" + config,
         "--storage.tsdb.path=" + logs_dir + "/prometheus-data",
         "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)});
    if (started.ok()) {
      prometheus = *std::move(started);
      std::printf(
          "Prometheus: http://127.0.0.1:%d/ (scraping every node the server lists; "
          "the dashboard's History page reads it)\n",
          prometheus_port);
    } else {
      std::printf("Prometheus did not start (%s): the History page will say so\n",
                  std::string(started.status().message()).c_str());
    }
  } else {
    std::printf(
        "Prometheus is not installed (apt-get install prometheus): the History page "
        "will say so\n");
  }
  auto cameras = testing::Subprocess::Start(
      {binary, "bench", "--target", url, "--cameras", "4", "--mix", "face,object", "--duration",
       absl::StrFormat("%ds", seconds < 0 ? 7 * 24 * 3600 : seconds + 5), "--images",
       models_dir + "/images"});
  std::printf("\ndashboard: %s/  (admin token: demo; 4 replayed cameras)\n", url.c_str());
  if (seconds < 0) {
    std::printf("the cluster stays up until Ctrl-C\n");
  } else {
    std::printf("the cluster stays up for %d s (DEMO_SECONDS)\n", seconds);
  }
  if (seconds < 0) {
    int signal = 0;
    sigwait(&signals, &signal);
  } else {
    timespec wait{seconds, 0};
    sigtimedwait(&signals, nullptr, &wait);
  }
  std::printf("stopping the cluster\n");
}

// A small cluster on this machine: a server, one agent with the real CPU plus
// an emulated GPU, one with an emulated NPU and FPGA; four cameras for 10 s,
// then (stay_seconds != 0) StayUp.
int RunCluster(const std::string& binary, const std::string& models_dir,
               const std::string& logs_dir, int stay_seconds) {
  std::printf("\n=== a cluster: server + 2 agents (real CPU, emulated GPU/NPU/FPGA) ===\n");
  std::string url;
  const bool have_prometheus =
      stay_seconds != 0 && std::system("command -v prometheus >/dev/null") == 0;
  const int prometheus_port = have_prometheus ? testing::UnusedLoopbackPort() : 0;
  std::vector<std::string> server_argv = {
      binary, "server",        "--listen", "127.0.0.1:0", "--cluster-token",
      "demo", "--admin-token", "demo",     "--state-dir", logs_dir + "/server-state"};
  if (prometheus_port > 0) {
    server_argv.push_back("--prometheus");
    server_argv.push_back("http://127.0.0.1:" + std::to_string(prometheus_port));
  }
  auto server = StartReady(server_argv, logs_dir + "/cluster-server.log", url);
  if (!server) return 1;
  const std::string gpu_node = WriteFile("heteroaccel_demo_gpu.yaml", R"(node: edge-1
opencl: false
devices:
  - {id: gpu0, kind: gpu, name: Demo GPU, slots: 1, latency_ms: {face: 4, object: 12}}
)");
  const std::string npu_node = WriteFile("heteroaccel_demo_npu.yaml", R"(node: edge-2
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 15, object: 60}}
devices:
  - {id: npu0, kind: npu, name: Demo NPU, slots: 1, latency_ms: {face: 8, object: 20}}
  - {id: fpga0, kind: fpga, name: Demo FPGA, slots: 1, latency_ms: {face: 25, object: 40}}
)");
  std::vector<std::unique_ptr<testing::Subprocess>> agents;
  for (const std::string& config : {gpu_node, npu_node}) {
    std::string agent_url;
    const std::string log = absl::StrFormat("%s/cluster-agent-%d.log", logs_dir, agents.size() + 1);
    agents.push_back(StartReady(
        {binary, "agent", "--listen", "127.0.0.1:0", "--config", config, "--models-dir", models_dir,
         "--models", "face,object", "--server", url, "--cluster-token", "demo"},
        log, agent_url));
    if (!agents.back()) return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // two heartbeats
  loadgen::BenchOptions options;
  options.target = url;
  options.cameras = 4;
  options.mix = {"face", "object"};
  options.duration = std::chrono::seconds(10);
  options.images_dir = models_dir + "/images";
  auto report = loadgen::RunBench(options);
  SaveLog(logs_dir, "cluster-server.log", *server);
  for (size_t i = 0; i < agents.size(); ++i) {
    SaveLog(logs_dir, absl::StrFormat("cluster-agent-%d.log", i + 1), *agents[i]);
  }
  if (!report.ok()) {
    std::printf("bench: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  std::printf("%s", loadgen::FormatTable(*report).c_str());
  if (report->succeeded == 0) return 1;
  if (stay_seconds != 0) StayUp(binary, url, models_dir, logs_dir, prometheus_port, stay_seconds);
  return 0;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr,
                 "usage: agent_demo HETEROACCEL_BINARY MODELS_DIR PICTURES_DIR [STAY_SECONDS]\n"
                 "  STAY_SECONDS: keep the cluster up that long after the tour (0: stop at once; "
                 "negative or absent: until Ctrl-C)\n");
    return 2;
  }
  int stay_seconds = argc == 5 ? std::atoi(argv[4]) : -1;
  if (stay_seconds < 0 && isatty(STDIN_FILENO) == 0) {
    // Nobody at a terminal to press Ctrl-C (a script, CI): end after the tour.
    std::printf("(not run from a terminal: the cluster stops after the tour; DEMO_SECONDS=N "
                "keeps it up N seconds)\n");
    stay_seconds = 0;
  }
  // Whole lines, in order: the output is often a pipe (make ... | tee), where
  // stdout would otherwise go out in 4 KiB blocks, cut mid-line by anything
  // written to stderr in between.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const auto start = heteroaccel::Clock::now();
  const int agent = heteroaccel::Run(argv[1], argv[2], argv[3]);
  const int cluster = heteroaccel::RunCluster(argv[1], argv[2], argv[3], stay_seconds);
  std::printf("\ndemo %s in %.0f s\n", agent == 0 && cluster == 0 ? "done" : "FAILED",
              heteroaccel::SecondsSince(start));
  return agent != 0 ? agent : cluster;
}
