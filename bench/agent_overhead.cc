// agent_overhead: what serving over HTTP costs, measured against the layer below.
//
// For each model it measures, in one run on the same cores:
//   1. in-process: N threads, each looping decode -> pre-process -> forward ->
//      post-process on the same JPEG (N = the agent's CPU slots);
//   2. over HTTP: the real agent binary (CPU only, N slots) driven by closed-loop
//      keep-alive clients at saturation;
//   3. light load: one client, one request at a time, against the agent and
//      against the in-process path, and the per-request HTTP overhead
//      (round trip minus the compute time the agent reports);
//   4. paced: one client sending over HTTP only, sleeping --gap-ms between a
//      response and its next request (a camera at a low frame rate), and the
//      same per-request overhead;
//   5. the floor under 3 and 4, after the same idle time as each: a bare round
//      trip (GET /v2/health/ready, no work), i.e. what waking an idle client and
//      agent costs on this machine whatever the server does; and the same JPEG
//      POSTed to a route that answers at once without looking at it (405 from
//      the HTTP layer once the whole body is read), i.e. what carrying the
//      image there and back costs before any inference work;
//   6. the agent's CPU per light-load request outside the model: the CPU time
//      of its threads (/proc/PID/task/*/schedstat), split into io threads, slot
//      threads and the rest by thread name, over the light-load loop, divided
//      by the requests, the slots' share less the compute time the agent
//      reports; and the same per exchange in the two light-load floor loops.
// Prints a table, or one JSON object with --json. Targets (issue 2): HTTP
// throughput >= 90% of in-process; p50 added latency <= 0.3 ms.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "client/infer_client.h"
#include "http/client.h"
#include "inference/catalog.h"
#include "inference/image.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string Jpeg(const std::string& path) {
  std::vector<uchar> out;
  cv::imencode(".jpg", cv::imread(path), out, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(out.begin(), out.end());
}

// Throughput of `threads` loops of `work` for `seconds`.
template <class Work>
double Saturate(int threads, double seconds, Work make_work) {
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto work = make_work();
      while (!stop.load(std::memory_order_relaxed)) {
        work();
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  return static_cast<double>(done.load()) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time so far of process `pid`'s threads, in nanoseconds, by role (the
// agent names its threads "http-io:N" and "slot:DEVICE:N").
struct AgentCpu {
  double io_ns = 0;
  double slot_ns = 0;
  double other_ns = 0;
};

AgentCpu ReadAgentCpu(int pid) {
  AgentCpu cpu;
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "schedstat");
    std::ifstream comm(task.path() / "comm");
    double run_ns = 0;
    std::string name;
    if (!(stat >> run_ns) || !std::getline(comm, name)) continue;
    (name.rfind("http-io", 0) == 0 ? cpu.io_ns
     : name.rfind("slot:", 0) == 0 ? cpu.slot_ns
                                   : cpu.other_ns) += run_ns;
  }
  return cpu;
}

// Per request, in microseconds, between two readings over `requests`; the slot
// threads' share less `compute_ms` (the model's time the agent reported).
nlohmann::json CpuPerRequest(const AgentCpu& before, const AgentCpu& after, size_t requests,
                             double compute_ms = 0) {
  const double n = static_cast<double>(std::max<size_t>(1, requests));
  const double io = (after.io_ns - before.io_ns) / 1e3 / n;
  const double slots = ((after.slot_ns - before.slot_ns) / 1e3 - compute_ms * 1e3) / n;
  const double other = (after.other_ns - before.other_ns) / 1e3 / n;
  return {
      {"all", io + slots + other}, {"io_threads", io}, {"slot_threads", slots}, {"other", other}};
}

struct Options {
  int slots = 2;
  double seconds = 10;
  int requests = 300;
  double gap_ms = 50;
  bool json = false;
};

