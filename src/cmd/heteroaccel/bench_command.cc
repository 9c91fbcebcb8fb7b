// `heteroaccel bench`: replays N cameras against an agent or server (or several
// server replicas, failing over between them) and prints the split of
// inferences over devices and the latency (loadgen::RunBench).
// Exit status: 0 when the run completed (even with some failed requests), 1
// when nothing succeeded or the target was unreachable or not ready, 2 for bad
// flags.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cmd/heteroaccel/commands.h"
#include "loadgen/bench.h"

namespace heteroaccel::cmd {
namespace {

struct BenchFlags {
  std::string target;
  int cameras = 4;
  int inflight = 1;
  std::vector<std::string> mix = {"face"};
  std::string duration = "20s";
  std::string warmup = "2s";
  std::string timeout = "30s";
  std::string request_timeout = "30s";
  double rate = 0;
  bool rate_given = false;
  bool closed_loop = false;
  std::string arrivals = "periodic";
  int64_t seed = 0;
  double on_ms = 250;
  double off_ms = 250;
  bool windows_given = false;
  bool json = false;
  std::string images = "models/images";
  std::string protocol = "v2";
  int priority = 0;
  bool priority_given = false;
  int deadline_ms = 0;
  bool deadline_given = false;
  std::string camera_name;
  std::vector<double> camera_weights;
};

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "heteroaccel bench: %s\n", std::string(status.message()).c_str());
}

absl::Status ParseDurationFlag(const char* flag, const std::string& text,
                               std::chrono::milliseconds& out) {
  auto parsed = loadgen::ParseDuration(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", parsed.status().message()));
  }
  out = *parsed;
  return absl::OkStatus();
}

absl::StatusOr<loadgen::BenchOptions> ToOptions(const BenchFlags& flags) {
  loadgen::BenchOptions options;
  if (flags.rate_given && flags.closed_loop) {
    return absl::InvalidArgumentError("--rate and --closed-loop exclude each other");
  }
  options.target = flags.target;
  options.cameras = flags.cameras;
  options.inflight = flags.inflight;
  options.mix = flags.mix;
  options.images_dir = flags.images;
  if (flags.rate_given) options.rate = flags.rate;
  auto arrivals = loadgen::ParseArrivals(flags.arrivals);
  if (!arrivals.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--arrivals: ", arrivals.status().message()));
  }
  options.arrivals = *arrivals;
  if (flags.windows_given && options.arrivals != loadgen::Arrivals::kBursts) {
    return absl::InvalidArgumentError("--on-ms and --off-ms apply to --arrivals bursts only");
  }
  options.bursts = {flags.on_ms, flags.off_ms};
  if (flags.seed < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--seed must be 0 (a fresh seed) or positive, not ", flags.seed));
  }
  options.seed = static_cast<uint64_t>(flags.seed);
  if (flags.priority_given) options.priority = flags.priority;
  if (flags.deadline_given) options.deadline_ms = flags.deadline_ms;
  options.camera_name = flags.camera_name;
  options.camera_weights = flags.camera_weights;
  auto protocol = client::ParseProtocol(flags.protocol);
  if (!protocol.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--protocol: ", protocol.status().message()));
  }
  options.protocol = *protocol;
  if (absl::Status s = ParseDurationFlag("--duration", flags.duration, options.duration); !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseDurationFlag("--warmup", flags.warmup, options.warmup); !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseDurationFlag("--timeout", flags.timeout, options.timeout); !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ParseDurationFlag("--request-timeout", flags.request_timeout, options.request_timeout);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = loadgen::ValidateBenchOptions(options); !s.ok()) return s;
  return options;
}

bool IsFlagError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument;
}

