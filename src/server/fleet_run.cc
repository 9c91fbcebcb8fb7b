// Fleet: the actions on one node, and runs over many (fleet.h).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/fleet.h"

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr int64_t kDefaultSpeedBytes = int64_t{8} << 20;
constexpr int kDefaultTimeSamples = 8;
constexpr int kRttSamples = 3;

double Seconds(SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Fail(FleetNodeResult& result, const absl::Status& status) {
  result.status = status.code() == absl::StatusCode::kDeadlineExceeded ? "timeout"
                  : status.code() == absl::StatusCode::kUnavailable    ? "unreachable"
                                                                       : "failed";
  result.error = std::string(status.message());
}

void FailHttp(FleetNodeResult& result, const http::ClientResponse& r) {
  result.status = r.status == 401 || r.status == 403 ? "refused" : "failed";
  const Json body = Json::parse(r.body, nullptr, false);
  const std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                                  ? body["error"].get<std::string>()
                                  : r.body.substr(0, 200);
  result.error = absl::StrCat("agent answered ", r.status, ": ", message);
}

// The JSON object of a 2xx answer; nullopt with the result marked otherwise.
std::optional<Json> JsonReply(FleetNodeResult& result,
                              const absl::StatusOr<http::ClientResponse>& r) {
  if (!r.ok()) {
    Fail(result, r.status());
    return std::nullopt;
  }
  if (r->status < 200 || r->status >= 300) {
    FailHttp(result, *r);
    return std::nullopt;
  }
  Json body = Json::parse(r->body, nullptr, false);
  if (!body.is_object()) {
    result.status = "failed";
    result.error = "the agent's answer is not a JSON object";
    return std::nullopt;
  }
  return body;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Median round trip of `path` in ms over kRttSamples requests after a first
// one (which may open the connection). `status` gets the last HTTP status;
// nullopt with the result marked when a request fails or `require_200` is not met.
std::optional<double> RoundTripMs(FleetNodeResult& result, FleetSession& session,
                                  std::string_view path, bool require_200, int& status) {
  std::vector<double> rtts;
  for (int i = 0; i <= kRttSamples; ++i) {
    const SteadyTime start = std::chrono::steady_clock::now();
    absl::StatusOr<http::ClientResponse> r = session.Send("GET", path);
    if (!r.ok()) {
      Fail(result, r.status());
      return std::nullopt;
    }
    status = r->status;
    if (require_200 && r->status != 200) {
      FailHttp(result, *r);
      return std::nullopt;
    }
    if (i > 0) rtts.push_back(Seconds(start) * 1e3);
  }
  return Median(std::move(rtts));
}

void Connectivity(FleetNodeResult& result, FleetSession& session, const FleetNode& node) {
  result.data["registered_up"] = node.up;
  result.data["heartbeat_age_seconds"] = node.heartbeat_age_seconds;
  result.data["url"] = node.url;
  int status = 0;
  std::optional<double> control = RoundTripMs(result, session, "/v1/fleet/ping", true, status);
  result.data["reachable"] = control.has_value() || result.status == "refused";
  if (!control.has_value()) return;
  result.data["control_rtt_ms"] = *control;
  std::optional<double> data = RoundTripMs(result, session, "/v2/health/ready", false, status);
  if (!data.has_value()) return;
  result.data["data_rtt_ms"] = *data;
  result.data["ready"] = status == 200;
}

void Time(FleetNodeResult& result, FleetSession& session, const FleetRequest& request,
          const node::WallClock& wall_clock, double default_threshold) {
  const int samples = request.params.value("samples", kDefaultTimeSamples);
  const double threshold = request.params.value("threshold_seconds", default_threshold);
  std::vector<node::TimeExchange> exchanges;
  Json sync;
  for (int i = 0; i < samples; ++i) {
    const bool last = i + 1 == samples;
    node::TimeExchange e;
    e.t0 = wall_clock.NowNanos();
    absl::StatusOr<http::ClientResponse> r =
        session.Send("POST", last ? "/v1/fleet/time?state=1" : "/v1/fleet/time", "{}");
    e.t3 = wall_clock.NowNanos();
    std::optional<Json> body = JsonReply(result, r);
    if (!body.has_value()) return;
    if (!(*body)["t1"].is_number_integer() || !(*body)["t2"].is_number_integer()) {
      result.status = "failed";
      result.error = "the agent's time answer has no t1/t2";
      return;
    }
    e.t1 = (*body)["t1"].get<int64_t>();
    e.t2 = (*body)["t2"].get<int64_t>();
    exchanges.push_back(e);
    if (last && body->contains("sync")) sync = (*body)["sync"];
  }
  std::optional<node::TimeExchange> best = node::BestExchange(exchanges);
  if (!best.has_value()) {
    result.status = "failed";
    result.error = "no consistent exchange (a clock stepped during the measurement)";
    return;
  }
  const double offset = best->OffsetSeconds();
  result.data["offset_seconds"] = offset;
  result.data["delay_seconds"] = best->DelaySeconds();
  result.data["error_bound_seconds"] = best->DelaySeconds() / 2;
  result.data["samples"] = exchanges.size();
  result.data["threshold_seconds"] = threshold;
  result.data["alert"] = std::abs(offset) > threshold;
  result.data["sync"] = sync.is_null() ? Json::object() : sync;
  if (!request.params.value("sync", false)) return;
  // Sync now: the agent asks its time service (where its --allow-time-sync allows);
  // the node's result stays its measurement, sync_now says how the request went.
  absl::StatusOr<http::ClientResponse> r = session.Send("POST", "/v1/fleet/time/sync", "{}");
  if (!r.ok()) {
    result.data["sync_now"] = {{"synced", false}, {"error", std::string(r.status().message())}};
    return;
  }
  Json reply = Json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    result.data["sync_now"] = {
        {"synced", false},
        {"error", reply.is_object() && reply["error"].is_string() ? reply["error"].get<std::string>()
                                                                  : absl::StrCat("HTTP ", r->status)}};
    return;
  }
  result.data["sync_now"] = reply.is_object() ? reply : Json::object();
}

void Speed(FleetNodeResult& result, FleetSession& session, const FleetRequest& request) {
  const int64_t bytes = request.params.value("bytes", kDefaultSpeedBytes);
  const std::string payload(static_cast<size_t>(bytes), 'x');
  SteadyTime start = std::chrono::steady_clock::now();
  std::optional<Json> sink = JsonReply(result, session.Send("POST", "/v1/fleet/speed/sink", payload));
  const double down_seconds = Seconds(start);
  if (!sink.has_value()) return;
  if (sink->value("received", int64_t{-1}) != bytes) {
    result.status = "failed";
    result.error = absl::StrCat("the agent received ", sink->value("received", int64_t{-1}),
                                " of ", bytes, " bytes");
    return;
  }
  start = std::chrono::steady_clock::now();
  absl::StatusOr<http::ClientResponse> source =
      session.Send("GET", absl::StrCat("/v1/fleet/speed/source?bytes=", bytes));
  const double up_seconds = Seconds(start);
  if (!source.ok()) return Fail(result, source.status());
  if (source->status != 200) return FailHttp(result, *source);
  if (static_cast<int64_t>(source->body.size()) != bytes) {
    result.status = "failed";
    result.error = absl::StrCat("the agent sent ", source->body.size(), " of ", bytes, " bytes");
    return;
  }
  auto mbps = [bytes](double seconds) { return seconds > 0 ? bytes * 8 / seconds / 1e6 : 0.0; };
  result.data = {{"bytes", bytes},
                 {"downlink_seconds", down_seconds},
                 {"downlink_mbit_per_second", mbps(down_seconds)},
                 {"uplink_seconds", up_seconds},
                 {"uplink_mbit_per_second", mbps(up_seconds)}};
}

void Packages(FleetNodeResult& result, FleetSession& session, const FleetRequest& request) {
  Json body = {{"op", request.params.value("op", "list")},
               {"dry_run", request.params.value("dry_run", true)}};
  if (request.params.contains("packages")) body["packages"] = request.params["packages"];
  std::optional<Json> reply = JsonReply(result, session.Send("POST", "/v1/fleet/packages",
                                                             body.dump()));
  if (!reply.has_value()) return;
  result.data = *reply;
  if (reply->value("ran", false) && reply->value("exit_code", -1) != 0) {
    result.status = "failed";
    result.error = reply->value("timed_out", false)
                       ? "apt-get ran out of time on the node"
                       : absl::StrCat("apt-get exited with ", reply->value("exit_code", -1));
  }
}

}  // namespace

