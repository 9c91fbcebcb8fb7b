#include "loadgen/internal/stats.h"

#include <gtest/gtest.h>

#include <numeric>

namespace heteroaccel::loadgen::internal {
namespace {

nlohmann::json ServedBy(const std::string& node, const std::string& device, double compute_ms,
                        double queue_ms, bool emulated = false) {
  return {{"node", node},         {"device", device},         {"device_kind", "cpu"},
          {"emulated", emulated}, {"compute_ms", compute_ms}, {"queue_ms", queue_ms}};
}

TEST(PercentileTest, InterpolatesBetweenClosestRanks) {
  const std::vector<double> sorted = {10, 20, 30, 40, 50};
  EXPECT_DOUBLE_EQ(Percentile(sorted, 0.0), 10);
  EXPECT_DOUBLE_EQ(Percentile(sorted, 0.5), 30);
  EXPECT_DOUBLE_EQ(Percentile(sorted, 1.0), 50);
  EXPECT_DOUBLE_EQ(Percentile(sorted, 0.25), 20);
  EXPECT_NEAR(Percentile(sorted, 0.95), 48, 1e-9);    // rank 3.8
  EXPECT_NEAR(Percentile(sorted, 0.99), 49.6, 1e-9);  // rank 3.96
}

TEST(PercentileTest, HandlesEdgeCases) {
  EXPECT_DOUBLE_EQ(Percentile({}, 0.5), 0);
  EXPECT_DOUBLE_EQ(Percentile({7}, 0.99), 7);
  EXPECT_DOUBLE_EQ(Percentile({1, 3}, 0.5), 2);
  EXPECT_DOUBLE_EQ(Percentile({1, 3}, 2.0), 3);  // clamped
}

TEST(SummarizeTest, SortsAndSummarizes) {
  std::vector<double> values(100);
  std::iota(values.rbegin(), values.rend(), 1.0);  // 100 .. 1
  const LatencySummary s = Summarize(values);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50, 50.5);
  EXPECT_NEAR(s.p95, 95.05, 1e-9);
  EXPECT_NEAR(s.p99, 99.01, 1e-9);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.max, 100);
}

TEST(SummarizeTest, EmptyIsAllZero) {
  std::vector<double> none;
  const LatencySummary s = Summarize(none);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p99, 0);
  EXPECT_EQ(s.max, 0);
}

TEST(ErrorKindTest, UsesHttpStatusThenTransportClass) {
  EXPECT_EQ(ErrorKind(absl::ResourceExhaustedError("HTTP 429: queues full")), "429");
  EXPECT_EQ(ErrorKind(absl::NotFoundError("HTTP 404: unknown model 'x'")), "404");
  EXPECT_EQ(ErrorKind(absl::UnavailableError("HTTP 503: loading")), "503");
  EXPECT_EQ(ErrorKind(absl::UnavailableError("cannot connect to 127.0.0.1:1: refused")),
            "transport");
  EXPECT_EQ(ErrorKind(absl::DeadlineExceededError("timed out reading")), "timeout");
  EXPECT_EQ(ErrorKind(absl::InternalError("malformed /v1 response")), "bad_response");
  EXPECT_EQ(ErrorKind(absl::InternalError("HTTP x: odd")), "bad_response");
}

TEST(CameraRecordTest, TalliesDevicesByNodeAndDevice) {
  CameraRecord record(2, 4);
  record.RecordSuccess(0, 10, ServedBy("n1", "cpu0", 8, 1));
  record.RecordSuccess(1, 20, ServedBy("n1", "cpu0", 12, 3));
  record.RecordSuccess(0, 30, ServedBy("n2", "cpu0", 5, 0));
  record.RecordSuccess(0, 40, nlohmann::json::object());  // no served_by fields
  ASSERT_EQ(record.devices().size(), 3u);
  EXPECT_EQ(record.devices()[0].count, 2u);
  EXPECT_DOUBLE_EQ(record.devices()[0].compute_ms_sum, 20);
  EXPECT_DOUBLE_EQ(record.devices()[0].queue_ms_sum, 4);
  EXPECT_EQ(record.devices()[1].node, "n2");
  EXPECT_EQ(record.devices()[2].node, "?");
  EXPECT_EQ(record.devices()[2].device, "?");
  EXPECT_EQ(record.samples().size(), 4u);
}

