#include "k8s/service/service_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace heteroaccel::k8s {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TestData(const std::string& name) {
  const char* root = std::getenv("HETEROACCEL_SOURCE_DIR");
  return std::string(root ? root : ".") + "/src/k8s/service/testdata/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr char kGsEngine[] = R"(
name: face-detect
image: registry.example/heteroaccel/face:1.0
ports: [{name: http, port: 8080}]
resources: {cpu: "2", memory: 4Gi}
acceleration: {compute: [{gpu: 1}], topologyAware: true, communication: sriov}
)";

// Golden files: testdata/<name>.service.yaml renders to <name>.rendered.yaml.
// HETEROACCEL_UPDATE_GOLDEN=1 rewrites the expected files (review the diff).
class ServiceSpecGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ServiceSpecGoldenTest, RendersTheExpectedManifests) {
  const std::string input = TestData(GetParam() + ".service.yaml");
  const std::string expected_path = TestData(GetParam() + ".rendered.yaml");
  absl::StatusOr<ServiceSpec> spec = ParseServiceSpec(ReadFile(input));
  ASSERT_TRUE(spec.ok()) << input << ": " << spec.status();
  const std::string rendered = Render(*spec);
  if (std::getenv("HETEROACCEL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(expected_path, std::ios::binary) << rendered;
  }
  EXPECT_EQ(rendered, ReadFile(expected_path)) << "golden file " << expected_path;
}

INSTANTIATE_TEST_SUITE_P(Testdata, ServiceSpecGoldenTest,
                         ::testing::Values("gs_engine", "minimal", "emulated_multi",
                                           "sriov_resource"));

std::vector<YAML::Node> RenderedDocuments(const std::string& yaml) {
  absl::StatusOr<ServiceSpec> spec = ParseServiceSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return {};
  return YAML::LoadAll(Render(*spec));
}

TEST(ServiceSpecTest, TopologyAwareIsGuaranteedQosWithExtendedResources) {
  const std::vector<YAML::Node> docs = RenderedDocuments(kGsEngine);
  ASSERT_EQ(docs.size(), 2u);
  const YAML::Node deployment = docs[0];
  EXPECT_EQ(deployment["apiVersion"].as<std::string>(), "apps/v1");
  EXPECT_EQ(deployment["kind"].as<std::string>(), "Deployment");
  const YAML::Node pod = deployment["spec"]["template"];
  const YAML::Node resources = pod["spec"]["containers"][0]["resources"];
  // Guaranteed QoS: every resource's limit equals its request, cpu and memory included.
  for (const char* name : {"cpu", "memory", "heteroaccel.io/gpu"}) {
    ASSERT_TRUE(resources["limits"][name]) << name;
    EXPECT_EQ(resources["limits"][name].as<std::string>(),
              resources["requests"][name].as<std::string>())
        << name;
  }
  EXPECT_EQ(resources["limits"]["heteroaccel.io/gpu"].as<std::string>(), "1");
  EXPECT_EQ(resources["limits"]["cpu"].as<std::string>(), "2");
  EXPECT_EQ(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"].as<std::string>(),
            "sriov-net");
  EXPECT_EQ(pod["metadata"]["annotations"]["heteroaccel.io/numa-alignment"].as<std::string>(),
            "single-numa-node");
  // The selector picks the pods the template makes; the Service selects them too.
  for (const auto& label : deployment["spec"]["selector"]["matchLabels"]) {
    const std::string key = label.first.as<std::string>();
    EXPECT_EQ(pod["metadata"]["labels"][key].as<std::string>(), label.second.as<std::string>());
    EXPECT_EQ(docs[1]["spec"]["selector"][key].as<std::string>(), label.second.as<std::string>());
  }
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "Service");
  EXPECT_EQ(docs[1]["spec"]["ports"][0]["targetPort"].as<int>(), 8080);
}

TEST(ServiceSpecTest, WithoutTopologyCpuAndMemoryAreRequestsOnly) {
  const std::vector<YAML::Node> docs = RenderedDocuments(R"(
name: ocr
image: ocr:1
resources: {cpu: 500m, memory: 1Gi}
acceleration: {compute: [{npu: 2}]}
)");
  ASSERT_EQ(docs.size(), 1u);  // no ports, no Service
  const YAML::Node resources = docs[0]["spec"]["template"]["spec"]["containers"][0]["resources"];
  EXPECT_EQ(resources["requests"]["cpu"].as<std::string>(), "500m");
  EXPECT_FALSE(resources["limits"]["cpu"]);
  EXPECT_EQ(resources["limits"]["heteroaccel.io/npu"].as<std::string>(), "2");
  EXPECT_EQ(resources["requests"]["heteroaccel.io/npu"].as<std::string>(), "2");
  EXPECT_FALSE(docs[0]["spec"]["template"]["metadata"]["annotations"]);
}

