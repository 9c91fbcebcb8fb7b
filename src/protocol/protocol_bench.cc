// Measures parse and encode throughput for typical /infer bodies:
//   protocol_bench [elements]
// Prints MB/s and elements/s for JSON and binary FP32 requests and responses,
// from process CPU time so that other load on the machine skews it less.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "protocol/inference.h"

namespace {

using heteroaccel::protocol::EncodeInferRequest;
using heteroaccel::protocol::EncodeInferResponse;
using heteroaccel::protocol::InferRequest;
using heteroaccel::protocol::InferResponse;
using heteroaccel::protocol::ParseInferRequest;
using heteroaccel::protocol::Tensor;

template <typename F>
double SecondsPerCall(F&& f) {
  int iterations = 0;
  const std::clock_t start = std::clock();
  double elapsed = 0;
  do {
    f();
    ++iterations;
    elapsed = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  } while (elapsed < 1.0);
  return elapsed / iterations;
}

void Report(const char* what, size_t bytes, size_t elements, double seconds) {
  std::printf("%-28s %9zu bytes %8.3f ms %8.1f MB/s %7.1f M elements/s\n", what, bytes,
              seconds * 1e3, static_cast<double>(bytes) / seconds / 1e6,
              static_cast<double>(elements) / seconds / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 3 * 224 * 224;
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i % 997) / 997.0f - 0.5f;
  InferRequest request;
  request.inputs.push_back(Tensor::FromFloats("image", {static_cast<int64_t>(n)}, values));

  for (const bool binary : {false, true}) {
    const auto body = EncodeInferRequest(request, binary);
    const double parse = SecondsPerCall([&] {
      auto r = ParseInferRequest(body.body, body.json_header_length);
      if (!r.ok()) std::abort();
    });
    Report(binary ? "parse request (binary)" : "parse request (JSON)", body.body.size(), n, parse);
    const double encode = SecondsPerCall([&] { (void)EncodeInferRequest(request, binary); });
    Report(binary ? "encode request (binary)" : "encode request (JSON)", body.body.size(), n,
           encode);
  }
  InferResponse response;
  response.model_name = "bench";
  response.outputs = request.inputs;
  const double encode = SecondsPerCall([&] { (void)EncodeInferResponse(response, request); });
  Report("encode response (JSON)", EncodeInferResponse(response, request).body.size(), n, encode);
  return 0;
}
