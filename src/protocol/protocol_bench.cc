// Parse and encode throughput for realistic /infer bodies (Google Benchmark):
//   protocol_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// ParseInferRequest/<body>/<padding>: the whole request path (split, JSON
// reader, tensor decoding) on the bodies a v2 client sends:
//   base64_60KB, base64_200KB  a JPEG-sized random payload as one BYTES
//                              element, base64 in JSON
//   binary_jpeg_150KB          the same as raw bytes with the binary extension
//   binary_fp32_3x224x224      an FP32 tensor with the binary extension
//   uint8_128x128x3, uint8_640x480x3  an image as a flat JSON UINT8 array
//   uint8_nested_128x128x3     the same, nested [H][W][3] arrays
//   fp32_4, fp32_1000, fp32_3x224x224  FP32 JSON arrays (normalised pixels)
// <padding>: "padded" hands ParseInferRequest a std::string with
// kBodyReadPadding spare bytes (the JSON is read in place); "copied" a
// std::string_view, for which the JSON reader copies the text into a padded
// buffer first. Binary bodies are only "padded": their binary section follows
// the JSON, so neither form copies.
//
// BENCHMARKS.md ("JSON reader: simdjson vs hand-written") compares these with
// the hand-written reader simdjson replaced.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "protocol/inference.h"

namespace heteroaccel::protocol {
namespace {

struct Body {
  std::string name;
  std::string text;
  std::optional<size_t> json_header_length;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

Body Encoded(std::string name, Tensor t, bool binary) {
  InferRequest request;
  request.id = "bench-1";
  request.inputs.push_back(std::move(t));
  request.outputs.push_back({"probabilities", false});
  EncodedBody body = EncodeInferRequest(request, binary);
  return {std::move(name), std::move(body.body), body.json_header_length};
}

Tensor Uint8Image(int64_t h, int64_t w) {
  std::mt19937 rng(7);
  std::vector<uint8_t> pixels(static_cast<size_t>(h * w * 3));
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(rng() & 0xff);
  return Tensor::FromValues<uint8_t>("image", {h, w, 3}, pixels);
}

Tensor Fp32(std::vector<int64_t> shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> pixel(-2.2f, 2.7f);  // ImageNet-normalised range.
  std::vector<float> values(n);
  for (float& v : values) v = pixel(rng);
  return Tensor::FromFloats("input", std::move(shape), values);
}

Body NestedUint8(int64_t h, int64_t w) {
  std::mt19937 rng(7);
  std::string text = R"({"id":"bench-1","inputs":[{"name":"image","shape":[)" + std::to_string(h) +
                     "," + std::to_string(w) + R"(,3],"datatype":"UINT8","data":[)";
  for (int64_t y = 0; y < h; ++y) {
    text += y ? ",[" : "[";
    for (int64_t x = 0; x < w; ++x) {
      text += x ? ",[" : "[";
      for (int c = 0; c < 3; ++c) {
        if (c) text += ',';
        text += std::to_string(rng() & 0xff);
      }
      text += ']';
    }
    text += ']';
  }
  text += R"(]}],"outputs":[{"name":"probabilities"}]})";
  return {"uint8_nested_" + std::to_string(h) + "x" + std::to_string(w) + "x3", text, std::nullopt};
}

std::vector<Body> Bodies() {
  std::vector<Body> b;
  for (const auto& [name, size] : {std::pair{"base64_60KB", 45000}, {"base64_200KB", 150000}}) {
    b.push_back(Encoded(
        name, Tensor::FromBytes("image", {absl::Base64Escape(RandomBytes(size, 3))}), false));
  }
  b.push_back(
      Encoded("binary_jpeg_150KB", Tensor::FromBytes("image", {RandomBytes(150000, 5)}), true));
  b.push_back(Encoded("binary_fp32_3x224x224", Fp32({1, 3, 224, 224}), true));
  b.push_back(Encoded("uint8_128x128x3", Uint8Image(128, 128), false));
  b.push_back(Encoded("uint8_640x480x3", Uint8Image(480, 640), false));
  b.push_back(NestedUint8(128, 128));
  b.push_back(Encoded("fp32_4", Fp32({1, 4}), false));
  b.push_back(Encoded("fp32_1000", Fp32({1, 1000}), false));
  b.push_back(Encoded("fp32_3x224x224", Fp32({1, 3, 224, 224}), false));
  return b;
}

void ParseRequest(benchmark::State& state, const Body& body, bool padded) {
  std::string owned;
  owned.reserve(body.text.size() + kBodyReadPadding);
  owned = body.text;
  for (auto _ : state) {
    absl::StatusOr<InferRequest> r =
        padded ? ParseInferRequest(owned, body.json_header_length)
               : ParseInferRequest(std::string_view(owned), body.json_header_length);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.text.size()));
  state.counters["body_bytes"] = static_cast<double>(body.text.size());
}

void EncodeResponse(benchmark::State& state, bool binary) {
  InferRequest request;
  request.binary_output_default = binary;
  InferResponse response;
  response.model_name = "bench";
  response.outputs.push_back(Fp32({1, 3, 224, 224}));
  for (auto _ : state) benchmark::DoNotOptimize(EncodeInferResponse(response, request));
}

void EncodeRequest(benchmark::State& state, bool binary) {
  InferRequest request;
  request.inputs.push_back(Fp32({1, 3, 224, 224}));
  for (auto _ : state) benchmark::DoNotOptimize(EncodeInferRequest(request, binary));
}

}  // namespace
}  // namespace heteroaccel::protocol

int main(int argc, char** argv) {
  using heteroaccel::protocol::Body;
  static const std::vector<Body> bodies = heteroaccel::protocol::Bodies();
  for (const Body& body : bodies) {
    for (const bool padded : {true, false}) {
      if (body.json_header_length.has_value() && !padded) continue;  // Same as padded.
      benchmark::RegisterBenchmark(
          ("ParseInferRequest/" + body.name + (padded ? "/padded" : "/copied")).c_str(),
          heteroaccel::protocol::ParseRequest, body, padded)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  for (const bool binary : {false, true}) {
    const std::string kind = binary ? "binary" : "json";
    benchmark::RegisterBenchmark(("EncodeInferRequest/fp32_3x224x224/" + kind).c_str(),
                                 heteroaccel::protocol::EncodeRequest, binary)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("EncodeInferResponse/fp32_3x224x224/" + kind).c_str(),
                                 heteroaccel::protocol::EncodeResponse, binary)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
