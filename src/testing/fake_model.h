// FakeModelSpec: a model variant that needs no files, for tests of the layers
// above inference. Each Run() waits until the shared gate is open (so tests can
// hold slots busy deterministically), then reports one detection covering the
// image, or fails with Internal while the gate says so (SetFailing). Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "inference/model.h"

namespace heteroaccel::testing {

class Gate {
 public:
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&open_));
  }
  int entered() {
    absl::MutexLock lock(&mu_);
    return entered_;
  }
  void Enter() {
    absl::MutexLock lock(&mu_);
    ++entered_;
  }
  // While true, runs fail as a broken device would (Internal).
  void SetFailing(bool failing) {
    absl::MutexLock lock(&mu_);
    failing_ = failing;
  }
  bool failing() {
    absl::MutexLock lock(&mu_);
    return failing_;
  }
  bool WaitEntered(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return entered_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
};

inline inference::ModelSpec FakeModelSpec(std::string type, std::shared_ptr<Gate> gate) {
  class FakeModel final : public inference::Model {
   public:
    explicit FakeModel(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
    absl::StatusOr<inference::InferenceOutput> Run(const cv::Mat& bgr) override {
      gate_->Enter();
      gate_->Wait();
      if (gate_->failing()) return absl::InternalError("fake model: the device failed");
      inference::Detection d;
      d.box = {0, 0, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows)};
      d.score = 1;
      d.label = "thing";
      return inference::InferenceOutput{{d}, bgr.cols, bgr.rows};
    }
    absl::Status ForwardOnly() override { return absl::OkStatus(); }

   private:
    std::shared_ptr<Gate> gate_;
  };
  inference::ModelSpec spec;
  spec.type = std::move(type);
  spec.variant = "fake";
  spec.description = "test model";
  spec.labels = {"thing"};
  spec.create =
      [gate](const inference::ModelOptions&) -> absl::StatusOr<std::unique_ptr<inference::Model>> {
    return std::make_unique<FakeModel>(gate);
  };
  return spec;
}

}  // namespace heteroaccel::testing
