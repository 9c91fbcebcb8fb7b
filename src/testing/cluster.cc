#include "testing/cluster.h"

#include <thread>

#include "absl/strings/str_split.h"
#include "http/client.h"

namespace heteroaccel::testing {

using Json = nlohmann::json;

std::map<std::string, bool> ClusterNodes(const std::string& server_url) {
  std::map<std::string, bool> out;
  auto c = http::Client::Create(server_url, std::chrono::seconds(5));
  if (!c.ok()) return out;
  auto r = (*c)->Get("/v1/cluster");
  if (!r.ok() || r->status != 200) return out;
  const Json cluster = Json::parse(r->body, nullptr, false);
  if (!cluster.is_object() || !cluster.contains("nodes")) return out;
  for (const Json& n : cluster["nodes"]) out[n.value("node", "")] = n.value("up", false);
  return out;
}

bool WaitForNodes(const std::string& server_url, const std::map<std::string, bool>& wanted,
                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::map<std::string, bool> nodes = ClusterNodes(server_url);
    bool all = true;
    for (const auto& [name, up] : wanted) {
      auto it = nodes.find(name);
      all = all && it != nodes.end() && it->second == up;
    }
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool WaitForNodesUp(const std::string& server_url, size_t count,
                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    size_t up = 0;
    for (const auto& [name, is_up] : ClusterNodes(server_url)) up += is_up ? 1 : 0;
    if (up == count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::vector<Json> NdjsonEvents(std::string_view body) {
  std::vector<Json> events;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(body.data(), body.size()), '\n', absl::SkipEmpty())) {
    Json event = Json::parse(line.begin(), line.end(), nullptr, false);
    if (event.is_object()) events.push_back(std::move(event));
  }
  return events;
}

std::map<std::string, Json> RunResults(std::string_view body) {
  std::map<std::string, Json> out;
  for (Json& e : NdjsonEvents(body)) {
    const std::string kind = e.value("event", "");
    // nlohmann::json's operator= takes its argument by value, initialised before the
    // left side is evaluated: the key is read first.
    if (kind == "result") {
      const std::string node = e.value("node", "");
      out[node] = std::move(e);
    } else if (kind == "done") {
      out[""] = std::move(e);
    }
  }
  return out;
}

RequestLoop::RequestLoop(std::function<std::string()> send)
    : thread_([this, send = std::move(send)] {
        while (!stop_) {
          std::string error = send();
          if (error.empty()) {
            ++ok_;
          } else if (failed_++ == 0) {
            std::lock_guard<std::mutex> lock(mu_);
            first_error_ = std::move(error);
          }
        }
      }) {}

void RequestLoop::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string RequestLoop::first_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

}  // namespace heteroaccel::testing
