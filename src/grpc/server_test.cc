// GrpcServer and GrpcClient over a real socket, against a fake service that
// answers Infer from its own thread.
#include "grpc/server.h"

#include <array>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/client.h"
#include "gtest/gtest.h"

namespace heteroaccel::grpcfront {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using protocol::DataType;
using protocol::Tensor;

// Model "echo" returns its inputs as outputs and its parameters as response
// parameters. A request can ask for an error with the parameters error_code
// (an absl::StatusCode number) and error_message, ask to have its `done`
// dropped with drop=true, or to be answered inside Infer with inline=true.
// Other models are NotFound. While Hold() is on, Infer calls queue up until
// Release().
class FakeInferenceService final : public InferenceService {
 public:
  FakeInferenceService() : worker_([this] { Run(); }) {}

  ~FakeInferenceService() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    worker_.join();
  }

  bool Live() const override { return true; }
  bool Ready() const override {
    absl::MutexLock lock(&mu_);
    return ready_;
  }
  bool ModelReady(const std::string& model, const std::string& version) const override {
    return model == "echo" && (version.empty() || version == "1");
  }
  json ServerMetadata() const override {
    return protocol::ServerMetadataJson("heteroaccel", "0.1.0", {"binary_tensor_data"});
  }
  absl::StatusOr<protocol::ModelMetadata> ModelMetadata(const std::string& model,
                                                        const std::string& version) const override {
    if (model != "echo") return absl::NotFoundError("unknown model '" + model + "'");
    protocol::ModelMetadata m;
    m.name = model;
    m.versions = {"1"};
    m.platform = "heteroaccel_echo";
    m.inputs = {{"image", DataType::kUint8, {-1, -1, 3}, ""}};
    m.outputs = {{"image", DataType::kUint8, {-1, -1, 3}, ""}};
    (void)version;
    return m;
  }

  void Infer(const std::string& model, const std::string& version, protocol::InferRequest request,
             std::function<void(absl::StatusOr<protocol::InferResponse>)> done) override {
    Job job{model, version, std::move(request), std::move(done)};
    if (job.request.parameters.value("inline", false)) {
      job.done(Answer(job));  // answers before Infer returns
      return;
    }
    absl::MutexLock lock(&mu_);
    jobs_.push_back(std::move(job));
  }

  void SetReady(bool ready) {
    absl::MutexLock lock(&mu_);
    ready_ = ready;
  }
  void Hold() {
    absl::MutexLock lock(&mu_);
    holding_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    holding_ = false;
  }
  // Waits until `n` calls are queued (only meaningful while holding).
  bool WaitForQueued(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return jobs_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  struct Job {
    std::string model;
    std::string version;
    protocol::InferRequest request;
    std::function<void(absl::StatusOr<protocol::InferResponse>)> done;
  };

  static absl::StatusOr<protocol::InferResponse> Answer(Job& job) {
    if (job.model != "echo") return absl::NotFoundError("unknown model '" + job.model + "'");
    const json& params = job.request.parameters;
    if (params.contains("error_code")) {
      return absl::Status(static_cast<absl::StatusCode>(params["error_code"].get<int>()),
                          params.value("error_message", ""));
    }
    protocol::InferResponse response;
    response.model_name = job.model;
    response.model_version = job.version.empty() ? "1" : job.version;
    response.parameters = params;
    response.outputs = std::move(job.request.inputs);
    return response;
  }

  void Run() {
    while (true) {
      Job job;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return stopping_ || (!holding_ && !jobs_.empty());
        };
        mu_.Await(absl::Condition(&ready));
        if (jobs_.empty() || holding_) return;  // stopping
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      if (job.request.parameters.value("drop", false)) {
        job.done = nullptr;
        continue;
      }
      job.done(Answer(job));
    }
  }

