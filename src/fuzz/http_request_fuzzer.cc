// libFuzzer target for everything a client's bytes reach before a model runs:
// the input is what one client sends on one connection (request line,
// headers, body, then any further pipelined requests), fed through the HTTP
// server's own RequestPipeline (http/internal/request_pipeline.h: the parser,
// its limits, keep-alive, routing, the handler call and its exception guard,
// the error bodies; the code a socket's Connection runs) into two real route
// tables, one after the other:
//   - the agent's (AgentContext over a real Executor running fake models that
//     need no files, testing/fake_model.h, and an emulated device that runs
//     nothing; with its fleet routes behind the
//     cluster token, package actions refused as on an agent without
//     --allow-package-actions, model installs that find no server), and
//   - the server's (AddFrontRoutes + AddClusterRoutes + AddDashboardRoutes +
//     AddK8sRoutes (the scheduler extender) + AddRepositoryRoutes over one
//     model store for the whole run, in a temporary directory with small quotas,
//     + AddFleetRoutes (fleet runs and model deploys reaching in-memory agents),
//     node settings in memory),
//     with live statistics, a stream hub, an in-memory audit log and no
//     Prometheus, over a real Dispatcher
//     on a FakeClock, with a FakeAgentChannel answered by this harness as soon
//     as a call is sent, cycling through answers, 4xx, busy, failures and
//     unreachable), after a heartbeat, so requests reach the dispatcher.
// No sockets, no model files.
//
// Beyond "no crash, no sanitizer report", every input must end as a client
// would see it on a socket:
//   * each request is answered once, in order, within a bounded wait (a
//     handler that never answers is a bug: the client would hang);
//   * every status is in 100..599; a non-empty application/json body is valid
//     JSON (for the binary extension: its JSON header);
//   * the wire bytes (SerializeResponse, as Connection writes them) parse
//     back as one HTTP response with the same status and body;
//   * the request bodies counted against max_inflight_body_bytes are all
//     given back once every response is written.
// A request left incomplete at the end of the input is treated as the header
// (or body) timeout would treat it: 408.
//
// Bytes are fed whole, or for some inputs (chosen by a hash of the input) in
// small pieces, as a slow client's reads would arrive.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "agent/context.h"
#include "agent/fleet.h"
#include "cluster/contract.h"
#include "common/fake_clock.h"
#include "common/logging.h"
#include "http/internal/request_pipeline.h"
#include "http/server.h"
#include "nlohmann/json.hpp"
#include "node/node_collector.h"
#include "repository/model_store.h"
#include "server/audit_log.h"
#include "server/handlers.h"
#include "server/fleet.h"
#include "server/history_proxy.h"
#include "server/live_stats.h"
#include "server/node_settings.h"
#include "server/stream_hub.h"
#include "server/testing/fake_agent_channel.h"
#include "testing/fake_model.h"

