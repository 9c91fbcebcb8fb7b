#include "server/stream_hub.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Event(const std::string& name, uint64_t id, const Json& data) {
  return absl::StrCat("event: ", name, "\nid: ", id, "\ndata: ", Dump(data), "\n\n");
}

}  // namespace

Json MergeDiff(const Json& from, const Json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  Json patch = Json::object();
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : to.items()) {
    auto old = from.find(key);
    if (old == from.end()) {
      patch[key] = value;
    } else if (*old != value) {
      if (old->is_object() && value.is_object()) {
        patch[key] = MergeDiff(*old, value);
      } else {
        patch[key] = value;
      }
    }
  }
  return patch;
}

void MergeApply(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
    } else {
      MergeApply(target[key], value);
    }
  }
}

StreamHub::StreamHub(size_t ring, std::optional<uint64_t> first_seq) : ring_size_(ring) {
  seq_ = first_seq.value_or(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()) *
      1000);
}

void StreamHub::SetSnapshotExtras(std::function<Json()> extras) {
  std::lock_guard<std::mutex> lock(mu_);
  extras_ = std::move(extras);
}

std::string StreamHub::Snapshot() {
  Json data = extras_ ? extras_() : Json::object();
  data["seq"] = seq_;
  data["state"] = state_;
  return Event("snapshot", seq_, data);
}

void StreamHub::Attach(std::shared_ptr<http::StreamWriter> writer,
                       std::optional<uint64_t> last_event_id) {
  std::lock_guard<std::mutex> lock(mu_);
  // "retry" tells EventSource how soon to reconnect.
  std::string text = "retry: 1000\n\n";
  const bool resumable =
      last_event_id && *last_event_id <= seq_ &&
      (*last_event_id == seq_ || (!ring_.empty() && ring_.front().first <= *last_event_id + 1));
  if (resumable) {
    for (const auto& [seq, event] : ring_) {
      if (seq > *last_event_id) text += event;
    }
  } else {
    text += Snapshot();
  }
  if (writer->Write(text)) clients_.push_back(std::move(writer));
}

void StreamHub::Broadcast(const std::string& text) {
  std::erase_if(clients_,
                [&](const std::shared_ptr<http::StreamWriter>& w) { return !w->Write(text); });
}

void StreamHub::SetState(Json state) {
  std::lock_guard<std::mutex> lock(mu_);
  Json patch = MergeDiff(state_, state);
  if (patch.empty()) return;
  state_ = std::move(state);
  ++seq_;
  std::string text = Event("patch", seq_, {{"seq", seq_}, {"patch", std::move(patch)}});
  Broadcast(text);
  ring_.emplace_back(seq_, std::move(text));
  while (ring_.size() > ring_size_) ring_.pop_front();
}

void StreamHub::Publish(const std::string& event, Json payload) {
  std::lock_guard<std::mutex> lock(mu_);
  ++seq_;
  payload["seq"] = seq_;
  std::string text = Event(event, seq_, payload);
  Broadcast(text);
  ring_.emplace_back(seq_, std::move(text));
  while (ring_.size() > ring_size_) ring_.pop_front();
}

void StreamHub::Heartbeat() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  Broadcast(
      absl::StrCat("event: heartbeat\ndata: ", Dump({{"seq", seq_}, {"time_ms", now_ms}}), "\n\n"));
}

size_t StreamHub::clients() {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(clients_, [](const auto& w) { return w->closed(); });
  return clients_.size();
}

uint64_t StreamHub::seq() {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

Json StreamHub::StateJson() {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"seq", seq_}, {"state", state_}};
}

}  // namespace heteroaccel::server
