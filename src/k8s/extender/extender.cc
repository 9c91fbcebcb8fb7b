#include "k8s/extender/extender.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace heteroaccel::k8s {
namespace {

using Json = nlohmann::json;

// More devices of one kind than any pod could ask for; bounds the arithmetic.
constexpr int64_t kMaxCount = 1'000'000;

absl::Status Invalid(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), " ", std::string(problem)));
}

// A resource quantity as Go's resource.Quantity writes it ("1", "2k", "4000m")
// or as a plain JSON number. Extended resources are whole numbers.
absl::StatusOr<int64_t> ParseCount(const Json& value, const std::string& field) {
  double count = 0;
  if (value.is_number()) {
    count = value.get<double>();
  } else if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    size_t digits_end = 0;
    while (digits_end < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits_end])) != 0 ||
            text[digits_end] == '.')) {
      ++digits_end;
    }
    const std::string number = text.substr(0, digits_end);
    const std::string suffix = text.substr(digits_end);
    static const std::map<std::string, double> kScale = {
        {"", 1},    {"m", 1e-3},    {"k", 1e3},        {"M", 1e6},
        {"G", 1e9}, {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}};
    auto scale = kScale.find(suffix);
    if (number.empty() || number.size() > 18 || std::count(number.begin(), number.end(), '.') > 1 ||
        number == "." || scale == kScale.end()) {
      return Invalid(field, absl::StrCat("is not a resource quantity: '", text.substr(0, 40),
                                         "' (write a whole number, e.g. \"1\")"));
    }
    count = std::stod(number) * scale->second;
  } else {
    return Invalid(field, "must be a quantity string such as \"1\"");
  }
  if (!(count >= 0) || count > static_cast<double>(kMaxCount) || std::floor(count) != count) {
    return Invalid(field, "must be a whole number of devices between 0 and 1000000");
  }
  return static_cast<int64_t>(count);
}

// The container's count of each of our resources: requests, else limits (an
// extended resource's request equals its limit; a limit alone implies it).
absl::StatusOr<std::map<ManagedResource, int64_t>> ContainerCounts(const Json& container,
                                                                   const std::string& field) {
  std::map<ManagedResource, int64_t> counts;
  if (!container.is_object()) return Invalid(field, "must be an object (a v1.Container)");
  auto resources = container.find("resources");
  if (resources == container.end() || resources->is_null()) return counts;
  if (!resources->is_object()) return Invalid(field + ".resources", "must be an object");
  for (const char* which : {"limits", "requests"}) {  // requests override limits
    auto list = resources->find(which);
    if (list == resources->end() || list->is_null()) continue;
    const std::string list_field = absl::StrCat(field, ".resources.", which);
    if (!list->is_object()) return Invalid(list_field, "must be an object of quantities");
    for (auto it = list->begin(); it != list->end(); ++it) {
      auto resource = ParseResourceName(it.key());
      if (!resource) continue;
      auto count = ParseCount(it.value(), absl::StrCat(list_field, "[\"", it.key(), "\"]"));
      if (!count.ok()) return count.status();
      counts[*resource] = *count;
    }
  }
  return counts;
}

// Per resource, max(sum over containers, max over init containers).
absl::StatusOr<std::map<ManagedResource, int64_t>> PodCounts(const Json& spec) {
  std::map<ManagedResource, int64_t> sum, init_max;
  for (const char* which : {"containers", "initContainers"}) {
    auto list = spec.find(which);
    if (list == spec.end() || list->is_null()) continue;
    const std::string field = absl::StrCat("ExtenderArgs.Pod.spec.", which);
    if (!list->is_array()) return Invalid(field, "must be an array");
    const bool init = std::string_view(which) == "initContainers";
    for (size_t i = 0; i < list->size(); ++i) {
      auto counts = ContainerCounts((*list)[i], absl::StrCat(field, "[", i, "]"));
      if (!counts.ok()) return counts.status();
      for (const auto& [resource, count] : *counts) {
        int64_t& slot = init ? init_max[resource] : sum[resource];
        slot = init ? std::max(slot, count) : std::min(kMaxCount, slot + count);
      }
    }
  }
  for (const auto& [resource, count] : init_max) sum[resource] = std::max(sum[resource], count);
  std::erase_if(sum, [](const auto& entry) { return entry.second <= 0; });
  return sum;
}

