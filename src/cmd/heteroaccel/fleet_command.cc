// heteroaccel fleet ACTION --target all|group/NAME|node/NAME: runs a fleet
// action through the server (docs/fleet.md) and prints each node's result as
// it arrives.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cmd/heteroaccel/commands.h"
#include "http/client.h"

namespace heteroaccel::cmd {
namespace {

using Json = nlohmann::json;

struct FleetArgs {
  std::string action;
  std::string target;
  std::string server = "http://127.0.0.1:8000";
  std::string token;
  bool serial = false;
  bool parallel = false;
  bool json = false;
  double timeout_seconds = 0;
  std::vector<std::string> params;  // KEY=VALUE
  std::string op;
  std::vector<std::string> packages;
  bool apply = false;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "heteroaccel fleet: %s\n", message.c_str());
  return code;
}

// POSTs `body` as HTTP/1.0 (so the stream is close-delimited) and calls
// `on_line` for each body line as it arrives. Returns the HTTP status, with
// the whole body in `error_body` when it is not 200.
absl::StatusOr<int> PostStreaming(const std::string& server, const std::string& path,
                                  const std::string& token, const std::string& body,
                                  const std::function<void(const std::string&)>& on_line,
                                  std::string& error_body) {
  auto host_port = http::ParseHostPort(server);
  if (!host_port.ok()) return host_port.status();
  const auto& [host, port] = *host_port;
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* addresses = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host));
  }
  int fd = -1;
  for (struct addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(addresses);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", server));
  std::string request = absl::StrCat("POST ", path, " HTTP/1.0\r\nHost: ", host, "\r\n",
                                     "Content-Type: application/json\r\nContent-Length: ",
                                     body.size(), "\r\n");
  if (!token.empty()) absl::StrAppend(&request, "Authorization: Bearer ", token, "\r\n");
  absl::StrAppend(&request, "\r\n", body);
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return absl::UnavailableError("the server closed the connection");
    }
    sent += static_cast<size_t>(n);
  }
  std::string buffer;
  int status = 0;
  bool in_body = false;
  char chunk[16384];
  while (true) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    if (!in_body) {
      const size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      std::vector<std::string> first = absl::StrSplit(buffer.substr(0, buffer.find("\r\n")), ' ');
      status = first.size() >= 2 ? std::atoi(first[1].c_str()) : 0;
      buffer.erase(0, end + 4);
      in_body = true;
    }
    if (status != 200) continue;
    for (size_t newline; (newline = buffer.find('\n')) != std::string::npos;) {
      on_line(buffer.substr(0, newline));
      buffer.erase(0, newline + 1);
    }
  }
  ::close(fd);
  if (!in_body) return absl::UnavailableError("the server closed the connection without answering");
  if (status == 200 && !buffer.empty()) on_line(buffer);
  if (status != 200) error_body = buffer;
  return status;
}

std::string Gib(double bytes) { return absl::StrFormat("%.1f GiB", bytes / (1 << 30)); }

std::string Summary(const std::string& action, const Json& d) {
  if (action == "connectivity") {
    return absl::StrFormat("reachable, control %.2f ms, data %.2f ms (%s), heartbeat %.1f s ago",
                           d.value("control_rtt_ms", 0.0), d.value("data_rtt_ms", 0.0),
                           d.value("ready", false) ? "ready" : "not ready",
                           d.value("heartbeat_age_seconds", 0.0));
  }
  if (action == "facts") {
    const Json cpu = d.value("cpu", Json::object());
    const Json os = d.value("os", Json::object());
    return absl::StrFormat("%s, kernel %s, %s, %s (%d sockets, %d cores, %d threads), %s, up %.1f h, "
                           "%d devices",
                           os.value("pretty_name", ""), d.value("kernel", ""),
                           d.value("architecture", ""), cpu.value("model", ""),
                           cpu.value("sockets", 0), cpu.value("cores", 0), cpu.value("threads", 0),
                           Gib(d.value("memory_total_bytes", 0.0)),
                           d.value("uptime_seconds", 0.0) / 3600,
                           static_cast<int>(d.value("devices", Json::array()).size()));
  }
  if (action == "time") {
    const Json sync = d.value("sync", Json::object());
    std::string service = sync.value("service", "");
    return absl::StrFormat(
        "offset %+.6f s (+/- %.6f s)%s; time service %s, kernel %s", d.value("offset_seconds", 0.0),
        d.value("error_bound_seconds", 0.0), d.value("alert", false) ? " ALERT" : "",
        service.empty() ? "none found" : service,
        sync.value("kernel_synchronized", false) ? "synchronised" : "not synchronised");
  }
  if (action == "speed") {
    return absl::StrFormat("downlink %.1f Mbit/s, uplink %.1f Mbit/s (%d bytes each way)",
                           d.value("downlink_mbit_per_second", 0.0),
                           d.value("uplink_mbit_per_second", 0.0), d.value("bytes", 0));
  }
  if (action == "packages") {
    if (!d.value("ran", false)) return d.value("note", "not run");
    const size_t n = d.value("upgradable", d.value("upgraded", Json::array())).size();
    return absl::StrFormat("%s%s: exit %d, %d package(s) %s", d.value("op", ""),
                           d.value("dry_run", true) ? " (dry run)" : "", d.value("exit_code", -1), n,
                           d.value("dry_run", true) ? "upgradable" : "upgraded");
  }
  if (action == "monitor") {
    std::string temp = d.contains("cpu_temperature_celsius") && d["cpu_temperature_celsius"].is_number()
                           ? absl::StrFormat("%.1f C", d["cpu_temperature_celsius"].get<double>())
                           : "no sensor";
    return absl::StrFormat("cpu %.0f%%, memory %s free of %s, temperature %s, %d devices",
                           d.value("cpu_utilisation_ratio", 0.0) * 100,
                           Gib(d.value("memory_available_bytes", 0.0)),
                           Gib(d.value("memory_total_bytes", 0.0)), temp,
                           static_cast<int>(d.value("devices", Json::array()).size()));
  }
  return d.dump();
}