  mutable absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = true;
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }
  // A failed test may leave calls parked in the service; Stop() waits for them.
  void TearDown() override {
    service_.Release();
    client_.reset();
    server_.reset();
  }

  void StartServer(GrpcServerOptions options) {
    client_.reset();
    server_.reset();
    auto server = GrpcServer::Create(std::move(options), service_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = NewClient({});
  }

  std::unique_ptr<GrpcClient> NewClient(GrpcClientOptions options) {
    auto client = GrpcClient::Create(server_->address(), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  FakeInferenceService service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<GrpcClient> client_;
};

protocol::InferRequest RequestWith(std::vector<Tensor> inputs) {
  protocol::InferRequest request;
  request.inputs = std::move(inputs);
  return request;
}

template <typename T>
void ExpectError(const absl::StatusOr<T>& r, absl::StatusCode code, const std::string& substring) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(substring));
}

TEST_F(GrpcServerTest, ReportsAddressWithBoundPort) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(GrpcServerTest, AnswersHealth) {
  EXPECT_EQ(client_->ServerLive().value_or(false), true);
  EXPECT_EQ(client_->ServerReady().value_or(false), true);
  service_.SetReady(false);
  EXPECT_EQ(client_->ServerReady().value_or(true), false);
  EXPECT_EQ(client_->ModelReady("echo").value_or(false), true);
  EXPECT_EQ(client_->ModelReady("echo", "1").value_or(false), true);
  EXPECT_EQ(client_->ModelReady("echo", "7").value_or(true), false);
  EXPECT_EQ(client_->ModelReady("missing").value_or(true), false);
  ExpectError(client_->ModelReady(""), absl::StatusCode::kInvalidArgument, "model name");
}

TEST_F(GrpcServerTest, AnswersMetadata) {
  absl::StatusOr<json> server = client_->ServerMetadata();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(*server, service_.ServerMetadata());

  absl::StatusOr<protocol::ModelMetadata> model = client_->ModelMetadata("echo");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(*model, *service_.ModelMetadata("echo", ""));
  ExpectError(client_->ModelMetadata("missing"), absl::StatusCode::kNotFound,
              "unknown model 'missing'");
}

TEST_F(GrpcServerTest, InferRoundTripsRawContents) {
  const std::vector<float> floats = {0.5f, -1.25f, 3e8f, 0.0f, 1.0f, -0.0f};
  std::vector<uint8_t> pixels(size_t{4} * 4 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  protocol::InferRequest request = RequestWith({
      Tensor::FromFloats("scores", {2, 3}, floats),
      Tensor::FromValues<uint8_t>("image", {4, 4, 3}, pixels),
      Tensor::FromBytes("text", {"hello", "", std::string("\0\xff", 2)}),
  });
  request.id = "req-42";
  absl::StatusOr<protocol::InferResponse> r = client_->Infer("echo", "", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->model_name, "echo");
  EXPECT_EQ(r->model_version, "1");
  EXPECT_EQ(r->id, "req-42");
  EXPECT_EQ(r->outputs, request.inputs);
}

TEST_F(GrpcServerTest, InferRoundTripsTypedContents) {
  GrpcClientOptions options;
  options.encoding = ContentsEncoding::kTyped;
  std::unique_ptr<GrpcClient> typed = NewClient(options);
  const std::array<int8_t, 3> i8 = {-128, 0, 127};
  const std::array<uint16_t, 2> u16 = {1, 65535};
  const std::array<bool, 2> bools = {true, false};
  const std::array<double, 2> f64 = {1e-300, 2.5};
  protocol::InferRequest request = RequestWith({
      Tensor::FromFloats("f", {2}, std::vector<float>{1.5f, 2.5f}),
      Tensor::FromValues<int8_t>("i8", {3}, i8),
      Tensor::FromValues<uint16_t>("u16", {2}, u16),
      Tensor::FromValues<bool>("b", {2}, bools),
      Tensor::FromValues<double>("d", {1, 2}, f64),
      Tensor::FromBytes("s", {"typed", "bytes"}),
  });
  absl::StatusOr<protocol::InferResponse> r = typed->Infer("echo", "1", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outputs, request.inputs);
}

TEST_F(GrpcServerTest, InferRoundTripsParameters) {
  protocol::InferRequest request =
      RequestWith({Tensor::FromInt32s("x", {1}, std::vector<int32_t>{5})});
  request.parameters = {{"device", "cpu0"}, {"priority", -3}, {"trace", true}, {"scale", 0.5}};
  absl::StatusOr<protocol::InferResponse> r = client_->Infer("echo", "", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parameters, request.parameters);
}

TEST_F(GrpcServerTest, InferReturnsOnlyRequestedOutputs) {
  protocol::InferRequest request =
      RequestWith({Tensor::FromInt32s("a", {1}, std::vector<int32_t>{1}),
                   Tensor::FromInt32s("b", {1}, std::vector<int32_t>{2})});
  request.outputs = {{"b", false}};
  absl::StatusOr<protocol::InferResponse> r = client_->Infer("echo", "", request);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0].name, "b");

  request.outputs = {{"nope", false}};
  ExpectError(client_->Infer("echo", "", request), absl::StatusCode::kInvalidArgument,
              "unknown output 'nope'; the model has: a, b");
}

