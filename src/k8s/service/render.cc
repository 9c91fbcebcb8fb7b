// Render(): a ServiceSpec -> a Deployment and a Service, through yaml-cpp's
// emitter. Keys are written in a fixed order so the output is byte-stable.
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "k8s/service/service_spec.h"

namespace heteroaccel::k8s {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A YAML 1.1 reader (Go's yaml, kubectl) would take these plain scalars for a
// number, a bool or null; they are quoted so they stay strings.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  const char c = s.front();
  if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') return true;
  const std::string lower = absl::AsciiStrToLower(s);
  for (const char* word : {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}) {
    if (lower == word) return true;
  }
  return false;
}

void String(YAML::Emitter& out, const std::string& s) {
  if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

void Entry(YAML::Emitter& out, const std::string& key, const std::string& value) {
  out << YAML::Key << key << YAML::Value;
  String(out, value);
}

void Map(YAML::Emitter& out, const std::string& key, const Pairs& pairs) {
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : pairs) Entry(out, k, v);
  out << YAML::EndMap;
}

Pairs Labels(const ServiceSpec& spec) {
  return {{"app.kubernetes.io/name", spec.name},
          {"app.kubernetes.io/part-of", "heteroaccel"},
          {"app.kubernetes.io/managed-by", "heteroaccel"}};
}

void Metadata(YAML::Emitter& out, const ServiceSpec& spec) {
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  Entry(out, "name", spec.name);
  if (!spec.namespace_name.empty()) Entry(out, "namespace", spec.namespace_name);
  Map(out, "labels", Labels(spec));
  out << YAML::EndMap;
}

Pairs PodAnnotations(const ServiceSpec& spec) {
  Pairs annotations;
  if (!spec.model.empty()) annotations.emplace_back(std::string(kModelAnnotation), spec.model);
  if (spec.topology_aware) {
    annotations.emplace_back(std::string(kNumaAlignmentAnnotation), "single-numa-node");
  }
  if (spec.communication == Communication::kSriov) {
    annotations.emplace_back("k8s.v1.cni.cncf.io/networks", spec.network);
  }
  return annotations;
}

// requests and limits: cpu/memory requested (and limited too when topology-aware,
// for Guaranteed QoS); extended resources always with limits == requests.
void Resources(YAML::Emitter& out, const ServiceSpec& spec) {
  Pairs extended;
  for (const ComputeRequest& request : spec.compute) {
    extended.emplace_back(ResourceName(request), absl::StrCat(request.count));
  }
  if (!spec.sriov_resource.empty()) extended.emplace_back(spec.sriov_resource, "1");
  Pairs requests;
  if (!spec.cpu.empty()) requests.emplace_back("cpu", spec.cpu);
  if (!spec.memory.empty()) requests.emplace_back("memory", spec.memory);
  Pairs limits = spec.topology_aware ? requests : Pairs{};
  requests.insert(requests.end(), extended.begin(), extended.end());
  limits.insert(limits.end(), extended.begin(), extended.end());
  if (requests.empty()) return;
  out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  Map(out, "requests", requests);
  if (!limits.empty()) Map(out, "limits", limits);
  out << YAML::EndMap;
}

void Container(YAML::Emitter& out, const ServiceSpec& spec) {
  out << YAML::BeginMap;
  Entry(out, "name", spec.name);
  Entry(out, "image", spec.image);
  if (!spec.ports.empty()) {
    out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
    for (const Port& port : spec.ports) {
      out << YAML::BeginMap;
      if (!port.name.empty()) Entry(out, "name", port.name);
      out << YAML::Key << "containerPort" << YAML::Value << port.port;
      Entry(out, "protocol", port.protocol);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!spec.env.empty()) {
    out << YAML::Key << "env" << YAML::Value << YAML::BeginSeq;
    for (const auto& [name, value] : spec.env) {
      out << YAML::BeginMap;
      Entry(out, "name", name);
      Entry(out, "value", value);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  Resources(out, spec);
  out << YAML::EndMap;
}

std::string Deployment(const ServiceSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Entry(out, "apiVersion", "apps/v1");
  Entry(out, "kind", "Deployment");
  Metadata(out, spec);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "replicas" << YAML::Value << spec.replicas;
  out << YAML::Key << "selector" << YAML::Value << YAML::BeginMap;
  Map(out, "matchLabels", {{"app.kubernetes.io/name", spec.name}});
  out << YAML::EndMap;
  out << YAML::Key << "template" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  Map(out, "labels", Labels(spec));
  if (const Pairs annotations = PodAnnotations(spec); !annotations.empty()) {
    Map(out, "annotations", annotations);
  }
  out << YAML::EndMap;
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq;
  Container(out, spec);
  out << YAML::EndSeq << YAML::EndMap;  // template.spec
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;  // template, spec, root
  return out.c_str();
}

std::string Service(const ServiceSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Entry(out, "apiVersion", "v1");
  Entry(out, "kind", "Service");
  Metadata(out, spec);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  Map(out, "selector", {{"app.kubernetes.io/name", spec.name}});
  out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
  for (const Port& port : spec.ports) {
    out << YAML::BeginMap;
    if (!port.name.empty()) Entry(out, "name", port.name);
    out << YAML::Key << "port" << YAML::Value << port.service_port;
    out << YAML::Key << "targetPort" << YAML::Value << port.port;
    Entry(out, "protocol", port.protocol);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
  return out.c_str();
}

// Comment lines heading the output: what was rendered and what the cluster
// must provide for it to mean what the spec asked.
std::string Header(const ServiceSpec& spec) {
  std::string header = absl::StrCat(
      "# Rendered by `heteroaccel k8s render` from the service definition \"", spec.name,
      "\".\n# Edit the definition and render again rather than editing this file.\n");
  if (!spec.compute.empty()) {
    absl::StrAppend(&header,
                    "# heteroaccel.io/* resources are advertised by the HeteroAccel agent's "
                    "device plugin.\n");
  }
  if (spec.topology_aware) {
    absl::StrAppend(
        &header,
        "# topologyAware: Guaranteed QoS with whole CPUs. The CPUs, memory and devices land on\n"
        "# one NUMA node only where the kubelet runs --topology-manager-policy=single-numa-node\n"
        "# and --cpu-manager-policy=static; elsewhere the pod runs without that alignment.\n");
  }
  if (spec.communication == Communication::kSriov) {
    absl::StrAppend(&header, "# communication: sriov needs Multus and the NetworkAttachmentDefinition\n# \"",
                    spec.network, "\"",
                    spec.sriov_resource.empty() ? "" : " and the SR-IOV network device plugin", ".\n");
  }
  return header;
}

}  // namespace

std::string Render(const ServiceSpec& spec) {
  std::string text = Header(spec);
  absl::StrAppend(&text, "---\n", Deployment(spec), "\n");
  if (!spec.ports.empty()) absl::StrAppend(&text, "---\n", Service(spec), "\n");
  return text;
}

}  // namespace heteroaccel::k8s