int Run(const FleetArgs& args) {
  Json params = Json::object();
  for (const std::string& kv : args.params) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return Fail(2, "--param takes KEY=VALUE, not " + kv);
    Json value = Json::parse(kv.substr(eq + 1), nullptr, false);
    params[kv.substr(0, eq)] = value.is_discarded() ? Json(kv.substr(eq + 1)) : value;
  }
  if (!args.op.empty()) params["op"] = args.op;
  if (!args.packages.empty()) params["packages"] = args.packages;
  if (args.apply) params["dry_run"] = false;
  Json body = {{"target", args.target}, {"params", params}};
  if (args.serial) body["serial"] = true;
  if (args.parallel) body["serial"] = false;
  if (args.timeout_seconds > 0) body["timeout_seconds"] = args.timeout_seconds;
  int not_ok = 0;
  std::string error_body;
  absl::StatusOr<int> status = PostStreaming(
      args.server, "/v1/fleet/" + args.action, args.token, body.dump(),
      [&](const std::string& line) {
        if (args.json) {
          std::printf("%s\n", line.c_str());
          std::fflush(stdout);
        }
        const Json event = Json::parse(line, nullptr, false);
        if (!event.is_object()) return;
        const std::string kind = event.value("event", "");
        if (kind == "result") {
          const std::string s = event.value("status", "");
          not_ok += s == "ok" ? 0 : 1;
          if (args.json) return;
          const std::string what = s == "ok" ? Summary(args.action, event.value("data", Json::object()))
                                             : event.value("error", "");
          std::printf("%-20s %-12s %-11s %s\n", event.value("node", "").c_str(),
                      event.value("group", "").c_str(), s.c_str(), what.c_str());
        } else if (kind == "start" && !args.json) {
          std::printf("%s on %s: %d node(s)%s\n", event.value("action", "").c_str(),
                      event.value("target", "").c_str(),
                      static_cast<int>(event.value("nodes", Json::array()).size()),
                      event.value("serial", false) ? ", one at a time" : "");
        } else if (kind == "done" && !args.json) {
          std::printf("done in %.1f s: %d ok, %d not ok", event.value("seconds", 0.0),
                      event.value("ok", 0), event.value("not_ok", 0));
          if (event.contains("audit_id")) std::printf(" (audit entry %lld)",
                                                      static_cast<long long>(event["audit_id"].get<int64_t>()));
          std::printf("\n");
        }
        std::fflush(stdout);
      },
      error_body);
  if (!status.ok()) return Fail(2, std::string(status.status().message()));
  if (*status != 200) {
    const Json error = Json::parse(error_body, nullptr, false);
    return Fail(2, absl::StrCat("the server answered ", *status, ": ",
                                error.is_object() ? error.value("error", error_body) : error_body));
  }
  return not_ok == 0 ? 0 : 1;
}

}  // namespace

void AddFleetCommand(CLI::App& app) {
  auto args = std::make_shared<FleetArgs>();
  if (const char* token = std::getenv("HETEROACCEL_TOKEN")) args->token = token;
  CLI::App* cmd = app.add_subcommand(
      "fleet", "Run a fleet action on a node, a group or all nodes (docs/fleet.md)");
  cmd->add_option("action", args->action,
                  "connectivity, facts, time, speed, packages or monitor")
      ->required();
  cmd->add_option("--target", args->target, "all, group/NAME or node/NAME")->required();
  cmd->add_option("--server", args->server, "The server's URL")->capture_default_str();
  cmd->add_option("--token", args->token, "The admin token; default $HETEROACCEL_TOKEN");
  cmd->add_flag("--serial", args->serial, "One node at a time (packages: the default)");
  cmd->add_flag("--parallel", args->parallel, "Packages: all nodes at once");
  cmd->add_flag("--json", args->json, "Print the server's newline-delimited JSON");
  cmd->add_option("--timeout", args->timeout_seconds, "Per-node time limit in seconds (1..3600)");
  cmd->add_option("--param", args->params,
                  "Action parameter KEY=VALUE (samples=16, threshold_seconds=0.2, bytes=1048576)");
  cmd->add_option("--op", args->op, "packages: update, list or upgrade");
  cmd->add_option("--packages", args->packages, "packages: upgrade only these")->delimiter(',');
  cmd->add_flag("--apply", args->apply, "packages: really run (default: a dry run)");
  cmd->callback([args] { std::exit(Run(*args)); });
}

}  // namespace heteroaccel::cmd
