#include "pipeline/tracking/internal/box_kalman.h"

#include <algorithm>
#include <cmath>

namespace heteroaccel::pipeline::internal {
namespace {

constexpr int kState = 8;
constexpr int kMeasure = 4;
// Standard deviations relative to the box height: position per measurement, and
// the random walk of position and velocity per sqrt(second).
constexpr double kMeasurePos = 0.05;
constexpr double kWalkPos = 0.1;
constexpr double kWalkVel = 0.1;
constexpr double kMeasureAspect = 0.1;
constexpr double kWalkAspect = 0.02;
// At birth the velocity is unknown: up to about a body height per second.
constexpr double kInitialVel = 1.0;
constexpr double kMinSize = 1.0;

}  // namespace

BoxKalman::BoxKalman(const Rect& box) : kf_(kState, kMeasure, 0, CV_64F) {
  const double w = std::max<double>(box.Width(), kMinSize);
  const double h = std::max<double>(box.Height(), kMinSize);
  kf_.statePost = cv::Mat::zeros(kState, 1, CV_64F);
  kf_.statePost.at<double>(0) = (box.x1 + box.x2) / 2.0;
  kf_.statePost.at<double>(1) = (box.y1 + box.y2) / 2.0;
  kf_.statePost.at<double>(2) = w / h;
  kf_.statePost.at<double>(3) = h;
  const double p = 2 * kMeasurePos * h;
  const double v = kInitialVel * h;
  kf_.errorCovPost = cv::Mat::diag(
      (cv::Mat_<double>(kState, 1) << p * p, p * p, 1e-2, p * p, v * v, v * v, 1e-4, v * v));
  kf_.transitionMatrix = cv::Mat::eye(kState, kState, CV_64F);
  kf_.measurementMatrix = cv::Mat::eye(kMeasure, kState, CV_64F);
  kf_.processNoiseCov = cv::Mat::zeros(kState, kState, CV_64F);
  SetMeasurementNoise(h);
  kf_.statePost.copyTo(kf_.statePre);
  kf_.errorCovPost.copyTo(kf_.errorCovPre);
}

void BoxKalman::Predict(double dt) {
  if (!std::isfinite(dt) || dt < 0) dt = 0;
  for (int i = 0; i < kMeasure; ++i) kf_.transitionMatrix.at<double>(i, i + kMeasure) = dt;
  const double h = std::max(kf_.statePost.at<double>(3), kMinSize);
  const double pos = kWalkPos * h, vel = kWalkVel * h;
  kf_.processNoiseCov = cv::Mat::diag((
      cv::Mat_<double>(kState, 1) << pos * pos * dt, pos * pos * dt, kWalkAspect * kWalkAspect * dt,
      pos * pos * dt, vel * vel * dt, vel * vel * dt, 1e-4 * dt, vel * vel * dt));
  kf_.predict();
  // Keep the box a box: a shrinking track must not turn inside out.
  auto& s = kf_.statePost;
  s.at<double>(2) = std::max(s.at<double>(2), 1e-2);
  s.at<double>(3) = std::max(s.at<double>(3), kMinSize);
  s.copyTo(kf_.statePre);
}

void BoxKalman::Correct(const Rect& box) {
  const double w = std::max<double>(box.Width(), kMinSize);
  const double h = std::max<double>(box.Height(), kMinSize);
  SetMeasurementNoise(h);
  const cv::Mat z =
      (cv::Mat_<double>(kMeasure, 1) << (box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0, w / h, h);
  kf_.correct(z);
}

void BoxKalman::FreezeSize() {
  kf_.statePost.at<double>(6) = 0;
  kf_.statePost.at<double>(7) = 0;
}

Rect BoxKalman::box() const {
  const auto& s = kf_.statePost;
  const double cx = s.at<double>(0), cy = s.at<double>(1);
  const double h = std::max(s.at<double>(3), kMinSize);
  const double w = std::max(s.at<double>(2), 1e-2) * h;
  return Rect{static_cast<float>(cx - w / 2), static_cast<float>(cy - h / 2),
              static_cast<float>(cx + w / 2), static_cast<float>(cy + h / 2)};
}

void BoxKalman::SetMeasurementNoise(double h) {
  const double p = kMeasurePos * h;
  kf_.measurementNoiseCov = cv::Mat::diag(
      (cv::Mat_<double>(kMeasure, 1) << p * p, p * p, kMeasureAspect * kMeasureAspect, p * p));
}

}  // namespace heteroaccel::pipeline::internal