absl::Status ParsePod(const Json& pod, ExtenderArgs& args) {
  if (!pod.is_object()) return Invalid("ExtenderArgs.Pod", "must be an object (a v1.Pod)");
  const Json empty = Json::object();
  auto metadata = pod.find("metadata");
  const Json& meta = metadata != pod.end() && metadata->is_object() ? *metadata : empty;
  if (metadata != pod.end() && !metadata->is_null() && !metadata->is_object()) {
    return Invalid("ExtenderArgs.Pod.metadata", "must be an object");
  }
  const std::string name = meta.contains("name") && meta["name"].is_string()
                               ? meta["name"].get<std::string>()
                               : std::string("(unnamed)");
  const std::string ns = meta.contains("namespace") && meta["namespace"].is_string()
                             ? meta["namespace"].get<std::string>()
                             : std::string("default");
  args.pod = absl::StrCat(ns, "/", name);
  if (auto annotations = meta.find("annotations");
      annotations != meta.end() && !annotations->is_null()) {
    if (!annotations->is_object()) {
      return Invalid("ExtenderArgs.Pod.metadata.annotations", "must be an object of strings");
    }
    if (auto model = annotations->find(std::string(kModelAnnotation));
        model != annotations->end()) {
      const std::string field = absl::StrCat("ExtenderArgs.Pod.metadata.annotations[\"",
                                             std::string(kModelAnnotation), "\"]");
      if (!model->is_string()) return Invalid(field, "must be a string");
      auto parsed = ParseModelAnnotation(model->get_ref<const std::string&>());
      if (!parsed.ok()) return Invalid(field, std::string(parsed.status().message()));
      args.model = *std::move(parsed);
    }
  }
  auto spec = pod.find("spec");
  if (spec == pod.end() || spec->is_null()) return absl::OkStatus();  // requests nothing
  if (!spec->is_object()) return Invalid("ExtenderArgs.Pod.spec", "must be an object");
  auto counts = PodCounts(*spec);
  if (!counts.ok()) return counts.status();
  args.requests = *std::move(counts);
  return absl::OkStatus();
}

absl::Status ParseNodes(const Json& root, ExtenderArgs& args) {
  auto names = root.find("NodeNames");
  if (names != root.end() && !names->is_null()) {
    if (!names->is_array()) return Invalid("ExtenderArgs.NodeNames", "must be an array of names");
    args.node_cache_capable = true;
    args.node_names.reserve(names->size());
    for (size_t i = 0; i < names->size(); ++i) {
      if (!(*names)[i].is_string()) {
        return Invalid(absl::StrCat("ExtenderArgs.NodeNames[", i, "]"), "must be a string");
      }
      args.node_names.push_back((*names)[i].get<std::string>());
    }
    return absl::OkStatus();
  }
  auto nodes = root.find("Nodes");
  if (nodes == root.end() || nodes->is_null()) {
    return Invalid("ExtenderArgs",
                   "names no candidates: give NodeNames (nodeCacheCapable: true) "
                   "or Nodes (a v1.NodeList)");
  }
  if (!nodes->is_object())
    return Invalid("ExtenderArgs.Nodes", "must be an object (a v1.NodeList)");
  args.node_cache_capable = false;
  args.node_list = *nodes;
  Json& items = args.node_list["items"];
  if (items.is_null()) items = Json::array();
  if (!items.is_array()) return Invalid("ExtenderArgs.Nodes.items", "must be an array of v1.Node");
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& item = items[i];
    const std::string field = absl::StrCat("ExtenderArgs.Nodes.items[", i, "].metadata.name");
    const Json* name = nullptr;
    if (item.is_object() && item.contains("metadata") && item["metadata"].is_object() &&
        item["metadata"].contains("name")) {
      name = &item["metadata"]["name"];
    }
    if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
      return Invalid(field, "is missing or not a non-empty string");
    }
    args.node_names.push_back(name->get<std::string>());
  }
  return absl::OkStatus();
}

