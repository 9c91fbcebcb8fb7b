// Encoding of /infer bodies. The JSON text is written directly (see
// internal/json_writer.h) rather than through a DOM: output tensors can hold
// millions of elements.
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/inference.h"
#include "protocol/internal/json_writer.h"
#include "protocol/internal/tensor_codec.h"

namespace heteroaccel::protocol {
namespace {

using internal::AppendJsonInt;
using internal::AppendJsonString;
using internal::AppendJsonValue;

// One tensor chosen for the body and whether it travels as binary data.
struct Selected {
  const Tensor* tensor;
  bool binary;
};

void AppendKey(std::string* out, std::string_view key) {
  AppendJsonString(out, key);
  out->push_back(':');
}

void AppendShape(std::string* out, const std::vector<int64_t>& shape) {
  out->push_back('[');
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonInt(out, shape[i]);
  }
  out->push_back(']');
}

// The binary section: views of the tensors' data, in order.
using BinaryParts = std::vector<std::string_view>;

// {"name":..,"datatype":..,"shape":[..], then "data":[..] or the
// binary_data_size parameter}. Binary data is added to `binary`.
void AppendTensor(std::string* out, const Selected& s, BinaryParts* binary) {
  const Tensor& t = *s.tensor;
  out->push_back('{');
  AppendKey(out, "name");
  AppendJsonString(out, t.name);
  out->push_back(',');
  AppendKey(out, "datatype");
  AppendJsonString(out, DataTypeName(t.datatype));
  out->push_back(',');
  AppendKey(out, "shape");
  AppendShape(out, t.shape);
  out->push_back(',');
  if (s.binary) {
    out->append(R"("parameters":{"binary_data_size":)");
    AppendJsonInt(out, t.data.size());
    out->push_back('}');
    binary->push_back(t.data);
  } else {
    AppendKey(out, "data");
    internal::AppendJsonData(out, t);
  }
  out->push_back('}');
}

// Writes `"key":[tensors...]` and returns the binary section's parts.
BinaryParts AppendTensors(std::string* out, std::string_view key,
                          const std::vector<Selected>& selected) {
  BinaryParts binary;
  AppendKey(out, key);
  out->push_back('[');
  for (size_t i = 0; i < selected.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendTensor(out, selected[i], &binary);
  }
  out->push_back(']');
  return binary;
}

// A rough size for JSON text of the selected tensors, to reserve once.
size_t EstimateJsonSize(const std::vector<Selected>& selected) {
  size_t size = 256;
  for (const Selected& s : selected) {
    size += 128 + s.tensor->name.size() + (s.binary ? 0 : s.tensor->data.size() * 3);
  }
  return size;
}

bool AnyBinary(const std::vector<Selected>& selected) {
  for (const Selected& s : selected) {
    if (s.binary) return true;
  }
  return false;
}

// The body: the JSON header, then (binary) each part copied once.
EncodedBody Finish(std::string header, const BinaryParts& binary, bool use_binary) {
  EncodedBody encoded;
  if (use_binary) {
    encoded.json_header_length = header.size();
    encoded.content_type = std::string(kBinaryContentType);
    size_t size = header.size();
    for (std::string_view part : binary) size += part.size();
    header.reserve(size);
    for (std::string_view part : binary) header.append(part);
  } else {
    encoded.content_type = std::string(kJsonContentType);
  }
  encoded.body = std::move(header);
  return encoded;
}

std::vector<Selected> SelectOutputs(const InferResponse& response, const InferRequest& request) {
  std::vector<Selected> selected;
  if (request.outputs.empty()) {
    selected.reserve(response.outputs.size());
    for (const Tensor& t : response.outputs) {
      selected.push_back({&t, request.binary_output_default});
    }
    return selected;
  }
  selected.reserve(request.outputs.size());
  for (const RequestedOutput& wanted : request.outputs) {
    for (const Tensor& t : response.outputs) {
      if (t.name == wanted.name) {
        selected.push_back({&t, wanted.binary});
        break;
      }
    }
  }
  return selected;
}

bool NonEmptyObject(const nlohmann::json& j) { return j.is_object() && !j.empty(); }

}  // namespace

EncodedBody EncodeInferResponse(const InferResponse& response, const InferRequest& request) {
  const std::vector<Selected> selected = SelectOutputs(response, request);
  std::string header;
  header.reserve(EstimateJsonSize(selected));
  header.push_back('{');
  AppendKey(&header, "model_name");
  AppendJsonString(&header, response.model_name);
  if (!response.model_version.empty()) {
    header.push_back(',');
    AppendKey(&header, "model_version");
    AppendJsonString(&header, response.model_version);
  }
  header.push_back(',');
  AppendKey(&header, "id");
  AppendJsonString(&header, response.id.empty() ? request.id : response.id);
  if (NonEmptyObject(response.parameters)) {
    header.push_back(',');
    AppendKey(&header, "parameters");
    AppendJsonValue(&header, response.parameters);
  }
  header.push_back(',');
  const BinaryParts binary = AppendTensors(&header, "outputs", selected);
  header.push_back('}');
  return Finish(std::move(header), binary, AnyBinary(selected));
}

EncodedBody EncodeInferRequest(const InferRequest& request, bool binary) {
  std::vector<Selected> selected;
  selected.reserve(request.inputs.size());
  for (const Tensor& t : request.inputs) selected.push_back({&t, binary});

  std::string header;
  header.reserve(EstimateJsonSize(selected) + 64 * request.outputs.size());
  header.push_back('{');
  if (!request.id.empty()) {
    AppendKey(&header, "id");
    AppendJsonString(&header, request.id);
    header.push_back(',');
  }
  nlohmann::json parameters =
      request.parameters.is_object() ? request.parameters : nlohmann::json::object();
  parameters.erase("binary_data_output");
  if (request.binary_output_default) parameters["binary_data_output"] = true;
  if (!parameters.empty()) {
    AppendKey(&header, "parameters");
    AppendJsonValue(&header, parameters);
    header.push_back(',');
  }
  const BinaryParts binary_section = AppendTensors(&header, "inputs", selected);
  if (!request.outputs.empty()) {
    header.push_back(',');
    AppendKey(&header, "outputs");
    header.push_back('[');
    for (size_t i = 0; i < request.outputs.size(); ++i) {
      if (i > 0) header.push_back(',');
      header.push_back('{');
      AppendKey(&header, "name");
      AppendJsonString(&header, request.outputs[i].name);
      header.append(request.outputs[i].binary ? R"(,"parameters":{"binary_data":true}})"
                                              : R"(,"parameters":{"binary_data":false}})");
    }
    header.push_back(']');
  }
  header.push_back('}');
  return Finish(std::move(header), binary_section, binary);
}

}  // namespace heteroaccel::protocol
