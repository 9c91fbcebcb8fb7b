#include "scheduler/scheduler.h"

#include <utility>

#include "scheduler/internal/policies.h"
#include "scheduler/internal/state.h"

namespace heteroaccel::scheduler {

Scheduler::Scheduler(Options options, Clock& clock)
    : state_(std::make_unique<internal::State>(std::move(options), clock)) {}

Scheduler::~Scheduler() = default;
Scheduler::Scheduler(Scheduler&&) noexcept = default;
Scheduler& Scheduler::operator=(Scheduler&&) noexcept = default;

absl::Status Scheduler::UpsertDevice(DeviceInfo info) {
  return state_->UpsertDevice(std::move(info));
}

std::vector<Request> Scheduler::RemoveDevice(const DeviceKey& key) {
  return state_->RemoveDevice(key);
}

void Scheduler::SetNodeUp(const std::string& node, bool up) { state_->SetNodeUp(node, up); }

std::vector<Request> Scheduler::FailDevice(const DeviceKey& key) { return state_->FailDevice(key); }

std::vector<Request> Scheduler::FailNode(const std::string& node) { return state_->FailNode(node); }

absl::Status Scheduler::Enqueue(Request request) {
  return state_->Enqueue(std::move(request), nullptr);
}

absl::Status Scheduler::Enqueue(Request request, std::vector<Request>& displaced) {
  return state_->Enqueue(std::move(request), &displaced);
}

std::vector<Assignment> Scheduler::Dispatch() {
  std::vector<Assignment> out;
  switch (state_->options().policy) {
    case PolicyKind::kStatic:
      internal::DispatchStatic(*state_, out);
      break;
    case PolicyKind::kIdleFirst:
      internal::DispatchIdleFirst(*state_, out);
      break;
    case PolicyKind::kEarliestFinish:
      internal::DispatchEarliestFinish(*state_, out);
      break;
  }
  return out;
}

bool Scheduler::Complete(uint64_t request_id, std::chrono::nanoseconds service_time, bool ok) {
  return state_->Complete(request_id, service_time, ok);
}

std::vector<Request> Scheduler::ExpireDeadlines() {
  return state_->ExpireDeadlines(state_->options().policy == PolicyKind::kEarliestFinish);
}

std::optional<Request> Scheduler::Cancel(uint64_t request_id) { return state_->Cancel(request_id); }

size_t Scheduler::queued(std::string_view type) const { return state_->queued(type); }

size_t Scheduler::queued_total() const { return state_->queued_total(); }
uint64_t Scheduler::steering_solves() const { return state_->steering_solves(); }

int Scheduler::in_flight(const DeviceKey& key) const { return state_->in_flight(key); }

std::optional<std::chrono::nanoseconds> Scheduler::service_estimate(
    std::string_view type, const DeviceKey& key, std::string_view variant) const {
  const std::optional<internal::Ticks> ticks = state_->ServiceEstimate(type, key, variant);
  if (!ticks) return std::nullopt;
  return std::chrono::nanoseconds(*ticks);
}

std::vector<DeviceInfo> Scheduler::devices() const { return state_->devices(); }

const Options& Scheduler::options() const { return state_->options(); }

void Scheduler::SetPolicy(PolicyKind policy) { state_->SetPolicy(policy); }

double Scheduler::IdealThroughput(const std::map<std::string, double>& mix) const {
  return state_->IdealThroughput(mix);
}

}  // namespace heteroaccel::scheduler
