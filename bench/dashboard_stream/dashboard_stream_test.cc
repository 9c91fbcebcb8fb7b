#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "cluster/contract.h"
#include "sse_client.h"
#include "synthetic_fleet.h"

namespace heteroaccel::bench {
namespace {

TEST(SyntheticFleetTest, ReportsAreValidHeartbeatsMarkedSynthetic) {
  SyntheticFleet fleet({.nodes = 20, .devices_per_node = 4, .seed = 7});
  std::set<DeviceKind> kinds;
  for (int i = 0; i < fleet.size(); ++i) {
    auto parsed = cluster::ParseNodeReport(cluster::ToJson(fleet.Beat(i, 0, true)));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->node, SyntheticFleet::NodeName(i));
    EXPECT_NE(parsed->node.find("synthetic"), std::string::npos);
    EXPECT_NE(parsed->group.find("synthetic"), std::string::npos);
    EXPECT_TRUE(parsed->model_info.has_value());
    ASSERT_EQ(parsed->devices.size(), 4u);
    EXPECT_EQ(parsed->devices[0].kind, DeviceKind::kCpu);
    std::set<std::string> ids;
    for (const cluster::DeviceReport& d : parsed->devices) {
      EXPECT_TRUE(d.emulated);
      EXPECT_NE(d.name.find("synthetic"), std::string::npos) << d.name;
      EXPECT_FALSE(d.models.empty());
      EXPECT_TRUE(ids.insert(d.id).second) << "duplicate device id " << d.id;
      kinds.insert(d.kind);
    }
  }
  EXPECT_EQ(kinds, (std::set<DeviceKind>{DeviceKind::kCpu, DeviceKind::kGpu, DeviceKind::kNpu,
                                         DeviceKind::kFpga}));
}

TEST(SyntheticFleetTest, BusySecondsGrowWithinTheSlotsElapsedTime) {
  SyntheticFleet fleet({.nodes = 3, .devices_per_node = 4, .seed = 3});
  std::vector<double> last(4, 0);
  bool changed = false;
  for (int beat = 0; beat <= 50; ++beat) {
    const cluster::NodeReport r = fleet.Beat(1, beat * 0.2, false);
    EXPECT_FALSE(r.model_info.has_value());
    for (size_t d = 0; d < r.devices.size(); ++d) {
      const double growth = r.devices[d].busy_seconds - last[d];
      EXPECT_GE(growth, 0);
      EXPECT_LE(growth, r.devices[d].slots * 0.2 + 1e-9);
      EXPECT_LE(r.devices[d].allocated, r.devices[d].slots);
      if (beat > 0 && growth > 0) changed = true;
      last[d] = r.devices[d].busy_seconds;
    }
    ASSERT_TRUE(r.stats.cpu_utilisation.has_value());
    EXPECT_GE(*r.stats.cpu_utilisation, 0);
    EXPECT_LE(*r.stats.cpu_utilisation, 1);
    EXPECT_LT(*r.stats.memory_available_bytes, *r.stats.memory_total_bytes);
  }
  EXPECT_TRUE(changed);
}

TEST(SyntheticFleetTest, SameSeedSameFigures) {
  SyntheticFleet a({.nodes = 5, .seed = 11});
  SyntheticFleet b({.nodes = 5, .seed = 11});
  SyntheticFleet c({.nodes = 5, .seed = 12});
  for (double t : {0.0, 0.2, 0.4}) {
    EXPECT_EQ(cluster::ToJson(a.Beat(4, t, false)), cluster::ToJson(b.Beat(4, t, false)));
  }
  EXPECT_NE(cluster::ToJson(a.Beat(4, 0.6, false)), cluster::ToJson(c.Beat(4, 0.6, false)));
}

std::vector<SseEvent> FeedAll(SseParser& parser, const std::vector<std::string>& pieces) {
  std::vector<SseEvent> events;
  for (const std::string& p : pieces) {
    parser.Feed(p, [&events](const SseEvent& e) { events.push_back(e); });
  }
  return events;
}

TEST(SseParserTest, SplitsEventsAcrossReads) {
  SseParser parser;
  const auto events = FeedAll(
      parser, {"event: snap", "shot\nid: 41\ndata: {\"seq\":41}\n", "\nevent: patch\ndata:{}\n\n"});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "snapshot");
  EXPECT_EQ(events[0].id, "41");
  EXPECT_EQ(events[0].data, "{\"seq\":41}");
  EXPECT_EQ(events[1].type, "patch");
  EXPECT_EQ(events[1].data, "{}");
}

TEST(SseParserTest, CrLfMultiLineDataCommentsAndEmptyEvents) {
  SseParser parser;
  const auto events = FeedAll(parser, {": keep-alive\r\n\r\n", "event: x\r\n\r\n",
                                       "data: a\r\ndata: b\r\n\r\n", "data: incomplete\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "message");
  EXPECT_EQ(events[0].data, "a\nb");
  EXPECT_EQ(parser.comments(), 1u);
}

}  // namespace
}  // namespace heteroaccel::bench
