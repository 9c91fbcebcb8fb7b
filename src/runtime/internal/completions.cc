#include "runtime/internal/completions.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>

namespace heteroaccel::runtime::internal {

Completions::Completions() {
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "answers");
}

bool Completions::TryPost(std::function<void()>& answer) {
  absl::MutexLock lock(&mu_);
  if (stop_ || pending_.size() >= kMaxPending) return false;
  pending_.push_back(std::move(answer));
  answer = nullptr;  // a moved-from std::function is unspecified; the caller's is empty
  return true;
}

void Completions::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Completions::Run() {
  while (true) {
    std::function<void()> answer;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Completions* c)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->stop_ || !c->pending_.empty(); },
          this));
      if (pending_.empty()) return;  // stopped, and everything posted was delivered
      answer = std::move(pending_.front());
      pending_.pop_front();
    }
    try {
      answer();
    } catch (const std::exception& e) {
      spdlog::error("delivering an answer threw: {}", e.what());
    } catch (...) {
      spdlog::error("delivering an answer threw a non-standard exception");
    }
  }
}

}  // namespace heteroaccel::runtime::internal
