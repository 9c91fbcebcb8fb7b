// stream_bench: the dashboard's scale benchmark. What the server's live stream
// (GET /v1/stream, docs/dashboard-api.md) costs with a large cluster, measured
// in one run on one machine against a synthetic fleet.
//
// A cluster here is a fresh `heteroaccel server` (--listen 127.0.0.1:0, a
// cluster token, a state directory of its own when it takes --state-dir) with
// fleet_sim heartbeating it: --nodes x --devices synthetic, emulated devices,
// each node every 200 ms like a real agent. A cluster counts as started once
// GET /v1/cluster shows every synthetic node up with all its devices; the
// bench fails loudly if it never does. The first one's stream is probed (200,
// a snapshot first, the nodes in it).
//
// --repeats times, after --settle seconds, windows of --window seconds each:
//   A0: a cluster whose server publishes its state once a minute
//       (--stream-interval-ms 60000), no stream client: the server's CPU with
//       the stream's publisher all but idle (at most one state document built
//       in the window instead of one per 500 ms). Skipped with --no-a0, which
//       also keeps one cluster for all repeats.
//   A:  a cluster with the server's own stream settings, no stream client.
//   B:  the same cluster, --clients raw stream clients connected (counted from
//       one second after every client had its first event, so the initial
//       snapshots are not in the window).
// Only one cluster runs at a time. The server's CPU over each window is
// utime + stime from /proc/PID/stat. The stream's cost as % of one core: B - A
// is what sending to the clients costs; B - A0 adds the publisher's own work
// (building the state document and its merge patch every interval, which the
// server does whether or not anyone listens). Each B client's response bytes
// (headers, chunk framing and body) and events per second are counted.
//
// --browser (when the script exists): `node tests/browser/scale.mjs --url URL
// --clients K --seconds N` (K dashboards in Chromium, default 1) runs on the
// last cluster with --clients - K raw clients connected; its JSON is merged
// into the report.
//
// The report: medians over the repeats (and each window's figures) as one JSON
// document on stdout (and --json-out), with a human summary on stderr.
//
// Targets (the dashboard issue): with 100 nodes x 4 devices and 10 clients,
// the stream costs the server under 5% of one core, each client receives under
// 50 KB/s (50,000 bytes/s), the page's main-thread work per update stays under
// 16 ms in Chromium (the browser script's figure).
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "http/client.h"
#include "sse_client.h"
#include "testing/subprocess.h"

namespace heteroaccel::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr double kCpuTargetPct = 5;
constexpr double kBytesTargetPerS = 50'000;
constexpr double kBrowserTargetMs = 16;

struct Options {
  std::string binary;
  std::string fleet_sim;
  int nodes = 100;
  int devices = 4;
  int clients = 10;
  int repeats = 3;
  double window_s = 60;
  double settle_s = 5;
  double up_timeout_s = 30;
  int interval_ms = 200;
  uint64_t seed = 1;
  std::string cluster_token = "stream-bench-synthetic";
  std::string viewer_token;
  std::vector<std::string> server_args;
  std::string json_out;
  bool browser = false;
  std::string browser_script = "tests/browser/scale.mjs";
  double browser_seconds = 30;
  int browser_clients = 1;
  bool a0 = true;
  std::string source;  // which source tree the binaries came from, for the report
};

// This run's temporary directory (the servers' state), removed on the way out.
std::string g_temp_dir;

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "stream_bench: FAILED: %s\n", why.c_str());
  std::error_code ignored;
  if (!g_temp_dir.empty()) std::filesystem::remove_all(g_temp_dir, ignored);
  std::exit(1);
}

