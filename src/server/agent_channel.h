// AgentChannel: how the server's core reaches the agents. The dispatcher hands
// it one AgentCall per attempt (a request bound to a device) and gets exactly
// one AgentReply back for it, classified so the core needs no HTTP: answered,
// busy, failed on that device, or the node unreachable.
//
// Implementations: HttpAgentChannel (http_agent_channel.h), which forwards over
// keep-alive connections to each device's agent, and FakeAgentChannel
// (server/testing/fake_agent_channel.h), which the tests drive by hand to
// inject 429s, 5xx, resets, timeouts, slow answers and lost nodes.
//
// Thread-safety: every method may be called from any thread. The reply
// callback may run on any thread, before or after Send returns, but never
// while the caller of Send holds a lock it would need: Send is called with the
// dispatcher's lock released.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "scheduler/types.h"

namespace heteroaccel::server {

// One attempt at a request on one device.
struct AgentCall {
  uint64_t request_id = 0;
  int attempt = 0;  // 1 for the first binding
  scheduler::DeviceKey device;
  std::string type;
  std::string variant;
  bool v1 = false;  // POST /v1/infer/{type} (image body) instead of the v2 endpoint
  std::shared_ptr<const std::string> body;
  std::optional<size_t> header_length;  // binary tensor extension
  std::string content_type;
  double server_queue_ms = 0;  // from arrival at the server to this binding
  // Non-empty when `variant` is a faster one the scheduler degraded to from
  // this, the device's primary variant (scheduler::Assignment::degraded_from).
  std::string degraded_from;
};

struct AgentReply {
  enum class Kind {
    // The agent answered: a result (200), or an error that is the request's own
    // (400 bad image, 413, 415, ...) and would be the same on any device.
    kAnswer,
    // 429: every slot of the device that could take it was full.
    kBusy,
    // The request failed on this device for a reason of the device's or the
    // model's (5xx, 404/503 from the agent, a timeout, an unreadable answer).
    // Another device may succeed; the node is not suspected.
    kFailed,
    // The connection could not be made or broke: the node may be gone.
    kUnreachable,
  };
  Kind kind = Kind::kFailed;
  // kAnswer: the agent's answer as sent.
  int http_status = 0;
  std::string body;
  std::string content_type;
  std::optional<size_t> header_length;
  // kAnswer with http_status != 200: the agent's error with its code; other
  // kinds: what went wrong, for the message if the request gives up.
  absl::Status error;
  std::optional<double> compute_seconds;  // the device's own time, when the agent said
  double round_trip_seconds = 0;
};

class AgentChannel {
 public:
  using ReplyCallback = std::function<void(const AgentCall&, AgentReply)>;

  virtual ~AgentChannel() = default;

  // The callback every reply goes to. Set once, before the first Send.
  virtual void SetReplyCallback(ReplyCallback callback) = 0;
  // Opens (or re-opens, after an address change) the path to a device of the
  // agent at `url`, able to carry `concurrency` calls at once.
  virtual void AddDevice(const scheduler::DeviceKey& device, const std::string& url,
                         int concurrency) = 0;
  // Closes the path; calls not yet sent are replied kUnreachable.
  virtual void RemoveDevice(const scheduler::DeviceKey& device) = 0;
  // Sends one attempt. Exactly one reply follows, even for an unknown device
  // (kUnreachable) or after Stop (kUnreachable).
  virtual void Send(AgentCall call) = 0;
  // Stops every path, replying to what was not sent. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace heteroaccel::server
