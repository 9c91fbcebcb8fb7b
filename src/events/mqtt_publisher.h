// MqttPublisher: sends camera events and camera states to an MQTT broker
// (libmosquitto, MQTT 3.1.1).
//
// Topics (each segment made of [A-Za-z0-9_.-]; other bytes become '_'):
//   <prefix>/events/<camera>/<type>    each event message, QoS 1, not retained
//   <prefix>/cameras/<camera>/state    PublishState, QoS 1, retained
//
// Delivery: Publish and PublishState never block. A message goes into a
// bounded queue (max_queue; when full the oldest is dropped and counted) and
// is handed to libmosquitto while connected, at most max_inflight at a time
// not yet acknowledged by the broker (PUBACK), so memory stays bounded however
// slow the broker. libmosquitto's network thread (mosquitto_loop_start)
// reconnects with exponential back-off (reconnect_min_s .. reconnect_max_s,
// mosquitto_reconnect_delay_set); meanwhile messages wait in the queue and are
// flushed, oldest first, once connected. Messages handed over but not
// acknowledged when the connection drops are resent by libmosquitto after
// reconnecting, so a subscriber may see one twice (QoS 1: at least once).
// Messages still queued when the publisher is destroyed are lost.
//
// Counters: published (acknowledged by the broker), failed (refused by
// libmosquitto: payload too large, bad topic), dropped (queue overflow),
// queued (waiting now), connected.
//
// Ownership and threading: Create returns the owner; the destructor
// disconnects and joins libmosquitto's thread. Every method is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

struct mosquitto;

namespace heteroaccel::events {

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username;  // "" = anonymous
  std::string password;
  std::string client_id;  // "" = "heteroaccel-<pid>-<n>"
  std::string prefix = "heteroaccel";
  int keepalive_s = 30;
  int reconnect_min_s = 1;
  int reconnect_max_s = 30;
  size_t max_queue = 10'000;
  size_t max_inflight = 100;
};

struct MqttCounters {
  uint64_t published = 0;
  uint64_t failed = 0;
  uint64_t dropped = 0;
  uint64_t queued = 0;
  bool connected = false;
};

class MqttPublisher {
 public:
  // InvalidArgument for bad options (naming the key); Internal when
  // libmosquitto cannot be set up. The broker need not be reachable yet.
  static absl::StatusOr<std::unique_ptr<MqttPublisher>> Create(MqttOptions options);
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // `event`: an event message (events::EventMessage); its "camera" and "type"
  // name the topic.
  void Publish(const nlohmann::json& event);
  // Retained: a subscriber arriving later gets the latest state at once.
  void PublishState(std::string_view camera, const nlohmann::json& state);

  MqttCounters counters() const;
  bool connected() const { return connected_.load(); }
  const MqttOptions& options() const { return options_; }

  // The topic an event of `camera` and `type` goes to (sanitized).
  std::string EventTopic(std::string_view camera, std::string_view type) const;
  std::string StateTopic(std::string_view camera) const;

 private:
  struct Message {
    std::string topic;
    std::string payload;
    bool retain = false;
  };

  explicit MqttPublisher(MqttOptions options) : options_(std::move(options)) {}
  void Enqueue(Message message);
  // Hands queued messages to libmosquitto while connected and under max_inflight.
  void Flush();

  static void OnConnect(struct mosquitto*, void* self, int rc);
  static void OnDisconnect(struct mosquitto*, void* self, int rc);
  static void OnPublish(struct mosquitto*, void* self, int mid);

  const MqttOptions options_;
  struct mosquitto* mosq_ = nullptr;  // owned; thread-safe per libmosquitto
  std::atomic<bool> connected_{false};

  mutable std::mutex mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  size_t inflight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace heteroaccel::events