TEST(ServiceSpecTest, AcceptsGsEngineSpellings) {
  absl::StatusOr<ServiceSpec> spec = ParseServiceSpec(R"(
service:
  name: app2
  image: k8s.gcr.io/echoserver:1.10
  ports: [{containerPort: 8080, protocol: tcp, externalPort: 80}]
  resources: {cpu: "1", memory: 500Mi}
  acceleration: {topologyAware: true, compute: [{"GPU": 1}], communication: SRIOV}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->compute.size(), 1u);
  EXPECT_EQ(ResourceName(spec->compute[0]), "heteroaccel.io/gpu");
  EXPECT_EQ(spec->communication, Communication::kSriov);
  EXPECT_EQ(spec->ports[0].port, 8080);
  EXPECT_EQ(spec->ports[0].service_port, 80);
  EXPECT_EQ(spec->ports[0].protocol, "TCP");
}

TEST(ServiceSpecTest, EmulatedKindsNameTheEmulatedResource) {
  absl::StatusOr<ServiceSpec> spec = ParseServiceSpec(
      "name: a\nimage: a:1\nacceleration: {compute: [{emulated-gpu: 1}, {fpga: 1}]}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(ResourceName(spec->compute[0]), "heteroaccel.io/emulated-gpu");
  EXPECT_EQ(ResourceName(spec->compute[1]), "heteroaccel.io/fpga");
  spec = ParseServiceSpec(
      "name: a\nimage: a:1\nacceleration: {emulated: true, compute: [{gpu: 1}, {npu: 1}]}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(ResourceName(spec->compute[0]), "heteroaccel.io/emulated-gpu");
  EXPECT_EQ(ResourceName(spec->compute[1]), "heteroaccel.io/emulated-npu");
}

TEST(ServiceSpecTest, RenderIsDeterministic) {
  absl::StatusOr<ServiceSpec> spec = ParseServiceSpec(kGsEngine);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(Render(*spec), Render(*ParseServiceSpec(kGsEngine)));
}

TEST(ParseQuantityTest, ReadsKubernetesQuantities) {
  EXPECT_DOUBLE_EQ(*ParseQuantity("500m"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseQuantity("2"), 2);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1.5"), 1.5);
  EXPECT_DOUBLE_EQ(*ParseQuantity("4Gi"), 4.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*ParseQuantity("128974848"), 128974848);
  EXPECT_DOUBLE_EQ(*ParseQuantity("129e6"), 129e6);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1k"), 1000);
  for (const char* bad : {"", "-1", "abc", "1GB", "1.2.3", "Gi", "1 Gi", "1e", "1ki"}) {
    EXPECT_EQ(ParseQuantity(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// Each bad input: the error is InvalidArgument, starts with the field's path and
// says what is wrong or allowed.
struct BadCase {
  const char* yaml;
  const char* field;    // the message starts with "<field>: "
  const char* detail;   // and contains this
};

const BadCase kBadCases[] = {
    {"image: a:1\n", "name", "required"},
    {"name: Face_Detect\nimage: a:1\n", "name", "DNS label"},
    {"name: 1face\nimage: a:1\n", "name", "starting with a letter"},
    {"name: a\n", "image", "required"},
    {"name: a\nimage: \"a b\"\n", "image", "without blanks"},
    {"name: a\nimage: a:1\nnamespace: Prod\n", "namespace", "DNS label"},
    {"name: a\nimage: a:1\nreplicas: -1\n", "replicas", "from 0 to 1000"},
    {"name: a\nimage: a:1\nreplicas: two\n", "replicas", "whole number"},
    {"name: a\nimage: a:1\nimagePullPolicy: Always\n", "imagePullPolicy",
     "unknown key; allowed keys here: name, namespace, image"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{tpu: 1}]}\n", "acceleration.compute[0]",
     "unknown kind \"tpu\"; accepted: gpu, npu, fpga, other"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{cpu: 4}]}\n", "acceleration.compute[0]",
     "resources.cpu"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{emulated-cpu: 1}]}\n",
     "acceleration.compute[0]", "not an accelerator"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{gpu: 0}]}\n", "acceleration.compute[0].gpu",
     "from 1 to 16"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{gpu: 1.5}]}\n",
     "acceleration.compute[0].gpu", "whole number"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{gpu: 17}]}\n", "acceleration.compute[0].gpu",
     "from 1 to 16"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{gpu: 10}, {npu: 10}]}\n",
     "acceleration.compute", "at most 16 per pod"},
    {"name: a\nimage: a:1\nacceleration: {compute: [{gpu: 1}, {GPU: 2}]}\n",
     "acceleration.compute[1].GPU", "more than once"},
    {"name: a\nimage: a:1\nacceleration: {emulated: true, compute: [{gpu: 1}, {emulated-gpu: 1}]}\n",
     "acceleration.compute[1].emulated-gpu", "more than once"},
    {"name: a\nimage: a:1\nacceleration: {compute: {gpu: 1}}\n", "acceleration.compute",
     "must be a list"},
    {"name: a\nimage: a:1\nacceleration: {compute: [gpu]}\n", "acceleration.compute[0]",
     "{<kind>: <count>}"},
    {"name: a\nimage: a:1\nacceleration: {toploygyAware: true}\n", "acceleration.toploygyAware",
     "unknown key; allowed keys here: compute, emulated, topologyAware"},
    {"name: a\nimage: a:1\nacceleration: {topologyAware: yes-please}\n",
     "acceleration.topologyAware", "true or false"},
    {"name: a\nimage: a:1\nacceleration: {topologyAware: true}\n", "resources.cpu",
     "topologyAware needs Guaranteed QoS"},
    {"name: a\nimage: a:1\nresources: {cpu: 2}\nacceleration: {topologyAware: true}\n",
     "resources.memory", "topologyAware needs Guaranteed QoS"},
    {"name: a\nimage: a:1\nresources: {cpu: 200m, memory: 1Gi}\n"
     "acceleration: {topologyAware: true}\n",
     "resources.cpu", "whole CPUs"},
    {"name: a\nimage: a:1\nacceleration: {communication: infiniband}\n",
     "acceleration.communication", "allowed: none, sriov"},
    {"name: a\nimage: a:1\nacceleration: {network: sriov-net1}\n", "acceleration.network",
     "only with communication: sriov"},
    {"name: a\nimage: a:1\nacceleration: {communication: sriov, network: \"Bad Net\"}\n",
     "acceleration.network", "NetworkAttachmentDefinition"},
    {"name: a\nimage: a:1\nacceleration: {communication: sriov, sriovResource: \"intel sriov\"}\n",
     "acceleration.sriovResource", "<domain>/<name>"},
    {"name: a\nimage: a:1\nresources: {cpu: lots}\n", "resources.cpu", "not a Kubernetes quantity"},
    {"name: a\nimage: a:1\nresources: {cpu: \"-1\"}\n", "resources.cpu", "negative"},
    {"name: a\nimage: a:1\nresources: {cpu: 0}\n", "resources.cpu", "more than 0"},
    {"name: a\nimage: a:1\nresources: {cpu: 0.0001}\n", "resources.cpu", "1m"},
    {"name: a\nimage: a:1\nresources: {memory: 500m}\n", "resources.memory", "500Mi"},
    {"name: a\nimage: a:1\nresources: {requests: {cpu: 1}}\n", "resources.requests",
     "allowed keys here: cpu, memory"},
    {"name: a\nimage: a:1\nports: [{name: http}]\n", "ports[0].port", "required"},
    {"name: a\nimage: a:1\nports: [{port: 70000}]\n", "ports[0].port", "from 1 to 65535"},
    {"name: a\nimage: a:1\nports: [{port: 80, protocol: http}]\n", "ports[0].protocol",
     "allowed: TCP, UDP, SCTP"},
    {"name: a\nimage: a:1\nports: [{port: 80}, {port: 81}]\n", "ports[0].name",
     "required when the service has several ports"},
    {"name: a\nimage: a:1\nports: [{name: a, port: 80}, {name: a, port: 81}]\n", "ports[1].name",
     "used twice"},
    {"name: a\nimage: a:1\nports: [{name: a, port: 80}, {name: b, port: 80}]\n", "ports[1].port",
     "used twice"},
    {"name: a\nimage: a:1\nports: [{name: Http_Port, port: 80}]\n", "ports[0].name",
     "at most 15"},
    {"name: a\nimage: a:1\nports: [{port: 80, containerPort: 80}]\n", "ports[0].containerPort",
     "not both"},
    {"name: a\nimage: a:1\nmodel: \"Face Detector\"\n", "model", "<type>/<variant>"},
    {"name: a\nimage: a:1\nenv: [A]\n", "env", "mapping"},
    {"name: a\nimage: a:1\nenv: {1A: x}\n", "env", "not starting with a digit"},
    {"name: a\nimage: a:1\nenv: {A: [x]}\n", "env.A", "must be a string"},
    {"name: a\nimage: a:1\nname: b\n", "name", "given more than once"},
    {"name: a\nimage: [a:1\n", "service", "not valid YAML at line"},
    {"- a\n- b\n", "service", "YAML mapping"},
    {"", "service", "YAML mapping"},
    {"name: a\nimage: a\xff\n", "image", "UTF-8"},
    {"name: a\nimage: a:1\nenv: {A: a\xC0\xAF}\n", "env.A", "UTF-8"},  // overlong "/"
};

TEST(ServiceSpecTest, BadInputsNameTheField) {
  for (const BadCase& bad : kBadCases) {
    SCOPED_TRACE(bad.yaml);
    absl::StatusOr<ServiceSpec> spec = ParseServiceSpec(bad.yaml);
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(spec.status().message()), StartsWith(std::string(bad.field) + ": "));
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(bad.detail));
  }
}

TEST(ServiceSpecTest, RejectsOversizedAndDeeplyNestedInput) {
  EXPECT_THAT(std::string(ParseServiceSpec(std::string(kMaxSpecBytes + 1, ' ')).status().message()),
              HasSubstr("at most"));
  // Deep nesting must come back as an error, not a stack overflow.
  const std::string deep = "name: a\nimage: a:1\nenv: " + std::string(100000, '[');
  EXPECT_EQ(ParseServiceSpec(deep).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace heteroaccel::k8s
