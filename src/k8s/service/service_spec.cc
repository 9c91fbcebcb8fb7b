#include "k8s/service/service_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace heteroaccel::k8s {
namespace {

constexpr std::string_view kDefaultSriovNetwork = "sriov-net";
constexpr std::string_view kKindsAccepted =
    "gpu, npu, fpga, other (emulated-gpu, emulated-npu, emulated-fpga, emulated-other for "
    "emulated devices)";

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status FieldError(const std::string& path, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", AbslView(message)));
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", AbslView(key));
}

std::string Index(const std::string& path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

// Checks a mapping's keys: scalars, listed in `allowed`, each once.
absl::Status CheckKeys(const YAML::Node& node, const std::string& path,
                       const std::vector<std::string_view>& allowed) {
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return FieldError(path.empty() ? "service" : path, "keys must be plain names");
    }
    const std::string& key = entry.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (std::string_view name : allowed) {
        if (!names.empty()) names += ", ";
        names += name;
      }
      return FieldError(Join(path, key), "unknown key; allowed keys here: " + names);
    }
    if (!seen.insert(key).second) return FieldError(Join(path, key), "given more than once");
  }
  return absl::OkStatus();
}

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and beyond U+10FFFF.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return FieldError(path, "must be a string");
  if (node.Scalar().size() > 32768) return FieldError(path, "longer than 32768 bytes");
  if (!IsUtf8(node.Scalar())) return FieldError(path, "is not valid UTF-8");
  return node.Scalar();
}

