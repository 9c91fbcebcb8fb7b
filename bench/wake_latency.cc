// wake_latency: how long a thread blocked on a condition variable takes to run
// after it is notified, by how long it had been idle and whether the notifying
// thread had been busy (computing) or asleep meanwhile. Explains the agent's
// light-load overhead (agent_overhead): each request crosses three such wake-ups
// (client -> agent io thread -> slot -> client).
//
//   wake_latency [--samples N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// p50 and p90 of `samples` wake-ups in microseconds.
std::pair<double, double> Measure(double idle_ms, bool busy_waker, int samples) {
  std::vector<double> us;
  for (int i = 0; i < samples; ++i) {
    std::mutex mu;
    std::condition_variable cv;
    bool notified = false;
    Clock::time_point sent;
    std::thread sleeper([&] {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return notified; });
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent).count());
    });
    const auto until = Clock::now() + std::chrono::duration<double, std::milli>(idle_ms);
    if (busy_waker) {
      volatile double x = 0;
      while (Clock::now() < until) x = x + std::sqrt(x + 1);
    } else {
      std::this_thread::sleep_until(until);
    }
    {
      std::lock_guard lock(mu);
      notified = true;
      sent = Clock::now();
    }
    cv.notify_one();
    sleeper.join();
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 9 / 10]};
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 60;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--samples" && i + 1 < argc) {
      samples = std::max(2, std::stoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: wake_latency [--samples N]\n");
      return 2;
    }
  }
  std::printf("%-10s %-16s %12s %12s\n", "waker", "sleeper idle ms", "p50 us", "p90 us");
  for (bool busy : {false, true}) {
    for (double idle_ms : {0.2, 3.0, 35.0}) {
      const auto [p50, p90] = Measure(idle_ms, busy, samples);
      std::printf("%-10s %-16.1f %12.1f %12.1f\n", busy ? "busy" : "sleeping", idle_ms, p50, p90);
    }
  }
  return 0;
}
