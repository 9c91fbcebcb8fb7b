#include "server/forwarder.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace heteroaccel::server {

Forwarder::Forwarder(std::string agent_url, std::string device_id, int threads,
                     std::chrono::milliseconds timeout, Callback callback)
    : agent_url_(std::move(agent_url)),
      device_id_(std::move(device_id)),
      timeout_(timeout),
      callback_(std::move(callback)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

Forwarder::~Forwarder() { Stop(); }

void Forwarder::Push(ForwardTask task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  ready_.notify_one();
}

void Forwarder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  ready_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  // Whatever was never sent is answered as a lost device, so it is retried.
  std::deque<ForwardTask> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(tasks_);
  }
  for (const ForwardTask& task : left) {
    callback_(task, absl::UnavailableError("forwarder stopped"), 0);
  }
}

void Forwarder::Run() {
  std::unique_ptr<http::Client> client;
  while (true) {
    ForwardTask task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<http::ClientResponse> response = Send(client, task);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!response.ok()) client.reset();  // reconnect next time
    callback_(task, std::move(response), seconds);
  }
}

absl::StatusOr<http::ClientResponse> Forwarder::Send(std::unique_ptr<http::Client>& client,
                                                     const ForwardTask& task) {
  if (client == nullptr) {
    auto created = http::Client::Create(agent_url_, timeout_);
    if (!created.ok()) return created.status();
    client = std::move(*created);
  }
  http::HeaderList headers = {{"X-HeteroAccel-Device", device_id_}};
  if (task.header_length) {
    headers.emplace_back("Inference-Header-Content-Length", std::to_string(*task.header_length));
  }
  const std::string path =
      task.v1 ? absl::StrCat("/v1/infer/", task.type, "?variant=", task.variant)
              : absl::StrCat("/v2/models/", task.type, "/versions/", task.variant, "/infer");
  return client->Send("POST", path, task.content_type, *task.body, headers);
}

}  // namespace heteroaccel::server
