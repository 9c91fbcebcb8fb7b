#include "httpapi/responses.h"

#include <gtest/gtest.h>

namespace heteroaccel::httpapi {
namespace {

TEST(ResponsesTest, ErrorResponseCarriesStatusMessageAndRetryAfter) {
  const http::Response r = ErrorResponse(absl::ResourceExhaustedError("queues full"));
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.body.find("queues full"), std::string::npos);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(ErrorResponse(absl::NotFoundError("x")).status, 404);
  EXPECT_TRUE(ErrorResponse(absl::NotFoundError("x")).headers.empty());
}

TEST(ResponsesTest, QueryAndPathValues) {
  EXPECT_EQ(QueryValue("device=cpu0&variant=x", "variant"), "x");
  EXPECT_EQ(QueryValue("device=cpu0&variant=x", "device"), "cpu0");
  EXPECT_EQ(QueryValue("devices=1", "device"), "");
  EXPECT_EQ(QueryValue("", "device"), "");
  EXPECT_EQ(PathParam({{"model", "face"}}, "model"), "face");
  EXPECT_EQ(PathParam({{"model", "face"}}, "version"), "");
  EXPECT_EQ(StatusResponse(503).headers.size(), 1u);
}

TEST(ResponsesTest, BinaryHeaderLengthAndImageContentType) {
  http::Request request;
  EXPECT_EQ(*BinaryHeaderLength(request), std::nullopt);
  request.headers = {{"inference-header-content-length", "42"}, {"content-type", "text/plain"}};
  EXPECT_EQ(*BinaryHeaderLength(request), std::optional<size_t>(42));
  const absl::Status bad_type = CheckImageContentType(request);
  EXPECT_EQ(ErrorResponse(bad_type).status, 415);
  EXPECT_NE(bad_type.message().find("send image/jpeg or image/png"), absl::string_view::npos);
  request.headers = {{"inference-header-content-length", "4x"}, {"content-type", "image/png"}};
  EXPECT_EQ(BinaryHeaderLength(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckImageContentType(request).ok());
}

}  // namespace
}  // namespace heteroaccel::httpapi
