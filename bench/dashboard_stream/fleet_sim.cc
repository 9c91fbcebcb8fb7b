// fleet_sim: a load tool that registers a synthetic cluster with a server and
// keeps it alive: --nodes nodes of --devices devices each, every node sending
// its heartbeat (POST /v1/cluster/heartbeat, the agents' contract) every
// --interval-ms like a real agent, with changing figures (SyntheticFleet).
//
// The nodes' beats are spread evenly over the interval and sent over
// --connections keep-alive connections (one thread each; node i goes over
// connection i mod C), so the server sees a steady stream rather than bursts.
// Everything it registers is named synthetic and marked emulated; the nodes
// serve no inference, so no requests should be sent to the server meanwhile.
//
// Prints a status line every --report-every seconds and a summary at the end
// (--duration, or SIGINT/SIGTERM). Exits 2 at once when the server refuses a
// heartbeat as unauthorised (401/403: give its --cluster-token with --token)
// or malformed (400), and 1 when no heartbeat was accepted in the first 10 s.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/contract.h"
#include "http/client.h"
#include "synthetic_fleet.h"

namespace heteroaccel::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

struct Options {
  std::string server;
  int nodes = 100;
  int devices = 4;
  std::string token;
  double duration_s = 0;  // 0: until a signal
  int interval_ms = 200;
  int connections = 4;
  uint64_t seed = 1;
  std::string advertise = "http://127.0.0.1:1";
  double report_every_s = 10;
};

// Shared by the sender threads; read by the main thread for status lines.
struct Counters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> skipped{0};  // beats dropped because a sender fell a whole interval behind
  std::atomic<int64_t> max_late_us{
      0};                     // how late a beat left after its slot, since the last status
  std::atomic<int> fatal{0};  // exit code requested by a sender, 0 when none
  std::mutex mu;
  std::string last_error;  // guarded by mu
};

void NoteLateness(Counters& c, int64_t late_us) {
  int64_t seen = c.max_late_us.load();
  while (late_us > seen && !c.max_late_us.compare_exchange_weak(seen, late_us)) {
  }
}

// One connection: sends the beats of nodes first, first + step, ... in their
// slots (node i's slot is at i × interval / nodes within each interval).
void Sender(const Options& o, SyntheticFleet& fleet, int first, int step, Clock::time_point start,
            Counters& c) {
  auto client = http::Client::Create(o.server, std::chrono::seconds(2));
  if (!client.ok()) {
    std::fprintf(stderr, "fleet_sim: error: %s\n", std::string(client.status().message()).c_str());
    c.fatal = 2;
    return;
  }
  http::HeaderList headers;
  if (!o.token.empty()) headers.push_back({"Authorization", "Bearer " + o.token});
  const auto interval = std::chrono::milliseconds(o.interval_ms);
  struct Slot {
    int node;
    Clock::time_point due;
    bool send_model_info = true;
  };
  std::vector<Slot> slots;
  for (int i = first; i < fleet.size(); i += step) {
    slots.push_back({i, start + std::chrono::microseconds(interval) * i / fleet.size()});
  }
  if (slots.empty()) return;
  for (size_t next = 0; !g_stop && c.fatal == 0; next = (next + 1) % slots.size()) {
    Slot& s = slots[next];
    std::this_thread::sleep_until(s.due);
    if (g_stop) break;
    const auto now = Clock::now();
    NoteLateness(c, std::chrono::duration_cast<std::chrono::microseconds>(now - s.due).count());
    const double now_s = std::chrono::duration<double>(now - start).count();
    const std::string body = cluster::ToJson(fleet.Beat(s.node, now_s, s.send_model_info)).dump();
    auto response = (*client)->Post("/v1/cluster/heartbeat", "application/json", body, headers);
    ++c.sent;
    if (response.ok() && response->status == 200) {
      ++c.accepted;
      s.send_model_info = cluster::ParseHeartbeatReply(response->body).send_model_info;
    } else {
      ++c.failed;
      s.send_model_info = true;  // a server that lost us may have lost what we told it
      const std::string why =
          response.ok() ? "HTTP " + std::to_string(response->status) + ": " + response->body
                        : std::string(response.status().message());
      {
        std::lock_guard<std::mutex> lock(c.mu);
        c.last_error = why;
      }
      if (response.ok() &&
          (response->status == 400 || response->status == 401 || response->status == 403)) {
        std::fprintf(
            stderr, "fleet_sim: error: the server refused a synthetic heartbeat: %s%s\n",
            why.c_str(),
            response->status == 400 ? "" : " (give the server's --cluster-token as --token)");
        c.fatal = 2;
      }
    }
    s.due += interval;
    // A sender more than an interval behind drops the beats it missed rather
    // than sending them in a burst (a real agent waits an interval after each).
    if (Clock::now() - s.due > interval) {
      const auto behind = (Clock::now() - s.due) / interval;
      c.skipped += static_cast<uint64_t>(behind);
      s.due += interval * behind;
    }
  }
}

