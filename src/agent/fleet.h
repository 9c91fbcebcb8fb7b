// FleetService: the agent's side of fleet operations (docs/fleet.md). Each
// operation is a fixed, typed action under /v1/fleet/ that the server calls:
//   GET  /v1/fleet/ping                   the management route's round trip
//   GET  /v1/fleet/facts                  OS, kernel, uptime, CPU, memory, devices
//   POST /v1/fleet/time[?state=1]         t1/t2 of a four-timestamp exchange
//                                         (and the node's sync state)
//   POST /v1/fleet/speed/sink             discards the body (downlink)
//   GET  /v1/fleet/speed/source?bytes=N   N bytes (uplink), N <= kMaxSpeedBytes
//   GET  /v1/fleet/monitor                the current CPU/memory/network/temperature
//                                         sample and the devices' figures
//   POST /v1/fleet/time/sync              asks the time service to sync now: chronyd
//                                         (chronyc -a makestep) or systemd-timesyncd
//                                         (systemctl restart); needs --allow-time-sync
//   POST /v1/fleet/packages               apt update / list / upgrade (node/packages.h)
//   POST /v1/fleet/models/install         download, verify and serve a model version from
//                                         the server's repository (agent/model_install.h)
//   POST /v1/fleet/emulation              {"device", "slowdown"}: an emulated device's
//                                         service times x slowdown from now on (a fault
//                                         drill; 1 restores its profile); a real device
//                                         is 400, an unknown one 404
//
// Security: with a cluster token configured, every route needs it
// ("Authorization: Bearer <token>", compared in constant time); the token is
// what the server the agent registers with holds, so only that server (or an
// operator holding the secret) can manage the node. The HTTP layer does not
// expose the peer's address, so the token is the only check. Without a
// cluster token the read-only routes are open (like the rest of a token-less
// agent) and packages are refused. Packages also need
// FleetOptions::allow_package_actions (the agent's --allow-package-actions);
// without it they are 403 naming the flag.
//
// Model installs and emulation changes always need the cluster token (without
// one they are 403).
//
// Package actions and model installs run one at a time on the service's own
// thread (a second one meanwhile is 409), never on the HTTP io thread. The destructor (or Stop)
// waits for one in progress. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/context.h"
#include "agent/model_install.h"
#include "node/packages.h"
#include "node/time_sync.h"

namespace heteroaccel::agent {

inline constexpr size_t kMaxSpeedBytes = size_t{16} << 20;

struct FleetOptions {
  std::string cluster_token;  // "" = read-only routes open, packages refused
  bool allow_package_actions = false;
  bool allow_time_sync = false;
  std::string chronyc = "/usr/bin/chronyc";
  std::string systemctl = "/usr/bin/systemctl";
  std::chrono::milliseconds sync_timeout{std::chrono::seconds(30)};
  std::string root = "/";  // facts and the sync state are read under it
  std::string apt_get = "/usr/bin/apt-get";
  std::chrono::milliseconds package_timeout{std::chrono::minutes(10)};
  size_t max_package_output = size_t{64} << 10;
  // Null: the system's. Tests put fakes here (an offset clock, a fake apt).
  const node::WallClock* wall_clock = nullptr;
  std::shared_ptr<node::CommandRunner> runner;
  node::AdjtimexFunction adjtimex;
  // Serves POST /v1/fleet/models/install; null: 503. Not owned.
  ModelInstaller* installer = nullptr;
};

class FleetService {
 public:
  FleetService(FleetOptions options, AgentContext& context);
  ~FleetService();
  FleetService(const FleetService&) = delete;
  FleetService& operator=(const FleetService&) = delete;

  void AddRoutes(http::Router& router);
  // Waits for a package action in progress; later ones are 503.
  void Stop();

 private:
  enum class Need { kRead, kInstall, kPackages, kTimeSync, kEmulation };
  // The 401/403 answer, or nullopt when `request` may do what `need` says.
  std::optional<http::Response> Deny(const http::Request& request, Need need) const;
  void HandlePackages(http::Request&& request, http::Responder respond);
  void HandleModelInstall(http::Request&& request, http::Responder respond);
  void HandleTimeSync(http::Responder respond);
  void HandleEmulation(const http::Request& request, http::Responder respond);
  // Runs `job` on the worker thread and answers with its response; 409 while another
  // runs, 503 once stopping.
  void RunExclusive(std::function<http::Response()> job, http::Responder respond);

  const FleetOptions options_;
  AgentContext& context_;
  const node::WallClock& wall_clock_;
  std::shared_ptr<node::CommandRunner> runner_;
  std::mutex mu_;
  bool busy_ = false;     // guarded by mu_: a package action or model install is running
  bool stopped_ = false;  // guarded by mu_
  std::thread worker_;    // the latest one's thread; guarded by mu_
};

}  // namespace heteroaccel::agent
