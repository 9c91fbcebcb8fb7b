// Registration: keeps this agent known to every server replica. The server
// setting is a comma-separated list of URLs ("http://a:8000,http://b:8000");
// each URL's host name is resolved to ALL its addresses (a Kubernetes headless
// Service such as heteroaccel-server-peers resolves to every replica's pod IP)
// and one heartbeat loop runs per address, so every replica builds the same
// cluster view and schedules on its own; the agents' bounded queues arbitrate
// between replicas (a full queue answers 429 and that replica retries
// elsewhere). The names are resolved again every `resolve_interval` (5 s by
// default): loops for addresses that disappeared stop, new addresses get a
// loop. A name that fails to resolve keeps its last addresses, so a DNS hiccup
// does not drop a live replica. Each loop has its own thread and connection: a
// replica that is down or slow delays only its own heartbeats.
//
// Each loop sends the node's state (devices, slots, loaded variants with their
// measured service times, queue depths, busy time; the node's group and CPU,
// memory and temperature figures) every `interval` over one keep-alive
// connection, authenticated with the cluster token. The static description of
// its models (labels, keypoint names, variants) goes with the first heartbeat
// and again only when that replica asks for it (its reply says
// "send_model_info") or the connection was lost. A replica marks a node down
// when these stop, and up again when they resume, so an agent that restarts or
// reconnects rejoins by itself, and a replica that starts later is joined
// within one resolve interval.
//
// Owns its threads (one resolver, one per address); Stop() (or destruction)
// ends them. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/context.h"
#include "cluster/contract.h"

namespace heteroaccel::agent {

// The heartbeat (cluster/contract.h): what the server's cluster view is built
// from, with the models' static description when `with_model_info`.
cluster::NodeReport NodeState(const AgentContext& context, const std::string& advertise_url,
                              bool with_model_info = true);

// Resolves a host name (or an IP literal) to every numeric address it has
// ("10.0.0.7", "fd00::7"). Unavailable when the name does not resolve.
using Resolver = std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)>;

// getaddrinfo: every IPv4 and IPv6 address of `host`, deduplicated, in the
// resolver's order.
absl::StatusOr<std::vector<std::string>> SystemResolve(const std::string& host);

// At most this many server URLs, and addresses in all: a bound on threads.
inline constexpr size_t kMaxServerUrls = 16;
inline constexpr size_t kMaxServerAddresses = 64;

// Splits the server setting at commas into URLs, trimming spaces and skipping
// empty entries; "host:port" gets "http://". Duplicates are dropped.
// InvalidArgument naming the entry at fault (not http, no host, bad port) or
// for more than kMaxServerUrls; an empty setting is an empty list.
absl::StatusOr<std::vector<std::string>> ParseServerList(std::string_view servers);

// One heartbeat destination: `url` with its host replaced by one numeric
// address ("http://10.0.0.7:8000/prefix"), and the configured URL it came from.
struct ServerEndpoint {
  std::string url;
  std::string configured;
  bool operator==(const ServerEndpoint&) const = default;
};

// The endpoints of `servers` (from ParseServerList): each URL's addresses from
// `resolve`. A URL whose name does not resolve keeps its entries in `previous`
// (keyed by url); at most kMaxServerAddresses in all, in `servers` order.
// Keyed by endpoint url, so one address listed under two names heartbeats once.
std::map<std::string, ServerEndpoint> ResolveServers(
    const std::vector<std::string>& servers, const Resolver& resolve,
    const std::map<std::string, ServerEndpoint>& previous);

class Registration {
 public:
  struct Options {
    // "http://host:port", or several separated by commas (every replica).
    std::string server;
    std::string token;          // sent as "Authorization: Bearer <token>"
    std::string advertise_url;  // where the server reaches this agent
    std::chrono::milliseconds interval{200};
    // How often the server names are resolved again.
    std::chrono::milliseconds resolve_interval{5'000};
    // Null: SystemResolve. Tests substitute their own.
    Resolver resolver;
  };
  Registration(Options options, const AgentContext& context);
  ~Registration();
  void Stop();

  // The endpoints heartbeats go to now (by endpoint url).
  std::vector<std::string> Endpoints() const;

 private:
  class Heartbeat;

  void Run();
  // Resolves again and starts and stops heartbeat loops to match.
  void Update();

  const Options options_;
  const AgentContext& context_;
  std::vector<std::string> servers_;  // the parsed setting; set before the thread starts
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  // Only the resolver thread (and Stop, after joining it) touches the loops.
  std::map<std::string, ServerEndpoint> endpoints_;          // guarded by mu_
  std::map<std::string, std::unique_ptr<Heartbeat>> loops_;  // the resolver thread's
  std::thread thread_;
};

}  // namespace heteroaccel::agent