bool HasModel(const DeviceSnapshot& device, const std::optional<ModelRequest>& model) {
  if (!model) return true;
  return std::any_of(device.models.begin(), device.models.end(), [&](const cluster::VariantKey& m) {
    return m.type == model->type && (model->variant.empty() || m.variant == model->variant);
  });
}

bool OfResource(const DeviceSnapshot& device, const ManagedResource& resource) {
  return device.kind == resource.kind && device.emulated == resource.emulated;
}

bool Eligible(const DeviceSnapshot& device, const ExtenderArgs& args) {
  if (!device.healthy || device.pod_assigned || !HasModel(device, args.model)) return false;
  return std::any_of(args.requests.begin(), args.requests.end(),
                     [&](const auto& entry) { return OfResource(device, entry.first); });
}

struct Shortfall {
  std::string reason;
  bool resolvable = false;  // evicting pods could free enough devices
};

// Why the node cannot give `count` devices of `resource`; nullopt if it can.
std::optional<Shortfall> CheckResource(const NodeSnapshot& node, const ManagedResource& resource,
                                       int64_t count, const std::optional<ModelRequest>& model) {
  int64_t of_kind = 0, free = 0, unhealthy = 0, assigned = 0, without_model = 0;
  for (const DeviceSnapshot& d : node.devices) {
    if (!OfResource(d, resource)) continue;
    ++of_kind;
    if (!d.healthy) {
      ++unhealthy;
    } else if (!HasModel(d, model)) {
      ++without_model;
    } else if (d.pod_assigned) {
      ++assigned;
    } else {
      ++free;
    }
  }
  if (free >= count) return std::nullopt;
  const std::string name = ResourceName(resource.kind, resource.emulated).value_or("?");
  std::string wanted = absl::StrCat(count, " ", name);
  if (model) absl::StrAppend(&wanted, " with model ", model->ToString(), " loaded");
  Shortfall s;
  s.resolvable = free + assigned >= count;
  if (of_kind == 0) {
    s.reason = absl::StrCat("needs ", wanted, "; the node has no ", name, " device");
    return s;
  }
  std::vector<std::string> parts;
  if (unhealthy > 0) parts.push_back(absl::StrCat(unhealthy, " unhealthy"));
  if (without_model > 0) parts.push_back(absl::StrCat(without_model, " without the model"));
  if (assigned > 0) parts.push_back(absl::StrCat(assigned, " assigned to pods"));
  s.reason = absl::StrCat("needs ", wanted, "; the node has ", free, " free of ", of_kind);
  if (!parts.empty()) absl::StrAppend(&s.reason, " (", absl::StrJoin(parts, ", "), ")");
  return s;
}

// The node's measure for Prioritize (the header's formula); nullopt without
// an eligible device.
std::optional<double> NodeMeasure(const NodeSnapshot& node, const ExtenderArgs& args) {
  double sum = 0, best = std::numeric_limits<double>::infinity();
  int eligible = 0;
  for (const DeviceSnapshot& d : node.devices) {
    if (!Eligible(d, args)) continue;
    if (args.model) {
      if (auto finish = ExpectedFinishMs(d, *args.model)) {
        best = std::min(best, *finish);
        ++eligible;
      }
      continue;
    }
    std::set<std::string> types;
    for (const cluster::VariantKey& m : d.models) types.insert(m.type);
    double device_sum = 0;
    for (const std::string& type : types) {
      device_sum += ExpectedFinishMs(d, {type, ""}).value_or(kDefaultServiceMs);
    }
    sum += types.empty() ? ExpectedFinishMs(d, {"", ""}).value_or(kDefaultServiceMs)
                         : device_sum / static_cast<double>(types.size());
    ++eligible;
  }
  if (eligible == 0) return std::nullopt;
  return args.model ? best : sum / eligible;
}

}  // namespace

