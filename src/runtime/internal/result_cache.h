// ResultCache: results that emulated devices computed, keyed by model and the
// exact input bytes' hash and size, so replayed camera frames are not
// recomputed on the CPU that emulates a faster device. Bounded (FIFO eviction);
// thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "inference/model.h"

namespace heteroaccel::runtime::internal {

class ResultCache {
 public:
  explicit ResultCache(size_t capacity) : capacity_(capacity) {}

  using Key = std::tuple<std::string, size_t, uint64_t>;
  static Key MakeKey(const std::string& model_key, std::string_view input);

  std::optional<inference::InferenceOutput> Find(const Key& key) const;
  void Insert(const Key& key, const inference::InferenceOutput& output);

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<Key, inference::InferenceOutput> entries_;  // guarded by mu_
  std::deque<Key> order_;                              // guarded by mu_
};

}  // namespace heteroaccel::runtime::internal