TEST(CameraRecordTest, CountsErrorsByKindAndKeepsFirstExample) {
  CameraRecord record(2, 0);
  record.RecordError(1, absl::ResourceExhaustedError("HTTP 429: first"));
  record.RecordError(1, absl::ResourceExhaustedError("HTTP 429: second"));
  record.RecordError(0, absl::UnavailableError("connection reset"));
  EXPECT_EQ(record.errors_by_kind().at("429"), 2u);
  EXPECT_EQ(record.errors_by_kind().at("transport"), 1u);
  EXPECT_EQ(record.error_examples().at("429"), "HTTP 429: first");
  EXPECT_EQ(record.type_errors()[0], 1u);
  EXPECT_EQ(record.type_errors()[1], 2u);
}

TEST(AggregateTest, SplitsRequestsOverDevicesAndTypes) {
  // Camera 0: 3 face requests on a/cpu0, 1 object on b/gpu0; camera 1: 2 object on
  // b/gpu0 (emulated), 2 face on a/cpu0, and two errors.
  std::vector<CameraRecord> cameras;
  cameras.emplace_back(2, 8);
  cameras.emplace_back(2, 8);
  for (double ms : {10.0, 20.0, 30.0}) {
    cameras[0].RecordSuccess(0, ms, ServedBy("a", "cpu0", ms, 1));
  }
  cameras[0].RecordSuccess(1, 50, ServedBy("b", "gpu0", 40, 2, true));
  cameras[1].RecordSuccess(1, 60, ServedBy("b", "gpu0", 30, 4, true));
  cameras[1].RecordSuccess(1, 70, ServedBy("b", "gpu0", 20, 6, true));
  cameras[1].RecordSuccess(0, 40, ServedBy("a", "cpu0", 40, 1));
  cameras[1].RecordSuccess(0, 50, ServedBy("a", "cpu0", 50, 1));
  cameras[1].RecordError(0, absl::ResourceExhaustedError("HTTP 429: full"));
  cameras[1].RecordError(1, absl::UnavailableError("reset"));
  cameras[1].RecordLate();

  BenchReport report;
  Aggregate(cameras, {"face", "object"}, 2.0, report);
  EXPECT_EQ(report.succeeded, 8u);
  EXPECT_EQ(report.errors, 2u);
  EXPECT_EQ(report.requests, 10u);
  EXPECT_EQ(report.late, 1u);
  EXPECT_DOUBLE_EQ(report.throughput_rps, 4.0);
  EXPECT_DOUBLE_EQ(report.achieved_rate_rps, 5.0);
  EXPECT_EQ(report.errors_by_kind, (std::map<std::string, uint64_t>{{"429", 1}, {"transport", 1}}));

  ASSERT_EQ(report.per_device.size(), 2u);
  const DeviceStats& cpu = report.per_device.at("a/cpu0");
  const DeviceStats& gpu = report.per_device.at("b/gpu0");
  EXPECT_EQ(cpu.count, 5u);
  EXPECT_EQ(gpu.count, 3u);
  EXPECT_DOUBLE_EQ(cpu.share, 5.0 / 8);
  EXPECT_DOUBLE_EQ(cpu.share + gpu.share, 1.0);
  EXPECT_DOUBLE_EQ(cpu.mean_compute_ms, 30);
  EXPECT_DOUBLE_EQ(cpu.mean_queue_ms, 1);
  EXPECT_DOUBLE_EQ(gpu.mean_compute_ms, 30);
  EXPECT_DOUBLE_EQ(gpu.mean_queue_ms, 4);
  EXPECT_TRUE(gpu.emulated);
  EXPECT_FALSE(cpu.emulated);
  EXPECT_EQ(gpu.node, "b");
  EXPECT_EQ(gpu.device, "gpu0");

  const TypeStats& face = report.per_type.at("face");
  const TypeStats& object = report.per_type.at("object");
  EXPECT_EQ(face.count, 5u);
  EXPECT_EQ(face.errors, 1u);
  EXPECT_DOUBLE_EQ(face.latency.p50, 30);
  EXPECT_EQ(object.count, 3u);
  EXPECT_DOUBLE_EQ(object.latency.p50, 60);
  EXPECT_DOUBLE_EQ(object.latency.max, 70);
  EXPECT_DOUBLE_EQ(report.latency.mean, 330.0 / 8);
  EXPECT_DOUBLE_EQ(report.latency.max, 70);
}

