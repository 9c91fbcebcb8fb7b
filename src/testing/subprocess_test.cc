#include "testing/subprocess.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace heteroaccel::testing {
namespace {

TEST(SubprocessTest, CapturesOutputAndExitStatus) {
  auto child = Subprocess::Start({"/bin/sh", "-c", "echo first; echo second; exit 3"});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->WaitForLine("second", std::chrono::seconds(10)), "second");
  // Returns at the end of its output, i.e. once it has exited: the signal
  // below then finds it gone and Stop reports its own exit status.
  EXPECT_EQ((*child)->WaitForLine("never printed", std::chrono::seconds(10)), std::nullopt);
  EXPECT_EQ((*child)->Stop(SIGTERM, std::chrono::seconds(10)), 3);
  EXPECT_EQ((*child)->Output(), "first\nsecond\n");
}

TEST(SubprocessTest, WaitForLineGivesUpWhenTheProcessExits) {
  auto child = Subprocess::Start({"/bin/sh", "-c", "echo only"});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->WaitForLine("never", std::chrono::seconds(30)), std::nullopt);
}

TEST(SubprocessTest, AProgramThatCannotRunIsAnError) {
  auto child = Subprocess::Start({"/nonexistent/heteroaccel"});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("cannot run /nonexistent/heteroaccel"), std::string::npos)
      << child.status();
}

// What a crashed test looks like to its children: the thread that started
// them is gone without stopping them.
TEST(SubprocessTest, ChildIsKilledWhenItsStartingThreadExits) {
  std::unique_ptr<Subprocess> child;
  std::thread starter([&child] {
    auto started = Subprocess::Start({"/bin/sleep", "60"});
    ASSERT_TRUE(started.ok()) << started.status();
    child = *std::move(started);  // this thread ends without stopping it
  });
  starter.join();
  ASSERT_NE(child, nullptr);
  // Wait for it to end without reaping it; its owner does that below.
  siginfo_t info{};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (waitid(P_PID, static_cast<id_t>(child->pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(info.si_pid, child->pid()) << "the child outlived the thread that started it";
  EXPECT_EQ(child->Stop(SIGTERM, std::chrono::seconds(10)), -SIGKILL);
}

}  // namespace
}  // namespace heteroaccel::testing
