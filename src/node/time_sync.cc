#include "node/time_sync.h"

#include <sys/timex.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace heteroaccel::node {
namespace {

namespace fs = std::filesystem;

class RealtimeClock final : public WallClock {
 public:
  int64_t NowNanos() const override {
    struct timespec ts = {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }
};

bool Exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// The service whose runtime files are present (their daemons create them at
// start and remove them at exit).
std::string TimeService(const fs::path& root) {
  if (Exists(root / "run/systemd/timesync")) return "systemd-timesyncd";
  if (Exists(root / "run/chrony/chronyd.pid") || Exists(root / "var/run/chrony/chronyd.pid")) {
    return "chronyd";
  }
  if (Exists(root / "run/ntpd.pid") || Exists(root / "var/run/ntpd.pid")) return "ntpd";
  return "";
}

}  // namespace

const WallClock& SystemWallClock() {
  static const RealtimeClock clock;
  return clock;
}

double TimeExchange::OffsetSeconds() const {
  // Differences first: the absolute values are ~1.7e18 and lose precision as doubles.
  return (static_cast<double>(t1 - t0) + static_cast<double>(t2 - t3)) / 2e9;
}

double TimeExchange::DelaySeconds() const {
  return static_cast<double>((t3 - t0) - (t2 - t1)) / 1e9;
}

std::optional<TimeExchange> BestExchange(const std::vector<TimeExchange>& exchanges) {
  std::optional<TimeExchange> best;
  for (const TimeExchange& e : exchanges) {
    if (e.t3 < e.t0 || e.t2 < e.t1 || e.DelaySeconds() < 0) continue;
    if (!best.has_value() || e.DelaySeconds() < best->DelaySeconds()) best = e;
  }
  return best;
}

SyncState ReadSyncState(const std::string& root, const AdjtimexFunction& adjtimex) {
  const fs::path base(root);
  SyncState state;
  state.service = TimeService(base);
  if (state.service == "systemd-timesyncd") {
    state.timesyncd_synchronized = Exists(base / "run/systemd/timesync/synchronized");
  }
  struct timex tx;
  std::memset(&tx, 0, sizeof(tx));
  tx.modes = 0;  // read only
  const int result = adjtimex ? adjtimex(&tx) : ::ntp_adjtime(&tx);
  if (result == -1) {
    state.error = absl::StrCat("ntp_adjtime: ", std::strerror(errno));
    return state;
  }
  state.kernel_synchronized = (tx.status & STA_UNSYNC) == 0 && result != TIME_ERROR;
  state.kernel_estimated_error_seconds = static_cast<double>(tx.esterror) / 1e6;
  state.kernel_max_error_seconds = static_cast<double>(tx.maxerror) / 1e6;
  return state;
}

}  // namespace heteroaccel::node
