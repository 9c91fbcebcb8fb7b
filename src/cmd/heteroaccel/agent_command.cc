#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "agent/agent.h"
#include "cmd/heteroaccel/commands.h"

namespace heteroaccel::cmd {
namespace {

int RunAgent(const agent::AgentOptions& options) {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto agent = agent::Agent::Create(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "heteroaccel agent: %s\n", std::string(agent.status().message()).c_str());
    return 1;
  }
  if (absl::Status started = (*agent)->Start(); !started.ok()) {
    std::fprintf(stderr, "heteroaccel agent: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  std::printf("heteroaccel agent listening on http://%s\n", (*agent)->address().c_str());
  std::fflush(stdout);
  const bool ready = (*agent)->WaitReady(std::chrono::minutes(5));
  for (const std::string& line : (*agent)->DeviceSummary()) std::printf("  %s\n", line.c_str());
  std::printf(ready ? "ready\n" : "not ready after 5 minutes; still loading\n");
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("stopping (signal {})", signal);
  (*agent)->Stop();
  return 0;
}

}  // namespace

void AddAgentCommand(CLI::App& app) {
  auto options = std::make_shared<agent::AgentOptions>();
  CLI::App* cmd = app.add_subcommand("agent", "Serve inference on this node's devices");
  cmd->add_option("--listen", options->listen, "HOST:PORT to serve on (port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--config", options->config_path, "YAML file: node name, emulated devices, ...");
  cmd->add_option("--node", options->node_name, "Node name (default: config, else hostname)");
  cmd->add_option("--group", options->group,
                  "Node group reported to the server (at most 63 of A-Za-z0-9._-; default: none)");
  cmd->add_option_function<std::vector<std::string>>(
         "--label",
         [options](const std::vector<std::string>& labels) {
           for (const std::string& label : labels) {
             const size_t eq = label.find('=');
             if (eq == std::string::npos) {
               throw CLI::ValidationError("--label", "'" + label + "' must be KEY=VALUE");
             }
             options->labels[label.substr(0, eq)] = label.substr(eq + 1);
           }
         },
         "A label reported to the server, KEY=VALUE (repeatable; also labels: in --config)")
      ->allow_extra_args(false);
  cmd->add_option("--emulate-clock-offset-ms", options->emulate_clock_offset_ms,
                  "Emulate a clock error of this many ms as the fleet's time action sees it "
                  "(for showing and testing time monitoring; the real clock is untouched)")
      ->check(CLI::Range(-86'400'000, 86'400'000));
  cmd->add_option("--server", options->server,
                  "Server URL(s) to register with, comma-separated; every address a name resolves "
                  "to (a headless Service: every replica) gets heartbeats, re-resolved every 5 s");
  cmd->add_option("--cluster-token", options->cluster_token,
                  "Shared secret for the server (or HETEROACCEL_CLUSTER_TOKEN)")
      ->envname("HETEROACCEL_CLUSTER_TOKEN");
  cmd->add_option("--advertise", options->advertise_url,
                  "URL the server uses to reach this agent (default: http://<listen address>)");
  cmd->add_option("--models-dir", options->models_dir, "Folder that `make setup` filled")
      ->capture_default_str();
  cmd->add_option("--deployed-models-dir", options->deployed_models_dir,
                  "Where model versions deployed from the server's repository are kept (default: "
                  "<models-dir>/deployed)");
  cmd->add_option("--models", options->models, "Inference types to serve (default: all)")
      ->delimiter(',');
  cmd->add_option("--cpu-slots", options->cpu_slots, "CPU worker slots (0: one per core)")
      ->capture_default_str();
  cmd->add_option("--queue-capacity", options->queue_capacity, "Queued requests per slot")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_flag("--allow-time-sync", options->allow_time_sync,
                "Let the server ask this node's time service (chronyd, systemd-timesyncd) to "
                "sync now");
  cmd->add_flag("--allow-package-actions", options->allow_package_actions,
                "Let the server run apt update/upgrade on this node (dry runs unless asked)");
  cmd->add_flag("!--no-opencl", options->use_opencl, "Do not run models on OpenCL");
  cmd->add_option("--opencl-device", options->opencl_device,
                  "OpenCV OpenCL device selector, e.g. :GPU:0 or :CPU: (default: GPU, else CPU)");
  cmd->add_option("--max-body-bytes", options->max_body_bytes, "Largest request body accepted")
      ->capture_default_str();
  cmd->add_option("--io-threads", options->io_threads, "HTTP io threads")->capture_default_str();
  cmd->add_option("--max-connections", options->max_connections,
                  "Open HTTP connections at most; idle ones are shed beyond (0: from ulimit -n)")
      ->capture_default_str();
  cmd->add_option("--header-timeout-ms", options->header_timeout_ms,
                  "Close a connection whose request header is not complete after this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--keepalive-timeout-ms", options->keepalive_timeout_ms,
                  "Close a keep-alive connection idle between requests after this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3'600'000));
  cmd->add_option("--max-inflight-body-bytes", options->max_inflight_body_bytes,
                  "Request bytes held at once across connections; beyond, 503 + Retry-After")
      ->capture_default_str();
  cmd->add_option("--sysfs-root", options->sysfs_root, "Where sysfs is mounted")
      ->capture_default_str();
  cmd->add_option("--proc-root", options->proc_root, "Where procfs is mounted")
      ->capture_default_str();
  cmd->add_option("--device-plugin-dir", options->device_plugin_dir,
                  "Advertise the accelerators to the kubelet as a device plugin in this folder "
                  "(on a node: /var/lib/kubelet/device-plugins; default: off)");
  cmd->add_flag("!--no-warm-up", options->warm_up, "Skip running each model before ready");
  cmd->callback([options] { std::exit(RunAgent(*options)); });
}

}  // namespace heteroaccel::cmd
