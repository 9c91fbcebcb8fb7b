// Microbenchmarks for the metrics hot path.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace heteroaccel::metrics {
namespace {

void BM_CounterIncrement(benchmark::State& state) {
  static Counter counter;  // shared by all threads of a multi-threaded run
  for (auto _ : state) counter.Increment();
}
BENCHMARK(BM_CounterIncrement)->ThreadRange(1, 4)->UseRealTime();

void BM_CounterIncrementPerThreadChild(benchmark::State& state) {
  static Registry registry;
  static auto& family = registry.AddCounter("heteroaccel_bench_total", "Bench.", {"thread"});
  Counter& counter = family.WithLabels({std::to_string(state.thread_index())});
  for (auto _ : state) counter.Increment();
}
BENCHMARK(BM_CounterIncrementPerThreadChild)->ThreadRange(1, 4)->UseRealTime();

void BM_HistogramObserve(benchmark::State& state) {
  static Histogram histogram(ExponentialBuckets(0.0005, 2, 16));
  double v = 0.0001;
  for (auto _ : state) {
    histogram.Observe(v);
    v = v < 30 ? v * 1.37 : 0.0001;  // walk across the buckets
  }
}
BENCHMARK(BM_HistogramObserve)->ThreadRange(1, 4)->UseRealTime();

void BM_WithLabelsHit(benchmark::State& state) {
  static Registry registry;
  static auto& family =
      registry.AddCounter("heteroaccel_lookup_total", "Bench.", {"model", "code"});
  for (int i = 0; i < 64; ++i) family.WithLabels({"model" + std::to_string(i), "200"});
  const std::vector<std::string> key = {"model17", "200"};
  for (auto _ : state) benchmark::DoNotOptimize(&family.WithLabels(key));
}
BENCHMARK(BM_WithLabelsHit)->ThreadRange(1, 4)->UseRealTime();

void BM_WithLabelsAndIncrement(benchmark::State& state) {
  Registry registry;
  auto& family = registry.AddCounter("heteroaccel_lookup_total", "Bench.", {"model", "code"});
  for (auto _ : state) family.WithLabels({"resnet50", "200"}).Increment();
}
BENCHMARK(BM_WithLabelsAndIncrement);

void BM_Render(benchmark::State& state) {
  Registry registry;
  auto& counters = registry.AddCounter("heteroaccel_requests_total", "Requests.", {"model"});
  auto& latency = registry.AddHistogram("heteroaccel_latency_seconds", "Latency.", {"model"},
                                        ExponentialBuckets(0.001, 2, 12));
  for (int i = 0; i < 20; ++i) {
    counters.WithLabels({"model" + std::to_string(i)}).Increment(i);
    latency.WithLabels({"model" + std::to_string(i)}).Observe(0.01 * i);
  }
  for (auto _ : state) benchmark::DoNotOptimize(registry.Render());
}
BENCHMARK(BM_Render);

}  // namespace
}  // namespace heteroaccel::metrics

BENCHMARK_MAIN();