std::string ModelRequest::ToString() const {
  return variant.empty() ? type : absl::StrCat(type, "/", variant);
}

absl::StatusOr<ModelRequest> ParseModelAnnotation(std::string_view value) {
  const size_t slash = value.find('/');
  ModelRequest m;
  m.type = std::string(value.substr(0, slash));
  if (slash != std::string_view::npos) m.variant = std::string(value.substr(slash + 1));
  const bool bad_variant = slash != std::string_view::npos &&
                           (m.variant.empty() || m.variant.find('/') != std::string::npos);
  if (m.type.empty() || bad_variant || value.size() > 253) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be \"<type>\" or \"<type>/<variant>\" (e.g. \"face\" or "
                     "\"face/blazeface-front-128\"), not \"",
                     std::string(value.substr(0, 80)), "\""));
  }
  return m;
}

absl::StatusOr<ExtenderArgs> ParseExtenderArgs(std::string_view body) {
  const Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(
        "the body is not JSON: send ExtenderArgs ({\"Pod\": ..., \"NodeNames\": [...]})");
  }
  if (!root.is_object()) return Invalid("ExtenderArgs", "must be a JSON object");
  auto pod = root.find("Pod");
  if (pod == root.end() || pod->is_null()) {
    return absl::InvalidArgumentError("ExtenderArgs.Pod is missing: the pod being scheduled");
  }
  ExtenderArgs args;
  if (absl::Status s = ParsePod(*pod, args); !s.ok()) return s;
  if (absl::Status s = ParseNodes(root, args); !s.ok()) return s;
  return args;
}

DeviceSnapshot DeviceSnapshotFromReport(const cluster::DeviceReport& report) {
  DeviceSnapshot d;
  d.id = report.id;
  d.kind = report.kind;
  d.emulated = report.emulated;
  d.healthy = report.healthy;
  d.pod_assigned = report.pod_assigned;
  d.slots = std::max(1, report.slots);
  d.work_ahead = std::max(0, report.allocated) + std::max(0, report.queue_depth);
  d.models = report.models;
  d.service_ms = report.service_ms;
  return d;
}

std::optional<double> ExpectedFinishMs(const DeviceSnapshot& device, const ModelRequest& model) {
  std::optional<double> service;
  bool loaded = model.type.empty();  // "" = the device's own default figure
  for (const cluster::VariantKey& m : device.models) {
    if (m.type != model.type || (!model.variant.empty() && m.variant != model.variant)) continue;
    loaded = true;
    auto figure = device.service_ms.find(m);
    if (figure != device.service_ms.end() && (!service || figure->second < *service)) {
      service = figure->second;
    }
  }
  if (!loaded) return std::nullopt;
  const int slots = std::max(1, device.slots);
  const double rounds = 1 + std::floor(static_cast<double>(std::max(0, device.work_ahead)) / slots);
  return service.value_or(kDefaultServiceMs) * rounds;
}

FilterResult Filter(const ExtenderArgs& args, const ClusterSnapshot& cluster) {
  FilterResult result;
  for (const std::string& name : args.node_names) {
    if (args.requests.empty()) {
      result.passed.push_back(name);
      continue;
    }
    auto node = cluster.nodes.find(name);
    if (node == cluster.nodes.end()) {
      result.failed_unresolvable[name] =
          "no HeteroAccel agent reports from this node (its agent's node name must be the Node's "
          "name)";
      continue;
    }
    if (!node->second.up) {
      result.failed_unresolvable[name] = "the HeteroAccel agent on this node stopped reporting";
      continue;
    }
    std::vector<std::string> reasons;
    bool resolvable = true;
    for (const auto& [resource, count] : args.requests) {
      if (auto s = CheckResource(node->second, resource, count, args.model)) {
        reasons.push_back(s->reason);
        resolvable = resolvable && s->resolvable;
      }
    }
    if (reasons.empty()) {
      result.passed.push_back(name);
    } else {
      (resolvable ? result.failed : result.failed_unresolvable)[name] =
          absl::StrJoin(reasons, "; ");
    }
  }
  return result;
}