TEST_F(GrpcServerTest, MapsServiceErrors) {
  protocol::InferRequest request =
      RequestWith({Tensor::FromInt32s("x", {1}, std::vector<int32_t>{5})});
  ExpectError(client_->Infer("missing", "", request), absl::StatusCode::kNotFound,
              "unknown model 'missing'");

  request.parameters = {{"error_code", static_cast<int>(absl::StatusCode::kInvalidArgument)},
                        {"error_message", "image is 3x3; send at least 32x32"}};
  ExpectError(client_->Infer("echo", "", request), absl::StatusCode::kInvalidArgument,
              "image is 3x3; send at least 32x32");

  request.parameters = {{"error_code", static_cast<int>(absl::StatusCode::kResourceExhausted)},
                        {"error_message", "queue full"}};
  ExpectError(client_->Infer("echo", "", request), absl::StatusCode::kResourceExhausted,
              "queue full");

  request.parameters = {{"error_code", static_cast<int>(absl::StatusCode::kUnavailable)},
                        {"error_message", "device lost"}};
  ExpectError(client_->Infer("echo", "", request), absl::StatusCode::kUnavailable, "device lost");
}

TEST_F(GrpcServerTest, RejectsMalformedRequestsWithInvalidArgument) {
  ::inference::ModelInferRequest proto;
  proto.set_model_name("echo");
  auto* in = proto.add_inputs();
  in->set_name("image");
  in->set_datatype("UINT8");
  in->add_shape(2);
  in->add_shape(2);
  proto.add_raw_input_contents("abc");
  ExpectError(client_->ModelInfer(proto), absl::StatusCode::kInvalidArgument,
              "input 'image': shape [2,2] UINT8 needs 4 elements of 1 bytes, got 3 bytes");

  *proto.add_inputs() = proto.inputs(0);
  proto.add_raw_input_contents("abcd");
  *proto.mutable_raw_input_contents(0) = "abcd";
  ExpectError(client_->ModelInfer(proto), absl::StatusCode::kInvalidArgument,
              "duplicate input name 'image'");

  proto.clear_model_name();
  ExpectError(client_->ModelInfer(proto), absl::StatusCode::kInvalidArgument,
              "needs a model name in 'model_name'");
}

TEST_F(GrpcServerTest, RejectsMessagesOverTheSizeLimit) {
  GrpcServerOptions options;
  options.max_message_bytes = 1 << 20;
  StartServer(options);
  std::vector<uint8_t> big(2 << 20, 1);
  ExpectError(client_->Infer("echo", "",
                             RequestWith({Tensor::FromValues<uint8_t>(
                                 "image", {static_cast<int64_t>(big.size())}, big)})),
              absl::StatusCode::kResourceExhausted, "larger than max");
  // A request under the limit still goes through on the same server.
  std::vector<uint8_t> small(512 << 10, 2);
  EXPECT_TRUE(client_
                  ->Infer("echo", "",
                          RequestWith({Tensor::FromValues<uint8_t>(
                              "image", {static_cast<int64_t>(small.size())}, small)}))
                  .ok());
}

TEST_F(GrpcServerTest, ServesConcurrentCallsFromEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 40;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        const std::vector<int32_t> values = {t, i, t * 1000 + i};
        protocol::InferRequest request = RequestWith({Tensor::FromInt32s("x", {3}, values)});
        request.id = std::to_string(t) + "-" + std::to_string(i);
        absl::StatusOr<protocol::InferResponse> r = client_->Infer("echo", "", request);
        if (!r.ok() || r->id != request.id || r->outputs != request.inputs) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
}