namespace heteroaccel::fuzz {
namespace {

using http::internal::PipelineHost;
using http::internal::RequestPipeline;

// A handler must answer within this; the real server would hold the client
// until idle_timeout.
constexpr auto kAnswerBound = std::chrono::seconds(20);
constexpr std::string_view kClusterToken = "fuzz-token";

[[noreturn]] void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "http_request_fuzzer: %.*s: %.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(std::min<size_t>(detail.size(), 4096)), detail.data());
  std::abort();
}

// The limits are smaller than the binaries' defaults so that inputs of a few
// KiB reach 413, 431 and the in-flight bound; the code paths are the same.
http::ServerOptions FuzzServerOptions() {
  http::ServerOptions options;
  options.max_header_bytes = 4u << 10;
  options.max_body_bytes = 24u << 10;
  options.max_inflight_body_bytes = 40u << 10;
  return options;
}

std::string_view HeaderValue(const http::Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return {};
}

// What a handler (or the server) answered, before it is written.
void CheckResponse(const http::Response& response, std::string_view who) {
  if (response.status < 100 || response.status > 599) {
    Fail(who, "status out of range: " + std::to_string(response.status));
  }
  if (response.body.empty() || response.content_type.rfind("application/json", 0) != 0) return;
  std::string_view json = response.body;
  // The binary tensor extension: a JSON header, then raw tensor bytes.
  if (const std::string_view length = HeaderValue(response, "Inference-Header-Content-Length");
      !length.empty()) {
    const size_t n = std::strtoull(std::string(length).c_str(), nullptr, 10);
    if (n > json.size()) Fail(who, "Inference-Header-Content-Length past the body");
    json = json.substr(0, n);
  }
  if (!nlohmann::json::accept(json))
    Fail(who, "application/json body is not JSON: " + response.body);
}

// The bytes Connection would write for `response` must read back as it.
void CheckWire(http::Response response, bool close_after, bool http10, std::string_view who) {
  const int status = response.status;
  const std::string expected_body = response.body;
  std::string head;
  std::string body;
  http::internal::SerializeResponse(std::move(response), close_after, http10, head, body);
  const bool bodiless = status < 200 || status == 204 || status == 304;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.eager(true);
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  if (bodiless) parser.skip(true);
  const std::string wire = head + body;
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(wire), ec);
  if (ec || !parser.is_done() || used != wire.size()) {
    Fail(who, "the response's wire form does not parse back: " + ec.message() + "\n" + head);
  }
  if (static_cast<int>(parser.get().result_int()) != status)
    Fail(who, "status changed on the wire");
  if (!bodiless && parser.get().body() != expected_body) Fail(who, "body changed on the wire");
}

// PipelineHost in memory: the response slots of one connection. Handlers may
// answer from any thread (the executor's slots), so the slots live in a
// shared, locked State that Responders keep alive.
class MemoryConnection final : public PipelineHost {
 public:
  MemoryConnection(const http::ServerOptions& options, std::string who)
      : options_(options), state_(std::make_shared<State>(std::move(who))) {}

