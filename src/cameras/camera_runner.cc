#include "cameras/camera_runner.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <deque>
#include <opencv2/imgproc.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "cameras/internal/graph.h"
#include "events/event_store.h"
#include "events/mqtt_publisher.h"

namespace heteroaccel::cameras {

using Clock = std::chrono::steady_clock;

namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// CPU time of the calling thread.
int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The frame with the event's box and a label drawn, as JPEG.
std::string Snapshot(const cv::Mat& bgr, const pipeline::Rect& box, const std::string& label,
                     int quality) {
  cv::Mat canvas = bgr.clone();
  const cv::Point p1(static_cast<int>(box.x1), static_cast<int>(box.y1));
  const cv::Point p2(static_cast<int>(box.x2), static_cast<int>(box.y2));
  const cv::Scalar colour(0, 0, 255);
  cv::rectangle(canvas, p1, p2, colour, 2);
  int baseline = 0;
  const cv::Size size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &baseline);
  const int top = std::max(0, p1.y - size.height - 6);
  cv::rectangle(canvas, cv::Point(p1.x, top),
                cv::Point(p1.x + size.width + 6, top + size.height + 6), colour, cv::FILLED);
  cv::putText(canvas, label, cv::Point(p1.x + 3, top + size.height + 2), cv::FONT_HERSHEY_SIMPLEX,
              0.5, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  return internal::EncodeJpeg(canvas, quality);
}

}  // namespace

// One frame between submission and processing.
struct InFlight {
  video::VideoFrame frame;
  std::shared_ptr<const std::string> jpeg;
  std::vector<std::optional<absl::StatusOr<InferAnswer>>> answers;  // per detect block
  size_t outstanding = 0;
  Clock::time_point submitted;
};

struct CameraRunner::Shared {
  absl::Mutex mu;
  absl::CondVar changed;
  std::map<uint64_t, InFlight> frames ABSL_GUARDED_BY(mu);  // by sequence number
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 0;
  bool capture_done ABSL_GUARDED_BY(mu) = false;  // the source ended (or stopped)
  bool stopping ABSL_GUARDED_BY(mu) = false;
  Clock::time_point stop_deadline ABSL_GUARDED_BY(mu);
  bool started ABSL_GUARDED_BY(mu) = false;
  bool ended ABSL_GUARDED_BY(mu) = false;  // a file ended and every frame was processed

  // Statistics (under mu).
  uint64_t processed ABSL_GUARDED_BY(mu) = 0;
  double detection_s ABSL_GUARDED_BY(mu) = 0;
  uint64_t detections ABSL_GUARDED_BY(mu) = 0;
  int64_t cpu_ns ABSL_GUARDED_BY(mu) = 0;
  std::string last_error ABSL_GUARDED_BY(mu);
  int64_t last_event_ms ABSL_GUARDED_BY(mu) = 0;
  uint64_t events ABSL_GUARDED_BY(mu) = 0;
  std::set<std::string> event_types ABSL_GUARDED_BY(mu);  // with a series in events_total
  std::shared_ptr<const std::string> latest ABSL_GUARDED_BY(mu);
  std::deque<std::tuple<Clock::time_point, uint64_t, uint64_t>> samples ABSL_GUARDED_BY(mu);
  double cpu_exported_s ABSL_GUARDED_BY(mu) = 0;
};

CameraRunner::CameraRunner(pipeline::CameraSpec spec, RunnerOptions options,
                           InferenceBackend& backend, EventOutputs outputs, CameraMetrics* metrics)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      backend_(backend),
      outputs_(std::move(outputs)),
      metrics_(metrics),
      shared_(std::make_shared<Shared>()) {}