void Say(const std::string& line) {
  std::fprintf(stderr, "stream_bench: %s\n", line.c_str());
  std::fflush(stderr);
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// Fields of /proc/PID/stat after the command name (the 3rd field on).
std::vector<std::string> StatFields(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  std::vector<std::string> fields;
  if (paren == std::string::npos) return fields;
  std::istringstream rest(text.substr(paren + 1));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

// utime + stime of all the process's threads, in seconds.
double CpuSeconds(int pid) {
  const std::vector<std::string> f = StatFields(pid);
  if (f.size() < 13) Fail(absl::StrCat("cannot read /proc/", pid, "/stat"));
  // utime and stime are the 14th and 15th fields; these start at the 3rd.
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool Alive(int pid) {
  const std::vector<std::string> f = StatFields(pid);
  return !f.empty() && f[0] != "Z" && f[0] != "X";
}

std::string ReadFirstLine(const std::string& path, const std::string& prefix = "") {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

std::string CpuModel() {
  const std::string line = ReadFirstLine("/proc/cpuinfo", "model name");
  const size_t colon = line.find(": ");
  return colon == std::string::npos ? line : line.substr(colon + 2);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

double Min(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

Json Range(const std::vector<double>& v) {
  if (v.empty()) return Json::array();
  return {Min(v), Max(v)};
}

// What GET /v1/cluster says of the synthetic fleet.
struct FleetView {
  int nodes_up = 0;      // synthetic nodes up with all their devices
  int nodes_seen = 0;    // synthetic nodes listed
  double max_age_s = 0;  // the oldest last heartbeat among them
  std::string error;     // why the view could not be read
};

FleetView QueryFleet(http::Client& client, int devices) {
  FleetView v;
  auto r = client.Get("/v1/cluster");
  if (!r.ok()) {
    v.error = std::string(r.status().message());
    return v;
  }
  const Json json = Json::parse(r->body, nullptr, false);
  if (r->status != 200 || !json.is_object() || !json.contains("nodes") ||
      !json["nodes"].is_array()) {
    v.error = absl::StrCat("GET /v1/cluster answered ", r->status, ": ", r->body.substr(0, 200));
    return v;
  }
  for (const Json& n : json["nodes"]) {
    if (!n.is_object() || !n.value("node", "").starts_with("synthetic-")) continue;
    ++v.nodes_seen;
    v.max_age_s = std::max(v.max_age_s, n.value("last_heartbeat_seconds_ago", 0.0));
    const bool all_devices = n.contains("devices") && n["devices"].is_array() &&
                             static_cast<int>(n["devices"].size()) == devices;
    if (n.value("up", false) && all_devices) ++v.nodes_up;
  }
  return v;
}

struct Processes {
  int server = 0;
  int fleet = 0;
};

// A server with the synthetic fleet heartbeating it; both are stopped
// (SIGTERM) when it is destroyed, the fleet first.
struct Cluster {
  std::vector<std::string> server_argv;
  std::unique_ptr<testing::Subprocess> server;
  std::unique_ptr<testing::Subprocess> fleet;
  std::unique_ptr<http::Client> client;  // for GET /v1/cluster
  std::string url;

  // Stops the fleet; what fleet_sim said last (its totals).
  std::string StopFleet() {
    fleet->Stop(SIGTERM, std::chrono::seconds(10));
    return fleet->WaitForLine("synthetic fleet stopped", std::chrono::seconds(5)).value_or("");
  }
};

std::unique_ptr<Cluster> StartCluster(const Options& o, std::vector<std::string> server_argv) {
  auto c = std::make_unique<Cluster>();
  c->server_argv = std::move(server_argv);
  auto server = testing::Subprocess::Start(c->server_argv);
  if (!server.ok()) Fail(std::string(server.status().message()));
  c->server = *std::move(server);
  c->url = testing::WaitForListeningUrl(*c->server);
  if (c->url.empty()) Fail("the server did not start:\n" + Tail(c->server->Output(), 20));
  auto fleet = testing::Subprocess::Start(
      {o.fleet_sim, "--server", c->url, "--nodes", std::to_string(o.nodes), "--devices",
       std::to_string(o.devices), "--token", o.cluster_token, "--interval-ms",
       std::to_string(o.interval_ms), "--seed", std::to_string(o.seed)});
  if (!fleet.ok()) Fail(std::string(fleet.status().message()));
  c->fleet = *std::move(fleet);
  auto client = http::Client::Create(c->url, std::chrono::seconds(10));
  if (!client.ok()) Fail(std::string(client.status().message()));
  c->client = *std::move(client);
  const auto deadline = Clock::now() + std::chrono::duration<double>(o.up_timeout_s);
  while (true) {
    const FleetView view = QueryFleet(*c->client, o.devices);
    if (view.nodes_up == o.nodes) break;
    if (!Alive(c->fleet->pid())) Fail("fleet_sim exited:\n" + Tail(c->fleet->Output(), 10));
    if (!Alive(c->server->pid())) Fail("the server exited:\n" + Tail(c->server->Output(), 20));
    if (Clock::now() > deadline) {
      Fail(absl::StrCat("after ", o.up_timeout_s, " s GET /v1/cluster shows ", view.nodes_up,
                        " of ", o.nodes, " synthetic nodes up with ", o.devices, " devices (",
                        view.nodes_seen, " listed", view.error.empty() ? "" : ": " + view.error,
                        "); fleet_sim said:\n", Tail(c->fleet->Output(), 10)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  Say(absl::StrCat("server ", c->url, " (pid ", c->server->pid(), "): all ", o.nodes,
                   " synthetic nodes x ", o.devices, " devices are up"));
  return c;
}

double ProcessCpuPct(double cpu_s, double wall_s) { return 100 * cpu_s / wall_s; }

Json FleetJson(const FleetView& v) {
  return {{"synthetic_nodes_up", v.nodes_up},
          {"synthetic_nodes_listed", v.nodes_seen},
          {"oldest_heartbeat_s", v.max_age_s}};
}

// One window: CPU of the server, fleet_sim and this process; and when `pool`
// has clients, what each received.
Json MeasureWindow(const Options& o, Cluster& c, SseClientPool* pool, bool& fleet_ok) {
  const Processes p{c.server->pid(), c.fleet->pid()};
  const std::vector<SseClientStats> before = pool ? pool->Stats() : std::vector<SseClientStats>{};
  const double server0 = CpuSeconds(p.server), fleet0 = CpuSeconds(p.fleet),
               self0 = CpuSeconds(getpid());
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.window_s));
  const std::vector<SseClientStats> after = pool ? pool->Stats() : std::vector<SseClientStats>{};
  const double server1 = CpuSeconds(p.server), fleet1 = CpuSeconds(p.fleet),
               self1 = CpuSeconds(getpid());
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  // Read after the CPU figures, so the request is not in the window.
  const FleetView fleet = QueryFleet(*c.client, o.devices);
  if (fleet.nodes_up != o.nodes) fleet_ok = false;
  Json j = {{"wall_s", wall},
            {"clients", after.size()},
            {"server_cpu_s", server1 - server0},
            {"server_cpu_pct_of_core", ProcessCpuPct(server1 - server0, wall)},
            {"fleet_sim_cpu_pct_of_core", ProcessCpuPct(fleet1 - fleet0, wall)},
            {"stream_bench_cpu_pct_of_core", ProcessCpuPct(self1 - self0, wall)},
            {"fleet_after", FleetJson(fleet)},
            {"loadavg", ReadFirstLine("/proc/loadavg")}};
  if (after.empty()) return j;
  Json clients = Json::array();
  std::vector<double> bytes_per_s, events_per_s;
  for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
    const SseClientStats& a = before[i];
    const SseClientStats& b = after[i];
    if (b.ended || b.status != 200) {
      Fail(absl::StrCat("stream client ", i, " failed during the window: status ", b.status, ", ",
                        b.error.empty() ? "no error" : b.error));
    }
    Json types = Json::object();
    for (const auto& [type, count] : b.by_type) {
      SseTypeCount start;
      if (auto it = a.by_type.find(type); it != a.by_type.end()) start = it->second;
      const uint64_t n = count.events - start.events;
      if (n == 0) continue;
      types[type] = {{"events", n},
                     {"events_per_s", static_cast<double>(n) / wall},
                     {"mean_data_bytes", static_cast<double>(count.data_bytes - start.data_bytes) /
                                             static_cast<double>(n)}};
    }
    bytes_per_s.push_back(static_cast<double>(b.wire_bytes - a.wire_bytes) / wall);
    events_per_s.push_back(static_cast<double>(b.events - a.events) / wall);
    clients.push_back({{"bytes_per_s", bytes_per_s.back()},
                       {"events_per_s", events_per_s.back()},
                       {"by_type", types},
                       {"bad_json", b.bad_json},
                       {"seq_regressions", b.seq_regressions},
                       {"first_event_is_snapshot", b.first_event_is_snapshot}});
  }
  j["per_client"] = clients;
  j["client_bytes_per_s_median"] = Median(bytes_per_s);
  j["client_bytes_per_s_max"] = Max(bytes_per_s);
  j["client_events_per_s_median"] = Median(events_per_s);
  return j;
}

// Connects `n` clients and waits until each has its first event.
std::unique_ptr<SseClientPool> ConnectClients(const Options& o, const std::string& url, int n) {
  auto pool = SseClientPool::Create(url, "/v1/stream", o.viewer_token);
  if (!pool.ok()) Fail(std::string(pool.status().message()));
  (*pool)->Connect(n);
  if (!(*pool)->WaitAllStreaming(Clock::now() + std::chrono::seconds(15))) {
    for (const SseClientStats& s : (*pool)->Stats()) {
      if (s.status == 200 && s.events > 0 && !s.ended) continue;
      if (s.status == 404) {
        Fail(
            "the server answers 404 to GET /v1/stream: this build has no dashboard stream "
            "(docs/dashboard-api.md)");
      }
      Fail(absl::StrCat("a GET /v1/stream client got no event in 15 s: status ", s.status,
                        " content-type '", s.content_type, "' error '", s.error, "' body '",
                        s.error_body, "'"));
    }
  }
  return *std::move(pool);
}

bool ServerTakes(const std::string& binary, const std::string& flag) {
  auto help = testing::Subprocess::Start({binary, "server", "--help"});
  if (!help.ok()) Fail(std::string(help.status().message()));
  return (*help)->WaitForLine(flag, std::chrono::seconds(20)).has_value();
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs the browser script (--browser-clients dashboards in Chromium, each in
// its own context) with raw clients alongside to make --clients in all, and
// the server's CPU over the whole run; its JSON, or what went wrong.
Json RunBrowser(const Options& o, const std::string& url, int server_pid) {
  if (!std::filesystem::exists(o.browser_script)) {
    Say(absl::StrCat("--browser: ", o.browser_script, " does not exist; browser part skipped"));
    return {{"skipped", absl::StrCat(o.browser_script, " does not exist")}};
  }
  const int raw = std::max(0, o.clients - o.browser_clients);
  auto pool = raw > 0 ? ConnectClients(o, url, raw) : nullptr;
  std::string command =
      absl::StrCat("node ", Quote(o.browser_script), " --url ", Quote(url), " --clients ",
                   o.browser_clients, " --seconds ", o.browser_seconds);
  if (!o.viewer_token.empty()) absl::StrAppend(&command, " --token ", Quote(o.viewer_token));
  Say("browser: " + command);
  const double cpu0 = CpuSeconds(server_pid);
  const auto t0 = Clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {{"error", "cannot run node"}, {"command", command}};
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = pclose(pipe);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = CpuSeconds(server_pid) - cpu0;
  bool raw_ok = true;
  if (pool) {
    for (const SseClientStats& s : pool->Stats()) raw_ok = raw_ok && !s.ended && s.status == 200;
    pool->CloseAll();
  }
  Json result = Json::parse(out, nullptr, false);
  if (result.is_discarded()) result = Json::parse(Tail(out, 1), nullptr, false);
  if (status != 0 || result.is_discarded()) {
    return {{"error", absl::StrCat("exit status ", status)},
            {"command", command},
            {"output", Tail(out, 20)}};
  }
  return {{"command", command},
          {"browser_clients", o.browser_clients},
          {"raw_clients_alongside", raw},
          {"raw_clients_streamed_throughout", raw_ok},
          {"server_cpu_pct_of_core_whole_run", ProcessCpuPct(cpu, wall)},
          {"result", result}};
}

// The browser figures against the 16 ms target: every update's main-thread
// time (the script's update_ms over all its pages) should stay under it.
Json BrowserTarget(const Json& browser) {
  Json t = {{"max", kBrowserTargetMs}};
  const Json* update = nullptr;
  if (browser.contains("result") && browser["result"].contains("update_ms")) {
    update = &browser["result"]["update_ms"];
  }
  if (update == nullptr || !update->is_object() || !(*update)["max"].is_number()) {
    t["measured"] = nullptr;
    return t;
  }
  const double max = (*update)["max"].get<double>();
  t["median"] = (*update)["median"];
  t["p95"] = (*update)["p95"];
  t["measured"] = max;
  t["ratio"] = max / kBrowserTargetMs;
  t["met"] = max < kBrowserTargetMs;
  return t;
}

std::string Absolute(const std::string& path) {
  return path.empty() ? path : std::filesystem::absolute(path).string();
}

std::string BesideSelf(const std::string& name) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

Json Target(double max, double measured) {
  return {{"max", max}, {"measured", measured}, {"ratio", measured / max}, {"met", measured < max}};
}

// The stream's first client: a 200, a snapshot first, every node in it.
Json Probe(const Options& o, const std::string& url) {
  auto pool = ConnectClients(o, url, 1);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const SseClientStats s = pool->Stats().at(0);
  const auto snapshot = s.by_type.find("snapshot");
  if (!s.first_event_is_snapshot) Fail("the stream's first event is not a snapshot");
  if (s.snapshot_nodes < o.nodes) {
    Say(absl::StrCat("WARNING: the stream's snapshot lists ", s.snapshot_nodes, " nodes, not ",
                     o.nodes));
  }
  return {{"content_type", s.content_type},
          {"first_event_is_snapshot", s.first_event_is_snapshot},
          {"snapshot_nodes", s.snapshot_nodes},
          {"snapshot_data_bytes", snapshot == s.by_type.end() ? 0 : snapshot->second.data_bytes}};
}

// The server's arguments with the stream publishing once a minute (A0).
std::vector<std::string> PublisherIdle(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--stream-interval-ms") {
      ++i;
    } else if (!argv[i].starts_with("--stream-interval-ms=")) {
      out.push_back(argv[i]);
    }
  }
  out.insert(out.end(), {"--stream-interval-ms", "60000"});
  return out;
}

double Pct(const Json& window) { return window["server_cpu_pct_of_core"].get<double>(); }

void PrintSummary(const Options& o, const Json& m, const Json& browser) {
  const auto line = [&m](const std::string& label, const char* key, const std::string& target) {
    std::fprintf(stderr, "%-44s %6.2f%% of a core%s\n", label.c_str(), m[key].get<double>(),
                 target.c_str());
  };
  const auto ratio = [](double v, double max, const char* unit) {
    return absl::StrFormat("  target < %g%s: %.2fx", max, unit, v / max);
  };
  std::fprintf(stderr,
               "\n== dashboard stream, synthetic fleet: %d nodes x %d devices, %d clients, %d x "
               "%.0f s windows (medians over the repeats) ==\n",
               o.nodes, o.devices, o.clients, o.repeats, o.window_s);
  if (o.a0) line("server CPU, A0 (publisher idle, no client):", "server_cpu_pct_of_core_a0", "");
  line("server CPU, A (no client):", "server_cpu_pct_of_core_a", "");
  line(absl::StrCat("server CPU, B (", o.clients, " clients):"), "server_cpu_pct_of_core_b", "");
  if (o.a0) {
    line("stream, whole (B - A0):", "stream_cpu_pct_of_core_b_minus_a0",
         ratio(m["stream_cpu_pct_of_core_b_minus_a0"].get<double>(), kCpuTargetPct, "%"));
    line("  publishing the state (A - A0):", "publisher_cpu_pct_of_core_a_minus_a0", "");
    line("  sending to the clients (B - A):", "stream_cpu_pct_of_core_b_minus_a", "");
  } else {
    line("stream, sending to the clients (B - A):", "stream_cpu_pct_of_core_b_minus_a",
         ratio(m["stream_cpu_pct_of_core_b_minus_a"].get<double>(), kCpuTargetPct, "%"));
  }
  std::fprintf(stderr, "per-client bytes/s: median %.0f, max %.0f%s\nper-client events/s: %.2f\n",
               m["client_bytes_per_s_median"].get<double>(),
               m["client_bytes_per_s_max"].get<double>(),
               ratio(m["client_bytes_per_s_max"].get<double>(), kBytesTargetPerS, " B/s").c_str(),
               m["client_events_per_s_median"].get<double>());
  if (!o.browser) return;
  const Json t = BrowserTarget(browser);
  if (t["measured"].is_number()) {
    std::fprintf(stderr,
                 "browser (%d dashboards + %d raw clients): main-thread ms per update median %s, "
                 "p95 %s, max %.2f%s\n",
                 o.browser_clients, browser.value("raw_clients_alongside", 0),
                 t["median"].dump().c_str(), t["p95"].dump().c_str(), t["measured"].get<double>(),
                 ratio(t["measured"].get<double>(), kBrowserTargetMs, " ms").c_str());
  } else {
    std::fprintf(stderr, "browser: %s\n", browser.dump().substr(0, 2000).c_str());
  }
}

int Run(Options o, const std::string& command_line) {
  o.binary = Absolute(o.binary.empty() ? testing::HeteroaccelBinary() : o.binary);
  o.fleet_sim = Absolute(o.fleet_sim.empty() ? BesideSelf("fleet_sim") : o.fleet_sim);
  for (const std::string& b : {o.binary, o.fleet_sim}) {
    if (access(b.c_str(), X_OK) != 0) Fail(b + " is not an executable (build it first)");
  }
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("heteroaccel_stream_bench_", getpid()))
          .string();
  std::filesystem::create_directories(dir);
  g_temp_dir = dir;
  const Json machine = {{"cores", std::thread::hardware_concurrency()},
                        {"cpu", CpuModel()},
                        {"loadavg_at_start", ReadFirstLine("/proc/loadavg")}};
  const bool state_dir = ServerTakes(o.binary, "--state-dir");
  int clusters = 0;
  const auto argv = [&](bool publisher_idle) {
    std::vector<std::string> a = {o.binary,      "server",          "--listen",
                                  "127.0.0.1:0", "--cluster-token", o.cluster_token};
    if (state_dir) a.insert(a.end(), {"--state-dir", absl::StrCat(dir, "/state", clusters++)});
    if (!o.viewer_token.empty()) a.insert(a.end(), {"--viewer-token", o.viewer_token});
    a.insert(a.end(), o.server_args.begin(), o.server_args.end());
    return publisher_idle ? PublisherIdle(a) : a;
  };
  const auto settle = [&o] {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.settle_s));
  };

  bool fleet_ok = true;
  Json probe, runs = Json::array(), server_argv;
  std::string fleet_summary;
  std::vector<double> cpu_a0, cpu_a, cpu_b, b_minus_a, b_minus_a0, a_minus_a0, bytes_median,
      bytes_max, events_median;
  std::unique_ptr<Cluster> live;
  for (int r = 0; r < o.repeats; ++r) {
    const std::string run = absl::StrCat("run ", r + 1, "/", o.repeats, ": ");
    Json a0;
    if (o.a0) {
      if (live) fleet_summary = live->StopFleet();
      live.reset();  // one cluster at a time
      auto idle = StartCluster(o, argv(true));
      settle();
      Say(absl::StrCat(run, "A0, publisher idle, no stream client, ", o.window_s, " s"));
      a0 = MeasureWindow(o, *idle, nullptr, fleet_ok);
      fleet_summary = idle->StopFleet();
    }
    if (!live) {
      live = StartCluster(o, argv(false));
      server_argv = live->server_argv;
      if (probe.is_null()) probe = Probe(o, live->url);
      settle();
    }
    Say(absl::StrCat(run, "A, no stream client, ", o.window_s, " s"));
    Json a = MeasureWindow(o, *live, nullptr, fleet_ok);
    Say(absl::StrCat(run, "B, ", o.clients, " stream clients, ", o.window_s, " s"));
    auto pool = ConnectClients(o, live->url, o.clients);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    Json b = MeasureWindow(o, *live, pool.get(), fleet_ok);
    pool.reset();
    Json entry = {{"a_no_clients", a},
                  {"b_with_clients", b},
                  {"stream_cpu_pct_of_core_b_minus_a", Pct(b) - Pct(a)}};
    cpu_a.push_back(Pct(a));
    cpu_b.push_back(Pct(b));
    b_minus_a.push_back(Pct(b) - Pct(a));
    if (o.a0) {
      entry["a0_publisher_idle"] = a0;
      entry["stream_cpu_pct_of_core_b_minus_a0"] = Pct(b) - Pct(a0);
      entry["publisher_cpu_pct_of_core_a_minus_a0"] = Pct(a) - Pct(a0);
      cpu_a0.push_back(Pct(a0));
      b_minus_a0.push_back(Pct(b) - Pct(a0));
      a_minus_a0.push_back(Pct(a) - Pct(a0));
    }
    bytes_median.push_back(b["client_bytes_per_s_median"]);
    bytes_max.push_back(b["client_bytes_per_s_max"]);
    events_median.push_back(b["client_events_per_s_median"]);
    Say(absl::StrCat(run, "server CPU ", o.a0 ? absl::StrCat("A0 ", Pct(a0), "%, ") : "", "A ",
                     Pct(a), "%, B ", Pct(b), "% of a core; client bytes/s median ",
                     bytes_median.back(), ", max ", bytes_max.back()));
    runs.push_back(entry);
    // The closed connections' teardown stays out of the next window.
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }

  Json browser;
  if (o.browser) browser = RunBrowser(o, live->url, live->server->pid());
  fleet_summary = live->StopFleet();
  live.reset();
  std::filesystem::remove_all(dir);

  Json medians = {{"server_cpu_pct_of_core_a", Median(cpu_a)},
                  {"server_cpu_pct_of_core_b", Median(cpu_b)},
                  {"stream_cpu_pct_of_core_b_minus_a", Median(b_minus_a)},
                  {"client_bytes_per_s_median", Median(bytes_median)},
                  {"client_bytes_per_s_max", Median(bytes_max)},
                  {"client_events_per_s_median", Median(events_median)}};
  Json ranges = {{"stream_cpu_pct_of_core_b_minus_a", Range(b_minus_a)},
                 {"client_bytes_per_s_max", Range(bytes_max)}};
  if (o.a0) {
    medians["server_cpu_pct_of_core_a0"] = Median(cpu_a0);
    medians["stream_cpu_pct_of_core_b_minus_a0"] = Median(b_minus_a0);
    medians["publisher_cpu_pct_of_core_a_minus_a0"] = Median(a_minus_a0);
    ranges["stream_cpu_pct_of_core_b_minus_a0"] = Range(b_minus_a0);
    ranges["publisher_cpu_pct_of_core_a_minus_a0"] = Range(a_minus_a0);
  }
  Json cpu_target = Target(kCpuTargetPct, Median(o.a0 ? b_minus_a0 : b_minus_a));
  cpu_target["of"] = o.a0 ? "B - A0: sending to the clients and publishing the state"
                          : "B - A: sending to the clients (the publisher's own work not counted)";
  Json report = {
      {"benchmark", "dashboard_stream"},
      {"synthetic", true},
      {"what",
       "CPU the server spends on GET /v1/stream and what each stream client receives, with a "
       "synthetic fleet (fleet_sim: emulated devices, named synthetic-*) heartbeating every "
       "interval_ms. A0 = publisher idle (--stream-interval-ms 60000), no client; A = no "
       "client; B = `clients` raw stream clients."},
      {"command", command_line},
      {"source", o.source},
      {"machine", machine},
      {"setup",
       {{"nodes", o.nodes},
        {"devices_per_node", o.devices},
        {"clients", o.clients},
        {"window_s", o.window_s},
        {"repeats", o.repeats},
        {"interval_ms", o.interval_ms},
        {"a0", o.a0},
        {"server_argv", server_argv}}},
      {"probe", probe},
      {"runs", runs},
      {"medians", medians},
      {"ranges", ranges},
      {"targets",
       {{"stream_cpu_pct_of_core", cpu_target},
        {"client_bytes_per_s_max", Target(kBytesTargetPerS, Median(bytes_max))},
        {"browser_main_thread_ms_per_update", BrowserTarget(browser)}}},
      {"fleet_all_up_after_every_window", fleet_ok},
      {"fleet_sim_summary", fleet_summary},
      {"loadavg_at_end", ReadFirstLine("/proc/loadavg")}};
  if (o.browser) report["browser"] = browser;
  const std::string text = report.dump(2);
  std::printf("%s\n", text.c_str());
  if (!o.json_out.empty()) std::ofstream(o.json_out) << text << "\n";

  PrintSummary(o, medians, browser);
  std::fprintf(stderr, "fleet all up after every window: %s\n", fleet_ok ? "yes" : "NO");
  if (!o.json_out.empty()) std::fprintf(stderr, "JSON written to %s\n", o.json_out.c_str());
  if (!fleet_ok) {
    std::fprintf(stderr,
                 "stream_bench: WARNING: some synthetic nodes were down after a window; these "
                 "figures are not of the whole fleet\n");
    return 3;
  }
  if (o.browser && browser.contains("error")) return 4;
  return 0;
}

}  // namespace
}  // namespace heteroaccel::bench

int main(int argc, char** argv) {
  heteroaccel::bench::Options o;
  CLI::App app{
      "stream_bench: what the server's dashboard stream (GET /v1/stream) costs with a synthetic "
      "fleet (fleet_sim) of nodes x devices and N stream clients"};
  app.add_option("--binary", o.binary, "The heteroaccel binary (default: beside this one)");
  app.add_option("--fleet-sim", o.fleet_sim, "The fleet_sim binary (default: beside this one)");
  app.add_option("--nodes", o.nodes, "Synthetic nodes")->check(CLI::Range(1, 100000));
  app.add_option("--devices", o.devices, "Devices per synthetic node")->check(CLI::Range(1, 64));
  app.add_option("--clients", o.clients, "Stream clients in window B")->check(CLI::Range(1, 1000));
  app.add_option("--repeats", o.repeats, "Pairs of windows (A, B)")->check(CLI::Range(1, 100));
  app.add_option("--window", o.window_s, "Seconds per window")->check(CLI::PositiveNumber);
  app.add_option("--settle", o.settle_s, "Seconds between the fleet coming up and the first window")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--up-timeout", o.up_timeout_s, "Seconds the fleet may take to show up")
      ->check(CLI::PositiveNumber);
  app.add_option("--interval-ms", o.interval_ms, "Each synthetic node's heartbeat period");
  app.add_option("--seed", o.seed, "Seed of the synthetic figures");
  app.add_option("--cluster-token", o.cluster_token, "Cluster token for the server and fleet_sim");
  app.add_option("--viewer-token", o.viewer_token,
                 "Give the server this --viewer-token and use it");
  app.add_option("--server-arg", o.server_args,
                 "Extra server argument (repeat; --server-arg=--stream-interval-ms=250)");
  app.add_option("--json-out", o.json_out, "Also write the JSON report here");
  app.add_option("--source", o.source, "Which source tree the binaries came from (for the report)");
  app.add_flag("!--no-a0", o.a0,
               "Skip the A0 windows (publisher idle) and keep one cluster for all repeats");
  app.add_flag("--browser", o.browser, "Also run the browser script (when it exists)");
  app.add_option("--browser-script", o.browser_script, "The browser measurement script");
  app.add_option("--browser-seconds", o.browser_seconds, "Seconds the browser script measures");
  app.add_option("--browser-clients", o.browser_clients,
                 "Dashboards the browser script opens (raw clients make up --clients)")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  std::vector<std::string> args(argv, argv + argc);
  args[0] = std::filesystem::path(args[0]).filename().string();
  return heteroaccel::bench::Run(o, absl::StrJoin(args, " "));
}
