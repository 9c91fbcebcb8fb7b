#include "http/internal/url.h"

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"

namespace heteroaccel::http {
namespace {

TEST(UrlTest, PercentDecode) {
  std::string out;
  ASSERT_TRUE(internal::PercentDecode("/a%20b/%7e+", out));
  EXPECT_EQ(out, "/a b/~+");
  EXPECT_FALSE(internal::PercentDecode("/a%2", out));
  EXPECT_FALSE(internal::PercentDecode("/a%zz", out));
  EXPECT_FALSE(internal::PercentDecode("%", out));
}

TEST(UrlTest, SplitTarget) {
  std::string_view path;
  std::string_view query;
  internal::SplitTarget("/v2/models?x=1&y", path, query);
  EXPECT_EQ(path, "/v2/models");
  EXPECT_EQ(query, "x=1&y");
  internal::SplitTarget("http://host:80/v2?q", path, query);
  EXPECT_EQ(path, "/v2");
  EXPECT_EQ(query, "q");
  internal::SplitTarget("http://host:80", path, query);
  EXPECT_EQ(path, "/");
}

TEST(ParseHostPortTest, AcceptsUrlsAndHostPorts) {
  using HostPort = std::pair<std::string, uint16_t>;
  EXPECT_EQ(*ParseHostPort("http://127.0.0.1:8000"), (HostPort{"127.0.0.1", 8000}));
  EXPECT_EQ(*ParseHostPort("http://edge-1:8000/v2"), (HostPort{"edge-1", 8000}));
  EXPECT_EQ(*ParseHostPort("localhost:9"), (HostPort{"localhost", 9}));
  EXPECT_EQ(*ParseHostPort("[::1]:8000"), (HostPort{"::1", 8000}));
  EXPECT_EQ(*ParseHostPort("http://example"), (HostPort{"example", 80}));
}

TEST(ParseHostPortTest, RejectsBadInputNamingIt) {
  for (std::string_view bad :
       {"localhost", "h:0", "h:65536", "h:x", ":80", "https://h:1", "[::1", "::1:80"}) {
    absl::StatusOr<std::pair<std::string, uint16_t>> parsed = ParseHostPort(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find(std::string(bad)), std::string_view::npos) << bad;
  }
}

TEST(ParseListenAddressTest, AcceptsHostPortWithPortZeroAndIpv6) {
  auto a = ParseListenAddress("0.0.0.0:0");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->first, "0.0.0.0");
  EXPECT_EQ(a->second, 0);
  auto b = ParseListenAddress("[::1]:8000");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->first, "::1");
  EXPECT_EQ(b->second, 8000);
  EXPECT_EQ(ParseListenAddress("edge-1:65535")->second, 65535);
}

TEST(ParseListenAddressTest, RejectsWithAnExample) {
  for (const char* bad : {"", "8000", ":8000", "host:", "host:65536", "host:80x", "::1:80",
                          "[::1:80", "[]:80"}) {
    auto r = ParseListenAddress(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("HOST:PORT"), std::string::npos) << r.status();
  }
}

}  // namespace
}  // namespace heteroaccel::http