absl::StatusOr<std::unique_ptr<CameraRunner>> CameraRunner::Create(const pipeline::CameraSpec& spec,
                                                                   RunnerOptions options,
                                                                   InferenceBackend& backend,
                                                                   EventOutputs outputs,
                                                                   CameraMetrics* metrics) {
  if (outputs.store == nullptr) return absl::InvalidArgumentError("camera runner: no event store");
  if (options.window == 0) return absl::InvalidArgumentError("camera runner: window must be >= 1");
  auto source_spec = video::ParseSourceSpec(spec.source, spec.id);
  if (!source_spec.ok()) return source_spec.status();
  std::unique_ptr<CameraRunner> runner(
      new CameraRunner(spec, std::move(options), backend, std::move(outputs), metrics));
  video::FrameSource::Options source_options = runner->options_.source;
  source_options.thread_name = "cam-" + spec.id.substr(0, 10);
  auto source = video::FrameSource::Create(*source_spec, source_options);
  if (!source.ok()) return source.status();
  runner->source_ = *std::move(source);
  internal::GraphOptions g;
  g.max_crops = runner->options_.max_crops;
  g.crop_interval_s = std::chrono::duration<double>(runner->options_.crop_interval).count();
  g.crop_wait = runner->options_.crop_wait;
  g.colour_interval_s = std::chrono::duration<double>(runner->options_.colour_interval).count();
  g.jpeg_quality = runner->options_.jpeg_quality;
  g.priority = runner->options_.priority;
  auto graph = internal::Graph::Create(runner->spec_, g, backend);
  if (!graph.ok()) return graph.status();
  runner->graph_ = *std::move(graph);
  return runner;
}

CameraRunner::~CameraRunner() { Stop(); }

absl::Status CameraRunner::Start() {
  absl::MutexLock lock(&threads_mu_);
  if (started_) return absl::FailedPreconditionError("camera runner already started");
  if (absl::Status s = source_->Start(); !s.ok()) return s;
  started_ = true;
  {
    absl::MutexLock l(&shared_->mu);
    shared_->started = true;
  }
  if (metrics_ != nullptr) metrics_->up.WithLabels({spec_.id}).Set(1);
  capture_ = std::thread([this] { CaptureLoop(); });
  pipeline_ = std::thread([this] { PipelineLoop(); });
  return absl::OkStatus();
}

void CameraRunner::Stop() {
  absl::MutexLock lock(&threads_mu_);
  {
    absl::MutexLock l(&shared_->mu);
    if (!shared_->stopping) {
      shared_->stopping = true;
      shared_->stop_deadline = Clock::now() + options_.stop_wait;
    }
    shared_->changed.SignalAll();
  }
  source_->Stop();
  if (capture_.joinable()) capture_.join();
  if (pipeline_.joinable()) pipeline_.join();
  if (metrics_ != nullptr && started_) metrics_->up.WithLabels({spec_.id}).Set(0);
}

bool CameraRunner::running() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->started && !shared_->stopping && !shared_->ended;
}

absl::Status CameraRunner::Push(std::string_view encoded_image) {
  if (source_->spec().type != video::SourceType::kPush) {
    return absl::FailedPreconditionError(
        absl::StrCat("camera \"", spec_.id, "\" is not a push source (its source is ",
                     std::string(video::SourceTypeName(source_->spec().type)), ")"));
  }
  {
    absl::MutexLock lock(&shared_->mu);
    if (shared_->stopping) {
      return absl::FailedPreconditionError(absl::StrCat("camera \"", spec_.id, "\" is stopped"));
    }
    if (shared_->frames.size() >= options_.window) {
      return absl::ResourceExhaustedError(
          absl::StrCat("camera \"", spec_.id, "\": ", options_.window,
                       " frames are being processed; send the next one later"));
    }
  }
  return source_->Push(encoded_image);
}

std::shared_ptr<const std::string> CameraRunner::LatestFrame() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->latest;
}

namespace {

// Submits frame `seq`'s detect block `d`; the answer lands in the reorder buffer.
void Submit(InferenceBackend& backend, const std::shared_ptr<CameraRunner::Shared>& shared,
            const pipeline::CameraSpec& camera, const pipeline::DetectParams& p, int priority,
            std::shared_ptr<const std::string> jpeg, uint64_t seq, size_t d);

}  // namespace