nlohmann::json Measure(const std::string& url, int agent_pid, const std::string& type,
                       const std::string& jpeg, const Options& o) {
  const std::string models = testing::ModelsDir();
  auto spec = *inference::Catalog::BuiltIn().Find(type);
  auto make_local = [&] {
    auto model =
        std::shared_ptr<inference::Model>(*spec->create({models, inference::Target::kCpu, -1}));
    return [model, &jpeg] { (void)model->Run(*inference::DecodeImage(jpeg)); };
  };
  auto make_remote = [&] {
    auto c = std::shared_ptr<client::InferClient>(*client::InferClient::Create(url));
    return [c, &jpeg, type] {
      (void)c->Infer({type, "", "cpu0", client::Protocol::kV2Binary}, jpeg);
    };
  };
  // Warm both paths.
  make_local()();
  make_remote()();

  // Light load: alternate local and remote so both see the same machine state.
  auto local = make_local();
  auto remote = *client::InferClient::Create(url);
  std::vector<double> local_ms, remote_ms, overhead_ms;
  double compute_ms_sum = 0;
  const AgentCpu cpu_before = ReadAgentCpu(agent_pid);
  for (int i = 0; i < o.requests; ++i) {
    auto t0 = Clock::now();
    local();
    local_ms.push_back(Ms(Clock::now() - t0));
    auto r = remote->Infer({type, "", "cpu0", client::Protocol::kV2Binary}, jpeg);
    if (!r.ok()) continue;
    remote_ms.push_back(r->round_trip_ms);
    overhead_ms.push_back(r->round_trip_ms - r->served_by.value("compute_ms", 0.0));
    compute_ms_sum += r->served_by.value("compute_ms", 0.0);
  }
  const nlohmann::json inference_cpu =
      CpuPerRequest(cpu_before, ReadAgentCpu(agent_pid), overhead_ms.size(), compute_ms_sum);
  // Paced: HTTP only, like one camera at a low frame rate: the client sleeps
  // o.gap_ms between a response and the next request (no in-process work).
  std::vector<double> paced_overhead_ms;
  for (int i = 0; i < o.requests; ++i) {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(o.gap_ms));
    auto r = remote->Infer({type, "", "cpu0", client::Protocol::kV2Binary}, jpeg);
    if (r.ok())
      paced_overhead_ms.push_back(r->round_trip_ms - r->served_by.value("compute_ms", 0.0));
  }
  // The floor: a bare round trip after the same idle as each mode above (the
  // agent idle while the client computes, or both idle for the gap).
  auto bare = *http::Client::Create(url);
  auto bare_round_trip = [&bare] {
    const auto t0 = Clock::now();
    auto r = bare->Get("/v2/health/ready");
    return r.ok() && r->status == 200 ? Ms(Clock::now() - t0) : -1.0;
  };
  auto body_round_trip = [&bare, &jpeg] {
    const auto t0 = Clock::now();
    auto r = bare->Post("/v2/health/ready", "image/jpeg", jpeg);
    return r.ok() && r->status == 405 ? Ms(Clock::now() - t0) : -1.0;
  };
  // Light: each after the same in-process work as above; the agent's CPU per
  // exchange is taken over each loop.
  auto light_loop = [&](auto round_trip, std::vector<double>& ms_out) {
    const AgentCpu before = ReadAgentCpu(agent_pid);
    for (int i = 0; i < o.requests; ++i) {
      local();
      if (double ms = round_trip(); ms >= 0) ms_out.push_back(ms);
    }
    return CpuPerRequest(before, ReadAgentCpu(agent_pid), ms_out.size());
  };
  std::vector<double> bare_light_ms, bare_paced_ms, body_light_ms, body_paced_ms;
  const nlohmann::json bare_cpu = light_loop(bare_round_trip, bare_light_ms);
  const nlohmann::json body_cpu = light_loop(body_round_trip, body_light_ms);
  for (int i = 0; i < o.requests; ++i) {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(o.gap_ms));
    if (double ms = bare_round_trip(); ms >= 0) bare_paced_ms.push_back(ms);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(o.gap_ms));
    if (double ms = body_round_trip(); ms >= 0) body_paced_ms.push_back(ms);
  }
  const double in_process_rps = Saturate(o.slots, o.seconds, make_local);
  // Two connections per slot keep every slot's queue non-empty.
  const double http_rps = Saturate(2 * o.slots, o.seconds, make_remote);
  return {{"model", type},
          {"in_process_rps", in_process_rps},
          {"http_rps", http_rps},
          {"throughput_ratio", http_rps / in_process_rps},
          {"light_load_p50_ms",
           {{"in_process", Percentile(local_ms, 0.5)}, {"http", Percentile(remote_ms, 0.5)}}},
          {"added_latency_p50_ms", Percentile(remote_ms, 0.5) - Percentile(local_ms, 0.5)},
          {"http_overhead_per_request_ms",
           {{"p50", Percentile(overhead_ms, 0.5)}, {"p99", Percentile(overhead_ms, 0.99)}}},
          {"paced_http_overhead_per_request_ms",
           {{"gap_ms", o.gap_ms},
            {"p50", Percentile(paced_overhead_ms, 0.5)},
            {"p99", Percentile(paced_overhead_ms, 0.99)}}},
          {"bare_round_trip_p50_ms",
           {{"light", Percentile(bare_light_ms, 0.5)}, {"paced", Percentile(bare_paced_ms, 0.5)}}},
          {"same_body_round_trip_p50_ms",
           {{"light", Percentile(body_light_ms, 0.5)}, {"paced", Percentile(body_paced_ms, 0.5)}}},
          {"agent_cpu_us_per_request",
           {{"inference_outside_model", inference_cpu},
            {"bare_round_trip", bare_cpu},
            {"same_body_round_trip", body_cpu}}}};
}

