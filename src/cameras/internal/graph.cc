#include "cameras/internal/graph.h"

#include <algorithm>
#include <condition_variable>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "pipeline/attributes/colour.h"

namespace heteroaccel::cameras::internal {

using pipeline::BlockType;

struct Graph::Node {
  const pipeline::BlockSpec* spec = nullptr;
  size_t index = 0;
  std::vector<size_t> inputs;  // block indices; empty for detect (the source)
  size_t track = SIZE_MAX;     // the track block this block's data comes from
  std::unique_ptr<pipeline::Tracker> tracker;
  std::unique_ptr<pipeline::Rule> rule;
  std::vector<const pipeline::SinkParams*> sinks;  // rules: sinks fed by it
  std::unordered_map<uint64_t, double> last_done;  // crop_infer/colour: track -> time
  // Track blocks: what the rules of this branch see.
  pipeline::RuleInputs inputs_for_rules;
  std::unordered_map<uint64_t, std::string> colours;  // track blocks: latest colour
  // This frame's value.
  bool present = false;
  pipeline::FrameResult frame;
  std::vector<pipeline::Track> tracks;
};

namespace {

bool ClassMatches(const std::vector<std::string>& classes, const std::string& label) {
  return classes.empty() || std::find(classes.begin(), classes.end(), label) != classes.end();
}

// `box` grown by `margin` of its size on each side, clipped to the frame.
cv::Rect CropRect(const pipeline::Rect& box, int width, int height, float margin) {
  const float mx = box.Width() * margin;
  const float my = box.Height() * margin;
  const int x1 = std::clamp(static_cast<int>(box.x1 - mx), 0, width);
  const int y1 = std::clamp(static_cast<int>(box.y1 - my), 0, height);
  const int x2 = std::clamp(static_cast<int>(box.x2 + mx + 1), 0, width);
  const int y2 = std::clamp(static_cast<int>(box.y2 + my + 1), 0, height);
  return {x1, y1, std::max(0, x2 - x1), std::max(0, y2 - y1)};
}

std::vector<pipeline::Detection> Filter(const pipeline::FilterParams& p,
                                        const pipeline::CameraSpec& spec,
                                        const std::vector<pipeline::Detection>& in) {
  std::vector<pipeline::Detection> out;
  for (const pipeline::Detection& d : in) {
    if (!ClassMatches(p.classes, d.label) || d.score < p.min_score) continue;
    const double area = d.box.Area();
    if ((p.min_area && area < *p.min_area) || (p.max_area && area > *p.max_area)) continue;
    bool masked = false;
    for (const std::string& name : p.mask) {
      const pipeline::Zone* zone = spec.FindZone(name);
      masked |= zone != nullptr && pipeline::PointInPolygon(zone->polygon, d.box.BottomCenter());
    }
    if (!masked) out.push_back(d);
  }
  return out;
}

// Waits for a set of crop answers, at most until a deadline.
struct CropBatch {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::vector<std::optional<absl::StatusOr<InferAnswer>>> answers;
};

}  // namespace

std::string EncodeJpeg(const cv::Mat& bgr, int quality) {
  std::vector<uchar> bytes;
  try {
    if (bgr.empty() || !cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality})) {
      return "";
    }
  } catch (const cv::Exception&) {
    return "";
  }
  return std::string(bytes.begin(), bytes.end());
}

Graph::Graph(const pipeline::CameraSpec& spec, GraphOptions options, InferenceBackend& backend)
    : spec_(spec), options_(options), backend_(backend) {}

Graph::~Graph() = default;

absl::StatusOr<std::unique_ptr<Graph>> Graph::Create(const pipeline::CameraSpec& spec,
                                                     GraphOptions options,
                                                     InferenceBackend& backend) {
  std::unique_ptr<Graph> g(new Graph(spec, options, backend));
  auto order = pipeline::TopologicalOrder(g->spec_);
  if (!order.ok()) return order.status();
  g->order_ = *std::move(order);
  const pipeline::CameraSpec& s = g->spec_;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < s.blocks.size(); ++i) index[s.blocks[i].id] = i;
  g->stats_.resize(s.blocks.size());
  for (size_t i = 0; i < s.blocks.size(); ++i) {
    auto node = std::make_unique<Node>();
    node->spec = &s.blocks[i];
    node->index = i;
    for (const std::string& in : s.blocks[i].inputs) {
      if (auto it = index.find(in); it != index.end()) node->inputs.push_back(it->second);
    }
    g->nodes_.push_back(std::move(node));
  }
  for (size_t i : g->order_) {
    Node& n = *g->nodes_[i];
    const pipeline::BlockSpec& b = *n.spec;
    if (b.type == BlockType::kTrack) {
      n.track = i;
    } else if (!n.inputs.empty()) {
      n.track = g->nodes_[n.inputs[0]]->track;
    }
    switch (b.type) {
      case BlockType::kDetect:
        g->detects_.push_back({i, std::get<pipeline::DetectParams>(b.params)});
        break;
      case BlockType::kTrack: {
        const auto& p = std::get<pipeline::TrackParams>(b.params);
        pipeline::TrackerOptions t;
        t.min_hits = p.min_hits;
        t.max_lost = p.max_lost;
        t.iou = p.iou;
        auto tracker = pipeline::Tracker::Create(t);
        if (!tracker.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("camera \"", s.id, "\": block \"", b.id,
                                                         "\": ", tracker.status().message()));
        }
        n.tracker = *std::move(tracker);
        break;
      }
      case BlockType::kSink:
        for (size_t in : n.inputs) {
          g->nodes_[in]->sinks.push_back(&std::get<pipeline::SinkParams>(b.params));
        }
        break;
      default:
        if (pipeline::IsRule(b.type)) {
          auto rule = pipeline::MakeRule(s, b);
          if (!rule.ok()) return rule.status();
          n.rule = *std::move(rule);
        }
        break;
    }
  }
  return g;
}

