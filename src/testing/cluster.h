// Helpers for end-to-end tests against a real heteroaccel server: which nodes it
// sees, waiting for them, and reading its newline-delimited JSON answers (fleet
// runs, deploys). Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace heteroaccel::testing {

// Node name -> up, from GET /v1/cluster; empty when the server does not answer.
std::map<std::string, bool> ClusterNodes(const std::string& server_url);
// Waits until every node in `wanted` has its up state, or the timeout.
bool WaitForNodes(const std::string& server_url, const std::map<std::string, bool>& wanted,
                  std::chrono::milliseconds timeout);
// Waits until `count` nodes are up, or the timeout.
bool WaitForNodesUp(const std::string& server_url, size_t count, std::chrono::milliseconds timeout);
// The JSON objects of a newline-delimited answer; other lines are skipped.
std::vector<nlohmann::json> NdjsonEvents(std::string_view body);
// A run's answer: each "result" event by its node, and the "done" event under "".
std::map<std::string, nlohmann::json> RunResults(std::string_view body);

}  // namespace heteroaccel::testing