int Run(const Options& o) {
  FleetOptions fo;
  fo.nodes = o.nodes;
  fo.devices_per_node = o.devices;
  fo.seed = o.seed;
  fo.url = o.advertise;
  SyntheticFleet fleet(fo);
  Counters c;
  const int connections = std::min(o.connections, o.nodes);
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  std::printf(
      "fleet_sim: synthetic fleet of %d nodes x %d devices (all emulated, named synthetic-*) "
      "heartbeating %s every %d ms over %d connections\n",
      o.nodes, o.devices, o.server.c_str(), o.interval_ms, connections);
  std::fflush(stdout);
  std::vector<std::thread> senders;
  for (int k = 0; k < connections; ++k) {
    senders.emplace_back(Sender, std::cref(o), std::ref(fleet), k, connections, start, std::ref(c));
  }
  const double target_rate = o.nodes * 1000.0 / o.interval_ms;
  auto last_report = Clock::now();
  uint64_t last_sent = 0;
  int exit_code = 0;
  while (!g_stop && c.fatal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto now = Clock::now();
    const double since_start = std::chrono::duration<double>(now - start).count();
    if (o.duration_s > 0 && since_start >= o.duration_s) break;
    if (since_start > 10 && c.accepted == 0) {
      std::lock_guard<std::mutex> lock(c.mu);
      std::fprintf(stderr,
                   "fleet_sim: error: no synthetic heartbeat accepted by %s in 10 s (last error: "
                   "%s)\n",
                   o.server.c_str(), c.last_error.c_str());
      exit_code = 1;
      break;
    }
    const double since_report = std::chrono::duration<double>(now - last_report).count();
    if (o.report_every_s > 0 && since_report >= o.report_every_s) {
      const uint64_t sent = c.sent;
      std::printf(
          "fleet_sim: synthetic fleet: %.1f heartbeats/s (target %.1f), %llu accepted, %llu "
          "failed, %llu skipped in all; latest beat %.1f ms after its slot\n",
          static_cast<double>(sent - last_sent) / since_report, target_rate,
          static_cast<unsigned long long>(c.accepted.load()),
          static_cast<unsigned long long>(c.failed.load()),
          static_cast<unsigned long long>(c.skipped.load()), c.max_late_us.exchange(0) / 1e3);
      std::fflush(stdout);
      last_sent = sent;
      last_report = now;
    }
  }
  g_stop = true;
  for (std::thread& t : senders) t.join();
  if (c.fatal != 0) exit_code = c.fatal;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "fleet_sim: synthetic fleet stopped after %.1f s: %llu heartbeats sent (%.1f/s, target "
      "%.1f), %llu accepted, %llu failed, %llu skipped\n",
      seconds, static_cast<unsigned long long>(c.sent.load()),
      static_cast<double>(c.sent) / std::max(seconds, 1e-9), target_rate,
      static_cast<unsigned long long>(c.accepted.load()),
      static_cast<unsigned long long>(c.failed.load()),
      static_cast<unsigned long long>(c.skipped.load()));
  return exit_code;
}

}  // namespace
}  // namespace heteroaccel::bench

int main(int argc, char** argv) {
  heteroaccel::bench::Options o;
  CLI::App app{
      "fleet_sim: registers a synthetic cluster (nodes x devices, all emulated) with a "
      "heteroaccel server and heartbeats it like real agents"};
  app.add_option("--server", o.server, "The server's URL (http://host:port)")->required();
  app.add_option("--nodes", o.nodes, "Synthetic nodes")->check(CLI::Range(1, 100000));
  app.add_option("--devices", o.devices, "Devices per node")->check(CLI::Range(1, 64));
  app.add_option("--token", o.token, "The server's --cluster-token");
  app.add_option("--duration", o.duration_s, "Seconds to run; 0 runs until SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--interval-ms", o.interval_ms, "Each node's heartbeat period")
      ->check(CLI::Range(10, 60000));
  app.add_option("--connections", o.connections, "Keep-alive connections (one thread each)")
      ->check(CLI::Range(1, 256));
  app.add_option("--seed", o.seed, "Seed of the synthetic figures");
  app.add_option("--advertise", o.advertise,
                 "The URL every synthetic node announces (nothing need listen there)");
  app.add_option("--report-every", o.report_every_s, "Seconds between status lines; 0: none")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  signal(SIGINT, heteroaccel::bench::OnSignal);
  signal(SIGTERM, heteroaccel::bench::OnSignal);
  signal(SIGPIPE, SIG_IGN);
  return heteroaccel::bench::Run(o);
}