void CameraRunner::CaptureLoop() {
  const std::vector<internal::Graph::Detect>& detects = graph_->detects();
  const bool live = source_->spec().Live();
  uint64_t taken = 0;
  std::shared_ptr<Shared> shared = shared_;
  while (true) {
    absl::StatusOr<video::VideoFrame> frame = source_->Next(std::chrono::milliseconds(200));
    if (!frame.ok()) {
      if (frame.status().code() == absl::StatusCode::kDeadlineExceeded) {
        absl::MutexLock lock(&shared->mu);
        if (shared->stopping) break;
        continue;
      }
      absl::MutexLock lock(&shared->mu);
      if (frame.status().code() != absl::StatusCode::kOutOfRange &&
          frame.status().code() != absl::StatusCode::kCancelled) {
        shared->last_error = std::string(frame.status().message());
      }
      break;  // ended, stopped or cannot open (the source's state says which)
    }
    const int64_t cpu_start = ThreadCpuNs();
    std::vector<size_t> selected;
    for (size_t d = 0; d < detects.size(); ++d) {
      if (taken % static_cast<uint64_t>(detects[d].params.every) == 0) selected.push_back(d);
    }
    ++taken;
    if (selected.empty()) {
      absl::MutexLock lock(&shared->mu);
      ++shared->processed;
      continue;
    }
    {
      absl::MutexLock lock(&shared->mu);
      if (live && shared->frames.size() >= options_.window) {
        source_->CountSkip(video::SkipReason::kBackpressure);
        continue;
      }
      // A file waits for room.
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared->mu) {
        return shared->stopping || shared->frames.size() < options_.window;
      };
      while (!room()) shared->changed.Wait(&shared->mu);
      if (shared->stopping) break;
    }
    auto jpeg = std::make_shared<const std::string>(
        internal::EncodeJpeg(frame->bgr, options_.jpeg_quality));
    uint64_t seq = 0;
    {
      absl::MutexLock lock(&shared->mu);
      seq = shared->next_seq++;
      InFlight& f = shared->frames[seq];
      f.frame = *std::move(frame);
      f.jpeg = jpeg;
      f.answers.resize(detects.size());
      f.outstanding = jpeg->empty() ? 0 : selected.size();
      f.submitted = Clock::now();
      if (jpeg->empty()) {
        for (size_t d : selected) f.answers[d] = absl::InternalError("cannot encode the frame");
      } else {
        shared->latest = jpeg;
      }
      shared->cpu_ns += ThreadCpuNs() - cpu_start;
    }
    if (jpeg->empty()) continue;
    for (size_t d : selected) {
      Submit(backend_, shared, spec_, detects[d].params, options_.priority, jpeg, seq, d);
    }
  }
  absl::MutexLock lock(&shared->mu);
  shared->capture_done = true;
  shared->changed.SignalAll();
}

namespace {

void Submit(InferenceBackend& backend, const std::shared_ptr<CameraRunner::Shared>& shared,
            const pipeline::CameraSpec& camera, const pipeline::DetectParams& p, int priority,
            std::shared_ptr<const std::string> jpeg, uint64_t seq, size_t d) {
  InferCall call{camera.id, p.type, p.variant, std::move(jpeg), std::nullopt, priority,
                 camera.node_group};
  if (p.deadline_ms) {
    call.deadline = std::chrono::milliseconds(static_cast<int64_t>(*p.deadline_ms));
  }
  backend.Infer(std::move(call), [shared, seq, d](absl::StatusOr<InferAnswer> answer) {
    absl::MutexLock lock(&shared->mu);
    auto it = shared->frames.find(seq);
    if (it == shared->frames.end()) return;  // given up at Stop()
    it->second.answers[d] = std::move(answer);
    --it->second.outstanding;
    shared->changed.SignalAll();
  });
}

}  // namespace

