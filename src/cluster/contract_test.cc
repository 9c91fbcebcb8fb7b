#include "cluster/contract.h"

#include <gtest/gtest.h>

namespace heteroaccel::cluster {
namespace {

NodeReport SampleReport() {
  NodeReport r;
  r.node = "edge-1";
  r.url = "http://10.0.0.7:8001";
  r.ready = true;
  DeviceReport d;
  d.id = "cpu0";
  d.kind = DeviceKind::kCpu;
  d.name = "Xeon";
  d.slots = 2;
  d.warm = true;
  d.models = {{"face", "blazeface-front-128"}, {"face", "blazeface-back-256"}};
  d.service_ms[{"face", "blazeface-front-128"}] = 4.5;
  d.queue_depth = 3;
  d.allocated = 1;
  d.busy_seconds = 12.25;
  d.healthy = false;
  d.pod_assigned = true;
  d.numa_node = 1;
  r.devices.push_back(d);
  r.group = "line-3";
  r.labels = {{"site", "north"}, {"camera-rack/2", "b"}};
  r.stats.cpu_utilisation = 0.5;
  r.stats.memory_total_bytes = 8e9;
  r.stats.memory_available_bytes = 2e9;
  TypeInfo face;
  face.keypoint_names = {"right_eye", "left_eye"};
  face.skeleton = {{0, 1}};
  face.labels = {"face"};
  face.variants["blazeface-front-128"] = {"BlazeFace", "fp32", "1/1 face", true};
  r.model_info = std::map<std::string, TypeInfo>{{"face", face}};
  return r;
}

TEST(ContractTest, ReportRoundTripsThroughJson) {
  const NodeReport sent = SampleReport();
  auto got = ParseNodeReportBody(ToJson(sent).dump());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->node, "edge-1");
  EXPECT_EQ(got->url, sent.url);
  ASSERT_EQ(got->devices.size(), 1u);
  const DeviceReport& d = got->devices[0];
  EXPECT_EQ(d.kind, DeviceKind::kCpu);
  EXPECT_EQ(d.slots, 2);
  EXPECT_EQ(d.models, sent.devices[0].models);
  EXPECT_DOUBLE_EQ(d.service_ms.at({"face", "blazeface-front-128"}), 4.5);
  EXPECT_DOUBLE_EQ(d.busy_seconds, 12.25);
  EXPECT_FALSE(d.healthy);
  EXPECT_TRUE(d.pod_assigned);
  EXPECT_EQ(d.numa_node, 1);
  EXPECT_EQ(got->group, "line-3");
  EXPECT_EQ(got->labels, sent.labels);
  EXPECT_EQ(got->stats.cpu_utilisation, 0.5);
  EXPECT_EQ(got->stats.memory_available_bytes, 2e9);
  EXPECT_FALSE(got->stats.temperature_celsius.has_value());
  ASSERT_TRUE(got->model_info.has_value());
  EXPECT_EQ(got->model_info->at("face").skeleton, (std::vector<std::pair<int, int>>{{0, 1}}));
  EXPECT_EQ(got->model_info->at("face").variants.at("blazeface-front-128").accuracy, "1/1 face");
}

TEST(ContractTest, ModelInfoIsOptional) {
  NodeReport sent = SampleReport();
  sent.model_info.reset();
  auto got = ParseNodeReport(ToJson(sent));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->model_info.has_value());
}

TEST(ContractTest, RejectsMalformedReportsNamingTheField) {
  const struct {
    const char* body;
    const char* message;
  } cases[] = {
      {"[]", "JSON object"},
      {"not json", "JSON object"},
      {R"({"node":"n","url":"http://a","devices":[],"labels":{"k":1}})", "labels"},
      {R"({"node":"n","url":"http://a","devices":[],"labels":{"-k":"v"}})", "label key"},
      {R"({"node":"n","url":"http://a","devices":[],"group":"a b"})", "group"},
      {R"({"url":"http://a","devices":[]})", "\"node\""},
      {R"({"node":"n","url":"http://a"})", "\"devices\""},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"tpu"}]})",
       "devices[0] unknown device kind"},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu","slots":0}]})",
       "\"slots\""},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu","slots":"2"}]})",
       "\"slots\""},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu","models":["face"]}]})",
       "type/variant"},
      {R"({"node":"n","url":"http://a","devices":[{"kind":"cpu"}]})", "\"id\""},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu"},{"id":"d","kind":"gpu"}]})",
       "repeat"},
      {R"({"node":"n","url":"http://a","devices":[],"model_info":{"face":{"skeleton":[[1]]}}})",
       "model_info.face"},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu","service_ms":{"a/b":-1}}]})",
       "service_ms"},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu","busy_seconds":-1}]})",
       "busy_seconds"},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"cpu","healthy":"yes"}]})",
       "healthy"},
      {R"({"node":"n","url":"http://a","devices":[{"id":"d","kind":"gpu","numa_node":-1}]})",
       "numa_node"},
      {R"({"node":"n","url":"http://a","devices":[],"stats":{"cpu_utilisation":"high"}})",
       "cpu_utilisation"},
      {R"({"node":"n","url":"http://a","devices":[],"stats":[]})", "stats"},
  };
  for (const auto& c : cases) {
    auto got = ParseNodeReportBody(c.body);
    ASSERT_FALSE(got.ok()) << c.body;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(got.status().message().find(c.message), std::string_view::npos)
        << c.body << " -> " << got.status().message();
  }
}

TEST(ContractTest, VariantKeyParsesTypeSlashVariant) {
  auto key = VariantKey::Parse("text/ppocr-v4");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->type, "text");
  EXPECT_EQ(key->variant, "ppocr-v4");
  EXPECT_EQ(key->ToString(), "text/ppocr-v4");
  for (const char* bad : {"", "text", "/v", "t/"}) EXPECT_FALSE(VariantKey::Parse(bad).ok()) << bad;
}

TEST(ContractTest, ReplyAsksForModelInfoWhenUnreadable) {
  EXPECT_FALSE(ParseHeartbeatReply(ToJson(HeartbeatReply{false}).dump()).send_model_info);
  EXPECT_TRUE(ParseHeartbeatReply(ToJson(HeartbeatReply{true}).dump()).send_model_info);
  EXPECT_TRUE(ParseHeartbeatReply("garbage").send_model_info);
}

}  // namespace
}  // namespace heteroaccel::cluster
