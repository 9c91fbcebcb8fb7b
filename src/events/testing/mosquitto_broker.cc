#include "events/testing/mosquitto_broker.h"

#include <mosquitto.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace heteroaccel::events::testing {
namespace {

std::once_flag lib_init;

std::string UserName() {
  const passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "root";
}

}  // namespace

bool MosquittoBroker::Available(const std::string& binary) {
  return access(binary.c_str(), X_OK) == 0;
}

absl::StatusOr<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Start(
    MosquittoBrokerOptions options) {
  if (!Available(options.binary)) {
    return absl::FailedPreconditionError(absl::StrCat(options.binary, " is not installed"));
  }
  std::string pattern = "/tmp/heteroaccel_mosquitto_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  std::unique_ptr<MosquittoBroker> broker(new MosquittoBroker(std::move(options), pattern));
  // A free port can be taken by someone else before the broker binds it: retry.
  absl::Status status;
  for (int attempt = 0; attempt < 5; ++attempt) {
    broker->port_ = broker->options_.port != 0 ? broker->options_.port
                                               : heteroaccel::testing::UnusedLoopbackPort();
    status = broker->Launch();
    if (status.ok()) return broker;
  }
  return status;
}

absl::Status MosquittoBroker::Launch() {
  const std::string conf = dir_ + "/mosquitto.conf";
  {
    std::ofstream out(conf);
    out << "listener " << port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "user " << UserName() << "\n"
        << "log_dest stderr\n"
        << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
    if (options_.persistence) {
      out << "persistence true\n"
          << "persistence_location " << dir_ << "/\n"
          << "autosave_interval 0\n";
    }
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", conf));
  }
  absl::StatusOr<std::unique_ptr<heteroaccel::testing::Subprocess>> process =
      heteroaccel::testing::Subprocess::Start({options_.binary, "-c", conf});
  if (!process.ok()) return process.status();
  if (!(*process)->WaitForLine(" running", std::chrono::seconds(10))) {
    const std::string output = (*process)->Output();
    (*process)->Stop(SIGKILL, std::chrono::seconds(5));
    return absl::UnavailableError(
        absl::StrCat("mosquitto did not start on port ", port_, ": ", output));
  }
  std::lock_guard<std::mutex> lock(mu_);
  process_ = std::move(*process);
  return absl::OkStatus();
}

MosquittoBroker::~MosquittoBroker() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void MosquittoBroker::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (process_ == nullptr) return;
  process_->Stop(SIGTERM, std::chrono::seconds(10));
  previous_output_ += process_->Output();
  process_.reset();
}

absl::Status MosquittoBroker::Restart() {
  Stop();
  return Launch();
}

bool MosquittoBroker::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return process_ != nullptr;
}

std::string MosquittoBroker::Output() const {
  std::lock_guard<std::mutex> lock(mu_);
  return previous_output_ + (process_ != nullptr ? process_->Output() : "");
}

absl::StatusOr<std::unique_ptr<MqttSubscriber>> MqttSubscriber::Connect(
    const std::string& host, int port, const std::string& filter, const std::string& client_id,
    bool clean_session, std::chrono::milliseconds timeout) {
  std::call_once(lib_init, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttSubscriber> self(new MqttSubscriber(filter));
  self->mosq_ =
      mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), clean_session, self.get());
  if (self->mosq_ == nullptr) return absl::InternalError("mosquitto_new failed");
  mosquitto_connect_callback_set(self->mosq_, &MqttSubscriber::OnConnect);
  mosquitto_subscribe_callback_set(self->mosq_, &MqttSubscriber::OnSubscribe);
  mosquitto_message_callback_set(self->mosq_, &MqttSubscriber::OnMessage);
  mosquitto_reconnect_delay_set(self->mosq_, 1, 1, false);
  if (int rc = mosquitto_connect_async(self->mosq_, host.c_str(), port, 30);
      rc != MOSQ_ERR_SUCCESS) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", host, ":", port, ": ", mosquitto_strerror(rc)));
  }
  mosquitto_loop_start(self->mosq_);
  std::unique_lock<std::mutex> lock(self->mu_);
  if (!self->cv_.wait_for(lock, timeout, [&] { return self->subscribed_; })) {
    return absl::DeadlineExceededError(absl::StrCat("no SUBACK for ", filter));
  }
  return self;
}

MqttSubscriber::~MqttSubscriber() {
  if (mosq_ == nullptr) return;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  mosquitto_destroy(mosq_);
}

void MqttSubscriber::OnConnect(struct mosquitto* mosq, void* self, int rc) {
  if (rc != 0) return;
  auto* s = static_cast<MqttSubscriber*>(self);
  mosquitto_subscribe(mosq, nullptr, s->filter_.c_str(), 1);
}

void MqttSubscriber::OnSubscribe(struct mosquitto*, void* self, int, int, const int*) {
  auto* s = static_cast<MqttSubscriber*>(self);
  std::lock_guard<std::mutex> lock(s->mu_);
  s->subscribed_ = true;
  s->cv_.notify_all();
}

void MqttSubscriber::OnMessage(struct mosquitto*, void* self, const struct mosquitto_message* m) {
  auto* s = static_cast<MqttSubscriber*>(self);
  std::lock_guard<std::mutex> lock(s->mu_);
  s->messages_.push_back({m->topic,
                          m->payloadlen > 0 ? std::string(static_cast<const char*>(m->payload),
                                                          static_cast<size_t>(m->payloadlen))
                                            : std::string(),
                          m->retain});
  s->cv_.notify_all();
}

bool MqttSubscriber::WaitForCount(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

std::vector<MqttMessage> MqttSubscriber::Messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

}  // namespace heteroaccel::events::testing
