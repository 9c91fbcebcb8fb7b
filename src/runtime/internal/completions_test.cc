#include "runtime/internal/completions.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace heteroaccel::runtime::internal {
namespace {

TEST(CompletionsTest, RunsEachPostedAnswerOnceOnItsOwnThreadInOrder) {
  Completions completions;
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 10; ++i) {
    std::function<void()> answer = [&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
    };
    ASSERT_TRUE(completions.TryPost(answer));
    EXPECT_FALSE(answer);  // taken: the caller's is left empty
  }
  completions.Stop();
  ASSERT_EQ(order.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[i], i);
  for (const auto& id : threads) {
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(id, threads.front());
  }
}

TEST(CompletionsTest, RefusesPastTheBoundAndLeavesTheAnswerWithTheCaller) {
  Completions completions;
  absl::Notification release;
  absl::Notification running;
  std::function<void()> blocker = [&] {
    running.Notify();
    release.WaitForNotification();
  };
  ASSERT_TRUE(completions.TryPost(blocker));
  running.WaitForNotification();  // the thread is busy: what follows waits
  std::atomic<int> delivered{0};
  for (size_t i = 0; i < Completions::kMaxPending; ++i) {
    std::function<void()> answer = [&] { ++delivered; };
    ASSERT_TRUE(completions.TryPost(answer)) << i;
  }
  std::function<void()> refused = [&] { ++delivered; };
  EXPECT_FALSE(completions.TryPost(refused));
  ASSERT_TRUE(refused);  // still the caller's to run
  refused();
  release.Notify();
  completions.Stop();  // delivers every one posted before returning
  EXPECT_EQ(delivered.load(), static_cast<int>(Completions::kMaxPending) + 1);
}

TEST(CompletionsTest, StopDeliversWhatWasPostedThenRefuses) {
  Completions completions;
  absl::Notification release;
  std::function<void()> blocker = [&] { release.WaitForNotification(); };
  ASSERT_TRUE(completions.TryPost(blocker));
  std::atomic<int> delivered{0};
  for (int i = 0; i < 5; ++i) {
    std::function<void()> answer = [&] { ++delivered; };
    ASSERT_TRUE(completions.TryPost(answer));
  }
  std::thread stopper([&] { completions.Stop(); });
  release.Notify();
  stopper.join();
  EXPECT_EQ(delivered.load(), 5);
  std::function<void()> late = [&] { ++delivered; };
  EXPECT_FALSE(completions.TryPost(late));
  EXPECT_TRUE(late);
  completions.Stop();  // idempotent
}

TEST(CompletionsTest, AnAnswerThatThrowsDoesNotStopTheOthers) {
  Completions completions;
  std::function<void()> thrower = [] { throw std::runtime_error("encoding failed"); };
  ASSERT_TRUE(completions.TryPost(thrower));
  absl::Notification after;
  std::function<void()> answer = [&] { after.Notify(); };
  ASSERT_TRUE(completions.TryPost(answer));
  EXPECT_TRUE(after.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

}  // namespace
}  // namespace heteroaccel::runtime::internal
