// The pipeline as a graph: edge kinds and the topological order.
#include <algorithm>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "pipeline/spec/internal/parse.h"
#include "pipeline/spec/internal/strings.h"

namespace heteroaccel::pipeline {
namespace {

using internal::Cat;
using internal::Join;
using internal::Quoted;

const std::string* CropType(const BlockSpec& b) {
  if (const auto* p = std::get_if<CropInferParams>(&b.params)) return &p->type;
  return nullptr;
}

// "a track", "a crop_infer of type "pose"", "the camera's frames".
std::string Describe(const BlockSpec* b) {
  if (b == nullptr) return "the camera's frames";
  if (const std::string* type = CropType(*b)) {
    return Cat("a crop_infer of type ", Quoted(*type));
  }
  return Cat("a ", BlockTypeName(b->type), IsRule(b->type) ? " rule" : "");
}

// Whether `input` (null: source) may feed `block`, and what `block` takes.
bool Accepts(const BlockSpec& block, const BlockSpec* input, std::string& takes) {
  const bool from_source = input == nullptr;
  auto is = [input](BlockType t) { return input != nullptr && input->type == t; };
  switch (block.type) {
    case BlockType::kDetect:
      takes = "source";
      return from_source;
    case BlockType::kFilter:
    case BlockType::kTrack:
      takes = "a detect or filter";
      return is(BlockType::kDetect) || is(BlockType::kFilter);
    case BlockType::kFall:
    case BlockType::kLicencePlate: {
      const char* want = block.type == BlockType::kFall ? "pose" : "text";
      takes = Cat("a crop_infer of type ", Quoted(want));
      return is(BlockType::kCropInfer) && *CropType(*input) == want;
    }
    case BlockType::kSink:
      takes = "rules";
      return input != nullptr && IsRule(input->type);
    default:  // crop_infer, colour and the rules on tracks
      takes = "a track";
      return is(BlockType::kTrack);
  }
}

}  // namespace

namespace internal {

absl::Status CheckEdges(const CameraSpec& spec, const std::string& camera) {
  for (const BlockSpec& block : spec.blocks) {
    const std::string at = Cat(camera, ": block ", Quoted(block.id), ": ");
    for (const std::string& input : block.inputs) {
      const BlockSpec* from = nullptr;
      if (input != "source") {
        from = spec.FindBlock(input);
        if (from == nullptr) {
          return absl::InvalidArgumentError(Cat(at, "input ", Quoted(input), " is not a block"));
        }
      }
      std::string takes;
      if (!Accepts(block, from, takes)) {
        return absl::InvalidArgumentError(Cat(at, "input ", Quoted(input), " is ", Describe(from),
                                              "; ", BlockTypeName(block.type), " takes ", takes));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<std::vector<size_t>> TopologicalOrder(const CameraSpec& spec) {
  const size_t n = spec.blocks.size();
  std::vector<int> state(n, 0);  // 0 unvisited, 1 on the stack, 2 done
  std::vector<size_t> order;
  std::vector<size_t> stack;
  auto index_of = [&spec](const std::string& id) -> std::optional<size_t> {
    for (size_t i = 0; i < spec.blocks.size(); ++i) {
      if (spec.blocks[i].id == id) return i;
    }
    return std::nullopt;
  };
  // Depth-first through inputs, post-order; bounded by kMaxBlocks-deep chains
  // in practice (the parser refuses more blocks), recursion is fine.
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    if (state[i] == 2) return absl::OkStatus();
    if (state[i] == 1) {
      const auto from = std::find(stack.begin(), stack.end(), i);
      std::vector<std::string> path;
      for (auto it = from; it != stack.end(); ++it) path.push_back(spec.blocks[*it].id);
      path.push_back(spec.blocks[i].id);
      return absl::InvalidArgumentError(Cat("camera ", Quoted(spec.id), ": block ",
                                            Quoted(spec.blocks[i].id), ": cycle through blocks ",
                                            Join(path, " -> ")));
    }
    state[i] = 1;
    stack.push_back(i);
    for (const std::string& input : spec.blocks[i].inputs) {
      if (const auto j = index_of(input)) {
        if (absl::Status s = visit(*j); !s.ok()) return s;
      }
    }
    stack.pop_back();
    state[i] = 2;
    order.push_back(i);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < n; ++i) {
    if (absl::Status s = visit(i); !s.ok()) return s;
  }
  return order;
}

}  // namespace heteroaccel::pipeline
