#include "server/request_tracker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace heteroaccel::server {

RequestTracker::RequestTracker(int max_attempts, Clock& clock)
    : max_attempts_(std::max(1, max_attempts)), clock_(clock) {}

const scheduler::Request& RequestTracker::Admit(InferWork work, InferDone done) {
  const uint64_t id = next_id_++;
  Tracked& t = requests_.try_emplace(id).first->second;
  t.request.id = id;
  t.request.type = work.model;
  t.request.priority = work.hints.priority;
  t.request.arrival = clock_.Now();
  if (work.hints.timeout) t.request.deadline = t.request.arrival + *work.hints.timeout;
  t.request.pinned_device = work.hints.device;
  t.request.pinned_kind = work.hints.device_kind;
  t.request.pinned_variant = work.hints.variant;
  t.request.group = work.hints.group;
  t.request.may_degrade = work.hints.degrade;
  t.request.tenant = work.hints.camera;  // kept for re-queues: fair shares per camera
  t.work = std::move(work);
  t.done = std::move(done);
  return t.request;
}

AgentCall RequestTracker::Bind(const scheduler::Assignment& assignment) {
  Tracked& t = requests_.at(assignment.request_id);
  ++t.attempt;
  t.in_flight = true;
  t.device = assignment.device;
  t.variant = assignment.variant;
  t.queue_ms = SecondsBetween(t.request.arrival, clock_.Now()) * 1e3;
  AgentCall call;
  call.request_id = assignment.request_id;
  call.attempt = t.attempt;
  call.device = assignment.device;
  call.type = t.work.model;
  call.variant = assignment.variant;
  call.v1 = t.work.v1;
  call.body = t.work.body;
  call.header_length = t.work.header_length;
  call.content_type = t.work.content_type;
  call.server_queue_ms = t.queue_ms;
  return call;
}

RequestTracker::Verdict RequestTracker::OnReply(const AgentCall& call, const AgentReply& reply) {
  auto it = requests_.find(call.request_id);
  if (it == requests_.end() || it->second.attempt != call.attempt) return Verdict::kStale;
  Tracked& t = it->second;
  if (reply.kind == AgentReply::Kind::kAnswer) return Verdict::kAnswer;
  t.last_error = reply.error.ok() ? absl::UnknownError(call.device.ToString()) : reply.error;
  // Re-queued already (its node was lost) and waiting: nothing more to do.
  if (!t.in_flight) return Verdict::kStale;
  if (reply.kind == AgentReply::Kind::kUnreachable) return Verdict::kNodeLost;
  t.in_flight = false;
  return t.attempt >= max_attempts_ ? Verdict::kGiveUp : Verdict::kRetry;
}

void RequestTracker::OnRequeued(uint64_t id, const std::string& why) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  it->second.in_flight = false;
  if (it->second.last_error.ok() ||
      it->second.last_error.code() != absl::StatusCode::kUnavailable) {
    it->second.last_error = absl::UnavailableError(why);
  }
}

std::vector<uint64_t> RequestTracker::Exhausted() const {
  std::vector<uint64_t> out;
  for (const auto& [id, t] : requests_) {
    if (!t.in_flight && t.attempt >= max_attempts_ && !t.last_error.ok()) out.push_back(id);
  }
  return out;
}

absl::Status RequestTracker::GiveUpStatus(uint64_t id) const {
  const Tracked& t = requests_.at(id);
  absl::StatusCode code = t.last_error.code();
  if (code == absl::StatusCode::kNotFound || code == absl::StatusCode::kOk) {
    code = absl::StatusCode::kUnavailable;
  }
  return absl::Status(code, absl::StrCat("'", t.work.model, "' request failed on ", t.attempt,
                                         t.attempt == 1 ? " attempt" : " attempts",
                                         "; last: ", t.last_error.message()));
}

RequestTracker::Finished RequestTracker::Take(std::map<uint64_t, Tracked>::iterator it,
                                              InferResult result) {
  Tracked& t = it->second;
  result.served_by = t.device;
  result.variant = t.variant;
  result.attempts = t.attempt;
  result.queue_ms = t.queue_ms;
  Finished f{std::move(t.done), std::move(result), t.work.model,
             SecondsBetween(t.request.arrival, clock_.Now())};
  requests_.erase(it);
  return f;
}

RequestTracker::Finished RequestTracker::Finish(uint64_t id, absl::Status error) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return {};
  InferResult result;
  result.status = std::move(error);
  return Take(it, std::move(result));
}

RequestTracker::Finished RequestTracker::Finish(uint64_t id, AgentReply reply) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return {};
  InferResult result;
  if (reply.http_status == 200) {
    result.body = std::move(reply.body);
    result.content_type = std::move(reply.content_type);
    result.header_length = reply.header_length;
  } else {
    result.status = std::move(reply.error);
  }
  return Take(it, std::move(result));
}

bool RequestTracker::in_flight(uint64_t id) const {
  auto it = requests_.find(id);
  return it != requests_.end() && it->second.in_flight;
}

const scheduler::Request* RequestTracker::request(uint64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second.request;
}

std::vector<uint64_t> RequestTracker::ids() const {
  std::vector<uint64_t> out;
  out.reserve(requests_.size());
  for (const auto& [id, t] : requests_) out.push_back(id);
  return out;
}

}  // namespace heteroaccel::server