  bool HasRoom() const override {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->slots.size() < http::Server::kMaxPipelinedRequests;
  }
  void OnRequestBegun() override {
    if (phase_ == Phase::kAwaiting) phase_ = Phase::kHeader;
  }
  void OnBodyBegun() override { phase_ = Phase::kBody; }
  void OnBodyBytes(size_t) override {}
  void OnRequestEnded() override { phase_ = Phase::kAwaiting; }
  bool ReserveBody(size_t bytes) override {
    if (held_ > options_.max_inflight_body_bytes ||
        bytes > options_.max_inflight_body_bytes - held_) {
      return false;
    }
    held_ += bytes;
    return true;
  }
  void ReleaseBody(size_t bytes) override {
    if (bytes > held_) Fail(state_->who, "more body bytes released than reserved");
    held_ -= bytes;
  }
  void SendContinue() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    Slot& slot = state_->Push(false, false, 0);
    slot.interim = true;
    slot.ready = true;
  }
  uint64_t PushSlot(bool close_after, bool http10, size_t body_bytes) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->Push(close_after, http10, body_bytes);
    return state_->next_seq - 1;
  }
  void Complete(uint64_t seq, http::Response response) override {
    state_->Complete(seq, std::move(response));
  }
  http::Responder MakeResponder(uint64_t seq) override {
    return [state = state_, seq](http::Response response) {
      state->Complete(seq, std::move(response));
    };
  }

  bool in_body() const { return phase_ == Phase::kBody; }
  size_t held() const { return held_; }
  uint64_t opened() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->next_seq;
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->closed;
  }

  // Writes the answered slots at the front, in order, as Connection does.
  void WriteReady() {
    std::vector<Slot> written;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      while (!state_->slots.empty() && state_->slots.front().ready && !state_->closed) {
        written.push_back(std::move(state_->slots.front()));
        state_->slots.pop_front();
        state_->closed = written.back().close_after;
      }
    }
    for (Slot& slot : written) {
      ReleaseBody(slot.body_bytes);
      if (!slot.interim) {
        CheckWire(std::move(slot.response), slot.close_after, slot.http10, state_->who);
      }
    }
  }

  // Waits until the front slot is answered; false after kAnswerBound.
  bool WaitFront() {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->cv.wait_for(lock, kAnswerBound, [this] {
      return state_->slots.empty() || state_->slots.front().ready;
    });
  }

  bool AllAnswered() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const Slot& slot : state_->slots) {
      if (!slot.ready) return false;
    }
    return true;
  }

  // Drops what a closed connection still holds, giving its bodies back.
  void DropRest() {
    std::deque<Slot> rest;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      rest.swap(state_->slots);
    }
    for (const Slot& slot : rest) ReleaseBody(slot.body_bytes);
  }

 private:
  enum class Phase { kAwaiting, kHeader, kBody };
  struct Slot {
    bool ready = false;
    bool interim = false;  // 100 Continue
    bool close_after = false;
    bool http10 = false;
    size_t body_bytes = 0;
    http::Response response;
  };
  struct State {
    explicit State(std::string w) : who(std::move(w)) {}

    Slot& Push(bool close_after, bool http10, size_t body_bytes) {
      Slot& slot = slots.emplace_back();
      slot.close_after = close_after;
      slot.http10 = http10;
      slot.body_bytes = body_bytes;
      ++next_seq;
      return slot;
    }
    void Complete(uint64_t seq, http::Response response) {
      CheckResponse(response, who);
      std::lock_guard<std::mutex> lock(mu);
      const uint64_t front = next_seq - slots.size();
      if (seq < front || seq >= next_seq) return;  // written already: a second answer
      Slot& slot = slots[seq - front];
      if (slot.ready) return;
      slot.response = std::move(response);
      slot.ready = true;
      cv.notify_all();
    }

    const std::string who;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Slot> slots;
    uint64_t next_seq = 0;
    bool closed = false;
  };

  const http::ServerOptions& options_;
  std::shared_ptr<State> state_;
  Phase phase_ = Phase::kHeader;  // a new connection's first request is timed from its start
  size_t held_ = 0;               // body bytes reserved; the fuzzer thread only
};

// One side under test: a route table and the backends behind it.
class Target {
 public:
  virtual ~Target() = default;
  virtual const http::Router& router() const = 0;
  // Lets backends answer what handlers handed them; true when something moved.
  virtual bool Pump() { return false; }
};

// The agent's route table over a real executor running fake models.
// A temporary directory for the whole run, removed at exit.
std::string* fuzz_root = nullptr;  // never destroyed: the exit handler runs after statics go

const std::string& FuzzRoot() {
  if (fuzz_root == nullptr) {
    fuzz_root = new std::string(
        (std::filesystem::temp_directory_path() / "heteroaccel-fuzz-models-XXXXXX").string());
    if (mkdtemp(fuzz_root->data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(*fuzz_root, ignored);
    });
  }
  return *fuzz_root;
}

