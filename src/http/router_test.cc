#include "http/router.h"

#include <gtest/gtest.h>

namespace heteroaccel::http {
namespace {

// A handler that records which route ran, so a test can tell routes apart.
Handler Tagged(std::string tag, std::string* ran) {
  return [tag = std::move(tag), ran](Request&&, const PathParams&, Responder) { *ran = tag; };
}

std::string RunMatch(const Router& router, std::string_view method, std::string_view path,
                     std::string* ran) {
  Router::Match match = router.Find(method, path);
  if (!match.found()) return "<none>";
  (*match.handler)(Request{}, match.params, [](Response) {});
  return *ran;
}

TEST(RouterTest, MatchesLiteralRoute) {
  std::string ran;
  Router router;
  router.Add("GET", "/v2/health/live", Tagged("live", &ran));
  router.Add("GET", "/v2/health/ready", Tagged("ready", &ran));
  EXPECT_EQ(RunMatch(router, "GET", "/v2/health/ready", &ran), "ready");
  EXPECT_EQ(RunMatch(router, "GET", "/v2/health/live", &ran), "live");
  EXPECT_EQ(router.size(), 2u);
}

TEST(RouterTest, ExtractsParamsInPatternOrder) {
  std::string ran;
  Router router;
  router.Add("POST", "/v2/models/{model}/versions/{version}/infer", Tagged("infer", &ran));
  Router::Match match = router.Find("POST", "/v2/models/resnet/versions/3/infer");
  ASSERT_TRUE(match.found());
  EXPECT_EQ(match.params, (PathParams{{"model", "resnet"}, {"version", "3"}}));
}

TEST(RouterTest, PlaceholderNeedsOneNonEmptySegment) {
  std::string ran;
  Router router;
  router.Add("GET", "/v2/models/{model}", Tagged("model", &ran));
  EXPECT_FALSE(router.Find("GET", "/v2/models//").found());
  EXPECT_FALSE(router.Find("GET", "/v2/models").found());
  EXPECT_FALSE(router.Find("GET", "/v2/models/a/b").found());
  EXPECT_TRUE(router.Find("GET", "/v2/models/a/").found());  // one trailing slash is ignored
}

TEST(RouterTest, LiteralBeatsPlaceholderRegardlessOfOrder) {
  std::string ran;
  Router router;
  router.Add("GET", "/v2/models/{model}", Tagged("model", &ran));
  router.Add("GET", "/v2/models/stats", Tagged("stats", &ran));
  EXPECT_EQ(RunMatch(router, "GET", "/v2/models/stats", &ran), "stats");
  EXPECT_EQ(RunMatch(router, "GET", "/v2/models/resnet", &ran), "model");
}

TEST(RouterTest, MostLiteralSegmentsThenLeftmostLiteralWins) {
  std::string ran;
  Router router;
  router.Add("GET", "/{a}/{b}/c", Tagged("one-literal", &ran));
  router.Add("GET", "/{a}/b/c", Tagged("two-literals-right", &ran));
  router.Add("GET", "/a/{b}/c", Tagged("two-literals-left", &ran));
  EXPECT_EQ(RunMatch(router, "GET", "/a/b/c", &ran), "two-literals-left");
  EXPECT_EQ(RunMatch(router, "GET", "/x/b/c", &ran), "two-literals-right");
  EXPECT_EQ(RunMatch(router, "GET", "/x/y/c", &ran), "one-literal");
}

TEST(RouterTest, DistinguishesNotFoundFromMethodNotAllowed) {
  std::string ran;
  Router router;
  router.Add("GET", "/v2/models/{model}", Tagged("get", &ran));
  router.Add("DELETE", "/v2/models/{model}", Tagged("delete", &ran));
  router.Add("POST", "/v2/models/{model}/infer", Tagged("infer", &ran));

  Router::Match missing = router.Find("GET", "/v3");
  EXPECT_EQ(missing.result, Router::Match::Result::kNotFound);

  Router::Match wrong_method = router.Find("POST", "/v2/models/resnet");
  EXPECT_EQ(wrong_method.result, Router::Match::Result::kMethodNotAllowed);
  EXPECT_EQ(wrong_method.allow, "DELETE, GET");
  EXPECT_EQ(wrong_method.handler, nullptr);
}

TEST(RouterTest, FallsBackToPlaceholderRouteThatHasTheMethod) {
  std::string ran;
  Router router;
  router.Add("GET", "/v2/models/stats", Tagged("stats", &ran));
  router.Add("POST", "/v2/models/{model}", Tagged("post-model", &ran));
  EXPECT_EQ(RunMatch(router, "POST", "/v2/models/stats", &ran), "post-model");
  EXPECT_EQ(router.Find("PUT", "/v2/models/stats").allow, "GET, POST");
}

TEST(RouterTest, MethodsAreCaseSensitive) {
  std::string ran;
  Router router;
  router.Add("GET", "/x", Tagged("x", &ran));
  EXPECT_EQ(router.Find("get", "/x").result, Router::Match::Result::kMethodNotAllowed);
}

TEST(RouterTest, DecodesSegmentsBeforeMatching) {
  std::string ran;
  Router router;
  router.Add("GET", "/v2/models/{model}", Tagged("model", &ran));
  router.Add("GET", "/files/a b", Tagged("space", &ran));

  Router::Match match = router.Find("GET", "/v2/models/a%2Fb");
  ASSERT_TRUE(match.found());
  EXPECT_EQ(match.params, (PathParams{{"model", "a/b"}}));
  EXPECT_EQ(RunMatch(router, "GET", "/files/a%20b", &ran), "space");
  // An encoded brace is data, not a placeholder.
  match = router.Find("GET", "/v2/models/%7Bmodel%7D");
  ASSERT_TRUE(match.found());
  EXPECT_EQ(match.params[0].second, "{model}");
}

TEST(RouterTest, RootAndReplacement) {
  std::string ran;
  Router router;
  router.Add("GET", "/", Tagged("root", &ran));
  router.Add("GET", "/v2/models/{model}", Tagged("first", &ran));
  router.Add("GET", "/v2/models/{name}", Tagged("second", &ran));
  EXPECT_EQ(RunMatch(router, "GET", "/", &ran), "root");
  EXPECT_EQ(RunMatch(router, "GET", "/v2/models/m", &ran), "second");
  EXPECT_EQ(router.size(), 2u);
}

}  // namespace
}  // namespace heteroaccel::http
