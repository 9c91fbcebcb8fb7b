#include "events/mqtt_publisher.h"

#include <mosquitto.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace heteroaccel::events {
namespace {

std::once_flag lib_init;

std::string Segment(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 128)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "_" : out;
}

std::string Dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string StringField(const nlohmann::json& json, const char* key) {
  if (!json.is_object()) return "";
  auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<MqttPublisher>> MqttPublisher::Create(MqttOptions options) {
  if (options.host.empty()) return absl::InvalidArgumentError("mqtt: host must not be empty");
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("mqtt: port must be 1..65535 (got ", options.port, ")"));
  }
  if (options.prefix.empty() || options.prefix.find_first_of("+#") != std::string::npos ||
      options.prefix.front() == '/' || options.prefix.back() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "mqtt: prefix \"", options.prefix,
        "\" must be a non-empty topic without wildcards (+, #) or a leading/trailing '/'"));
  }
  if (options.max_queue < 1 || options.max_inflight < 1 || options.keepalive_s < 5 ||
      options.reconnect_min_s < 1 || options.reconnect_max_s < options.reconnect_min_s) {
    return absl::InvalidArgumentError(
        "mqtt: max_queue and max_inflight must be >= 1, keepalive_s >= 5, "
        "1 <= reconnect_min_s <= reconnect_max_s");
  }
  if (options.client_id.empty()) {
    static std::atomic<int> sequence{0};
    options.client_id = absl::StrCat("heteroaccel-", getpid(), "-", sequence++);
  }
  std::call_once(lib_init, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttPublisher> self(new MqttPublisher(std::move(options)));
  const MqttOptions& o = self->options_;
  self->mosq_ = mosquitto_new(o.client_id.c_str(), /*clean_session=*/true, self.get());
  if (self->mosq_ == nullptr) return absl::InternalError("mqtt: mosquitto_new failed");
  if (!o.username.empty() &&
      mosquitto_username_pw_set(self->mosq_, o.username.c_str(),
                                o.password.empty() ? nullptr : o.password.c_str()) !=
          MOSQ_ERR_SUCCESS) {
    return absl::InvalidArgumentError("mqtt: bad username or password");
  }
  mosquitto_connect_callback_set(self->mosq_, &MqttPublisher::OnConnect);
  mosquitto_disconnect_callback_set(self->mosq_, &MqttPublisher::OnDisconnect);
  mosquitto_publish_callback_set(self->mosq_, &MqttPublisher::OnPublish);
  mosquitto_reconnect_delay_set(self->mosq_, static_cast<unsigned>(o.reconnect_min_s),
                                static_cast<unsigned>(o.reconnect_max_s), true);
  // The network thread starts first: libmosquitto then treats a broker not
  // reachable yet like a lost connection and keeps retrying (started after a
  // refused connect, it would never retry).
  if (int loop = mosquitto_loop_start(self->mosq_); loop != MOSQ_ERR_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("mqtt: cannot start the network thread: ", mosquitto_strerror(loop)));
  }
  const int rc = mosquitto_connect_async(self->mosq_, o.host.c_str(), o.port, o.keepalive_s);
  if (rc != MOSQ_ERR_SUCCESS) {
    spdlog::warn("mqtt: cannot connect to {}:{} yet ({}); retrying in the background", o.host,
                 o.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
  }
  return self;
}

MqttPublisher::~MqttPublisher() {
  if (mosq_ == nullptr) return;
  mosquitto_disconnect(mosq_);
  mosquitto_loop_stop(mosq_, false);
  mosquitto_destroy(mosq_);
}

std::string MqttPublisher::EventTopic(std::string_view camera, std::string_view type) const {
  return absl::StrCat(options_.prefix, "/events/", Segment(camera), "/", Segment(type));
}

std::string MqttPublisher::StateTopic(std::string_view camera) const {
  return absl::StrCat(options_.prefix, "/cameras/", Segment(camera), "/state");
}

void MqttPublisher::Publish(const nlohmann::json& event) {
  Enqueue(
      {EventTopic(StringField(event, "camera"), StringField(event, "type")), Dump(event), false});
}

void MqttPublisher::PublishState(std::string_view camera, const nlohmann::json& state) {
  Enqueue({StateTopic(camera), Dump(state), true});
}

void MqttPublisher::Enqueue(Message message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= options_.max_queue) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(std::move(message));
  }
  Flush();
}

void MqttPublisher::Flush() {
  while (connected_.load()) {
    Message message;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() || inflight_ >= options_.max_inflight) return;
      message = std::move(queue_.front());
      queue_.pop_front();
      ++inflight_;
    }
    // Not under mu_: libmosquitto takes its own locks and may call back.
    const int rc = mosquitto_publish(mosq_, nullptr, message.topic.c_str(),
                                     static_cast<int>(message.payload.size()),
                                     message.payload.data(), 1, message.retain);
    if (rc == MOSQ_ERR_SUCCESS) continue;
    std::lock_guard<std::mutex> lock(mu_);
    --inflight_;
    if (rc == MOSQ_ERR_NO_CONN) {
      // Lost the connection meanwhile: back to the head of the queue.
      if (queue_.size() >= options_.max_queue) {
        ++dropped_;
      } else {
        queue_.push_front(std::move(message));
      }
      return;
    }
    ++failed_;
    spdlog::warn("mqtt: message to {} refused: {}", message.topic, mosquitto_strerror(rc));
  }
}

void MqttPublisher::OnConnect(struct mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  if (rc != 0) {
    spdlog::warn("mqtt: {}:{} refused the connection: {}", p->options_.host, p->options_.port,
                 mosquitto_connack_string(rc));
    return;
  }
  spdlog::info("mqtt: connected to {}:{}", p->options_.host, p->options_.port);
  p->connected_.store(true);
  p->Flush();
}

void MqttPublisher::OnDisconnect(struct mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  if (p->connected_.exchange(false) && rc != 0) {
    spdlog::warn("mqtt: lost the connection to {}:{}; reconnecting", p->options_.host,
                 p->options_.port);
  }
}

void MqttPublisher::OnPublish(struct mosquitto*, void* self, int /*mid*/) {
  auto* p = static_cast<MqttPublisher*>(self);
  {
    std::lock_guard<std::mutex> lock(p->mu_);
    if (p->inflight_ > 0) --p->inflight_;
    ++p->published_;
  }
  p->Flush();
}

MqttCounters MqttPublisher::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {published_, failed_, dropped_, queue_.size(), connected_.load()};
}

}  // namespace heteroaccel::events