void CameraRunner::PipelineLoop() {
  std::shared_ptr<Shared> shared = shared_;
  const bool live = source_->spec().Live();
  uint64_t next = 0;
  double last_time = 0;
  auto backoff = std::chrono::milliseconds(500);
  bool file_ended = false;
  std::map<std::string, float> snapshot_scores;  // open events: the score of their snapshot
  auto deliver = [&](std::vector<internal::RuleEvent>& events, const video::VideoFrame* frame) {
    for (internal::RuleEvent& r : events) {
      pipeline::Event& e = r.event;
      std::optional<std::string> snapshot;
      if (frame != nullptr) {
        auto it = snapshot_scores.find(e.id);
        const bool is_snapshot_frame = e.snapshot_frame == frame->index;
        if (it == snapshot_scores.end() || (is_snapshot_frame && e.snapshot_score > it->second)) {
          const pipeline::Rect box = is_snapshot_frame || !r.current_box ? e.box : *r.current_box;
          const std::string label =
              absl::StrCat(e.type, " ", e.object, e.track_id ? absl::StrCat(" #", e.track_id) : "");
          snapshot = Snapshot(frame->bgr, box, label, options_.jpeg_quality);
          if (snapshot->empty()) snapshot.reset();
          snapshot_scores[e.id] = e.snapshot_score;
        }
      }
      if (e.phase == pipeline::EventPhase::kEnd) snapshot_scores.erase(e.id);
      const int64_t wall = WallMs();
      if (absl::Status s = outputs_.store->Upsert(e, wall, snapshot); !s.ok()) {
        spdlog::warn("camera {}: event {}: {}", spec_.id, e.id, s.ToString());
        absl::MutexLock lock(&shared->mu);
        shared->last_error = absl::StrCat("event store: ", s.message());
        continue;
      }
      if (e.phase == pipeline::EventPhase::kNew && metrics_ != nullptr) {
        metrics_->events.WithLabels({spec_.id, e.type}).Increment();
        if (frame != nullptr) {
          metrics_->frame_to_event_seconds.WithLabels({spec_.id})
              .Observe(std::chrono::duration<double>(Clock::now() - frame->captured).count());
        }
      }
      {
        absl::MutexLock lock(&shared->mu);
        shared->last_event_ms = wall;
        if (e.phase == pipeline::EventPhase::kNew) {
          ++shared->events;
          shared->event_types.insert(e.type);
        }
      }
      std::optional<events::StoredEvent> stored = outputs_.store->Get(e.id);
      if (!stored) continue;
      const nlohmann::json message = events::EventMessage(*stored, e.phase);
      if (outputs_.stream) outputs_.stream(message);
      for (const pipeline::SinkParams* sink : r.sinks) {
        if (sink->mqtt && outputs_.mqtt != nullptr) outputs_.mqtt->Publish(message);
        if (!sink->webhook.empty() && outputs_.webhook) outputs_.webhook(sink->webhook, message);
      }
    }
  };
  while (true) {
    InFlight f;
    {
      absl::MutexLock lock(&shared->mu);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared->mu) {
        auto it = shared->frames.find(next);
        if (it != shared->frames.end() && it->second.outstanding == 0) return true;
        if (shared->capture_done && shared->frames.empty()) return true;
        return shared->stopping && Clock::now() >= shared->stop_deadline;
      };
      while (!ready()) {
        if (shared->stopping) {
          shared->changed.WaitWithDeadline(
              &shared->mu, absl::Now() + absl::FromChrono(shared->stop_deadline - Clock::now()));
        } else {
          shared->changed.Wait(&shared->mu);
        }
      }
      auto it = shared->frames.find(next);
      if (it == shared->frames.end() || it->second.outstanding != 0) {
        // Done, or stopping past the wait: frames still in flight are given up.
        for (auto& [seq, given_up] : shared->frames) {
          (void)seq;
          (void)given_up;
          source_->CountSkip(video::SkipReason::kDeadline);
        }
        shared->frames.clear();
        file_ended = !shared->stopping;  // `ended` once its open events ended too
        break;
      }
      // A file waits for the cluster: a detect answered Unavailable (no agent
      // yet) or NotFound (no device serves the type yet) is sent again
      // after a back-off, so no frame of a file is lost to a cluster not up.
      std::vector<size_t> retry;
      for (size_t d = 0; d < it->second.answers.size(); ++d) {
        const auto& a = it->second.answers[d];
        if (a && !a->ok() &&
            (a->status().code() == absl::StatusCode::kUnavailable ||
             a->status().code() == absl::StatusCode::kNotFound)) {
          retry.push_back(d);
        }
      }
      if (!live && !retry.empty() && !shared->stopping) {
        shared->last_error = absl::StrCat("waiting for the cluster: ",
                                          it->second.answers[retry[0]]->status().message());
        for (size_t d : retry) it->second.answers[d].reset();
        it->second.outstanding = retry.size();
        it->second.submitted = Clock::now() + backoff;  // detection time counts from the resend
        std::shared_ptr<const std::string> jpeg = it->second.jpeg;
        shared->changed.WaitWithTimeout(&shared->mu, absl::FromChrono(backoff));
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        shared->mu.Unlock();
        for (size_t d : retry) {
          Submit(backend_, shared, spec_, graph_->detects()[d].params, options_.priority, jpeg,
                 next, d);
        }
        shared->mu.Lock();
        continue;
      }
      if (retry.empty()) backoff = std::chrono::milliseconds(500);
      f = std::move(it->second);
      // The slot stays taken until the frame is processed (erased below).
    }
    const int64_t cpu_start = ThreadCpuNs();
    std::vector<std::optional<InferAnswer>> answers(f.answers.size());
    std::optional<video::SkipReason> failed;
    std::string error;
    double detection_s = 0;
    for (size_t d = 0; d < f.answers.size(); ++d) {
      if (!f.answers[d]) continue;
      if (f.answers[d]->ok()) {
        answers[d] = *std::move(*f.answers[d]);
        continue;
      }
      const absl::Status& s = f.answers[d]->status();
      graph_->CountDetectError(d);
      failed = s.code() == absl::StatusCode::kDeadlineExceeded ? video::SkipReason::kDeadline
                                                               : video::SkipReason::kInferenceError;
      error = absl::StrCat("detect: ", s.message());
    }
    detection_s = std::chrono::duration<double>(Clock::now() - f.submitted).count();
    std::vector<internal::RuleEvent> events;
    // No exception leaves the camera's thread (OpenCV, a rule's regex, memory):
    // the frame counts as an inference_error and the camera goes on.
    try {
      graph_->Run(f.frame.bgr, f.frame.index, f.frame.time, answers, events);
      deliver(events, &f.frame);
    } catch (const std::exception& e) {
      failed = video::SkipReason::kInferenceError;
      error = absl::StrCat("pipeline: ", e.what());
      spdlog::warn("camera {}: frame {}: {}", spec_.id, f.frame.index, e.what());
    }
    last_time = f.frame.time;
    if (failed) source_->CountSkip(*failed);
    if (metrics_ != nullptr && !failed) {
      metrics_->detection_seconds.WithLabels({spec_.id}).Observe(detection_s);
    }
    absl::MutexLock lock(&shared->mu);
    shared->frames.erase(next);
    ++next;
    if (failed) {
      shared->last_error = error;
    } else {
      shared->last_error.clear();  // what went wrong before is over: this frame went through
      ++shared->processed;
      shared->detection_s += detection_s;
      ++shared->detections;
    }
    shared->cpu_ns += ThreadCpuNs() - cpu_start;
    shared->changed.SignalAll();
  }
  try {
    std::vector<internal::RuleEvent> events;
    graph_->Finish(last_time, events);
    deliver(events, nullptr);
  } catch (const std::exception& e) {
    spdlog::warn("camera {}: ending its events: {}", spec_.id, e.what());
  }
  absl::MutexLock lock(&shared->mu);
  shared->ended = file_ended;
}

