#include "server/http_agent_channel.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster/contract.h"
#include "http/client.h"
#include "protocol/errors.h"

namespace heteroaccel::server {
namespace {

// The agent's error answer as a Status with the same code (kept exactly for
// the HTTP front door) and the agent's message.
absl::Status AgentError(int http_status, const std::string& body) {
  const absl::Status mapped = protocol::StatusFromHttp(http_status, body);
  std::string message = body;
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    message = json["error"].get<std::string>();
  }
  return protocol::WithHttpStatus(absl::Status(mapped.code(), message), http_status);
}

// The contract's header as the HTTP client stores response header names.
const std::string kComputeMsHeader = absl::AsciiStrToLower(
    absl::string_view(cluster::kComputeMsHeader.data(), cluster::kComputeMsHeader.size()));

AgentReply Classify(const AgentCall& call, absl::StatusOr<http::ClientResponse> response) {
  AgentReply reply;
  const std::string device = call.device.ToString();
  if (!response.ok()) {
    // Unavailable: cannot connect, or the connection broke (http/client.h).
    reply.kind = response.status().code() == absl::StatusCode::kUnavailable
                     ? AgentReply::Kind::kUnreachable
                     : AgentReply::Kind::kFailed;
    reply.error = absl::Status(response.status().code(),
                               absl::StrCat(device, ": ", response.status().message()));
    return reply;
  }
  reply.http_status = response->status;
  const std::string_view compute = response->Header(kComputeMsHeader);
  double ms = 0;
  if (absl::SimpleAtod(absl::string_view(compute.data(), compute.size()), &ms) && ms >= 0) {
    reply.compute_seconds = ms / 1e3;
  }
  const int status = response->status;
  if (status == 200) {
    const std::string_view header_length = response->Header("inference-header-content-length");
    if (!header_length.empty()) {
      size_t n = 0;
      if (!absl::SimpleAtoi(absl::string_view(header_length.data(), header_length.size()), &n) ||
          n > response->body.size()) {
        reply.kind = AgentReply::Kind::kFailed;
        reply.error = absl::InternalError(
            absl::StrCat(device, " answered with a bad Inference-Header-Content-Length '",
                         std::string(header_length), "'"));
        return reply;
      }
      reply.header_length = n;
    }
    reply.kind = AgentReply::Kind::kAnswer;
    reply.content_type = std::string(response->Header("content-type"));
    reply.body = std::move(response->body);
    return reply;
  }
  reply.error = AgentError(status, response->body);
  if (status == 429) {
    reply.kind = AgentReply::Kind::kBusy;
  } else if (status >= 500 || status == 404) {
    reply.kind = AgentReply::Kind::kFailed;
    reply.error = absl::Status(reply.error.code(), absl::StrCat("HTTP ", status, " from ", device,
                                                                ": ", reply.error.message()));
  } else {
    reply.kind = AgentReply::Kind::kAnswer;
  }
  return reply;
}

AgentReply Unreachable(const AgentCall& call, const std::string& why) {
  AgentReply reply;
  reply.kind = AgentReply::Kind::kUnreachable;
  reply.error = absl::UnavailableError(absl::StrCat(call.device.ToString(), ": ", why));
  return reply;
}

}  // namespace