int Run(const Options& o) {
  const std::string jpeg = Jpeg(testing::ModelsDir() + "/images/astronaut.png");
  auto agent = testing::Subprocess::Start(
      {testing::HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0", "--no-opencl",
       "--models-dir", testing::ModelsDir(), "--cpu-slots", std::to_string(o.slots), "--models",
       "face,object", "--queue-capacity", "64"});
  if (!agent.ok()) return 1;
  auto line = (*agent)->WaitForLine("listening on http://", std::chrono::seconds(60));
  if (!line || !(*agent)->WaitForLine("ready", std::chrono::minutes(5))) {
    std::fprintf(stderr, "agent did not start:\n%s", (*agent)->Output().c_str());
    return 1;
  }
  const std::string url = line->substr(line->find("http://"));
  nlohmann::json results = nlohmann::json::array();
  for (const char* type : {"face", "object"})
    results.push_back(Measure(url, (*agent)->pid(), type, jpeg, o));
  nlohmann::json report = {{"slots", o.slots},
                           {"seconds", o.seconds},
                           {"image", "astronaut.png as JPEG q90"},
                           {"models", results}};
  if (o.json) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  std::printf("%-7s %14s %10s %7s %18s %12s %13s %13s %15s %15s %26s\n", "model", "in-process r/s",
              "HTTP r/s", "ratio", "p50 local/HTTP ms", "added p50 ms", "overhead p50",
              "paced ovh p50", "bare RT p50 l/p", "body RT p50 l/p",
              "agent CPU us: infer/bare/body");
  for (const auto& r : results) {
    std::printf(
        "%-7s %14.1f %10.1f %6.1f%% %8.3f / %7.3f %12.3f %13.3f %13.3f %6.3f / %6.3f "
        "%6.3f / %6.3f %9.0f / %4.0f / %4.0f\n",
        r["model"].get<std::string>().c_str(), r["in_process_rps"].get<double>(),
        r["http_rps"].get<double>(), 100 * r["throughput_ratio"].get<double>(),
        r["light_load_p50_ms"]["in_process"].get<double>(),
        r["light_load_p50_ms"]["http"].get<double>(), r["added_latency_p50_ms"].get<double>(),
        r["http_overhead_per_request_ms"]["p50"].get<double>(),
        r["paced_http_overhead_per_request_ms"]["p50"].get<double>(),
        r["bare_round_trip_p50_ms"]["light"].get<double>(),
        r["bare_round_trip_p50_ms"]["paced"].get<double>(),
        r["same_body_round_trip_p50_ms"]["light"].get<double>(),
        r["same_body_round_trip_p50_ms"]["paced"].get<double>(),
        r["agent_cpu_us_per_request"]["inference_outside_model"]["all"].get<double>(),
        r["agent_cpu_us_per_request"]["bare_round_trip"]["all"].get<double>(),
        r["agent_cpu_us_per_request"]["same_body_round_trip"]["all"].get<double>());
  }
  return 0;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  heteroaccel::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--json")
      o.json = true;
    else if (a == "--slots")
      o.slots = std::stoi(next());
    else if (a == "--seconds")
      o.seconds = std::stod(next());
    else if (a == "--requests")
      o.requests = std::stoi(next());
    else if (a == "--gap-ms")
      o.gap_ms = std::stod(next());
    else {
      std::fprintf(stderr,
                   "usage: agent_overhead [--slots N] [--seconds S] [--requests N] [--gap-ms G] "
                   "[--json]\n");
      return 2;
    }
  }
  cv::setNumThreads(1);  // one thread per slot, as the agent runs them
  return heteroaccel::Run(o);
}
