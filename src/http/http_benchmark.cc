// http_benchmark: measures the HTTP layer alone, in process: a Server with a
// trivial handler that answers a small JSON, driven by Clients over loopback.
//
//   http_benchmark                         latency and throughput table
//   http_benchmark --serve [--port P]      serve until SIGINT/SIGTERM (for wrk)
//   options: --io-threads N (default 1), --seconds S per throughput row (default 2)
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "http/client.h"
#include "http/server.h"

namespace heteroaccel::http {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  bool serve = false;
  uint16_t port = 0;
  int io_threads = 1;
  double seconds = 2.0;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "0";
    if (arg == "--serve") {
      flags.serve = true;
    } else if (arg == "--port") {
      flags.port = static_cast<uint16_t>(std::atoi(value));
      ++i;
    } else if (arg == "--io-threads") {
      flags.io_threads = std::max(1, std::atoi(value));
      ++i;
    } else if (arg == "--seconds") {
      flags.seconds = std::max(0.1, std::atof(value));
      ++i;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", arg.c_str());
      std::exit(2);
    }
  }
  return flags;
}

Router MakeRouter() {
  Router router;
  auto ok = [](Request&&, const PathParams&, Responder respond) {
    Response response;
    response.body = R"({"ok":true})";
    respond(std::move(response));
  };
  router.Add("GET", "/v2/health/live", ok);
  router.Add("POST", "/v2/models/{model}/infer", ok);
  return router;
}

const std::string kSmallBody =
    R"({"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]})";

std::unique_ptr<Client> NewClient(const Server& server) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(server.address());
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*client);
}

bool OneRequest(Client& client, bool post, const std::string& body) {
  absl::StatusOr<ClientResponse> response =
      post ? client.Post("/v2/models/m/infer", "application/json", body)
           : client.Get("/v2/health/live");
  if (!response.ok() || response->status != 200) {
    std::fprintf(stderr, "request failed: %s\n",
                 response.ok() ? std::to_string(response->status).c_str()
                               : response.status().ToString().c_str());
    return false;
  }
  return true;
}

void LatencyRow(const Server& server, const char* name, bool post, const std::string& body,
                int count) {
  std::unique_ptr<Client> client = NewClient(server);
  for (int i = 0; i < count / 10; ++i) OneRequest(*client, post, body);  // warm-up
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    if (!OneRequest(*client, post, body)) return;
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) { return micros[static_cast<size_t>(q * (micros.size() - 1))]; };
  double sum = 0;
  for (double m : micros) sum += m;
  std::printf("| %-28s | %8d | %8.1f | %8.1f | %8.1f | %8.1f |\n", name, count, at(0.5), at(0.9),
              at(0.99), sum / micros.size());
}

void ThroughputRow(const Server& server, const char* name, bool post, const std::string& body,
                   int clients, double seconds) {
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      std::unique_ptr<Client> client = NewClient(server);
      OneRequest(*client, post, body);  // connect before the clock starts
      while (!go.load()) std::this_thread::yield();
      uint64_t local = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (OneRequest(*client, post, body)) {
          ++local;
        } else {
          failed.fetch_add(1);
        }
      }
      done.fetch_add(local);
    });
  }
  const auto start = Clock::now();
  go.store(true);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured interval
  stop.store(true);
  for (std::thread& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("| %-28s | %8d | %12.0f | %8llu |\n", name, clients, done.load() / elapsed,
              static_cast<unsigned long long>(failed.load()));
}

int Serve(std::unique_ptr<Server> server) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  server->Start();
  std::printf("serving on http://%s (GET /v2/health/live, POST /v2/models/m/infer)\n",
              server->address().c_str());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  server->Stop();
  return 0;
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  // Block the stop signals before any thread starts so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerOptions options;
  options.port = flags.port;
  options.io_threads = flags.io_threads;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(options, MakeRouter());
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  if (flags.serve) return Serve(std::move(*server));
  (*server)->Start();

  std::printf("HTTP layer, loopback, %d io thread(s), %u hardware threads\n\n", flags.io_threads,
              std::thread::hardware_concurrency());
  std::printf("Round-trip latency, one client, sequential (microseconds)\n");
  std::printf("| %-28s | %8s | %8s | %8s | %8s | %8s |\n", "request", "count", "p50", "p90", "p99",
              "mean");
  std::printf(
      "|------------------------------|----------|----------|----------|----------|----------|\n");
  LatencyRow(**server, "GET /v2/health/live", false, "", 20000);
  LatencyRow(**server, "POST small JSON (80 B)", true, kSmallBody, 20000);
  LatencyRow(**server, "POST 100 KB body", true, std::string(100 << 10, 'x'), 2000);

  std::printf("\nThroughput, N keep-alive clients in threads, %.1f s each\n", flags.seconds);
  std::printf("| %-28s | %8s | %12s | %8s |\n", "request", "clients", "req/s", "errors");
  std::printf("|------------------------------|----------|--------------|----------|\n");
  for (int clients : {1, 2, 4, 8, 32}) {
    ThroughputRow(**server, "POST small JSON (80 B)", true, kSmallBody, clients, flags.seconds);
  }
  ThroughputRow(**server, "POST 100 KB body", true, std::string(100 << 10, 'x'), 4, flags.seconds);
  (*server)->Stop();
  return 0;
}

}  // namespace
}  // namespace heteroaccel::http

int main(int argc, char** argv) { return heteroaccel::http::Main(argc, argv); }
