#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loadgen/bench.h"

namespace heteroaccel::loadgen {
namespace {

using std::chrono::milliseconds;

TEST(ParseDurationTest, AcceptsUnits) {
  EXPECT_EQ(*ParseDuration("20s"), milliseconds(20'000));
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(*ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(*ParseDuration("0s"), milliseconds(0));
  EXPECT_EQ(*ParseDuration(" 3s "), milliseconds(3'000));
}

TEST(ParseDurationTest, AcceptsFractionsRoundedToTheMillisecond) {
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1'500));
  EXPECT_EQ(*ParseDuration("0.25m"), milliseconds(15'000));
  EXPECT_EQ(*ParseDuration("2.6ms"), milliseconds(3));
}

TEST(ParseDurationTest, RejectsMalformedText) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"20", "missing unit"}, Case{"s", "number first"},
        Case{"-1s", "number first"}, Case{"5 s", "unknown unit"}, Case{"5sec", "unknown unit"},
        Case{"1.2.3s", "malformed number"}, Case{"100000000h", "too long"}}) {
    auto parsed = ParseDuration(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(parsed.status().message().find(c.why), std::string_view::npos)
        << c.text << ": " << parsed.status();
    EXPECT_NE(parsed.status().message().find("e.g. 20s"), std::string_view::npos);
  }
}

BenchOptions ValidOptions() {
  BenchOptions options;
  options.target = "http://127.0.0.1:8001";
  return options;
}

TEST(ValidateBenchOptionsTest, AcceptsDefaultsWithTarget) {
  EXPECT_TRUE(ValidateBenchOptions(ValidOptions()).ok());
}

TEST(ValidateBenchOptionsTest, NamesTheFlagAtFault) {
  struct Case {
    void (*mutate)(BenchOptions&);
    const char* flag;
  };
  const std::vector<Case> cases = {
      {[](BenchOptions& o) { o.target.clear(); }, "--target"},
      {[](BenchOptions& o) { o.cameras = 0; }, "--cameras"},
      {[](BenchOptions& o) { o.cameras = 5000; }, "--cameras"},
      {[](BenchOptions& o) { o.mix.clear(); }, "--mix"},
      {[](BenchOptions& o) {
         o.mix = {"face", ""};
       },
       "--mix"},
      {[](BenchOptions& o) { o.mix = {"face/../x"}; }, "--mix"},
      {[](BenchOptions& o) { o.duration = milliseconds(0); }, "--duration"},
      {[](BenchOptions& o) { o.warmup = milliseconds(-1); }, "--warmup"},
      {[](BenchOptions& o) { o.timeout = milliseconds(0); }, "--timeout"},
      {[](BenchOptions& o) { o.rate = 0.0; }, "--rate"},
      {[](BenchOptions& o) { o.rate = -3.0; }, "--rate"},
      {[](BenchOptions& o) { o.deadline_ms = 0; }, "--deadline-ms"},
      {[](BenchOptions& o) { o.images_dir.clear(); }, "--images"},
      {[](BenchOptions& o) { o.target = " , ,"; }, "--target"},
      {[](BenchOptions& o) { o.target = std::string(200, ','); }, "--target"},
      {[](BenchOptions& o) {
         o.target.clear();
         for (size_t i = 0; i <= kMaxTargets; ++i)
           o.target += "http://h:" + std::to_string(i + 1) + ",";
       },
       "--target"},
      {[](BenchOptions& o) { o.request_timeout = milliseconds(0); }, "--request-timeout"},
      {[](BenchOptions& o) { o.arrivals = Arrivals::kPoisson; }, "--arrivals"},
      {[](BenchOptions& o) { o.arrivals = Arrivals::kBursts; }, "--arrivals bursts"},
      {[](BenchOptions& o) {
         o.rate = 10.0;
         o.arrivals = Arrivals::kBursts;
         o.bursts = {0, 100};
       },
       "--on-ms"},
      {[](BenchOptions& o) {
         o.rate = 10.0;
         o.arrivals = Arrivals::kBursts;
         o.bursts = {100, -1};
       },
       "--off-ms"},
      {[](BenchOptions& o) {
         o.rate = 10.0;
         o.arrivals = Arrivals::kBursts;
         o.bursts = {std::nan(""), 100};
       },
       "--on-ms"},
      {[](BenchOptions& o) { o.camera_name = "gate 1"; }, "--camera-name"},
      {[](BenchOptions& o) { o.camera_name = "gate&priority=9"; }, "--camera-name"},
      {[](BenchOptions& o) { o.camera_name = "gate/../x"; }, "--camera-name"},
      {[](BenchOptions& o) { o.camera_name = std::string(kMaxCameraName + 1, 'c'); },
       "--camera-name"},
  };
  for (const Case& c : cases) {
    BenchOptions options = ValidOptions();
    c.mutate(options);
    const absl::Status status = ValidateBenchOptions(options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_NE(status.message().find(c.flag), std::string_view::npos) << status;
  }
}

TEST(ValidateBenchOptionsTest, CameraNamesTheServerAccepts) {
  BenchOptions options = ValidOptions();
  options.cameras = 1024;  // the last camera is "<name>-1023": 61 characters at most
  for (const std::string& name : {std::string("gate_A.1-b"), std::string(kMaxCameraName, 'c')}) {
    options.camera_name = name;
    EXPECT_TRUE(ValidateBenchOptions(options).ok()) << name;
  }
}

TEST(ParseArrivalsTest, NamesEveryProcessAndRoundTrips) {
  for (Arrivals a : {Arrivals::kPeriodic, Arrivals::kPoisson, Arrivals::kBursts}) {
    auto parsed = ParseArrivals(ArrivalsName(a));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, a);
  }
  for (const char* bad : {"", "Poisson", "burst", "periodic "}) {
    auto parsed = ParseArrivals(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("periodic, poisson or bursts"),
              std::string_view::npos);
  }
}

TEST(ValidateBenchOptionsTest, PoissonArrivalsInOpenLoop) {
  BenchOptions options = ValidOptions();
  options.arrivals = Arrivals::kPoisson;
  options.rate = 10.0;
  EXPECT_TRUE(ValidateBenchOptions(options).ok());
}

TEST(SplitTargetsTest, SplitsAtCommasAndTrims) {
  EXPECT_EQ(SplitTargets("http://a:1"), std::vector<std::string>{"http://a:1"});
  EXPECT_EQ(SplitTargets(" http://a:1 ,,http://b:2,"),
            (std::vector<std::string>{"http://a:1", "http://b:2"}));
  EXPECT_TRUE(SplitTargets(" , ").empty());
}

}  // namespace
}  // namespace heteroaccel::loadgen
