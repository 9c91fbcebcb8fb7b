// Completions: one thread that delivers the answers of jobs whose slot has its
// next job waiting, so that the device starts that job while the answer of the
// last one is encoded and written to its socket (on a device that serves in a
// few milliseconds, that work would otherwise idle it for a noticeable share
// of its time). A slot with nothing waiting answers on its own thread: handing
// off would only add a thread wake-up to the answer's latency.
//
// Bounded: at most kMaxPending answers wait; past that TryPost refuses and the
// slot answers itself, so answers never fall behind the devices without limit.
// Stop() delivers every answer already posted, then joins: each is delivered
// exactly once. Thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace heteroaccel::runtime::internal {

class Completions {
 public:
  static constexpr size_t kMaxPending = 16;

  Completions();
  ~Completions() { Stop(); }
  Completions(const Completions&) = delete;
  Completions& operator=(const Completions&) = delete;

  // Takes `answer` (leaving it empty) and runs it on the completion thread, or
  // leaves it untouched and returns false when kMaxPending are waiting or
  // Stop() has begun.
  bool TryPost(std::function<void()>& answer) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs what was posted, then joins the thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> pending_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace heteroaccel::runtime::internal