class AgentTarget final : public Target {
 public:
  AgentTarget() {
    runtime::RuntimeDevice cpu;
    cpu.device.id = "cpu0";
    cpu.device.kind = devices::DeviceKind::kCpu;
    cpu.device.name = "fuzz cpu";
    cpu.device.source = "hwloc";
    cpu.slots = 1;
    // An emulated device that runs nothing, so POST /v1/fleet/emulation can
    // change a speed without slowing the inferences the fuzzer sends.
    runtime::RuntimeDevice npu = cpu;
    npu.device.id = "npu0";
    npu.device.kind = devices::DeviceKind::kNpu;
    npu.device.emulated = true;
    npu.emulation = runtime::Emulation{{}, 0.0001, true};
    npu.emulation->types = std::vector<std::string>{};
    runtime::ExecutorOptions options;
    options.warm_up = false;
    options.queue_capacity = 8;
    auto executor =
        runtime::Executor::Create(options, {cpu, npu}, catalog_, registry_, SystemClock());
    if (!executor.ok()) Fail("agent", executor.status().ToString());
    executor_ = *std::move(executor);
    executor_->Start();
    if (!executor_->WaitReady(std::chrono::seconds(30))) Fail("agent", "executor not ready");
    node::NodeFacts facts;
    facts.hostname = "fuzz-node";
    auto collector = node::NodeCollector::Create({}, registry_);
    if (!collector.ok()) Fail("agent", collector.status().ToString());
    collector_ = *std::move(collector);
    context_ = std::make_unique<agent::AgentContext>(
        agent::AgentContext{catalog_, *executor_, registry_, *collector_, facts, "", {}, {}, {}});
    agent::AddHealthRoutes(router_, *context_);
    agent::AddModelRoutes(router_, *context_);
    agent::AddInferRoutes(router_, *context_);
    agent::AddNodeRoutes(router_, *context_);
    // Installs reach the checks and the download, which has no server to go to.
    agent::InstallerOptions install;
    install.dir = FuzzRoot() + "/deployed";
    installer_ = std::make_unique<agent::ModelInstaller>(install, catalog_);
    agent::FleetOptions fleet;
    fleet.cluster_token = std::string(kClusterToken);
    fleet.installer = installer_.get();
    fleet_ = std::make_unique<agent::FleetService>(fleet, *context_);
    fleet_->AddRoutes(router_);
  }

  const http::Router& router() const override { return router_; }

 private:
  static inference::ModelSpec Spec(std::string type, const std::shared_ptr<testing::Gate>& gate) {
    inference::ModelSpec spec = testing::FakeModelSpec(std::move(type), gate);
    spec.labels = {"thing", "other"};
    return spec;
  }

  std::shared_ptr<testing::Gate> gate_ = std::make_shared<testing::Gate>();  // always open
  inference::Catalog catalog_{{Spec("face", gate_), Spec("object", gate_)}};
  metrics::Registry registry_;
  std::unique_ptr<runtime::Executor> executor_;
  std::unique_ptr<node::NodeCollector> collector_;
  std::unique_ptr<agent::AgentContext> context_;
  std::unique_ptr<agent::ModelInstaller> installer_;
  std::unique_ptr<agent::FleetService> fleet_;  // after context_: goes first
  http::Router router_;
};

cluster::NodeReport Heartbeat() {
  cluster::NodeReport report;
  report.node = "n1";
  report.url = "http://n1:8001";
  report.ready = true;
  for (const char* id : {"cpu0", "gpu0"}) {
    cluster::DeviceReport d;
    d.id = id;
    d.kind = id[0] == 'g' ? DeviceKind::kGpu : DeviceKind::kCpu;
    d.name = id;
    d.slots = 1;
    d.warm = true;
    d.models = {{"face", "blazeface-front-128"}, {"object", "ssd-mobilenetv2-oidv4"}};
    d.service_ms[{"face", "blazeface-front-128"}] = 5;
    d.service_ms[{"object", "ssd-mobilenetv2-oidv4"}] = 20;
    report.devices.push_back(std::move(d));
  }
  cluster::TypeInfo face;
  face.keypoint_names = {"right_eye", "left_eye"};
  face.skeleton = {{0, 1}};
  face.labels = {"face"};
  face.variants["blazeface-front-128"] = {"front camera", "fp32", "1/1", true};
  report.model_info = std::map<std::string, cluster::TypeInfo>{{"face", face}};
  return report;
}

// One model repository for the whole run (uploads left open by an input are
// aborted when its route table goes).
repository::ModelStore* FuzzModelStore() {
  static FakeClock clock;
  static std::unique_ptr<repository::ModelStore> store = [] {
    repository::Options options;
    options.root_dir = FuzzRoot() + "/store";
    options.max_artifact_bytes = 1u << 20;
    options.max_total_bytes = 8u << 20;
    auto opened = repository::ModelStore::Open(options, clock);
    if (!opened.ok()) std::abort();
    return *std::move(opened);
  }();
  return store.get();
}