std::vector<HostPriority> Prioritize(const ExtenderArgs& args, const ClusterSnapshot& cluster) {
  std::vector<std::optional<double>> measures(args.node_names.size());
  double best = std::numeric_limits<double>::infinity();
  if (!args.requests.empty()) {
    for (size_t i = 0; i < args.node_names.size(); ++i) {
      auto node = cluster.nodes.find(args.node_names[i]);
      if (node == cluster.nodes.end() || !node->second.up) continue;
      measures[i] = NodeMeasure(node->second, args);
      if (measures[i]) best = std::min(best, *measures[i]);
    }
  }
  std::vector<HostPriority> out;
  out.reserve(args.node_names.size());
  for (size_t i = 0; i < args.node_names.size(); ++i) {
    int64_t score = 0;
    if (measures[i]) {
      score = *measures[i] <= 0 ? 10 : std::llround(10 * best / *measures[i]);
      score = std::clamp<int64_t>(score, 1, 10);
    }
    out.push_back({args.node_names[i], score});
  }
  return out;
}

nlohmann::json FilterResultJson(const ExtenderArgs& args, const FilterResult& result) {
  Json out = {{"FailedNodes", result.failed},
              {"FailedAndUnresolvableNodes", result.failed_unresolvable},
              {"Error", ""}};
  if (args.node_cache_capable) {
    out["NodeNames"] = result.passed;
    out["Nodes"] = nullptr;
    return out;
  }
  // The scheduler uses the Node objects it gets back: echo the kept ones as sent.
  const std::set<std::string> passed(result.passed.begin(), result.passed.end());
  Json list = args.node_list.is_object() ? args.node_list : Json::object();
  const Json items = list.value("items", Json::array());
  Json kept = Json::array();
  for (const Json& item : items) {
    const Json name =
        item.is_object() ? item.value("metadata", Json::object()).value("name", Json()) : Json();
    if (name.is_string() && passed.count(name.get<std::string>()) > 0) kept.push_back(item);
  }
  list["items"] = std::move(kept);
  out["Nodes"] = std::move(list);
  out["NodeNames"] = nullptr;
  return out;
}

nlohmann::json HostPriorityListJson(const std::vector<HostPriority>& priorities) {
  Json out = Json::array();
  for (const HostPriority& p : priorities) out.push_back({{"Host", p.host}, {"Score", p.score}});
  return out;
}

nlohmann::json ErrorJson(const absl::Status& status) {
  return {{"Error", std::string(status.message())}};
}

ExtenderAnswer Answer(std::string_view verb, std::string_view body, const SnapshotFn& snapshot) {
  if (verb != kFilterVerb && verb != kPrioritizeVerb) {
    return {404, ErrorJson(absl::NotFoundError(absl::StrCat(
                     "no extender verb '", std::string(verb.substr(0, 40)), "': use ",
                     std::string(kFilterVerb), " or ", std::string(kPrioritizeVerb))))};
  }
  auto args = ParseExtenderArgs(body);
  if (!args.ok()) return {400, ErrorJson(args.status())};
  const ClusterSnapshot cluster =
      args->requests.empty() ? ClusterSnapshot{} : snapshot(args->node_names);
  if (verb == kFilterVerb) return {200, FilterResultJson(*args, Filter(*args, cluster))};
  return {200, HostPriorityListJson(Prioritize(*args, cluster))};
}

}  // namespace heteroaccel::k8s
