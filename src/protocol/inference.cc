// Parsing of /infer bodies. Encoding lives in inference_encode.cc.
#include "protocol/inference.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "protocol/internal/json_reader.h"
#include "protocol/internal/strings.h"
#include "protocol/internal/tensor_codec.h"

namespace heteroaccel::protocol {
namespace {

using internal::StrCat;

using json = nlohmann::json;

// The binary section after the JSON header, consumed tensor by tensor.
struct BinarySection {
  bool present = false;
  std::string_view rest;
};

struct SplitBody {
  std::string_view json_text;
  BinarySection binary;
};

absl::StatusOr<SplitBody> Split(std::string_view body, std::optional<size_t> header_length) {
  if (!header_length.has_value()) return SplitBody{body, {}};
  if (*header_length > body.size()) {
    return absl::InvalidArgumentError(StrCat(kInferenceHeaderContentLength, " ", *header_length,
                                             " is larger than the ", body.size(), "-byte body"));
  }
  return SplitBody{body.substr(0, *header_length), {true, body.substr(*header_length)}};
}

// A short description of an offending value for error messages.
std::string Describe(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  constexpr size_t kMaxChars = 40;
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
  return text;
}

const json* Find(const json& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// An optional string member; `what` names it in messages.
absl::Status ReadOptionalString(const json& object, std::string_view key, std::string_view what,
                                std::string* out) {
  const json* v = Find(object, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) return absl::InvalidArgumentError(StrCat(what, " must be a string"));
  *out = v->get_ref<const std::string&>();
  return absl::OkStatus();
}

// An optional "parameters" object, copied out.
absl::Status ReadParameters(const json& object, std::string_view owner, json* out) {
  const json* v = Find(object, "parameters");
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_object()) {
    return absl::InvalidArgumentError(StrCat(owner, "'parameters' must be a JSON object"));
  }
  *out = *v;
  return absl::OkStatus();
}

// Removes parameters[key] and stores it when present; it must be a bool.
absl::Status TakeBoolParameter(json* parameters, std::string_view key, std::string_view owner,
                               std::optional<bool>* out) {
  const auto it = parameters->find(key);
  if (it == parameters->end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(StrCat(owner, "parameters.", key, " must be true or false"));
  }
  *out = it->get<bool>();
  parameters->erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::string> TensorName(const json& entry, std::string_view role, size_t index) {
  if (!entry.is_object()) {
    return absl::InvalidArgumentError(
        StrCat(role, " ", index, " must be a JSON object with a 'name'"));
  }
  const json* name = Find(entry, "name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError(StrCat(role, " ", index, " needs a non-empty string 'name'"));
  }
  return name->get<std::string>();
}

absl::Status ReadShape(const json& entry, const std::string& prefix, const Limits& limits,
                       Tensor* t) {
  const json* shape = Find(entry, "shape");
  if (shape == nullptr || !shape->is_array()) {
    return absl::InvalidArgumentError(
        StrCat(prefix, " needs a 'shape' array of non-negative integers"));
  }
  t->shape.reserve(shape->size());
  for (const json& dim : *shape) {
    if (dim.is_number_unsigned() &&
        dim.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      t->shape.push_back(static_cast<int64_t>(dim.get<uint64_t>()));
    } else if (dim.is_number_integer() && !dim.is_number_unsigned()) {
      t->shape.push_back(dim.get<int64_t>());  // Negative: rejected below.
    } else {
      return absl::InvalidArgumentError(StrCat(
          prefix, ": 'shape' must be an array of non-negative integers, got ", Describe(dim)));
    }
  }
  const std::optional<int64_t> count = t->ElementCount();
  if (!count.has_value()) {
    return absl::InvalidArgumentError(StrCat(prefix, ": shape ", ShapeString(t->shape),
                                             " has a negative dimension or too many "
                                             "elements"));
  }
  if (static_cast<uint64_t>(*count) > limits.max_elements) {
    return absl::InvalidArgumentError(StrCat(prefix, ": shape ", ShapeString(t->shape), " has ",
                                             *count, " elements, more than the limit of ",
                                             limits.max_elements));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> BinaryDataSize(const json& entry,
                                                       const std::string& prefix) {
  const json* params = Find(entry, "parameters");
  if (params == nullptr) return std::nullopt;
  if (!params->is_object()) {
    return absl::InvalidArgumentError(StrCat(prefix, ": 'parameters' must be a JSON object"));
  }
  const json* size = Find(*params, "binary_data_size");
  if (size == nullptr) return std::nullopt;
  if (!size->is_number_unsigned()) {
    return absl::InvalidArgumentError(
        StrCat(prefix, ": parameters.binary_data_size must be a non-negative integer, got ",
               Describe(*size)));
  }
  return size->get<uint64_t>();
}

absl::Status ReadTensorData(const json& entry, const std::string& prefix, std::string_view role,
                            BinarySection* binary, Tensor* t) {
  ASSIGN_OR_RETURN(const std::optional<uint64_t> binary_size, BinaryDataSize(entry, prefix));
  const json* data = Find(entry, "data");
  if (binary_size.has_value() && data != nullptr) {
    return absl::InvalidArgumentError(
        StrCat(prefix, " has both 'data' and parameters.binary_data_size; send only one"));
  }
  if (data != nullptr) {
    return internal::DecodeJsonData(*data, *t->ElementCount(), role, t);
  }
  if (!binary_size.has_value()) {
    return absl::InvalidArgumentError(
        StrCat(prefix, " has no 'data' and no parameters.binary_data_size"));
  }
  if (!binary->present) {
    return absl::InvalidArgumentError(StrCat(prefix, " declares binary_data_size ", *binary_size,
                                             " but the body has no binary section (send the ",
                                             kInferenceHeaderContentLength, " header)"));
  }
  if (*binary_size > binary->rest.size()) {
    return absl::InvalidArgumentError(StrCat(prefix, ": binary_data_size ", *binary_size,
                                             " is more than the ", binary->rest.size(),
                                             " bytes left in the binary section"));
  }
  const std::string_view bytes = binary->rest.substr(0, *binary_size);
  binary->rest.remove_prefix(*binary_size);
  return internal::DecodeBinaryData(bytes, role, t);
}

absl::StatusOr<Tensor> ParseTensor(const json& entry, std::string_view role, size_t index,
                                   const Limits& limits, BinarySection* binary) {
  Tensor t;
  ASSIGN_OR_RETURN(t.name, TensorName(entry, role, index));
  const std::string prefix = StrCat(role, " '", t.name, "'");
  const json* datatype = Find(entry, "datatype");
  if (datatype == nullptr || !datatype->is_string()) {
    return absl::InvalidArgumentError(StrCat(prefix, " needs a string 'datatype'"));
  }
  absl::StatusOr<DataType> type = ParseDataType(datatype->get_ref<const std::string&>());
  if (!type.ok()) return absl::InvalidArgumentError(StrCat(prefix, ": ", type.status().message()));
  t.datatype = *type;
  RETURN_IF_ERROR(ReadShape(entry, prefix, limits, &t));
  RETURN_IF_ERROR(ReadTensorData(entry, prefix, role, binary, &t));
  return t;
}

// Parses a JSON array of tensors (request inputs or response outputs).
absl::StatusOr<std::vector<Tensor>> ParseTensors(const json& array, std::string_view role,
                                                 const Limits& limits, BinarySection* binary) {
  if (array.size() > limits.max_tensors) {
    return absl::InvalidArgumentError(StrCat("body has ", array.size(), " ", role,
                                             "s, more than the limit of ", limits.max_tensors));
  }
  std::vector<Tensor> tensors;
  tensors.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    ASSIGN_OR_RETURN(Tensor t, ParseTensor(array[i], role, i, limits, binary));
    for (const Tensor& earlier : tensors) {
      if (earlier.name == t.name) {
        return absl::InvalidArgumentError(StrCat("duplicate ", role, " name '", t.name, "'"));
      }
    }
    tensors.push_back(std::move(t));
  }
  if (binary->present && !binary->rest.empty()) {
    return absl::InvalidArgumentError(StrCat(
        "the binary section has ", binary->rest.size(), " bytes left over after the last binary ",
        role, "; the binary_data_size values must add up to the binary section's size"));
  }
  return tensors;
}

absl::StatusOr<std::vector<RequestedOutput>> ParseRequestedOutputs(const json& array,
                                                                   bool binary_default,
                                                                   const Limits& limits) {
  if (array.size() > limits.max_tensors) {
    return absl::InvalidArgumentError(StrCat("request asks for ", array.size(),
                                             " outputs, more than the limit of ",
                                             limits.max_tensors));
  }
  std::vector<RequestedOutput> outputs;
  outputs.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    RequestedOutput out;
    ASSIGN_OR_RETURN(out.name, TensorName(array[i], "requested output", i));
    const std::string owner = StrCat("requested output '", out.name, "': ");
    json params = json::object();
    RETURN_IF_ERROR(ReadParameters(array[i], owner, &params));
    std::optional<bool> binary;
    RETURN_IF_ERROR(TakeBoolParameter(&params, "binary_data", owner, &binary));
    out.binary = binary.value_or(binary_default);
    for (const RequestedOutput& earlier : outputs) {
      if (earlier.name == out.name) {
        return absl::InvalidArgumentError(StrCat("output '", out.name, "' is requested twice"));
      }
    }
    outputs.push_back(std::move(out));
  }
  return outputs;
}

absl::StatusOr<InferRequest> RequestFromJson(const json& root, BinarySection binary,
                                             const Limits& limits) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  InferRequest request;
  RETURN_IF_ERROR(ReadOptionalString(root, "id", "request 'id'", &request.id));
  RETURN_IF_ERROR(ReadParameters(root, "request ", &request.parameters));
  std::optional<bool> binary_output;
  RETURN_IF_ERROR(
      TakeBoolParameter(&request.parameters, "binary_data_output", "request ", &binary_output));
  request.binary_output_default = binary_output.value_or(false);

  const json* inputs = Find(root, "inputs");
  if (inputs == nullptr || !inputs->is_array() || inputs->empty()) {
    return absl::InvalidArgumentError(
        "request needs a non-empty 'inputs' array of {name, shape, datatype, data}");
  }
  ASSIGN_OR_RETURN(request.inputs, ParseTensors(*inputs, "input", limits, &binary));
  if (const json* outputs = Find(root, "outputs"); outputs != nullptr) {
    if (!outputs->is_array()) {
      return absl::InvalidArgumentError("request 'outputs' must be an array of {name}");
    }
    ASSIGN_OR_RETURN(request.outputs,
                     ParseRequestedOutputs(*outputs, request.binary_output_default, limits));
  }
  return request;
}

absl::StatusOr<InferResponse> ResponseFromJson(const json& root, BinarySection binary,
                                               const Limits& limits) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError("response body must be a JSON object");
  }
  if (const json* error = Find(root, "error"); error != nullptr) {
    return absl::InvalidArgumentError(
        StrCat("server returned an error: ",
               error->is_string() ? error->get<std::string>()
                                  : error->dump(-1, ' ', false, json::error_handler_t::replace)));
  }
  InferResponse response;
  RETURN_IF_ERROR(
      ReadOptionalString(root, "model_name", "response 'model_name'", &response.model_name));
  RETURN_IF_ERROR(ReadOptionalString(root, "model_version", "response 'model_version'",
                                     &response.model_version));
  RETURN_IF_ERROR(ReadOptionalString(root, "id", "response 'id'", &response.id));
  RETURN_IF_ERROR(ReadParameters(root, "response ", &response.parameters));
  const json* outputs = Find(root, "outputs");
  if (outputs == nullptr || !outputs->is_array()) {
    return absl::InvalidArgumentError("response needs an 'outputs' array");
  }
  ASSIGN_OR_RETURN(response.outputs, ParseTensors(*outputs, "output", limits, &binary));
  return response;
}

}  // namespace

