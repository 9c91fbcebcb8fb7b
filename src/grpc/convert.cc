#include "grpc/convert.h"

#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "grpc/internal/tensor_contents.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::grpcfront {
namespace {

using ::inference::InferParameter;
using json = nlohmann::json;
using protocol::internal::StrCat;

// `owner` prefixes messages, e.g. "request " or "requested output 'x' ".
absl::StatusOr<json> ParametersWithOwner(const ParameterMap& parameters, std::string_view owner) {
  json out = json::object();
  for (const auto& [key, value] : parameters) {
    switch (value.parameter_choice_case()) {
      case InferParameter::kBoolParam:
        out[key] = value.bool_param();
        break;
      case InferParameter::kInt64Param:
        out[key] = value.int64_param();
        break;
      case InferParameter::kStringParam:
        out[key] = value.string_param();
        break;
      case InferParameter::kDoubleParam:
        out[key] = value.double_param();
        break;
      case InferParameter::kUint64Param:
        out[key] = value.uint64_param();
        break;
      case InferParameter::PARAMETER_CHOICE_NOT_SET:
        return absl::InvalidArgumentError(
            StrCat(owner, "parameter '", key,
                   "' has no value; set bool_param, int64_param, string_param, double_param or "
                   "uint64_param"));
    }
  }
  return out;
}

// Removes parameters[key] and stores it when present; it must be a bool.
absl::Status TakeBoolParameter(json* parameters, std::string_view key, std::string_view owner,
                               std::optional<bool>* out) {
  const auto it = parameters->find(key);
  if (it == parameters->end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(StrCat(owner, "parameter '", key, "' must be a bool_param"));
  }
  *out = it->get<bool>();
  parameters->erase(it);
  return absl::OkStatus();
}

// Name, datatype, shape and elements of an input or output tensor message.
// `raw` is the tensor's raw contents entry, or null when the message has none;
// `raw_field` names that field in messages.
template <typename TensorProto>
absl::StatusOr<protocol::Tensor> TensorFromProto(const TensorProto& proto, const std::string* raw,
                                                 std::string_view raw_field, std::string_view role,
                                                 int index, const protocol::Limits& limits) {
  protocol::Tensor t;
  if (proto.name().empty()) {
    return absl::InvalidArgumentError(StrCat(role, " ", index, " needs a non-empty name"));
  }
  t.name = proto.name();
  const std::string prefix = StrCat(role, " '", t.name, "'");
  absl::StatusOr<protocol::DataType> type = protocol::ParseDataType(proto.datatype());
  if (!type.ok()) return absl::InvalidArgumentError(StrCat(prefix, ": ", type.status().message()));
  t.datatype = *type;
  t.shape.assign(proto.shape().begin(), proto.shape().end());
  const std::optional<int64_t> count = t.ElementCount();
  if (!count.has_value()) {
    return absl::InvalidArgumentError(StrCat(prefix, ": shape ", protocol::ShapeString(t.shape),
                                             " has a negative dimension or too many elements"));
  }
  if (static_cast<uint64_t>(*count) > limits.max_elements) {
    return absl::InvalidArgumentError(StrCat(prefix, ": shape ", protocol::ShapeString(t.shape),
                                             " has ", *count, " elements, more than the limit of ",
                                             limits.max_elements));
  }
  if (raw != nullptr) {
    if (internal::HasTypedContents(proto.contents())) {
      return absl::InvalidArgumentError(
          StrCat(prefix, " has typed contents while the message also carries ", raw_field,
                 "; send every tensor one way or the other"));
    }
    t.data = *raw;
  } else {
    RETURN_IF_ERROR(internal::DecodeTypedContents(proto.contents(), role, &t));
  }
  RETURN_IF_ERROR(protocol::ValidateTensorData(t, role));
  return t;
}

// All input or output tensors of a message, checked for count and unique names.
template <typename TensorProto>
absl::StatusOr<std::vector<protocol::Tensor>> TensorsFromProto(
    const google::protobuf::RepeatedPtrField<TensorProto>& tensors,
    const google::protobuf::RepeatedPtrField<std::string>& raw, std::string_view raw_field,
    std::string_view role, const protocol::Limits& limits) {
  if (static_cast<size_t>(tensors.size()) > limits.max_tensors) {
    return absl::InvalidArgumentError(StrCat("message has ", tensors.size(), " ", role,
                                             "s, more than the limit of ", limits.max_tensors));
  }
  if (!raw.empty() && raw.size() != tensors.size()) {
    return absl::InvalidArgumentError(StrCat(raw_field, " has ", raw.size(), " entries for ",
                                             tensors.size(), " ", role, "s; send one per ", role,
                                             ", in ", role, " order"));
  }
  std::vector<protocol::Tensor> out;
  out.reserve(static_cast<size_t>(tensors.size()));
  for (int i = 0; i < tensors.size(); ++i) {
    const std::string* raw_entry = raw.empty() ? nullptr : &raw.Get(i);
    ASSIGN_OR_RETURN(protocol::Tensor t,
                     TensorFromProto(tensors.Get(i), raw_entry, raw_field, role, i, limits));
    for (const protocol::Tensor& earlier : out) {
      if (earlier.name == t.name) {
        return absl::InvalidArgumentError(StrCat("duplicate ", role, " name '", t.name, "'"));
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<std::vector<protocol::RequestedOutput>> RequestedOutputsFromProto(
    const ::inference::ModelInferRequest& proto, bool binary_default,
    const protocol::Limits& limits) {
  if (static_cast<size_t>(proto.outputs_size()) > limits.max_tensors) {
    return absl::InvalidArgumentError(StrCat("request asks for ", proto.outputs_size(),
                                             " outputs, more than the limit of ",
                                             limits.max_tensors));
  }
  std::vector<protocol::RequestedOutput> outputs;
  outputs.reserve(static_cast<size_t>(proto.outputs_size()));
  for (int i = 0; i < proto.outputs_size(); ++i) {
    const auto& entry = proto.outputs(i);
    if (entry.name().empty()) {
      return absl::InvalidArgumentError(StrCat("requested output ", i, " needs a non-empty name"));
    }
    const std::string owner = StrCat("requested output '", entry.name(), "': ");
    ASSIGN_OR_RETURN(json params, ParametersWithOwner(entry.parameters(), owner));
    std::optional<bool> binary;
    RETURN_IF_ERROR(TakeBoolParameter(&params, "binary_data", owner, &binary));
    for (const protocol::RequestedOutput& earlier : outputs) {
      if (earlier.name == entry.name()) {
        return absl::InvalidArgumentError(StrCat("output '", entry.name(), "' is requested twice"));
      }
    }
    outputs.push_back({entry.name(), binary.value_or(binary_default)});
  }
  return outputs;
}

absl::StatusOr<protocol::InferRequest> RequestFromProto(const ::inference::ModelInferRequest& proto,
                                                        const protocol::Limits& limits) {
  protocol::InferRequest request;
  request.id = proto.id();
  ASSIGN_OR_RETURN(request.parameters, ParametersWithOwner(proto.parameters(), "request "));
  std::optional<bool> binary_output;
  RETURN_IF_ERROR(
      TakeBoolParameter(&request.parameters, "binary_data_output", "request ", &binary_output));
  request.binary_output_default = binary_output.value_or(false);
  if (proto.inputs_size() == 0) {
    return absl::InvalidArgumentError(
        "request needs at least one input {name, datatype, shape} with contents or "
        "raw_input_contents");
  }
  ASSIGN_OR_RETURN(request.inputs, TensorsFromProto(proto.inputs(), proto.raw_input_contents(),
                                                    "raw_input_contents", "input", limits));
  ASSIGN_OR_RETURN(request.outputs,
                   RequestedOutputsFromProto(proto, request.binary_output_default, limits));
  return request;
}

protocol::Tensor* FindTensor(std::vector<protocol::Tensor>& tensors, std::string_view name) {
  for (protocol::Tensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::Status AppendRawOutput(protocol::Tensor& tensor, ::inference::ModelInferResponse* proto) {
  if (absl::Status s = protocol::ValidateTensorData(tensor, "output"); !s.ok()) {
    return absl::InternalError(StrCat("the model produced a malformed output: ", s.message()));
  }
  auto* out = proto->add_outputs();
  out->set_name(tensor.name);
  out->set_datatype(std::string(protocol::DataTypeName(tensor.datatype)));
  out->mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
  proto->add_raw_output_contents(std::move(tensor.data));
  return absl::OkStatus();
}

std::string StringMember(const json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

void TensorSpecToProto(const protocol::TensorSpec& spec,
                       ::inference::ModelMetadataResponse::TensorMetadata* out) {
  out->set_name(spec.name);
  out->set_datatype(std::string(protocol::DataTypeName(spec.datatype)));
  out->mutable_shape()->Add(spec.shape.begin(), spec.shape.end());
}

absl::StatusOr<protocol::TensorSpec> TensorSpecFromProto(
    const ::inference::ModelMetadataResponse::TensorMetadata& proto, std::string_view role) {
  protocol::TensorSpec spec;
  spec.name = proto.name();
  absl::StatusOr<protocol::DataType> type = protocol::ParseDataType(proto.datatype());
  if (!type.ok()) {
    return absl::InvalidArgumentError(
        StrCat("model ", role, " '", spec.name, "': ", type.status().message()));
  }
  spec.datatype = *type;
  spec.shape.assign(proto.shape().begin(), proto.shape().end());
  return spec;
}

}  // namespace

absl::StatusOr<json> ParametersToJson(const ParameterMap& parameters) {
  return ParametersWithOwner(parameters, "");
}

void ParametersFromJson(const json& json_value, ParameterMap* parameters) {
  if (!json_value.is_object()) return;
  for (const auto& [key, value] : json_value.items()) {
    InferParameter p;
    if (value.is_boolean()) {
      p.set_bool_param(value.get<bool>());
    } else if (value.is_number_unsigned()) {
      const auto v = value.get<uint64_t>();
      if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        p.set_int64_param(static_cast<int64_t>(v));
      } else {
        p.set_uint64_param(v);
      }
    } else if (value.is_number_integer()) {
      p.set_int64_param(value.get<int64_t>());
    } else if (value.is_number_float()) {
      p.set_double_param(value.get<double>());
    } else if (value.is_string()) {
      p.set_string_param(value.get<std::string>());
    } else if (value.is_array() || value.is_object()) {
      p.set_string_param(value.dump(-1, ' ', false, json::error_handler_t::replace));
    } else {
      continue;  // null
    }
    (*parameters)[key] = std::move(p);
  }
}

absl::StatusOr<protocol::InferRequest> InferRequestFromProto(
    const ::inference::ModelInferRequest& proto, const protocol::Limits& limits) {
  try {
    return RequestFromProto(proto, limits);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while reading the request");
  }
}

absl::StatusOr<::inference::ModelInferRequest> InferRequestToProto(
    const protocol::InferRequest& request, std::string_view model, std::string_view version,
    ContentsEncoding encoding) {
  ::inference::ModelInferRequest proto;
  proto.set_model_name(std::string(model));
  proto.set_model_version(std::string(version));
  proto.set_id(request.id);
  ParametersFromJson(request.parameters, proto.mutable_parameters());
  for (const protocol::Tensor& t : request.inputs) {
    auto* in = proto.add_inputs();
    in->set_name(t.name);
    in->set_datatype(std::string(protocol::DataTypeName(t.datatype)));
    in->mutable_shape()->Add(t.shape.begin(), t.shape.end());
    if (encoding == ContentsEncoding::kTyped) {
      RETURN_IF_ERROR(internal::EncodeTypedContents(t, "input", in->mutable_contents()));
    } else {
      RETURN_IF_ERROR(protocol::ValidateTensorData(t, "input"));
      proto.add_raw_input_contents(t.data);
    }
  }
  for (const protocol::RequestedOutput& out : request.outputs) {
    proto.add_outputs()->set_name(out.name);
  }
  return proto;
}

absl::Status InferResponseToProto(protocol::InferResponse response,
                                  const protocol::InferRequest& request,
                                  ::inference::ModelInferResponse* proto) {
  proto->set_model_name(response.model_name);
  proto->set_model_version(response.model_version);
  proto->set_id(response.id.empty() ? request.id : response.id);
  ParametersFromJson(response.parameters, proto->mutable_parameters());
  if (request.outputs.empty()) {
    for (protocol::Tensor& t : response.outputs) RETURN_IF_ERROR(AppendRawOutput(t, proto));
    return absl::OkStatus();
  }
  std::vector<std::string> available;
  available.reserve(response.outputs.size());
  for (const protocol::Tensor& t : response.outputs) available.push_back(t.name);
  RETURN_IF_ERROR(protocol::ValidateRequestedOutputs(request, available));
  for (const protocol::RequestedOutput& wanted : request.outputs) {
    // Found: ValidateRequestedOutputs checked every name.
    protocol::Tensor* t = FindTensor(response.outputs, wanted.name);
    RETURN_IF_ERROR(AppendRawOutput(*t, proto));
  }
  return absl::OkStatus();
}

absl::StatusOr<protocol::InferResponse> InferResponseFromProto(
    const ::inference::ModelInferResponse& proto, const protocol::Limits& limits) {
  protocol::InferResponse response;
  response.model_name = proto.model_name();
  response.model_version = proto.model_version();
  response.id = proto.id();
  ASSIGN_OR_RETURN(response.parameters, ParametersWithOwner(proto.parameters(), "response "));
  ASSIGN_OR_RETURN(response.outputs, TensorsFromProto(proto.outputs(), proto.raw_output_contents(),
                                                      "raw_output_contents", "output", limits));
  return response;
}

::inference::ServerMetadataResponse ServerMetadataToProto(const json& metadata) {
  ::inference::ServerMetadataResponse proto;
  proto.set_name(StringMember(metadata, "name"));
  proto.set_version(StringMember(metadata, "version"));
  if (metadata.is_object()) {
    const auto it = metadata.find("extensions");
    if (it != metadata.end() && it->is_array()) {
      for (const json& e : *it) {
        if (e.is_string()) proto.add_extensions(e.get<std::string>());
      }
    }
  }
  return proto;
}

json ServerMetadataFromProto(const ::inference::ServerMetadataResponse& proto) {
  return protocol::ServerMetadataJson(
      proto.name(), proto.version(),
      std::vector<std::string>(proto.extensions().begin(), proto.extensions().end()));
}

::inference::ModelMetadataResponse ModelMetadataToProto(const protocol::ModelMetadata& metadata) {
  ::inference::ModelMetadataResponse proto;
  proto.set_name(metadata.name);
  for (const std::string& v : metadata.versions) proto.add_versions(v);
  proto.set_platform(metadata.platform);
  for (const protocol::TensorSpec& s : metadata.inputs) TensorSpecToProto(s, proto.add_inputs());
  for (const protocol::TensorSpec& s : metadata.outputs) TensorSpecToProto(s, proto.add_outputs());
  return proto;
}

absl::StatusOr<protocol::ModelMetadata> ModelMetadataFromProto(
    const ::inference::ModelMetadataResponse& proto) {
  protocol::ModelMetadata metadata;
  metadata.name = proto.name();
  metadata.versions.assign(proto.versions().begin(), proto.versions().end());
  metadata.platform = proto.platform();
  for (const auto& t : proto.inputs()) {
    ASSIGN_OR_RETURN(protocol::TensorSpec spec, TensorSpecFromProto(t, "input"));
    metadata.inputs.push_back(std::move(spec));
  }
  for (const auto& t : proto.outputs()) {
    ASSIGN_OR_RETURN(protocol::TensorSpec spec, TensorSpecFromProto(t, "output"));
    metadata.outputs.push_back(std::move(spec));
  }
  return metadata;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (status.code()) {
    case absl::StatusCode::kCancelled:
      code = grpc::StatusCode::CANCELLED;
      break;
    case absl::StatusCode::kUnknown:
      code = grpc::StatusCode::UNKNOWN;
      break;
    case absl::StatusCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case absl::StatusCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case absl::StatusCode::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case absl::StatusCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case absl::StatusCode::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case absl::StatusCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case absl::StatusCode::kAborted:
      code = grpc::StatusCode::ABORTED;
      break;
    case absl::StatusCode::kOutOfRange:
      code = grpc::StatusCode::OUT_OF_RANGE;
      break;
    case absl::StatusCode::kUnimplemented:
      code = grpc::StatusCode::UNIMPLEMENTED;
      break;
    case absl::StatusCode::kInternal:
      code = grpc::StatusCode::INTERNAL;
      break;
    case absl::StatusCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case absl::StatusCode::kDataLoss:
      code = grpc::StatusCode::DATA_LOSS;
      break;
    case absl::StatusCode::kUnauthenticated:
      code = grpc::StatusCode::UNAUTHENTICATED;
      break;
    default:
      break;
  }
  return {code, std::string(status.message())};
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  // The canonical codes are 1..16 in both libraries.
  const auto absl_code =
      code >= 1 && code <= 16 ? static_cast<absl::StatusCode>(code) : absl::StatusCode::kUnknown;
  return {absl_code, status.error_message()};
}

}  // namespace heteroaccel::grpcfront