TEST(AggregateTest, CountsSuccessesWithinTheDeadlineOverAllRequests) {
  std::vector<CameraRecord> cameras;
  cameras.emplace_back(1, 8);
  cameras.emplace_back(1, 8);
  for (const double ms : {100.0, 300.0, 300.5})
    cameras[0].RecordSuccess(0, ms, ServedBy("n", "d", 1, 0));
  cameras[1].RecordSuccess(0, 50, ServedBy("n", "d", 1, 0));
  cameras[1].RecordError(0, absl::UnavailableError("HTTP 504: cannot finish before its deadline"));
  BenchReport report;
  Aggregate(cameras, {"face"}, 1.0, report, 300);
  EXPECT_EQ(report.requests, 5u);
  EXPECT_EQ(report.within_deadline, 3u);  // 50, 100 and 300 (inclusive); not 300.5, not the 504
  EXPECT_DOUBLE_EQ(report.attainment, 3.0 / 5.0);
  BenchReport without;
  Aggregate(cameras, {"face"}, 1.0, without);
  EXPECT_EQ(without.within_deadline, 0u);
  EXPECT_EQ(without.attainment, 0.0);
  std::vector<CameraRecord> none;
  none.emplace_back(1, 8);
  BenchReport empty;
  Aggregate(none, {"face"}, 1.0, empty, 300);
  EXPECT_EQ(empty.attainment, 0.0);  // no requests: nothing attained, no division by zero
}

TEST(AggregateCamerasTest, EachCameraSumsItsOwnStreams) {
  // Two cameras of two streams each: streams 0-1 are "a", 2-3 are "b".
  std::vector<CameraRecord> streams;
  for (int i = 0; i < 4; ++i) streams.emplace_back(1, 8);
  streams[0].RecordSuccess(0, 100, ServedBy("n", "d", 1, 0));
  streams[1].RecordSuccess(0, 400, ServedBy("n", "d", 1, 0));  // late
  streams[1].RecordSuccess(0, 200, ServedBy("n", "d", 1, 0));
  streams[2].RecordError(0, absl::UnavailableError("HTTP 504: cannot finish before its deadline"));
  streams[3].RecordSuccess(0, 50, ServedBy("n", "d", 1, 0));
  BenchReport report;
  AggregateCameras(streams, {"a", "b"}, 2.0, report, 300);
  ASSERT_EQ(report.per_camera.size(), 2u);
  const CameraStats& a = report.per_camera.at("a");
  EXPECT_EQ(a.requests, 3u);
  EXPECT_EQ(a.succeeded, 3u);
  EXPECT_EQ(a.within_deadline, 2u);
  EXPECT_DOUBLE_EQ(a.attainment, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(a.throughput_rps, 1.5);
  const CameraStats& b = report.per_camera.at("b");
  EXPECT_EQ(b.requests, 2u);
  EXPECT_EQ(b.succeeded, 1u);
  EXPECT_DOUBLE_EQ(b.attainment, 0.5);
  EXPECT_DOUBLE_EQ(report.jain_attainment, JainIndex({2.0 / 3.0, 0.5}));
  // Without a deadline, attainment is the share that succeeded.
  BenchReport without;
  AggregateCameras(streams, {"a", "b"}, 2.0, without);
  EXPECT_DOUBLE_EQ(without.per_camera.at("a").attainment, 1.0);
  EXPECT_DOUBLE_EQ(without.per_camera.at("b").attainment, 0.5);
  EXPECT_EQ(without.per_camera.at("a").within_deadline, 0u);
  // A camera none of whose requests completed attained nothing.
  std::vector<CameraRecord> idle;
  idle.emplace_back(1, 8);
  idle.emplace_back(1, 8);
  idle[0].RecordSuccess(0, 10, ServedBy("n", "d", 1, 0));
  BenchReport starved;
  AggregateCameras(idle, {"busy", "starved"}, 1.0, starved, 300);
  EXPECT_EQ(starved.per_camera.at("starved").attainment, 0.0);
  EXPECT_DOUBLE_EQ(starved.jain_attainment, 0.5);
}

TEST(JainIndexTest, EqualIsOneOneTakesAllIsOneOverN) {
  EXPECT_DOUBLE_EQ(JainIndex({0.9, 0.9, 0.9}), 1.0);
  EXPECT_DOUBLE_EQ(JainIndex({1, 0, 0, 0}), 0.25);
  EXPECT_DOUBLE_EQ(JainIndex({}), 1.0);
  EXPECT_DOUBLE_EQ(JainIndex({0, 0}), 1.0);
  EXPECT_NEAR(JainIndex({1, 0.5}), 2.25 / 2.5, 1e-12);
}

TEST(AggregateTest, NothingMeasuredGivesZeros) {
  std::vector<CameraRecord> cameras;
  cameras.emplace_back(1, 0);
  BenchReport report;
  Aggregate(cameras, {"face"}, 1.0, report);
  EXPECT_EQ(report.succeeded, 0u);
  EXPECT_EQ(report.throughput_rps, 0);
  EXPECT_TRUE(report.per_device.empty());
  EXPECT_EQ(report.per_type.at("face").count, 0u);
}

}  // namespace
}  // namespace heteroaccel::loadgen::internal

