// RequestTracker: the life of every request the server accepted, from
// admission to its one answer. Pure: no I/O, no threads, no locks; time from
// the injected Clock. The dispatcher owns it, serialises every call, and keeps
// it in step with the scheduler (which holds the queues and the bindings).
//
// Lifecycle (ids are the scheduler's request ids):
//   Step 1  Admit: the request is tracked, waiting. Its scheduler::Request
//           (type, priority, deadline, pins) is kept and used unchanged for
//           every re-queue.
//   Step 2  Bind: the scheduler bound it; an attempt starts (1, 2, ...) and the
//           AgentCall to send is returned.
//   Step 3  OnReply: the verdict on that attempt's reply —
//             kStale     the attempt is no longer current (its node was lost and
//                        the request bound again): ignore the reply;
//             kAnswer    finish with the agent's answer;
//             kRetry     hand the same Request back to the scheduler;
//             kGiveUp    finish with GiveUpStatus (max_attempts reached);
//             kNodeLost  the node is unreachable: the dispatcher fails it, the
//                        scheduler re-queues what it held (Step 4).
//   Step 4  OnRequeued: the scheduler put a request back itself (node lost);
//           its attempt is void. Exhausted() lists waiting requests that have
//           used max_attempts, to be given up.
//   Step 5  Finish: removes the request and returns its callback with the
//           result. Only Finish removes, so each request is answered once.
//
// Thread-safety: none; the owner serialises calls.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "scheduler/types.h"
#include "server/agent_channel.h"
#include "server/request.h"

namespace heteroaccel::server {

class RequestTracker {
 public:
  enum class Verdict { kStale, kAnswer, kRetry, kGiveUp, kNodeLost };

  struct Finished {
    InferDone done;
    InferResult result;
    std::string model;
    double seconds = 0;  // arrival to answer
  };

  RequestTracker(int max_attempts, Clock& clock);

  // Step 1. The returned Request is what the scheduler gets (now and on every
  // re-queue).
  const scheduler::Request& Admit(InferWork work, InferDone done);
  // Step 2. The request must be tracked.
  AgentCall Bind(const scheduler::Assignment& assignment);
  // Step 3.
  Verdict OnReply(const AgentCall& call, const AgentReply& reply);
  // Step 4.
  void OnRequeued(uint64_t id, const std::string& why);
  std::vector<uint64_t> Exhausted() const;
  // The error a request that used max_attempts is answered with: the last
  // failure's code (busy -> ResourceExhausted; a lost node or a missing
  // variant -> Unavailable) and message.
  absl::Status GiveUpStatus(uint64_t id) const;
  // Step 5: with an error, or with the agent's answer (`reply` of a kAnswer
  // verdict). Null `done` in the result if the id is not tracked.
  Finished Finish(uint64_t id, absl::Status error);
  Finished Finish(uint64_t id, AgentReply reply);

  bool tracked(uint64_t id) const { return requests_.count(id) > 0; }
  bool in_flight(uint64_t id) const;
  const scheduler::Request* request(uint64_t id) const;
  std::vector<uint64_t> ids() const;
  size_t size() const { return requests_.size(); }

 private:
  struct Tracked {
    scheduler::Request request;
    InferWork work;
    InferDone done;
    int attempt = 0;  // attempts started
    bool in_flight = false;
    std::optional<scheduler::DeviceKey> device;  // of the current attempt
    std::string variant;
    double queue_ms = 0;
    absl::Status last_error;  // OK until an attempt fails
  };

  Finished Take(std::map<uint64_t, Tracked>::iterator it, InferResult result);

  const int max_attempts_;
  Clock& clock_;
  std::map<uint64_t, Tracked> requests_;
  uint64_t next_id_ = 1;
};

}  // namespace heteroaccel::server
