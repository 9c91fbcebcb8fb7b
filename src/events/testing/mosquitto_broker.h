// Test helpers for MQTT: a real mosquitto broker on a free loopback port, and a
// libmosquitto subscriber that records what it receives. For the events unit
// tests and end-to-end tests (server + broker).
//
// MosquittoBroker writes a config (listener on 127.0.0.1:<port>, anonymous
// access, optional persistence so that sessions survive a restart) into a
// fresh temporary directory and runs /usr/sbin/mosquitto -c on it through
// testing::Subprocess (killed with the thread that started it). Stop() and
// Start() may be called again to kill the broker and bring it back on the same
// port mid-test. The destructor stops it and removes the directory.
//
// MqttSubscriber connects with QoS 1 to one topic filter. With a fixed client
// id and clean_session = false a persistent broker keeps its session across a
// broker restart, so messages published while it reconnects are not lost. It
// reconnects on its own (libmosquitto's network thread).
//
// Both are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "testing/subprocess.h"

struct mosquitto;
struct mosquitto_message;

namespace heteroaccel::events::testing {

inline constexpr const char* kMosquittoBinary = "/usr/sbin/mosquitto";

struct MosquittoBrokerOptions {
  int port = 0;              // 0: a free loopback port
  bool persistence = false;  // keep sessions and queued messages across Stop/Start
  std::string binary = kMosquittoBinary;
};

class MosquittoBroker {
 public:
  // Whether the mosquitto binary exists (tests skip when it does not).
  static bool Available(const std::string& binary = kMosquittoBinary);
  // Starts a broker on a free loopback port and waits until it listens.
  static absl::StatusOr<std::unique_ptr<MosquittoBroker>> Start(
      MosquittoBrokerOptions options = {});
  ~MosquittoBroker();

  // SIGTERM (a persistent broker saves its sessions) and wait for the exit.
  void Stop();
  // Starts it again on the same port and waits until it listens.
  absl::Status Restart();
  bool running() const;

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string Output() const;

 private:
  MosquittoBroker(MosquittoBrokerOptions options, std::string dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}
  absl::Status Launch();

  const MosquittoBrokerOptions options_;
  const std::string dir_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::unique_ptr<heteroaccel::testing::Subprocess> process_ ABSL_GUARDED_BY(mu_);
  std::string previous_output_ ABSL_GUARDED_BY(mu_);
};

struct MqttMessage {
  std::string topic;
  std::string payload;
  bool retain = false;
};

class MqttSubscriber {
 public:
  // Connects to host:port and subscribes to `filter` (QoS 1); returns once
  // the broker acknowledged the subscription or `timeout` passed (then
  // DeadlineExceeded).
  static absl::StatusOr<std::unique_ptr<MqttSubscriber>> Connect(
      const std::string& host, int port, const std::string& filter,
      const std::string& client_id = "", bool clean_session = true,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~MqttSubscriber();

  // Waits until at least `count` messages arrived; false on timeout.
  bool WaitForCount(size_t count, std::chrono::milliseconds timeout);
  std::vector<MqttMessage> Messages() const;

 private:
  MqttSubscriber(std::string filter) : filter_(std::move(filter)) {}
  static void OnConnect(struct mosquitto*, void* self, int rc);
  static void OnSubscribe(struct mosquitto*, void* self, int mid, int count, const int* granted);
  static void OnMessage(struct mosquitto*, void* self, const struct mosquitto_message* message);

  const std::string filter_;
  struct mosquitto* mosq_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<MqttMessage> messages_ ABSL_GUARDED_BY(mu_);
};

}  // namespace heteroaccel::events::testing