namespace heteroaccel::loadgen::internal {
namespace {

TEST(MaxGapMsTest, CountsTheWindowEdgesAndTheLongestHole) {
  std::vector<double> times = {300, 100, 2'400, 350};
  EXPECT_DOUBLE_EQ(MaxGapMs(times, 0, 2'500), 2'050);  // 350 -> 2400
  std::vector<double> late_start = {900, 1'000};
  EXPECT_DOUBLE_EQ(MaxGapMs(late_start, 0, 1'100), 900);
  std::vector<double> early_end = {10, 20};
  EXPECT_DOUBLE_EQ(MaxGapMs(early_end, 0, 500), 480);
  std::vector<double> none;
  EXPECT_DOUBLE_EQ(MaxGapMs(none, 100, 600), 500);
}

TEST(CameraRecordTest, CountsASecondAnswerForARequestAsDuplicate) {
  CameraRecord record(1, 0);
  EXPECT_TRUE(record.RecordAnswer(0));
  EXPECT_TRUE(record.RecordAnswer(5));
  EXPECT_FALSE(record.RecordAnswer(0));
  EXPECT_TRUE(record.RecordAnswer(1));
  EXPECT_FALSE(record.RecordAnswer(5));
  EXPECT_EQ(record.duplicates(), 2u);
}

TEST(AggregateFailoverTest, SumsCamerasAndNamesTargets) {
  std::vector<CameraRecord> cameras;
  cameras.emplace_back(1, 0);
  cameras.emplace_back(1, 0);
  cameras[0].RecordServed(100, 0);
  cameras[0].RecordServed(1'500, 1);
  cameras[0].RecordFailover(absl::UnavailableError("cannot connect to a:1: Connection refused"));
  cameras[1].RecordServed(200, 0);
  cameras[1].RecordServed(1'600, 1);
  cameras[1].RecordFailover(absl::UnavailableError("HTTP 503: no device"));
  cameras[1].RecordLost();
  EXPECT_TRUE(cameras[1].RecordAnswer(3));
  EXPECT_FALSE(cameras[1].RecordAnswer(3));
  BenchReport report;
  AggregateFailover(cameras, {"http://a:1", "http://b:1", "http://c:1"}, 0, 2'000, report);
  EXPECT_EQ(report.failovers, 2u);
  EXPECT_EQ(report.failovers_by_kind["transport"], 1u);
  EXPECT_EQ(report.failovers_by_kind["503"], 1u);
  EXPECT_EQ(report.lost, 1u);
  EXPECT_EQ(report.duplicates, 1u);
  EXPECT_DOUBLE_EQ(report.max_gap_ms, 1'300);         // 200 -> 1500
  EXPECT_DOUBLE_EQ(report.max_camera_gap_ms, 1'400);  // camera 1: 200 -> 1600
  EXPECT_EQ(report.per_target["http://a:1"], 2u);
  EXPECT_EQ(report.per_target["http://b:1"], 2u);
  EXPECT_EQ(report.per_target["http://c:1"], 0u);
}

}  // namespace
}  // namespace heteroaccel::loadgen::internal