// The agents as fleet runs and deploys reach them, in memory: every management
// route answers at once with a small plausible body (a time exchange, bounded
// speed bytes, an install report), so runs stream their results and end.
class FuzzFleetTransport final : public server::FleetTransport {
 public:
  std::unique_ptr<server::FleetSession> Open(const std::string&,
                                             std::chrono::steady_clock::time_point) override {
    return std::make_unique<Session>();
  }

 private:
  class Session final : public server::FleetSession {
   public:
    absl::StatusOr<http::ClientResponse> Send(std::string_view, std::string_view path,
                                              std::string_view) override {
      if (path.rfind("/v1/fleet/time", 0) == 0 && path != "/v1/fleet/time/sync") {
        return http::ClientResponse{200, {}, R"({"t1": 1000, "t2": 2000})"};
      }
      if (path.rfind("/v1/fleet/speed/source", 0) == 0) {
        return http::ClientResponse{200, {}, std::string(1024, 'x')};
      }
      if (path == "/v1/fleet/models/install") {
        return http::ClientResponse{200, {}, R"({"variant": "face/v", "devices": ["cpu0"]})"};
      }
      return http::ClientResponse{200, {}, "{}"};
    }
  };
};

// The server's route table over a real dispatcher; built afresh for each
// input, so that one input's registry edits or downed node do not leak into
// the next.
class ServerTarget final : public Target {
 public:
  explicit ServerTarget(uint64_t seed) : next_reply_(seed) {
    config_.cluster_token = std::string(kClusterToken);
    config_.admin_token = std::string(kClusterToken);
    stats_ = std::make_unique<server::LiveStats>(server::LiveStats::Options{}, clock_, registry_);
    dispatcher_ = std::make_unique<server::Dispatcher>(config_, registry_, clock_, channel_,
                                                       stats_.get());
    audit_ = *server::AuditLog::Open("");
    context_.reset(new server::ServerContext{*dispatcher_, registry_, config_.cluster_token});
    context_->stats = stats_.get();
    context_->hub = &hub_;
    context_->audit = audit_.get();
    context_->history = &history_;
    context_->admin_token = config_.admin_token;
    context_->models = FuzzModelStore();
    node_settings_ = *server::NodeSettingsStore::Open(":memory:");
    context_->node_settings = node_settings_.get();
    context_->fleet_transport = &fleet_transport_;
    server::AddFrontRoutes(router_, *context_);
    server::AddClusterRoutes(router_, *context_);
    server::AddDashboardRoutes(router_, *context_);
    server::AddK8sRoutes(router_, *context_);
    server::AddRepositoryRoutes(router_, *context_);
    server::AddFleetRoutes(router_, *context_);
    Beat(Heartbeat());
  }
  ~ServerTarget() override {
    // Answers what is still open (503), before the channel goes.
    dispatcher_->Stop();
  }

  const http::Router& router() const override { return router_; }

  bool Pump() override {
    bool moved = false;
    for (int round = 0; channel_.pending() > 0; ++round) {
      if (round > 1000) Fail("server", "the dispatcher keeps sending calls");
      channel_.Reply(0, NextReply());
      moved = true;
    }
    // Time passes (deadlines run out), and the node keeps beating: one the
    // dispatcher marked down for an unreachable reply comes back.
    clock_.Advance(std::chrono::milliseconds(50));
    dispatcher_->Tick();
    cluster::NodeReport report = Heartbeat();
    report.model_info.reset();  // static: sent with the first heartbeat only
    Beat(std::move(report));
    return moved;
  }

 private:
  void Beat(cluster::NodeReport report) {
    if (auto reply = dispatcher_->Heartbeat(std::move(report)); !reply.ok()) {
      Fail("server", "heartbeat refused: " + reply.status().ToString());
    }
  }

  using FakeAgentChannel = server::testing::FakeAgentChannel;