absl::StatusOr<int64_t> ReadInt(const YAML::Node& node, const std::string& path, int64_t min,
                                int64_t max) {
  int64_t value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(AbslView(node.Scalar()), &value)) {
    return FieldError(path, absl::StrCat("must be a whole number from ", min, " to ", max));
  }
  if (value < min || value > max) {
    return FieldError(path, absl::StrCat("must be from ", min, " to ", max, ", got ", value));
  }
  return value;
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) {
    const std::string lower = absl::AsciiStrToLower(AbslView(node.Scalar()));
    if (lower == "true") return true;
    if (lower == "false") return false;
  }
  return FieldError(path, "must be true or false");
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label: lowercase alphanumerics and '-', alphanumeric at both ends, <= 63.
bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// RFC 1123 subdomain: dot-separated labels, <= 253.
bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!IsDns1123Label(s.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// IANA service name, Kubernetes' rule for port names.
bool IsPortName(std::string_view s) {
  if (s.empty() || s.size() > 15 || !IsDns1123Label(s)) return false;
  if (s.find("--") != std::string_view::npos) return false;
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Kubernetes' environment variable name rule before 1.34 (the strict one).
bool IsEnvName(std::string_view s) {
  if (s.empty() || (s.front() >= '0' && s.front() <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// A domain-qualified extended resource name: <dns subdomain>/<name>.
bool IsQualifiedResourceName(std::string_view s) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view name = s.substr(slash + 1);
  if (name.empty() || name.size() > 63 || !absl::ascii_isalnum(name.front()) ||
      !absl::ascii_isalnum(name.back())) {
    return false;
  }
  return IsDns1123Subdomain(s.substr(0, slash)) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                  c == '.';
         });
}

bool IsModelName(std::string_view s) {
  const size_t slash = s.find('/');
  auto part_ok = [](std::string_view p) {
    return !p.empty() && p.size() <= 63 && std::all_of(p.begin(), p.end(), [](char c) {
      return IsLowerAlnum(c) || c == '-' || c == '_' || c == '.';
    });
  };
  if (slash == std::string_view::npos) return part_ok(s);
  return part_ok(s.substr(0, slash)) && part_ok(s.substr(slash + 1));
}

absl::Status ParseResources(const YAML::Node& node, ServiceSpec& spec) {
  if (!node.IsMap()) return FieldError("resources", "must be a mapping with cpu and memory");
  RETURN_IF_ERROR(CheckKeys(node, "resources", {"cpu", "memory"}));
  if (const YAML::Node cpu = node["cpu"]) {
    ASSIGN_OR_RETURN(spec.cpu, ReadString(cpu, "resources.cpu"));
    absl::StatusOr<double> cores = ParseQuantity(spec.cpu);
    if (!cores.ok()) return FieldError("resources.cpu", std::string(cores.status().message()));
    if (*cores <= 0) return FieldError("resources.cpu", "must be more than 0");
    if (*cores * 1000 != std::floor(*cores * 1000)) {
      return FieldError("resources.cpu", "the smallest unit is 1m (a thousandth of a CPU)");
    }
  }
  if (const YAML::Node memory = node["memory"]) {
    ASSIGN_OR_RETURN(spec.memory, ReadString(memory, "resources.memory"));
    absl::StatusOr<double> bytes = ParseQuantity(spec.memory);
    if (!bytes.ok()) return FieldError("resources.memory", std::string(bytes.status().message()));
    if (*bytes < 1 || *bytes != std::floor(*bytes)) {
      return FieldError("resources.memory",
                        absl::StrCat("must be a whole number of bytes, got ", spec.memory,
                                     " (m is a thousandth; for mebibytes write Mi, e.g. 500Mi)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Port> ParsePort(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) return FieldError(path, "must be a mapping {name, port, protocol}");
  RETURN_IF_ERROR(CheckKeys(node, path, {"name", "port", "containerPort", "servicePort",
                                         "externalPort", "protocol"}));
  Port port;
  if (const YAML::Node name = node["name"]) {
    ASSIGN_OR_RETURN(port.name, ReadString(name, Join(path, "name")));
    if (!IsPortName(port.name)) {
      return FieldError(Join(path, "name"),
                        "must be at most 15 lowercase letters, digits and '-', with a letter");
    }
  }
  if (node["port"] && node["containerPort"]) {
    return FieldError(Join(path, "containerPort"), "give port or containerPort, not both");
  }
  if (node["servicePort"] && node["externalPort"]) {
    return FieldError(Join(path, "externalPort"), "give servicePort or externalPort, not both");
  }
  const std::string_view port_key = node["containerPort"] ? "containerPort" : "port";
  const YAML::Node container_port = node[std::string(port_key)];
  if (!container_port) return FieldError(Join(path, "port"), "required (the container's port)");
  ASSIGN_OR_RETURN(port.port, ReadInt(container_port, Join(path, port_key), 1, 65535));
  port.service_port = port.port;
  const std::string_view service_key = node["externalPort"] ? "externalPort" : "servicePort";
  if (const YAML::Node service_port = node[std::string(service_key)]) {
    ASSIGN_OR_RETURN(port.service_port, ReadInt(service_port, Join(path, service_key), 1, 65535));
  }
  port.protocol = "TCP";
  if (const YAML::Node protocol = node["protocol"]) {
    ASSIGN_OR_RETURN(std::string text, ReadString(protocol, Join(path, "protocol")));
    port.protocol = absl::AsciiStrToUpper(AbslView(text));
    if (port.protocol != "TCP" && port.protocol != "UDP" && port.protocol != "SCTP") {
      return FieldError(Join(path, "protocol"),
                        absl::StrCat("unknown protocol \"", text, "\"; allowed: TCP, UDP, SCTP"));
    }
  }
  return port;
}

absl::Status ParsePorts(const YAML::Node& node, ServiceSpec& spec) {
  if (!node.IsSequence()) return FieldError("ports", "must be a list of {name, port, protocol}");
  if (node.size() > kMaxPorts) {
    return FieldError("ports", absl::StrCat("at most ", kMaxPorts, " ports"));
  }
  std::set<std::string> names;
  std::set<std::pair<int, std::string>> container_ports, service_ports;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = Index("ports", i);
    ASSIGN_OR_RETURN(Port port, ParsePort(node[i], path));
    if (port.name.empty() && node.size() > 1) {
      return FieldError(Join(path, "name"), "required when the service has several ports");
    }
    if (!port.name.empty() && !names.insert(port.name).second) {
      return FieldError(Join(path, "name"), absl::StrCat("\"", port.name, "\" is used twice"));
    }
    if (!container_ports.insert({port.port, port.protocol}).second) {
      return FieldError(Join(path, "port"), absl::StrCat(port.port, "/", port.protocol,
                                                         " is used twice"));
    }
    if (!service_ports.insert({port.service_port, port.protocol}).second) {
      return FieldError(Join(path, "servicePort"),
                        absl::StrCat(port.service_port, "/", port.protocol, " is used twice"));
    }
    spec.ports.push_back(std::move(port));
  }
  return absl::OkStatus();
}

// One compute entry's kind: "gpu", "GPU", "emulated-gpu".
absl::StatusOr<ComputeRequest> ParseComputeKind(const std::string& text, bool all_emulated,
                                                const std::string& path) {
  ComputeRequest request;
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(AbslView(text)));
  constexpr std::string_view kEmulated = "emulated-";
  if (name.size() > kEmulated.size() && name.compare(0, kEmulated.size(), kEmulated) == 0) {
    request.emulated = true;
    name = name.substr(kEmulated.size());
  }
  request.emulated = request.emulated || all_emulated;
  absl::StatusOr<DeviceKind> kind = ParseKind(name);
  if (!kind.ok()) {
    return FieldError(path, absl::StrCat("unknown kind \"", text, "\"; accepted: ", AbslView(kKindsAccepted)));
  }
  if (*kind == DeviceKind::kCpu) {
    return FieldError(path, "cpu is not an accelerator resource; ask for CPUs with resources.cpu");
  }
  request.kind = *kind;
  return request;
}

absl::Status ParseCompute(const YAML::Node& node, bool all_emulated, ServiceSpec& spec) {
  const std::string path = "acceleration.compute";
  if (!node.IsSequence()) return FieldError(path, "must be a list like [{gpu: 1}]");
  std::set<std::string> resources;
  int total = 0;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = Index(path, i);
    const YAML::Node item = node[i];
    if (!item.IsMap() || item.size() == 0) {
      return FieldError(item_path, "must be a mapping {<kind>: <count>}, e.g. {gpu: 1}");
    }
    for (const auto& entry : item) {
      if (!entry.first.IsScalar()) return FieldError(item_path, "the kind must be a plain name");
      const std::string& kind_text = entry.first.Scalar();
      ASSIGN_OR_RETURN(ComputeRequest request,
                       ParseComputeKind(kind_text, all_emulated, item_path));
      const std::string count_path = Join(item_path, kind_text);
      ASSIGN_OR_RETURN(request.count, ReadInt(entry.second, count_path, 1, kMaxDevicesPerPod));
      if (!resources.insert(ResourceName(request)).second) {
        return FieldError(count_path, absl::StrCat(ResourceName(request),
                                                   " is asked for more than once; give one count"));
      }
      total += request.count;
      if (total > kMaxDevicesPerPod) {
        return FieldError(path, absl::StrCat("asks for ", total, " devices or more; at most ",
                                             kMaxDevicesPerPod, " per pod"));
      }
      spec.compute.push_back(request);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseCommunication(const YAML::Node& node, ServiceSpec& spec) {
  const std::string path = "acceleration";
  if (const YAML::Node communication = node["communication"]) {
    ASSIGN_OR_RETURN(std::string text, ReadString(communication, Join(path, "communication")));
    const std::string lower = absl::AsciiStrToLower(AbslView(text));
    if (lower == "sriov" || lower == "sr-iov") {
      spec.communication = Communication::kSriov;
    } else if (lower != "none") {
      return FieldError(Join(path, "communication"),
                        absl::StrCat("unknown value \"", text, "\"; allowed: none, sriov"));
    }
  }
  const bool sriov = spec.communication == Communication::kSriov;
  for (std::string_view key : {"network", "sriovResource"}) {
    if (node[std::string(key)] && !sriov) {
      return FieldError(Join(path, key), "only with communication: sriov");
    }
  }
  if (!sriov) return absl::OkStatus();
  spec.network = std::string(kDefaultSriovNetwork);
  if (const YAML::Node network = node["network"]) {
    ASSIGN_OR_RETURN(spec.network, ReadString(network, Join(path, "network")));
    const size_t slash = spec.network.find('/');
    const bool ok = slash == std::string::npos
                        ? IsDns1123Subdomain(spec.network)
                        : IsDns1123Label(std::string_view(spec.network).substr(0, slash)) &&
                              IsDns1123Subdomain(std::string_view(spec.network).substr(slash + 1));
    if (!ok) {
      return FieldError(Join(path, "network"),
                        "must name a NetworkAttachmentDefinition: <name> or <namespace>/<name>, "
                        "lowercase letters, digits, '-' and '.'");
    }
  }
  if (const YAML::Node resource = node["sriovResource"]) {
    ASSIGN_OR_RETURN(spec.sriov_resource, ReadString(resource, Join(path, "sriovResource")));
    if (!IsQualifiedResourceName(spec.sriov_resource)) {
      return FieldError(Join(path, "sriovResource"),
                        "must be a device plugin resource <domain>/<name>, e.g. "
                        "intel.com/intel_sriov_netdevice");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseAcceleration(const YAML::Node& node, ServiceSpec& spec) {
  const std::string path = "acceleration";
  if (!node.IsMap()) return FieldError(path, "must be a mapping, e.g. {compute: [{gpu: 1}]}");
  RETURN_IF_ERROR(CheckKeys(node, path, {"compute", "emulated", "topologyAware", "communication",
                                         "network", "sriovResource"}));
  bool all_emulated = false;
  if (const YAML::Node emulated = node["emulated"]) {
    ASSIGN_OR_RETURN(all_emulated, ReadBool(emulated, Join(path, "emulated")));
  }
  if (const YAML::Node compute = node["compute"]) {
    RETURN_IF_ERROR(ParseCompute(compute, all_emulated, spec));
  }
  if (const YAML::Node topology = node["topologyAware"]) {
    ASSIGN_OR_RETURN(spec.topology_aware, ReadBool(topology, Join(path, "topologyAware")));
  }
  return ParseCommunication(node, spec);
}

absl::Status ParseEnv(const YAML::Node& node, ServiceSpec& spec) {
  if (!node.IsMap()) return FieldError("env", "must be a mapping NAME: value");
  if (node.size() > kMaxEnv) return FieldError("env", absl::StrCat("at most ", kMaxEnv, " names"));
  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || !IsEnvName(entry.first.Scalar())) {
      return FieldError("env", "names are letters, digits, '_', '-' and '.', not starting with "
                               "a digit");
    }
    const std::string path = Join("env", entry.first.Scalar());
    if (!seen.insert(entry.first.Scalar()).second) return FieldError(path, "given more than once");
    ASSIGN_OR_RETURN(std::string value, ReadString(entry.second, path));
    spec.env.emplace_back(entry.first.Scalar(), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status ParseIdentity(const YAML::Node& root, ServiceSpec& spec) {
  const YAML::Node name = root["name"];
  if (!name) return FieldError("name", "required");
  ASSIGN_OR_RETURN(spec.name, ReadString(name, "name"));
  if (!IsDns1123Label(spec.name) || !(spec.name[0] >= 'a' && spec.name[0] <= 'z')) {
    return FieldError("name", absl::StrCat("\"", spec.name, "\" is not a DNS label: at most 63 "
                                           "lowercase letters, digits and '-', starting with a "
                                           "letter and ending with a letter or digit"));
  }
  if (const YAML::Node ns = root["namespace"]) {
    ASSIGN_OR_RETURN(spec.namespace_name, ReadString(ns, "namespace"));
    if (!IsDns1123Label(spec.namespace_name)) {
      return FieldError("namespace", "must be a DNS label: at most 63 lowercase letters, digits "
                                     "and '-'");
    }
  }
  const YAML::Node image = root["image"];
  if (!image) return FieldError("image", "required (the container image)");
  ASSIGN_OR_RETURN(spec.image, ReadString(image, "image"));
  if (spec.image.empty() || spec.image.size() > 1024 ||
      std::any_of(spec.image.begin(), spec.image.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    return FieldError("image", "must be an image reference without blanks, e.g. "
                               "registry.example/face:1.0");
  }
  if (const YAML::Node replicas = root["replicas"]) {
    ASSIGN_OR_RETURN(spec.replicas, ReadInt(replicas, "replicas", 0, kMaxReplicas));
  }
  if (const YAML::Node model = root["model"]) {
    ASSIGN_OR_RETURN(spec.model, ReadString(model, "model"));
    if (!IsModelName(spec.model)) {
      return FieldError("model", "must be <type> or <type>/<variant>, e.g. face or face/blazeface");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTopology(const ServiceSpec& spec) {
  if (!spec.topology_aware) return absl::OkStatus();
  constexpr std::string_view kWhy =
      "topologyAware needs Guaranteed QoS, so resources.cpu and resources.memory are required";
  if (spec.cpu.empty()) return FieldError("resources.cpu", kWhy);
  if (spec.memory.empty()) return FieldError("resources.memory", kWhy);
  const double cores = *ParseQuantity(spec.cpu);
  if (cores != std::floor(cores)) {
    return FieldError("resources.cpu",
                      absl::StrCat("topologyAware needs whole CPUs (exclusive cores from the "
                                   "static CPU manager), e.g. 1 or 2; got ", spec.cpu));
  }
  return absl::OkStatus();
}

absl::StatusOr<ServiceSpec> ParseRoot(YAML::Node root) {
  if (!root.IsMap()) return FieldError("service", "the file must be a YAML mapping (name, image, ...)");
  // The GS-Engine wraps the definition in `service:`.
  if (root.size() == 1 && root["service"] && root["service"].IsMap()) root = root["service"];
  RETURN_IF_ERROR(CheckKeys(root, "", {"name", "namespace", "image", "replicas", "ports",
                                       "resources", "acceleration", "model", "env"}));
  ServiceSpec spec;
  RETURN_IF_ERROR(ParseIdentity(root, spec));
  if (const YAML::Node ports = root["ports"]) RETURN_IF_ERROR(ParsePorts(ports, spec));
  if (const YAML::Node resources = root["resources"]) {
    RETURN_IF_ERROR(ParseResources(resources, spec));
  }
  if (const YAML::Node acceleration = root["acceleration"]) {
    RETURN_IF_ERROR(ParseAcceleration(acceleration, spec));
  }
  if (const YAML::Node env = root["env"]) RETURN_IF_ERROR(ParseEnv(env, spec));
  RETURN_IF_ERROR(CheckTopology(spec));
  return spec;
}

}  // namespace

std::string ResourceName(const ComputeRequest& request) {
  // The parser accepts no cpu kind (a pod's CPUs are its cpu request).
  return k8s::ResourceName(request.kind, request.emulated).value_or("");
}

absl::StatusOr<double> ParseQuantity(std::string_view text) {
  const std::string quoted = absl::StrCat("\"", AbslView(text), "\"");
  auto invalid = [&quoted] {
    return absl::InvalidArgumentError(
        absl::StrCat(quoted, " is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 4Gi)"));
  };
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    if (text[i] == '-') return absl::InvalidArgumentError(absl::StrCat(quoted, " is negative"));
    ++i;
  }
  const size_t number_start = i;
  bool dot = false, digit = false;
  for (; i < text.size(); ++i) {
    if (text[i] == '.' && !dot) {
      dot = true;
    } else if (text[i] >= '0' && text[i] <= '9') {
      digit = true;
    } else {
      break;
    }
  }
  double number = 0;
  if (!digit || i - number_start > 40 ||
      !absl::SimpleAtod(AbslView(text.substr(number_start, i - number_start)), &number)) {
    return invalid();
  }
  const std::string_view suffix = text.substr(i);
  static const std::vector<std::pair<std::string_view, double>> kSuffixes = {
      {"", 1},       {"n", 1e-9},   {"u", 1e-6},   {"m", 1e-3},   {"k", 1e3},
      {"M", 1e6},    {"G", 1e9},    {"T", 1e12},   {"P", 1e15},   {"E", 1e18},
      {"Ki", 0x1p10}, {"Mi", 0x1p20}, {"Gi", 0x1p30}, {"Ti", 0x1p40}, {"Pi", 0x1p50},
      {"Ei", 0x1p60}};
  for (const auto& [name, scale] : kSuffixes) {
    if (suffix == name) return number * scale;
  }
  int exponent = 0;
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E') &&
      absl::SimpleAtoi(AbslView(suffix.substr(1)), &exponent) && std::abs(exponent) <= 30) {
    return number * std::pow(10.0, exponent);
  }
  return invalid();
}

absl::StatusOr<ServiceSpec> ParseServiceSpec(std::string_view yaml) {
  if (yaml.size() > kMaxSpecBytes) {
    return FieldError("service", absl::StrCat("the definition is ", yaml.size(),
                                              " bytes; at most ", kMaxSpecBytes));
  }
  try {
    return ParseRoot(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    // mark is -1/-1 when yaml-cpp knows no position.
    if (e.mark.line >= 0) {
      return FieldError("service", absl::StrCat("not valid YAML at line ", e.mark.line + 1,
                                                ", column ", e.mark.column + 1, ": ", e.msg));
    }
    return FieldError("service", absl::StrCat("not valid YAML: ", e.msg));
  } catch (const std::exception& e) {
    return FieldError("service", absl::StrCat("cannot be read: ", e.what()));
  }
}

}  // namespace heteroaccel::k8s
