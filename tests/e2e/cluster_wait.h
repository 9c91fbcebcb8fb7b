// Helpers shared by the end-to-end tests that start a server with agents.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "http/client.h"

namespace heteroaccel::e2e {

// Polls the server's GET /v1/cluster until some node is up with a device that
// serves a variant, or `timeout` passes.
inline bool WaitForServingAgent(const std::string& server_url, std::chrono::seconds timeout) {
  auto http = http::Client::Create(server_url);
  if (!http.ok()) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = (*http)->Get("/v1/cluster");
    if (r.ok() && r->status == 200) {
      const nlohmann::json cluster = nlohmann::json::parse(r->body, nullptr, false);
      if (cluster.is_object()) {
        for (const auto& node : cluster.value("nodes", nlohmann::json::array())) {
          bool serving = false;
          for (const auto& d : node.value("devices", nlohmann::json::array())) {
            serving |= !d.value("variants", nlohmann::json::array()).empty();
          }
          if (node.value("up", false) && serving) return true;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace heteroaccel::e2e
