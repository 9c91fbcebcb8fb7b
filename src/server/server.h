// Server: the front door for cameras and clients. It serves the Open Inference
// Protocol (HTTP JSON + binary extension, /v1/infer, and gRPC when configured),
// takes agents' heartbeats, and hands every request to the Dispatcher, which
// binds it to the device that will finish it soonest.
//
// Owns the dispatcher, metrics registry and listeners. Create() binds; Start()
// serves; Stop() is idempotent. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace heteroaccel::server {

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(const ServerConfig& config);
  ~Server();
  void Start();
  void Stop();
  std::string address() const;
  std::string grpc_address() const;  // "" when gRPC is off

  struct State;

 private:
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace heteroaccel::server