nlohmann::json CameraRunner::StateJson() const {
  const video::SourceState source = source_->State();
  const video::SourceCounters counters = source_->Counters();
  nlohmann::json skipped = nlohmann::json::object();
  for (size_t r = 0; r < video::kSkipReasonCount; ++r) {
    skipped[std::string(video::SkipReasonName(static_cast<video::SkipReason>(r)))] =
        counters.skipped[r];
  }
  nlohmann::json source_json = {{"phase", std::string(video::SourcePhaseName(source.phase))},
                                {"last_error", source.last_error},
                                {"reconnects", source.reconnects},
                                {"width", source.width},
                                {"height", source.height},
                                {"source_fps", source.source_fps},
                                {"backoff_ms", source.backoff.count()}};
  if (source.next_retry) {
    source_json["next_retry_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(*source.next_retry - Clock::now())
            .count();
  }
  absl::MutexLock lock(&shared_->mu);
  // Rates over the last ~5 s of calls.
  const auto now = Clock::now();
  auto& samples = shared_->samples;
  samples.emplace_back(now, counters.captured, shared_->processed);
  while (samples.size() > 2 && now - std::get<0>(samples.front()) > std::chrono::seconds(5)) {
    samples.pop_front();
  }
  double fps_captured = 0, fps_processed = 0;
  if (samples.size() >= 2) {
    const double dt = std::chrono::duration<double>(now - std::get<0>(samples.front())).count();
    if (dt > 0) {
      fps_captured = static_cast<double>(counters.captured - std::get<1>(samples.front())) / dt;
      fps_processed = static_cast<double>(shared_->processed - std::get<2>(samples.front())) / dt;
    }
  }
  std::string state;
  if (shared_->ended) {
    state = "ended";
  } else if (shared_->stopping || source.phase == video::SourcePhase::kStopped) {
    state = "stopped";
  } else if (source.phase == video::SourcePhase::kEnded) {
    state = "running";  // the file is read; its last frames are still being processed
  } else {
    state = std::string(video::SourcePhaseName(source.phase));
  }
  const double processed = static_cast<double>(shared_->processed);
  return {{"state", state},
          {"source", std::move(source_json)},
          {"frames",
           {{"captured", counters.captured},
            {"taken", counters.taken},
            {"pending", counters.pending},
            {"processed", shared_->processed},
            {"in_flight", shared_->frames.size()},
            {"skipped", std::move(skipped)}}},
          {"fps", {{"captured", fps_captured}, {"processed", fps_processed}}},
          {"cpu_ms_per_frame", processed > 0 ? shared_->cpu_ns / 1e6 / processed : 0.0},
          {"detection_ms", shared_->detections > 0 ? shared_->detection_s * 1e3 /
                                                         static_cast<double>(shared_->detections)
                                                   : 0.0},
          {"last_error", shared_->last_error},
          {"last_event_ms",
           shared_->last_event_ms > 0 ? nlohmann::json(shared_->last_event_ms) : nullptr},
          {"events", shared_->events},
          {"open_events", graph_->open_events()}};
}

nlohmann::json CameraRunner::PipelineJson() const {
  const std::vector<internal::BlockStats> stats = graph_->Stats();
  nlohmann::json blocks = nlohmann::json::array();
  nlohmann::json edges = nlohmann::json::array();
  for (size_t i = 0; i < spec_.blocks.size(); ++i) {
    const pipeline::BlockSpec& b = spec_.blocks[i];
    const internal::BlockStats& s = stats[i];
    blocks.push_back({{"id", b.id},
                      {"block", std::string(pipeline::BlockTypeName(b.type))},
                      {"inputs", b.inputs},
                      {"in", s.in},
                      {"out", s.out},
                      {"errors", s.errors},
                      {"runs", s.runs},
                      {"state", s.errors > 0 && s.errors * 2 > s.in ? "failing"
                                : s.runs > 0                        ? "active"
                                                                    : "idle"}});
    for (const std::string& in : b.inputs) edges.push_back({in, b.id});
  }
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [rule, list] : graph_->RuleCounters()) {
    for (const pipeline::RuleCounter& c : list) counters[rule][c.name] = c.value;
  }
  return {{"camera", spec_.id},
          {"blocks", std::move(blocks)},
          {"edges", std::move(edges)},
          {"rule_counters", std::move(counters)}};
}

