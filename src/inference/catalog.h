// Catalog: every model variant this build can run, by inference type.
//
// Adding an inference type is one file under models/ plus one line in
// catalog.cc. Immutable after construction; thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/model.h"

namespace heteroaccel::inference {

class Catalog {
 public:
  // All built-in variants; the first variant listed for a type is its default.
  static const Catalog& BuiltIn();
  explicit Catalog(std::vector<ModelSpec> specs) : specs_(std::move(specs)) {}

  const std::vector<ModelSpec>& specs() const { return specs_; }
  std::vector<std::string> Types() const;
  // NotFound lists the known types (or the type's variants) so the user can fix the name.
  absl::StatusOr<const ModelSpec*> Find(std::string_view type, std::string_view variant = "") const;

 private:
  std::vector<ModelSpec> specs_;
};

}  // namespace heteroaccel::inference