// Sends the calls bound to one device: `threads` workers, each with its own
// keep-alive connection.
class HttpAgentChannel::Forwarder {
 public:
  Forwarder(std::string url, std::string device_id, int threads, std::chrono::milliseconds timeout,
            const ReplyCallback& callback)
      : url_(std::move(url)),
        device_id_(std::move(device_id)),
        timeout_(timeout),
        callback_(callback),
        live_(threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Run(); });
      // Named for top -H, perf and gdb ("fwd:DEVICE:N", cut to the 15 bytes
      // Linux keeps), not after the io thread that created it.
      const std::string name = absl::StrCat("fwd:", device_id_, ":", i);
      pthread_setname_np(threads_.back().native_handle(), name.substr(0, 15).c_str());
    }
  }
  ~Forwarder() { Stop(); }

  const std::string& url() const { return url_; }

  void Push(AgentCall call) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_) {
        calls_.push_back(std::move(call));
        ready_.notify_one();
        return;
      }
    }
    callback_(call, Unreachable(call, "the device's connection is closed"));
  }

  // Stops taking calls without waiting; each worker ends after the call it is
  // sending. Returns the calls never sent, for the caller to reply to with no
  // lock held (ReplyUnsent).
  std::deque<AgentCall> Close() {
    std::deque<AgentCall> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      left.swap(calls_);
    }
    ready_.notify_all();
    return left;
  }

  void ReplyUnsent(const std::deque<AgentCall>& calls) const {
    for (const AgentCall& call : calls) {
      callback_(call, Unreachable(call, "the device's connection was closed"));
    }
  }

  // Close, reply to the unsent calls, then wait for the workers.
  void Stop() {
    ReplyUnsent(Close());
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // True once every worker has ended (after Close), so Stop will not wait.
  bool Finished() const { return live_.load() == 0; }

 private:
  void Run() {
    std::unique_ptr<http::Client> client;
    while (true) {
      AgentCall call;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stop_ || !calls_.empty(); });
        if (stop_) {
          --live_;
          return;
        }
        call = std::move(calls_.front());
        calls_.pop_front();
      }
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<http::ClientResponse> response = Send(client, call);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!response.ok()) client.reset();  // reconnect next time
      AgentReply reply = Classify(call, std::move(response));
      reply.round_trip_seconds = seconds;
      callback_(call, std::move(reply));
    }
  }

  absl::StatusOr<http::ClientResponse> Send(std::unique_ptr<http::Client>& client,
                                            const AgentCall& call) {
    if (client == nullptr) {
      auto created = http::Client::Create(url_, timeout_);
      if (!created.ok()) return created.status();
      client = std::move(*created);
    }
    http::HeaderList headers = {
        {std::string(cluster::kDeviceHeader), device_id_},
        {std::string(cluster::kServerQueueMsHeader), absl::StrCat(call.server_queue_ms)},
        {std::string(cluster::kAttemptHeader), absl::StrCat(call.attempt)}};
    if (!call.degraded_from.empty()) {
      headers.emplace_back(std::string(cluster::kDegradedFromHeader), call.degraded_from);
    }
    if (call.header_length) {
      headers.emplace_back("Inference-Header-Content-Length", std::to_string(*call.header_length));
    }
    const std::string path =
        call.v1 ? absl::StrCat("/v1/infer/", call.type, "?variant=", call.variant)
                : absl::StrCat("/v2/models/", call.type, "/versions/", call.variant, "/infer");
    return client->Send("POST", path, call.content_type, *call.body, headers);
  }

  const std::string url_;
  const std::string device_id_;
  const std::chrono::milliseconds timeout_;
  const ReplyCallback& callback_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<AgentCall> calls_;  // guarded by mu_
  bool stop_ = false;            // guarded by mu_
  std::atomic<int> live_;        // workers still running
  std::vector<std::thread> threads_;
};

HttpAgentChannel::HttpAgentChannel(std::chrono::milliseconds timeout) : timeout_(timeout) {}

HttpAgentChannel::~HttpAgentChannel() { Stop(); }

void HttpAgentChannel::SetReplyCallback(ReplyCallback callback) { callback_ = std::move(callback); }

std::deque<AgentCall> HttpAgentChannel::Retire(const std::shared_ptr<Forwarder>& forwarder) {
  std::deque<AgentCall> unsent = forwarder->Close();
  // Forwarders whose last call has come back are joined (at once) and dropped,
  // so agents that restart often leave no threads behind.
  std::erase_if(retired_, [](const std::shared_ptr<Forwarder>& f) {
    if (!f->Finished()) return false;
    f->Stop();
    return true;
  });
  retired_.push_back(forwarder);
  return unsent;
}

void HttpAgentChannel::AddDevice(const scheduler::DeviceKey& device, const std::string& url,
                                 int concurrency) {
  std::shared_ptr<Forwarder> old;
  std::deque<AgentCall> unsent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    auto it = forwarders_.find(device);
    if (it != forwarders_.end()) {
      if (it->second->url() == url) return;
      old = std::move(it->second);
      forwarders_.erase(it);
      unsent = Retire(old);
    }
    forwarders_[device] =
        std::make_shared<Forwarder>(url, device.device, concurrency, timeout_, callback_);
  }
  if (old != nullptr) old->ReplyUnsent(unsent);
}

void HttpAgentChannel::RemoveDevice(const scheduler::DeviceKey& device) {
  std::shared_ptr<Forwarder> old;
  std::deque<AgentCall> unsent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = forwarders_.find(device);
    if (it == forwarders_.end()) return;
    old = std::move(it->second);
    forwarders_.erase(it);
    unsent = Retire(old);
  }
  old->ReplyUnsent(unsent);
}

void HttpAgentChannel::Send(AgentCall call) {
  std::shared_ptr<Forwarder> forwarder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = forwarders_.find(call.device);
    if (it != forwarders_.end()) forwarder = it->second;
  }
  if (forwarder == nullptr) return callback_(call, Unreachable(call, "no path to this device"));
  forwarder->Push(std::move(call));
}

void HttpAgentChannel::Stop() {
  std::vector<std::shared_ptr<Forwarder>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [key, f] : forwarders_) all.push_back(f);
    all.insert(all.end(), retired_.begin(), retired_.end());
    forwarders_.clear();
    retired_.clear();
  }
  for (auto& f : all) f->Stop();
}

}  // namespace heteroaccel::server