TEST_F(GrpcServerTest, PendingInferDoesNotBlockOtherCalls) {
  constexpr int kPending = 32;
  service_.Hold();
  std::vector<absl::StatusOr<protocol::InferResponse>> results(kPending,
                                                               absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  threads.reserve(kPending);
  for (int i = 0; i < kPending; ++i) {
    threads.emplace_back([this, i, &results] {
      results[i] = client_->Infer(
          "echo", "", RequestWith({Tensor::FromInt32s("x", {1}, std::vector<int32_t>{i})}));
    });
  }
  ASSERT_TRUE(service_.WaitForQueued(kPending, absl::Seconds(10)));
  // Every Infer is parked in the service, yet the server still answers.
  EXPECT_EQ(client_->ServerLive().value_or(false), true);
  EXPECT_TRUE(client_->ModelMetadata("echo").ok());
  service_.Release();
  for (std::thread& th : threads) th.join();
  for (int i = 0; i < kPending; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->outputs[0].Values<int32_t>().value(), std::vector<int32_t>{i});
  }
}

TEST_F(GrpcServerTest, AcceptsAnAnswerGivenInsideInfer) {
  protocol::InferRequest request =
      RequestWith({Tensor::FromInt32s("x", {1}, std::vector<int32_t>{5})});
  request.parameters = {{"inline", true}};
  absl::StatusOr<protocol::InferResponse> r = client_->Infer("echo", "", request);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outputs, request.inputs);
  request.parameters["error_code"] = static_cast<int>(absl::StatusCode::kNotFound);
  ExpectError(client_->Infer("echo", "", request), absl::StatusCode::kNotFound, "");
}

TEST_F(GrpcServerTest, DroppedDoneEndsTheCallWithInternal) {
  protocol::InferRequest request =
      RequestWith({Tensor::FromInt32s("x", {1}, std::vector<int32_t>{5})});
  request.parameters = {{"drop", true}};
  ExpectError(client_->Infer("echo", "", request), absl::StatusCode::kInternal,
              "dropped the request");
}

TEST_F(GrpcServerTest, StopEndsServing) {
  server_->Stop();
  server_->Stop();  // idempotent
  ExpectError(client_->ServerLive(), absl::StatusCode::kUnavailable, "");
}

TEST_F(GrpcServerTest, StopCancelsCallsAfterGraceAndWaitsForDone) {
  GrpcServerOptions options;
  options.shutdown_grace = std::chrono::milliseconds(50);
  StartServer(options);
  service_.Hold();
  absl::StatusOr<protocol::InferResponse> result = absl::UnknownError("not run");
  std::thread call([this, &result] {
    result = client_->Infer("echo", "",
                            RequestWith({Tensor::FromInt32s("x", {1}, std::vector<int32_t>{1})}));
  });
  ASSERT_TRUE(service_.WaitForQueued(1, absl::Seconds(10)));
  std::thread stop([this] { server_->Stop(); });
  // The client learns of the shutdown while the service still holds the call.
  call.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  // Stop() returns once the service answers the cancelled call.
  service_.Release();
  stop.join();
}

TEST_F(GrpcServerTest, RefusesAPortInUse) {
  GrpcServerOptions options;
  options.listen = server_->address();
  auto second = GrpcServer::Create(options, service_);
  ExpectError(second, absl::StatusCode::kUnavailable, "cannot listen on " + server_->address());
}

TEST_F(GrpcServerTest, RejectsBadOptions) {
  GrpcServerOptions no_address;
  no_address.listen = "";
  ExpectError(GrpcServer::Create(no_address, service_), absl::StatusCode::kInvalidArgument,
              "listen address is empty");
  GrpcServerOptions no_bytes;
  no_bytes.max_message_bytes = 0;
  ExpectError(GrpcServer::Create(no_bytes, service_), absl::StatusCode::kInvalidArgument,
              "max_message_bytes");
  ExpectError(GrpcClient::Create(""), absl::StatusCode::kInvalidArgument, "target is empty");
}

}  // namespace
}  // namespace heteroaccel::grpcfront