  server::AgentReply NextReply() {
    switch (next_reply_++ % 8) {
      case 0:
        return FakeAgentChannel::ClientError("the image does not decode");
      case 1:
        return FakeAgentChannel::Busy();
      case 2:
        return FakeAgentChannel::Failed();
      case 3:
        return FakeAgentChannel::TimedOut();
      case 4:
        return FakeAgentChannel::Unreachable();
      default:
        return FakeAgentChannel::Answer(R"({"model_name":"face","outputs":[]})");
    }
  }

  server::ServerConfig config_;
  FakeClock clock_;
  FakeAgentChannel channel_;  // outlives the dispatcher
  metrics::Registry registry_;
  std::unique_ptr<server::LiveStats> stats_;  // outlives the dispatcher
  server::StreamHub hub_;
  server::HistoryProxy history_{""};
  std::unique_ptr<server::AuditLog> audit_;
  std::unique_ptr<server::Dispatcher> dispatcher_;
  std::unique_ptr<server::NodeSettingsStore> node_settings_;
  FuzzFleetTransport fleet_transport_;  // outlives the routes' fleet runs
  std::unique_ptr<server::ServerContext> context_;
  http::Router router_;
  uint64_t next_reply_;
};

uint64_t Hash(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// Feeds `input` as one connection's bytes through the real pipeline into
// `target` and checks every answer.
void Serve(Target& target, std::string_view input, uint64_t hash, const char* who) {
  const http::ServerOptions options = FuzzServerOptions();
  MemoryConnection connection(options, who);
  RequestPipeline pipeline(options, target.router(), connection);
  const size_t piece = (hash & 3) == 0 ? 1 + (hash >> 2) % 97 : input.size();
  for (size_t at = 0; at < input.size() && pipeline.accepting() && !connection.closed();) {
    const size_t n = std::min(piece, input.size() - at);
    pipeline.Append(input.substr(at, n));
    at += n;
    // Parse, answer and write until the bytes so far need more to go on.
    while (pipeline.accepting() && !connection.closed()) {
      const size_t buffered = pipeline.buffer().size();
      const uint64_t opened = connection.opened();
      pipeline.Parse();
      target.Pump();
      connection.WriteReady();
      if (pipeline.buffer().size() == 0) break;
      if (!connection.HasRoom()) {
        // The pipelining bound: the connection reads on once the front answers.
        if (!connection.WaitFront()) Fail(who, "a handler never answered");
        connection.WriteReady();
        continue;
      }
      if (pipeline.buffer().size() == buffered && connection.opened() == opened) break;
    }
  }
  // The client sent no more: a request left incomplete times out.
  if (pipeline.accepting() && !connection.closed() && pipeline.got_some()) {
    const bool header = !connection.in_body();
    pipeline.StopReading();
    pipeline.PushTimeout(header);
  }
  const auto deadline = std::chrono::steady_clock::now() + kAnswerBound;
  while (!connection.closed() && !connection.AllAnswered()) {
    if (!target.Pump() && !connection.WaitFront()) Fail(who, "a handler never answered");
    connection.WriteReady();
    if (std::chrono::steady_clock::now() > deadline) Fail(who, "a handler never answered");
  }
  connection.WriteReady();
  // The connection closes: what it holds is given back.
  pipeline.Reset();
  connection.DropRest();
  if (connection.held() != 0) {
    Fail(who, std::to_string(connection.held()) + " request body bytes never given back");
  }
}

}  // namespace
}  // namespace heteroaccel::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every input joins a node: the log would drown libFuzzer's own lines.
  (void)heteroaccel::SetLogLevel("off");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace heteroaccel::fuzz;  // NOLINT(google-build-using-namespace)
  // Built once: its slot thread and models stay up across inputs.
  static AgentTarget* const agent = new AgentTarget();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint64_t hash = Hash(input);
  Serve(*agent, input, hash, "agent");
  ServerTarget server(hash);
  Serve(server, input, hash >> 7, "server");
  return 0;
}
