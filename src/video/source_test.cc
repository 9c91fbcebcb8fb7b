#include "video/source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace heteroaccel::video {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

absl::Status Error(const json& j) { return ParseSourceSpec(j, "c1").status(); }

TEST(ParseSourceSpecTest, ReadsAFileWithDefaults) {
  auto spec = ParseSourceSpec(json{{"type", "file"}, {"path", "/data/vtest.avi"}}, "c1");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->type, SourceType::kFile);
  EXPECT_EQ(spec->path, "/data/vtest.avi");
  EXPECT_FALSE(spec->loop);
  EXPECT_FALSE(spec->realtime);
  EXPECT_FALSE(spec->fps.has_value());
  EXPECT_FALSE(spec->Live());
}

TEST(ParseSourceSpecTest, ReadsEveryType) {
  auto rtsp =
      ParseSourceSpec(json{{"type", "rtsp"}, {"url", "rtsp://10.0.0.7/s"}, {"fps", 5}}, "c");
  ASSERT_TRUE(rtsp.ok()) << rtsp.status();
  EXPECT_EQ(rtsp->url, "rtsp://10.0.0.7/s");
  EXPECT_EQ(rtsp->fps, 5);
  EXPECT_TRUE(rtsp->Live());
  auto mjpeg = ParseSourceSpec(json{{"type", "mjpeg"}, {"url", "https://cam/video.mjpg"}}, "c");
  ASSERT_TRUE(mjpeg.ok()) << mjpeg.status();
  EXPECT_EQ(mjpeg->type, SourceType::kMjpeg);
  auto push = ParseSourceSpec(json{{"type", "push"}, {"fps", 0.5}}, "c");
  ASSERT_TRUE(push.ok()) << push.status();
  EXPECT_EQ(push->type, SourceType::kPush);
  EXPECT_EQ(push->fps, 0.5);
  auto realtime = ParseSourceSpec(
      json{{"type", "file"}, {"path", "a.avi"}, {"realtime", true}, {"loop", true}, {"fps", 2}},
      "c");
  ASSERT_TRUE(realtime.ok()) << realtime.status();
  EXPECT_TRUE(realtime->Live());
  EXPECT_TRUE(realtime->loop);
}

TEST(ParseSourceSpecTest, RoundTripsThroughJson) {
  for (const json& j :
       {json{{"type", "file"}, {"path", "x.avi"}, {"loop", true}},
        json{{"type", "file"}, {"path", "x.avi"}, {"realtime", true}, {"fps", 3}},
        json{{"type", "rtsp"}, {"url", "rtsp://h:8554/a"}},
        json{{"type", "mjpeg"}, {"url", "http://h/a"}, {"fps", 1}}, json{{"type", "push"}}}) {
    auto spec = ParseSourceSpec(j, "c");
    ASSERT_TRUE(spec.ok()) << spec.status() << " for " << j.dump();
    auto again = ParseSourceSpec(ToJson(*spec), "c");
    ASSERT_TRUE(again.ok()) << again.status() << " for " << ToJson(*spec).dump();
    EXPECT_EQ(*again, *spec) << j.dump();
  }
  EXPECT_EQ(ToJson(*ParseSourceSpec(json{{"type", "file"}, {"path", "x"}}, "c")),
            json({{"type", "file"}, {"path", "x"}, {"loop", false}, {"realtime", false}}));
}

TEST(ParseSourceSpecTest, ErrorsNameTheCameraAndTheKey) {
  absl::Status s = Error(json{{"type", "rtsp"}, {"url", "http://x"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "camera \"c1\": source: key \"url\": must start with rtsp://");
  EXPECT_EQ(Error(json{{"type", "file"}, {"path", "a"}, {"foo", 1}}).message(),
            "camera \"c1\": source: unknown key \"foo\" (known: type, path, url, loop, realtime, "
            "fps)");
  EXPECT_THAT(Error(json{{"type", "mjpeg"}, {"url", "rtsp://x"}}).message(),
              HasSubstr("key \"url\": must start with http:// or https://"));
}

TEST(ParseSourceSpecTest, RejectsBadDocuments) {
  struct Case {
    json doc;
    std::string message;
  };
  const Case cases[] = {
      {json::array(), "source: must be an object"},
      {json("rtsp://x"), "source: must be an object"},
      {json::object(), "key \"type\": is required"},
      {json{{"type", 3}}, "key \"type\": must be a string"},
      {json{{"type", "webcam"}}, "key \"type\": unknown source type \"webcam\""},
      {json{{"type", "file"}}, "key \"path\": is required"},
      {json{{"type", "file"}, {"path", ""}}, "key \"path\": must not be empty"},
      {json{{"type", "file"}, {"path", 7}}, "key \"path\": must be a string"},
      {json{{"type", "file"}, {"path", std::string(5000, 'a')}}, "key \"path\": must be at most"},
      {json{{"type", "file"}, {"path", "a\nb"}}, "key \"path\": must not contain control"},
      {json{{"type", "file"}, {"path", "a"}, {"url", "rtsp://x"}}, "key \"url\": only for rtsp"},
      {json{{"type", "file"}, {"path", "a"}, {"loop", "yes"}},
       "key \"loop\": must be true or false"},
      {json{{"type", "file"}, {"path", "a"}, {"fps", 5}}, "key \"fps\": only for live sources"},
      {json{{"type", "rtsp"}}, "key \"url\": is required"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"path", "a"}}, "key \"path\": only for file"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"loop", true}}, "key \"loop\": only for file"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"realtime", true}},
       "key \"realtime\": only for file"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"fps", 0}}, "key \"fps\": must be > 0"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"fps", -1}}, "key \"fps\": must be > 0"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"fps", 1e9}}, "key \"fps\": must be > 0"},
      {json{{"type", "rtsp"}, {"url", "rtsp://x"}, {"fps", "5"}}, "key \"fps\": must be a number"},
      {json{{"type", "push"}, {"url", "rtsp://x"}}, "key \"url\": only for rtsp and mjpeg"},
  };
  for (const Case& c : cases) {
    absl::Status s = Error(c.doc);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.doc.dump();
    EXPECT_THAT(s.message(), HasSubstr("camera \"c1\": source: ")) << c.doc.dump();
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.doc.dump();
  }
}

}  // namespace
}  // namespace heteroaccel::video
