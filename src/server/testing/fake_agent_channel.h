// FakeAgentChannel: an AgentChannel the test drives by hand. Sent calls wait
// until the test replies to them (answer, 429, a failure, unreachable, or
// nothing yet: a slow answer); removing a device or stopping the channel
// replies unreachable to its waiting calls, as the HTTP channel does.
// Thread-safe; replies run on the thread that triggers them, with no lock held.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/agent_channel.h"

namespace heteroaccel::server::testing {

class FakeAgentChannel final : public AgentChannel {
 public:
  void SetReplyCallback(ReplyCallback callback) override { callback_ = std::move(callback); }

  void AddDevice(const scheduler::DeviceKey& device, const std::string& url, int) override {
    std::lock_guard<std::mutex> lock(mu_);
    paths_[device] = url;
  }

  void RemoveDevice(const scheduler::DeviceKey& device) override {
    std::vector<AgentCall> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      paths_.erase(device);
      auto split = std::stable_partition(calls_.begin(), calls_.end(),
                                         [&](const AgentCall& c) { return !(c.device == device); });
      dropped.assign(split, calls_.end());
      calls_.erase(split, calls_.end());
    }
    for (const AgentCall& c : dropped) callback_(c, Unreachable("device removed"));
  }

  void Send(AgentCall call) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++sent_;
      if (!stopped_ && paths_.count(call.device) > 0) {
        calls_.push_back(std::move(call));
        return;
      }
    }
    callback_(call, Unreachable("no path"));
  }

  void Stop() override {
    std::vector<AgentCall> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      dropped.swap(calls_);
    }
    for (const AgentCall& c : dropped) callback_(c, Unreachable("stopped"));
  }

  // --- Test side ---------------------------------------------------------------

  size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }
  int sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  std::vector<AgentCall> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Replies to the index-th waiting call (in send order) and forgets it.
  void Reply(size_t index, AgentReply reply) {
    AgentCall call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      call = calls_.at(index);
      calls_.erase(calls_.begin() + static_cast<std::ptrdiff_t>(index));
    }
    callback_(call, std::move(reply));
  }
  // Replies as `reply` to the index-th waiting call, but keeps it waiting: a
  // duplicate or late reply, which the core must ignore.
  void ReplyAgain(const AgentCall& call, AgentReply reply) { callback_(call, std::move(reply)); }

  static AgentReply Answer(std::string body = R"({"outputs":[]})", double compute_ms = 5) {
    AgentReply r;
    r.kind = AgentReply::Kind::kAnswer;
    r.http_status = 200;
    r.body = std::move(body);
    r.content_type = "application/json";
    r.compute_seconds = compute_ms / 1e3;
    return r;
  }
  static AgentReply ClientError(std::string message) {
    AgentReply r;
    r.kind = AgentReply::Kind::kAnswer;
    r.http_status = 400;
    r.error = absl::InvalidArgumentError(std::move(message));
    return r;
  }
  static AgentReply Busy() {
    AgentReply r;
    r.kind = AgentReply::Kind::kBusy;
    r.http_status = 429;
    r.error = absl::ResourceExhaustedError("every slot is busy");
    return r;
  }
  static AgentReply Failed(std::string message = "the model failed") {
    AgentReply r;
    r.kind = AgentReply::Kind::kFailed;
    r.http_status = 500;
    r.error = absl::InternalError(std::move(message));
    return r;
  }
  static AgentReply TimedOut() {
    AgentReply r;
    r.kind = AgentReply::Kind::kFailed;
    r.error = absl::DeadlineExceededError("no answer in time");
    return r;
  }
  static AgentReply Unreachable(std::string why = "connection reset") {
    AgentReply r;
    r.kind = AgentReply::Kind::kUnreachable;
    r.error = absl::UnavailableError(std::move(why));
    return r;
  }

 private:
  ReplyCallback callback_;
  mutable std::mutex mu_;
  std::map<scheduler::DeviceKey, std::string> paths_;
  std::vector<AgentCall> calls_;
  int sent_ = 0;
  bool stopped_ = false;
};

}  // namespace heteroaccel::server::testing