struct Fleet::Run {
  FleetRequest request;
  std::vector<FleetNode> nodes;
  ResultFn on_result;
  DoneFn on_done;
  std::thread thread;
  std::atomic<bool> finished{false};
  std::mutex mu;  // one callback at a time; guards summary
  FleetSummary summary;
};

Fleet::Fleet(FleetOptions options, FleetTransport& transport, metrics::Registry& registry,
             const node::WallClock& wall_clock)
    : options_(std::move(options)),
      transport_(transport),
      wall_clock_(wall_clock),
      clock_offset_(registry.AddGauge(
          "heteroaccel_server_node_clock_offset_seconds",
          "The node's clock minus the server's, from the latest fleet time action", {"node"})),
      results_(registry.AddCounter("heteroaccel_server_fleet_results_total",
                                   "Per-node results of fleet actions", {"action", "status"})) {}

Fleet::~Fleet() { Stop(); }

void Fleet::Stop() {
  std::list<std::shared_ptr<Run>> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    runs.swap(runs_);
  }
  for (const std::shared_ptr<Run>& run : runs) {
    if (run->thread.joinable()) run->thread.join();
  }
}

absl::Status Fleet::Start(FleetRequest request, std::vector<FleetNode> nodes, ResultFn on_result,
                          DoneFn on_done) {
  auto run = std::make_shared<Run>();
  run->request = std::move(request);
  run->nodes = std::move(nodes);
  run->on_result = std::move(on_result);
  run->on_done = std::move(on_done);
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("the server is stopping");
  for (auto it = runs_.begin(); it != runs_.end();) {
    if ((*it)->finished.load()) {
      (*it)->thread.join();
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
  if (static_cast<int>(runs_.size()) >= options_.max_runs) {
    return absl::ResourceExhaustedError(absl::StrCat(
        options_.max_runs, " fleet runs are in progress; retry when one has finished"));
  }
  run->thread = std::thread([this, r = run.get()] { Execute(*r); });
  runs_.push_back(std::move(run));
  return absl::OkStatus();
}

void Fleet::Execute(Run& run) {
  const SteadyTime start = std::chrono::steady_clock::now();
  // A serial change (a real upgrade, a model install) stops at the first node that fails.
  const bool stop_on_failure =
      run.request.serial && ((run.request.action == FleetAction::kPackages &&
                              !run.request.params.value("dry_run", true)) ||
                             run.request.action == FleetAction::kModelInstall);
  std::atomic<size_t> next{0};
  std::atomic<bool> halt{false};
  auto worker = [&] {
    for (size_t i = next++; i < run.nodes.size(); i = next++) {
      bool stopping;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopping = stopped_;
      }
      FleetNodeResult result;
      if (stopping || halt.load()) {
        result.node = run.nodes[i].name;
        result.group = run.nodes[i].group;
        result.status = "skipped";
        result.error = stopping ? "the server is stopping"
                                : "an earlier node of this serial upgrade did not succeed";
      } else {
        result = RunOnNode(run.request, run.nodes[i]);
        if (!result.ok() && stop_on_failure) halt = true;
      }
      std::lock_guard<std::mutex> lock(run.mu);
      (result.ok() ? run.summary.ok : run.summary.not_ok) += 1;
      if (run.on_result) run.on_result(result);
      run.summary.results.push_back(std::move(result));
    }
  };
  const size_t workers =
      run.request.serial ? 1
                         : std::min(run.nodes.size(), static_cast<size_t>(std::max(1, options_.parallelism)));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  {
    std::lock_guard<std::mutex> lock(run.mu);
    run.summary.seconds = Seconds(start);
    if (run.on_done) run.on_done(run.summary);
  }
  run.finished = true;
}

FleetNodeResult Fleet::RunOnNode(const FleetRequest& request, const FleetNode& node) {
  FleetNodeResult result;
  result.node = node.name;
  result.group = node.group;
  result.status = "ok";
  const SteadyTime start = std::chrono::steady_clock::now();
  std::chrono::milliseconds limit = request.node_timeout;
  if (limit.count() <= 0) {
    limit = request.action == FleetAction::kPackages ||
                    request.action == FleetAction::kModelInstall
                ? options_.package_timeout
                : options_.node_timeout;
  }
  std::unique_ptr<FleetSession> session = transport_.Open(node.url, start + limit);
  switch (request.action) {
    case FleetAction::kConnectivity:
      Connectivity(result, *session, node);
      break;
    case FleetAction::kFacts:
      if (auto body = JsonReply(result, session->Send("GET", "/v1/fleet/facts"))) result.data = *body;
      break;
    case FleetAction::kMonitor:
      if (auto body = JsonReply(result, session->Send("GET", "/v1/fleet/monitor"))) {
        result.data = *body;
      }
      break;
    case FleetAction::kTime:
      Time(result, *session, request, wall_clock_, options_.clock_offset_alert_seconds);
      if (result.ok()) {
        clock_offset_.WithLabels({node.name}).Set(result.data["offset_seconds"].get<double>());
      }
      break;
    case FleetAction::kSpeed:
      Speed(result, *session, request);
      break;
    case FleetAction::kPackages:
      Packages(result, *session, request);
      break;
    case FleetAction::kModelInstall:
      if (auto body = JsonReply(result, session->Send("POST", "/v1/fleet/models/install",
                                                      request.params.dump()))) {
        result.data = *body;
      }
      break;
  }
  result.seconds = Seconds(start);
  results_.WithLabels({std::string(FleetActionName(request.action)), result.status}).Increment();
  return result;
}

}  // namespace heteroaccel::server
