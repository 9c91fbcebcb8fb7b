// Catalog: every model variant this build can run, by inference type.
//
// Adding an inference type is one file under models/ plus one line in
// catalog.cc. Put() adds a variant at run time (a model deployed from the
// server's repository) or replaces one, Remove() takes one out; a spec Find()
// returned stays valid for the catalog's life even after it was replaced or
// removed. Thread-safe.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "inference/model.h"

namespace heteroaccel::inference {

class Catalog {
 public:
  // All built-in variants; the first variant listed for a type is its default.
  static const Catalog& BuiltIn();
  explicit Catalog(std::vector<ModelSpec> specs);
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // A copy, in order: a type's first variant is its default.
  std::vector<ModelSpec> specs() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> Types() const ABSL_LOCKS_EXCLUDED(mu_);
  // NotFound lists the known types (or the type's variants) so the user can fix the name.
  absl::StatusOr<const ModelSpec*> Find(std::string_view type, std::string_view variant = "") const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces the spec with the same type and variant in place, or appends it (after the
  // type's other variants, so the default stays). Returns true when it replaced one.
  bool Put(ModelSpec spec) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes a variant Put() added out of the catalog again (its spec stays valid for
  // pointers already handed out). False when there is no such variant.
  bool Remove(std::string_view type, std::string_view variant) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::vector<std::string> TypesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const ModelSpec>> specs_ ABSL_GUARDED_BY(mu_);
  // Specs Put() replaced: kept so that pointers Find() returned stay valid.
  std::vector<std::shared_ptr<const ModelSpec>> replaced_ ABSL_GUARDED_BY(mu_);
};

}  // namespace heteroaccel::inference