void Graph::Count(size_t block, uint64_t in, uint64_t out, uint64_t errors) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  BlockStats& s = stats_[block];
  s.in += in;
  s.out += out;
  s.errors += errors;
  ++s.runs;
}

void Graph::CountDetectError(size_t detect) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  BlockStats& s = stats_[detects_[detect].block];
  ++s.in;
  ++s.errors;
}

void Graph::RunCropInfer(Node& node, const cv::Mat& bgr, double time) {
  const auto& p = std::get<pipeline::CropInferParams>(node.spec->params);
  Node& track = *nodes_[node.track];
  // Tracks due for a crop: confirmed, matched now, of the classes; the ones
  // cropped longest ago first.
  std::vector<std::pair<double, size_t>> due;
  for (size_t i = 0; i < node.tracks.size(); ++i) {
    const pipeline::Track& t = node.tracks[i];
    if (!t.confirmed || !t.detection || !ClassMatches(p.classes, t.label)) continue;
    auto it = node.last_done.find(t.id);
    const double last = it == node.last_done.end() ? -1e18 : it->second;
    if (time - last >= options_.crop_interval_s) due.emplace_back(last, i);
  }
  std::sort(due.begin(), due.end());
  if (due.size() > options_.max_crops) due.resize(options_.max_crops);
  auto batch = std::make_shared<CropBatch>();
  batch->answers.resize(due.size());
  std::vector<cv::Rect> rects(due.size());
  for (size_t k = 0; k < due.size(); ++k) {
    const pipeline::Track& t = node.tracks[due[k].second];
    node.last_done[t.id] = time;
    rects[k] = CropRect(t.box, bgr.cols, bgr.rows, 0.1F);
    if (rects[k].width < 2 || rects[k].height < 2) {
      batch->answers[k] = absl::InvalidArgumentError("empty crop");
      continue;
    }
    std::string jpeg = EncodeJpeg(bgr(rects[k]), options_.jpeg_quality);
    if (jpeg.empty()) {
      batch->answers[k] = absl::InternalError("cannot encode the crop");
      continue;
    }
    InferCall call{spec_.id,
                   p.type,
                   "",
                   std::make_shared<const std::string>(std::move(jpeg)),
                   options_.crop_wait,
                   options_.priority};
    {
      std::lock_guard<std::mutex> lock(batch->mu);
      ++batch->outstanding;
    }
    backend_.Infer(std::move(call), [batch, k](absl::StatusOr<InferAnswer> answer) {
      std::lock_guard<std::mutex> lock(batch->mu);
      batch->answers[k] = std::move(answer);
      if (--batch->outstanding == 0) batch->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(batch->mu);
  batch->cv.wait_for(lock, options_.crop_wait, [&] { return batch->outstanding == 0; });
  uint64_t results = 0, errors = 0;
  for (size_t k = 0; k < due.size(); ++k) {
    const uint64_t id = node.tracks[due[k].second].id;
    if (!batch->answers[k] || !batch->answers[k]->ok()) {
      ++errors;
      continue;
    }
    const std::vector<pipeline::Detection>& found = (*batch->answers[k])->detections;
    const float dx = static_cast<float>(rects[k].x), dy = static_cast<float>(rects[k].y);
    if (p.type == "text") {
      auto& texts = track.inputs_for_rules.texts[id];
      for (const pipeline::Detection& d : found) {
        if (!d.text.empty()) texts.push_back({d.text, d.score});
      }
      results += found.empty() ? 0 : 1;
    } else if (!found.empty()) {
      const auto best =
          std::max_element(found.begin(), found.end(),
                           [](const auto& a, const auto& b) { return a.score < b.score; });
      std::vector<pipeline::Keypoint> keypoints = best->keypoints;
      for (pipeline::Keypoint& kp : keypoints) kp.p = {kp.p.x + dx, kp.p.y + dy};
      if (!keypoints.empty()) {
        track.inputs_for_rules.keypoints[id] = std::move(keypoints);
        ++results;
      }
    }
  }
  Count(node.index, due.size(), results, errors);
}

void Graph::RunColour(Node& node, const cv::Mat& bgr, double time) {
  const auto& p = std::get<pipeline::ColourParams>(node.spec->params);
  Node& track = *nodes_[node.track];
  uint64_t in = 0, out = 0;
  for (const pipeline::Track& t : node.tracks) {
    if (!t.confirmed || !t.detection || !ClassMatches(p.classes, t.label)) continue;
    auto it = node.last_done.find(t.id);
    if (it != node.last_done.end() && time - it->second < options_.colour_interval_s) continue;
    node.last_done[t.id] = time;
    ++in;
    std::string colour = pipeline::DominantColour(bgr, t.box);
    if (!colour.empty()) {
      track.colours[t.id] = std::move(colour);
      ++out;
    }
  }
  Count(node.index, in, out);
}

void Graph::Run(const cv::Mat& bgr, uint64_t frame_index, double time,
                const std::vector<std::optional<InferAnswer>>& answers,
                std::vector<RuleEvent>& out) {
  for (auto& n : nodes_) {
    n->present = false;
    n->tracks.clear();
  }
  for (size_t d = 0; d < detects_.size(); ++d) {
    if (!answers[d]) continue;
    Node& n = *nodes_[detects_[d].block];
    n.present = true;
    n.frame = pipeline::FrameResult{
        frame_index, time, bgr.cols, bgr.rows, answers[d]->detections, answers[d]->provenance};
    Count(n.index, 1, n.frame.detections.size());
  }
  // Phases in topological order: filter, track, crop_infer, colour, rules.
  const BlockType phases[] = {BlockType::kFilter, BlockType::kTrack, BlockType::kCropInfer,
                              BlockType::kColour};
  for (BlockType phase : phases) {
    for (size_t i : order_) {
      Node& n = *nodes_[i];
      if (n.spec->type != phase || n.inputs.empty() || !nodes_[n.inputs[0]]->present) continue;
      const Node& in = *nodes_[n.inputs[0]];
      n.present = true;
      n.frame = in.frame;
      switch (phase) {
        case BlockType::kFilter:
          n.frame.detections =
              Filter(std::get<pipeline::FilterParams>(n.spec->params), spec_, in.frame.detections);
          Count(i, in.frame.detections.size(), n.frame.detections.size());
          break;
        case BlockType::kTrack: {
          n.tracks = n.tracker->Update(n.frame);
          n.inputs_for_rules.keypoints.clear();
          n.inputs_for_rules.texts.clear();
          // Colours of tracks that ended are forgotten.
          std::set<uint64_t> live;
          for (const pipeline::Track& t : n.tracks) live.insert(t.id);
          std::erase_if(n.colours, [&](const auto& kv) { return !live.contains(kv.first); });
          Count(i, n.frame.detections.size(), n.tracks.size());
          break;
        }
        case BlockType::kCropInfer:
          n.tracks = in.tracks;
          RunCropInfer(n, bgr, time);
          break;
        default:
          n.tracks = in.tracks;
          RunColour(n, bgr, time);
          break;
      }
      if (phase != BlockType::kTrack && phase != BlockType::kFilter) {
        std::erase_if(n.last_done, [&](const auto& kv) {
          return std::none_of(n.tracks.begin(), n.tracks.end(),
                              [&](const pipeline::Track& t) { return t.id == kv.first; });
        });
      }
    }
  }
  size_t open = 0;
  std::map<std::string, std::vector<pipeline::RuleCounter>> counters;
  for (size_t i : order_) {
    Node& n = *nodes_[i];
    if (!n.rule) continue;
    if (!n.inputs.empty() && nodes_[n.inputs[0]]->present && n.track != SIZE_MAX) {
      Node& track = *nodes_[n.track];
      track.inputs_for_rules.colours = track.colours;
      std::vector<pipeline::Event> events;
      n.rule->Observe(track.frame, track.tracks, track.inputs_for_rules, events);
      Count(i, 1, events.size());
      for (pipeline::Event& e : events) {
        RuleEvent r{std::move(e), n.sinks, std::nullopt};
        for (const pipeline::Track& t : track.tracks) {
          if (t.id == r.event.track_id && r.event.track_id != 0) r.current_box = t.box;
        }
        out.push_back(std::move(r));
      }
    }
    open += n.rule->open_events();
    if (std::vector<pipeline::RuleCounter> c = n.rule->Counters(); !c.empty()) {
      counters[n.spec->id] = std::move(c);
    }
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  open_events_ = open;
  rule_counters_ = std::move(counters);
}

void Graph::Finish(double time, std::vector<RuleEvent>& out) {
  for (size_t i : order_) {
    Node& n = *nodes_[i];
    if (!n.rule) continue;
    std::vector<pipeline::Event> events;
    n.rule->Finish(time, events);
    for (pipeline::Event& e : events) out.push_back({std::move(e), n.sinks, std::nullopt});
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  open_events_ = 0;
}

std::vector<BlockStats> Graph::Stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

std::map<std::string, std::vector<pipeline::RuleCounter>> Graph::RuleCounters() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return rule_counters_;
}

size_t Graph::open_events() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return open_events_;
}

}  // namespace heteroaccel::cameras::internal