int RunBenchCommand(const BenchFlags& flags) {
  auto options = ToOptions(flags);
  if (!options.ok()) {
    PrintError(options.status());
    return 2;
  }
  std::fprintf(stderr,
               "heteroaccel bench: %d camera(s), mix %s, against %s: %.1f s after %.1f s "
               "warm-up\n",
               options->cameras, absl::StrJoin(options->mix, ",").c_str(), options->target.c_str(),
               std::chrono::duration<double>(options->duration).count(),
               std::chrono::duration<double>(options->warmup).count());
  auto report = loadgen::RunBench(*options);
  if (!report.ok()) {
    PrintError(report.status());
    return IsFlagError(report.status()) ? 2 : 1;
  }
  if (flags.json) {
    std::printf("%s\n", loadgen::ToJson(*report).dump(2).c_str());
  } else {
    std::printf("%s", loadgen::FormatTable(*report).c_str());
  }
  std::fflush(stdout);
  if (report->succeeded == 0) {
    std::fprintf(stderr, "heteroaccel bench: no request succeeded in the measured window\n");
    return 1;
  }
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Replay N cameras against an agent or server; report the device split and latency");
  cmd->add_option("--target", flags->target,
                  "Agent or server URL (required); several server replicas separated by commas: "
                  "camera i starts on the i-th, and a request a replica cannot take (connection "
                  "lost, timeout, 503) is re-sent with the same id to the next");
  cmd->add_option("--cameras", flags->cameras, "Cameras, one thread and connection each")
      ->capture_default_str();
  cmd->add_option("--inflight", flags->inflight,
                  "Frames a camera may have outstanding (it runs as that many streams)")
      ->capture_default_str();
  cmd->add_option("--mix", flags->mix,
                  "Inference types; camera i starts at mix[i % size] and cycles through them")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--duration", flags->duration, "Measured time: 20s, 500ms, 2m")
      ->capture_default_str();
  cmd->add_option("--warmup", flags->warmup, "Unmeasured time before it")->capture_default_str();
  CLI::Option* rate =
      cmd->add_option("--rate", flags->rate, "Open loop: total requests/s, split over the cameras");
  cmd->add_option("--arrivals", flags->arrivals,
                  "Open loop: periodic (each camera on a fixed period, phases staggered), "
                  "poisson (exponential gaps; the cameras together are a Poisson process) or "
                  "bursts (Poisson during --on-ms windows, silent for --off-ms, all cameras in "
                  "step)")
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed,
                  "Seed of the Poisson or burst gaps (0: a fresh one each run; the same seed "
                  "repeats them)")
      ->capture_default_str();
  CLI::Option* on_ms = cmd->add_option("--on-ms", flags->on_ms,
                                       "Bursts: how long every camera sends, at rate x (on + "
                                       "off) / on with exponential gaps")
                           ->capture_default_str();
  CLI::Option* off_ms =
      cmd->add_option("--off-ms", flags->off_ms, "Bursts: how long every camera is then silent")
          ->capture_default_str();
  cmd->add_flag("--closed-loop", flags->closed_loop,
                "Each camera sends when its previous answer arrives (the default)");
  cmd->add_flag("--json", flags->json, "Print one JSON object instead of the table");
  cmd->add_option("--images", flags->images, "Folder of .png/.jpg frames")->capture_default_str();
  cmd->add_option("--protocol", flags->protocol, "v2 (binary tensors), v2-json or v1")
      ->capture_default_str();
  cmd->add_option("--timeout", flags->timeout, "How long to wait for the target to be ready")
      ->capture_default_str();
  cmd->add_option("--request-timeout", flags->request_timeout,
                  "Deadline of one request; past it, with several targets, the next one is tried")
      ->capture_default_str();
  CLI::Option* priority = cmd->add_option("--priority", flags->priority, "Request priority");
  CLI::Option* deadline =
      cmd->add_option("--deadline-ms", flags->deadline_ms, "Request deadline in milliseconds");
  cmd->add_option("--camera-name", flags->camera_name,
                  "Send each camera's name as the request parameter camera (NAME-0, NAME-1, ...; "
                  "NAME alone for one camera), so a server shares its devices fairly between "
                  "them as it does between real cameras");
  cmd->add_option("--camera-weights", flags->camera_weights,
                  "Open loop: each camera's share of --rate, one weight per camera (4,1,1,1: the "
                  "first camera sends 4x each of the others); the report gives every camera's "
                  "attainment and Jain's index over them")
      ->delimiter(',');
  cmd->callback([flags, rate, priority, deadline, on_ms, off_ms] {
    flags->rate_given = rate->count() > 0;
    flags->windows_given = on_ms->count() > 0 || off_ms->count() > 0;
    flags->priority_given = priority->count() > 0;
    flags->deadline_given = deadline->count() > 0;
    std::exit(RunBenchCommand(*flags));
  });
}

}  // namespace heteroaccel::cmd
