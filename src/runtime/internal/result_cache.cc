#include "runtime/internal/result_cache.h"

#include "absl/hash/hash.h"

namespace heteroaccel::runtime::internal {

ResultCache::Key ResultCache::MakeKey(const std::string& model_key, std::string_view input) {
  return {model_key, input.size(),
          static_cast<uint64_t>(absl::HashOf(absl::string_view(input.data(), input.size())))};
}

std::optional<inference::InferenceOutput> ResultCache::Find(const Key& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ResultCache::Insert(const Key& key, const inference::InferenceOutput& output) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity_ == 0 || !entries_.emplace(key, output).second) return;
  order_.push_back(key);
  while (order_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace heteroaccel::runtime::internal