void CameraRunner::ExportMetrics() {
  if (metrics_ == nullptr) return;
  absl::MutexLock metrics_lock(&metrics_mu_);
  if (metrics_removed_) return;  // a scrape racing the camera's deletion
  const video::SourceCounters c = source_->Counters();
  const std::string& id = spec_.id;
  metrics_->captured.WithLabels({id}).SetTotal(static_cast<double>(c.captured));
  metrics_->reconnects.WithLabels({id}).SetTotal(static_cast<double>(c.reconnects));
  for (size_t r = 0; r < video::kSkipReasonCount; ++r) {
    metrics_->skipped
        .WithLabels({id, std::string(video::SkipReasonName(static_cast<video::SkipReason>(r)))})
        .SetTotal(static_cast<double>(c.skipped[r]));
  }
  for (const auto& [rule, list] : graph_->RuleCounters()) {
    for (const pipeline::RuleCounter& rc : list) {
      metrics_->line_crossings.WithLabels({id, rule, rc.name})
          .SetTotal(static_cast<double>(rc.value));
    }
  }
  absl::MutexLock lock(&shared_->mu);
  metrics_->processed.WithLabels({id}).SetTotal(static_cast<double>(shared_->processed));
  metrics_->cpu_seconds.WithLabels({id}).SetTotal(static_cast<double>(shared_->cpu_ns) / 1e9);
}

void CameraRunner::RemoveMetrics() {
  if (metrics_ == nullptr) return;
  absl::MutexLock metrics_lock(&metrics_mu_);
  metrics_removed_ = true;
  const std::string& id = spec_.id;
  for (auto* family :
       {&metrics_->captured, &metrics_->processed, &metrics_->reconnects, &metrics_->cpu_seconds}) {
    family->Remove({id});
  }
  metrics_->up.Remove({id});
  metrics_->detection_seconds.Remove({id});
  metrics_->frame_to_event_seconds.Remove({id});
  for (size_t r = 0; r < video::kSkipReasonCount; ++r) {
    metrics_->skipped.Remove(
        {id, std::string(video::SkipReasonName(static_cast<video::SkipReason>(r)))});
  }
  for (const auto& [rule, list] : graph_->RuleCounters()) {
    for (const pipeline::RuleCounter& rc : list) {
      metrics_->line_crossings.Remove({id, rule, rc.name});
    }
  }
  absl::MutexLock lock(&shared_->mu);
  for (const std::string& type : shared_->event_types) metrics_->events.Remove({id, type});
}

}  // namespace heteroaccel::cameras