namespace {

static_assert(kBodyReadPadding == internal::kJsonReadPadding);

// Splits the body, parses its JSON part and hands both to `from_json`; `what`
// ("request", "response") names the document in errors. `spare` bytes after
// the body's end may be read.
template <class Document, class FromJson>
absl::StatusOr<Document> ParseDocument(std::string_view body, size_t spare,
                                       std::optional<size_t> json_header_length,
                                       const Limits& limits, std::string_view what,
                                       FromJson from_json) {
  try {
    ASSIGN_OR_RETURN(const SplitBody split, Split(body, json_header_length));
    // The binary section and the spare capacity may be read past the JSON.
    const internal::JsonText text{split.json_text, body.size() - split.json_text.size() + spare};
    ASSIGN_OR_RETURN(const json root, internal::ReadJson(text, limits.max_json_depth));
    return from_json(root, split.binary, limits);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(StrCat("out of memory while parsing the ", what));
  } catch (const std::exception& e) {
    // The walk checks types before every access; this is a last line of defence.
    return absl::InvalidArgumentError(StrCat("invalid ", what, ": ", e.what()));
  }
}

}  // namespace

absl::StatusOr<InferRequest> internal::ParseInferRequest(std::string_view body, size_t spare,
                                                         std::optional<size_t> json_header_length,
                                                         const Limits& limits) {
  return ParseDocument<InferRequest>(body, spare, json_header_length, limits, "request",
                                     RequestFromJson);
}

absl::StatusOr<InferResponse> internal::ParseInferResponse(std::string_view body, size_t spare,
                                                           std::optional<size_t> json_header_length,
                                                           const Limits& limits) {
  return ParseDocument<InferResponse>(body, spare, json_header_length, limits, "response",
                                      ResponseFromJson);
}

absl::Status ValidateRequestedOutputs(const InferRequest& request,
                                      const std::vector<std::string>& available) {
  for (const RequestedOutput& out : request.outputs) {
    if (std::find(available.begin(), available.end(), out.name) == available.end()) {
      return absl::InvalidArgumentError(StrCat(
          "unknown output '", out.name, "'; the model has: ", absl::StrJoin(available, ", ")));
    }
  }
  return absl::OkStatus();
}

}  // namespace heteroaccel::protocol
