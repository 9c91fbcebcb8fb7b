// Clock offset measurement (NTP-style four-timestamp exchange) and the node's
// own clock synchronisation state.
//
// The server stamps t0 when it sends a request and t3 when the reply arrives;
// the agent stamps t1 when the request arrives and t2 as it replies, each on
// its own wall clock (CLOCK_REALTIME). With a symmetric path,
//   offset = ((t1 - t0) + (t2 - t3)) / 2   (the node's clock minus the server's)
//   delay  = (t3 - t0) - (t2 - t1)         (round trip without the agent's time)
// and the error of the offset is at most delay / 2, so the exchange with the
// lowest delay is the best estimate (RFC 5905's clock filter does the same).
//
// WallClock is the seam in front of CLOCK_REALTIME so that tests put a fake
// clock at either end. ReadSyncState reads what the node's own time service
// reports, through files under a root and the ntp_adjtime(2) syscall in read
// mode (no shell, no privileges). All functions are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct timex;

namespace heteroaccel::node {

// Nanoseconds since the Unix epoch on the node's real-time clock.
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual int64_t NowNanos() const = 0;
};

// CLOCK_REALTIME. Never null; not owned by the caller.
const WallClock& SystemWallClock();

// The system's clock shifted by a fixed amount: an emulated clock error, so that
// the fleet's time monitoring can be shown and tested on one machine (the agent's
// --emulate-clock-offset-ms). Only what the fleet routes report is shifted.
class OffsetWallClock final : public WallClock {
 public:
  explicit OffsetWallClock(int64_t offset_nanos) : offset_nanos_(offset_nanos) {}
  int64_t NowNanos() const override { return SystemWallClock().NowNanos() + offset_nanos_; }

 private:
  const int64_t offset_nanos_;
};

struct TimeExchange {
  int64_t t0 = 0;  // server sent (server clock, ns)
  int64_t t1 = 0;  // agent received (agent clock, ns)
  int64_t t2 = 0;  // agent replied (agent clock, ns)
  int64_t t3 = 0;  // server received (server clock, ns)

  double OffsetSeconds() const;  // the agent's clock minus the server's
  double DelaySeconds() const;   // network round trip
};

// The exchange with the lowest delay; nullopt when `exchanges` is empty.
// Exchanges whose timestamps are inconsistent (t3 < t0, t2 < t1, or a negative
// delay) are skipped.
std::optional<TimeExchange> BestExchange(const std::vector<TimeExchange>& exchanges);

// What the node says about its own clock.
struct SyncState {
  // The time service found running: "systemd-timesyncd", "chronyd", "ntpd",
  // or "" when none is recognised.
  std::string service;
  // ntp_adjtime(2): whether the kernel's clock is marked synchronised
  // (STA_UNSYNC clear), and its estimated and maximum error. nullopt when the
  // syscall failed.
  std::optional<bool> kernel_synchronized;
  double kernel_estimated_error_seconds = 0;
  double kernel_max_error_seconds = 0;
  // systemd-timesyncd's own flag (/run/systemd/timesync/synchronized exists);
  // nullopt when timesyncd is not running.
  std::optional<bool> timesyncd_synchronized;
  std::string error;  // why the kernel state is unknown, "" otherwise
};

// ntp_adjtime(2), or a fake. Called with modes = 0 (read only).
using AdjtimexFunction = std::function<int(struct timex*)>;

// `root` "/" on a node; a fake tree in tests. `adjtimex` null = ::ntp_adjtime.
SyncState ReadSyncState(const std::string& root = "/", const AdjtimexFunction& adjtimex = nullptr);

}  // namespace heteroaccel::node
