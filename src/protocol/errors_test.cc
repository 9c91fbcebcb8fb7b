#include "protocol/errors.h"

#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace heteroaccel::protocol {
namespace {

TEST(ToHttpErrorTest, MapsEveryStatusCode) {
  const std::vector<std::pair<absl::Status, int>> cases = {
      {absl::InvalidArgumentError("x"), 400},   {absl::FailedPreconditionError("x"), 400},
      {absl::OutOfRangeError("x"), 400},        {absl::NotFoundError("x"), 404},
      {absl::ResourceExhaustedError("x"), 429}, {absl::UnavailableError("x"), 503},
      {absl::DeadlineExceededError("x"), 504},  {absl::UnimplementedError("x"), 501},
      {absl::PermissionDeniedError("x"), 403},  {absl::UnauthenticatedError("x"), 401},
      {absl::InternalError("x"), 500},          {absl::UnknownError("x"), 500},
      {absl::AbortedError("x"), 409},           {absl::CancelledError("x"), 500},
      {absl::DataLossError("x"), 500},          {absl::AlreadyExistsError("x"), 500},
  };
  for (const auto& [status, http] : cases) {
    EXPECT_EQ(ToHttpError(status).status, http) << status;
    EXPECT_EQ(HttpStatusFor(status), http) << status;
  }
}

TEST(ToHttpErrorTest, RetryAfterOnlyForOverloadAndUnavailable) {
  EXPECT_EQ(ToHttpError(absl::ResourceExhaustedError("queue full")).retry_after_seconds, 1);
  EXPECT_EQ(ToHttpError(absl::UnavailableError("device lost")).retry_after_seconds, 1);
  EXPECT_EQ(ToHttpError(absl::InvalidArgumentError("bad")).retry_after_seconds, std::nullopt);
  EXPECT_EQ(ToHttpError(absl::InternalError("bug")).retry_after_seconds, std::nullopt);
}

TEST(ToHttpErrorTest, BodyIsKserveErrorJson) {
  const HttpError e = ToHttpError(absl::NotFoundError("unknown model \"m\"\n"));
  EXPECT_EQ(e.body, R"({"error":"unknown model \"m\"\n"})");
  EXPECT_EQ(nlohmann::json::parse(e.body)["error"], "unknown model \"m\"\n");
  const HttpError binary = ToHttpError(absl::InvalidArgumentError("bad \xff byte"));
  EXPECT_EQ(nlohmann::json::parse(binary.body)["error"], "bad \xef\xbf\xbd byte");
}

TEST(ToHttpErrorTest, PayloadTooLargeIs413) {
  const absl::Status s = PayloadTooLargeError(1024);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  const HttpError e = ToHttpError(s);
  EXPECT_EQ(e.status, 413);
  EXPECT_EQ(e.body, R"({"error":"request body is larger than the limit of 1024 bytes"})");
  EXPECT_EQ(e.retry_after_seconds, std::nullopt);
}

TEST(ToHttpErrorTest, WithHttpStatusOverridesAndInvalidOverridesAreIgnored) {
  EXPECT_EQ(ToHttpError(WithHttpStatus(absl::AbortedError("x"), 409)).status, 409);
  const HttpError overloaded = ToHttpError(WithHttpStatus(absl::InternalError("x"), 503));
  EXPECT_EQ(overloaded.status, 503);
  EXPECT_EQ(overloaded.retry_after_seconds, 1);
  EXPECT_EQ(ToHttpError(WithHttpStatus(absl::NotFoundError("x"), 200)).status, 404);
  EXPECT_EQ(ToHttpError(WithHttpStatus(absl::NotFoundError("x"), 999)).status, 404);
  EXPECT_TRUE(WithHttpStatus(absl::OkStatus(), 413).ok());
  absl::Status garbage = absl::InternalError("x");
  garbage.SetPayload("heteroaccel/http_status", absl::Cord("4x3"));
  EXPECT_EQ(ToHttpError(garbage).status, 500);
}

TEST(ToHttpErrorTest, OkStatusIsAnInternalError) {
  const HttpError e = ToHttpError(absl::OkStatus());
  EXPECT_EQ(e.status, 500);
  EXPECT_THAT(e.body, ::testing::HasSubstr("internal error"));
}

}  // namespace
}  // namespace heteroaccel::protocol
