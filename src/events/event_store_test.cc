#include "events/event_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"

namespace heteroaccel::events {
namespace {

namespace fs = std::filesystem;
using pipeline::Event;
using pipeline::EventPhase;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "/heteroaccel_events_XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Event MakeEvent(const std::string& id, EventPhase phase, const std::string& camera = "gate-1",
                const std::string& type = "intrusion") {
  Event e;
  e.id = id;
  e.phase = phase;
  e.camera = camera;
  e.group = "north";
  e.rule = "in-door";
  e.type = type;
  e.object = "person";
  e.colour = "red";
  e.track_id = 7;
  e.zone = "door";
  e.start = 12.5;
  e.box = {10, 20, 110, 220};
  e.snapshot_frame = 125;
  e.snapshot_score = 0.9f;
  e.provenance = {"node-a", "gpu0", "fp16", 1.5, 8.25};
  e.detail = R"({"inertia":3})";
  return e;
}

std::unique_ptr<EventStore> OpenStore(const std::string& dir, size_t max_count = 0) {
  EventStoreOptions options;
  options.dir = dir;
  options.max_age = std::chrono::milliseconds(0);
  options.max_count = max_count;
  options.prune_interval = std::chrono::milliseconds(0);
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  return files;
}

TEST(EventStoreTest, LifecycleNewUpdateEnd) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Upsert(MakeEvent("gate-1/in-door/1", EventPhase::kNew), 1000, "jpeg-1").ok());
  std::optional<StoredEvent> got = store->Get("gate-1/in-door/1");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->active);
  EXPECT_EQ(got->start_ms, 1000);
  EXPECT_FALSE(got->end_ms.has_value());
  EXPECT_EQ(got->event.camera, "gate-1");
  EXPECT_EQ(got->event.group, "north");
  EXPECT_EQ(got->event.track_id, 7u);
  EXPECT_EQ(got->event.box, (pipeline::Rect{10, 20, 110, 220}));
  EXPECT_EQ(got->event.provenance.device, "gpu0");
  EXPECT_DOUBLE_EQ(got->event.provenance.compute_ms, 8.25);
  EXPECT_EQ(*store->Snapshot("gate-1/in-door/1"), "jpeg-1");

  Event update = MakeEvent("gate-1/in-door/1", EventPhase::kUpdate);
  update.box = {12, 22, 112, 222};
  update.detail = R"({"inertia":3,"frames":9})";
  ASSERT_TRUE(store->Upsert(update, 2000, "jpeg-2").ok());
  got = store->Get("gate-1/in-door/1");
  EXPECT_TRUE(got->active);
  EXPECT_EQ(got->start_ms, 1000) << "an update keeps the start";
  EXPECT_EQ(got->created_ms, 1000);
  EXPECT_EQ(got->updated_ms, 2000);
  EXPECT_EQ(got->event.box.x1, 12);
  EXPECT_EQ(*store->Snapshot("gate-1/in-door/1"), "jpeg-2") << "a new snapshot replaces the old";

  Event end = MakeEvent("gate-1/in-door/1", EventPhase::kEnd);
  end.end = 20.5;
  ASSERT_TRUE(store->Upsert(end, 3000).ok());
  got = store->Get("gate-1/in-door/1");
  EXPECT_FALSE(got->active);
  EXPECT_EQ(got->end_ms, 3000);
  EXPECT_EQ(got->event.end, 20.5);
  EXPECT_EQ(*store->Snapshot("gate-1/in-door/1"), "jpeg-2") << "no snapshot given keeps the old";

  // An update arriving after the end does not revive the event.
  ASSERT_TRUE(store->Upsert(MakeEvent("gate-1/in-door/1", EventPhase::kUpdate), 4000).ok());
  got = store->Get("gate-1/in-door/1");
  EXPECT_FALSE(got->active);
  EXPECT_EQ(got->end_ms, 3000);
  EXPECT_EQ(store->Count(), 1u);
  EXPECT_EQ(FilesUnder(dir.path() + "/snapshots").size(), 1u);
}

TEST(EventStoreTest, UpdateOrEndForUnknownIdInserts) {
  auto store = OpenStore("");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Upsert(MakeEvent("u1", EventPhase::kUpdate), 5000).ok());
  Event end = MakeEvent("e1", EventPhase::kEnd);
  end.start = 10;
  end.end = 14;
  ASSERT_TRUE(store->Upsert(end, 9000).ok());
  EXPECT_TRUE(store->Get("u1")->active);
  EXPECT_EQ(store->Get("u1")->start_ms, 5000);
  std::optional<StoredEvent> e1 = store->Get("e1");
  ASSERT_TRUE(e1.has_value());
  EXPECT_FALSE(e1->active);
  EXPECT_EQ(e1->start_ms, 5000) << "start estimated from the camera times";
  EXPECT_EQ(e1->end_ms, 9000);
  EXPECT_FALSE(store->Get("nope").has_value());
  EXPECT_EQ(store->Snapshot("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Snapshot("u1").status().code(), absl::StatusCode::kNotFound);
}

TEST(EventStoreTest, RejectsBadIds) {
  auto store = OpenStore("");
  absl::Status empty = store->Upsert(MakeEvent("", EventPhase::kNew), 1);
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(empty.message().find("event id"), std::string::npos);
  EXPECT_EQ(store->Upsert(MakeEvent(std::string(300, 'x'), EventPhase::kNew), 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Count(), 0u);
}

std::vector<std::string> Ids(const EventPage& page) {
  std::vector<std::string> ids;
  for (const StoredEvent& e : page.events) ids.push_back(e.event.id);
  return ids;
}

TEST(EventStoreTest, EveryFilter) {
  auto store = OpenStore("");
  auto add = [&](const std::string& id, const std::string& camera, const std::string& group,
                 const std::string& type, int64_t start_ms, bool end) {
    Event e = MakeEvent(id, EventPhase::kNew, camera, type);
    e.group = group;
    ASSERT_TRUE(store->Upsert(e, start_ms).ok());
    if (end) {
      e.phase = EventPhase::kEnd;
      ASSERT_TRUE(store->Upsert(e, start_ms + 5).ok());
    }
  };
  add("a", "cam-1", "north", "intrusion", 100, true);
  add("b", "cam-2", "north", "loitering", 200, false);
  add("c", "cam-1", "south", "loitering", 300, false);
  add("d", "cam-3", "", "fall", 400, true);
  auto query = [&](EventQuery q) {
    absl::StatusOr<EventPage> page = store->Query(q);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? Ids(*page) : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(query({}), (V{"d", "c", "b", "a"}));
  EXPECT_EQ(query({.camera = "cam-1"}), (V{"c", "a"}));
  EXPECT_EQ(query({.group = "north"}), (V{"b", "a"}));
  EXPECT_EQ(query({.type = "loitering"}), (V{"c", "b"}));
  EXPECT_EQ(query({.since_ms = 200}), (V{"d", "c", "b"}));
  EXPECT_EQ(query({.until_ms = 300}), (V{"b", "a"}));
  EXPECT_EQ(query({.since_ms = 200, .until_ms = 400}), (V{"c", "b"}));
  EXPECT_EQ(query({.active_only = true}), (V{"c", "b"}));
  EXPECT_EQ(query({.camera = "cam-1", .type = "loitering", .active_only = true}), (V{"c"}));
  EXPECT_EQ(query({.camera = "x' OR '1'='1"}), V{});
  EXPECT_EQ(query({.limit = 1}), (V{"d"}));

  for (int bad : {0, -1, 501}) {
    absl::StatusOr<EventPage> page = store->Query({.limit = bad});
    ASSERT_FALSE(page.ok());
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(page.status().message().find("limit"), std::string::npos);
  }
  for (const std::string& cursor :
       std::vector<std::string>{"!!!", "bm9jb2xvbg", std::string(2000, 'A')}) {
    absl::StatusOr<EventPage> page = store->Query({.cursor = cursor});
    ASSERT_FALSE(page.ok()) << cursor;
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(page.status().message().find("cursor"), std::string::npos);
  }
}

TEST(EventStoreTest, CursorPagesHaveNoDuplicatesOrGapsWhileEventsArrive) {
  auto store = OpenStore("");
  std::set<std::string> originals;
  for (int i = 0; i < 230; ++i) {
    const std::string id = absl::StrCat("cam/r/", i);
    // Several events share a start (ties are broken by id).
    ASSERT_TRUE(store->Upsert(MakeEvent(id, EventPhase::kNew), 10'000 + i / 3).ok());
    originals.insert(id);
  }
  std::vector<std::string> seen;
  std::pair<int64_t, std::string> previous{INT64_MAX, ""};
  EventQuery query{.limit = 7};
  int pages = 0;
  for (;; ++pages) {
    absl::StatusOr<EventPage> page = store->Query(query);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const StoredEvent& e : page->events) {
      const std::pair<int64_t, std::string> key{e.start_ms, e.event.id};
      EXPECT_LT(key, previous) << "newest first, strictly";
      previous = key;
      seen.push_back(e.event.id);
    }
    // New events arrive between pages, newer than everything.
    ASSERT_TRUE(
        store->Upsert(MakeEvent(absl::StrCat("new/", pages), EventPhase::kNew), 20'000 + pages)
            .ok());
    if (page->next_cursor.empty()) break;
    query.cursor = page->next_cursor;
  }
  EXPECT_EQ(pages, 230 / 7);
  EXPECT_EQ(seen.size(), originals.size()) << "no duplicates";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), originals) << "no gaps";
}

TEST(EventStoreTest, RetentionByAgeAndCountRemovesSnapshotFiles) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        store->Upsert(MakeEvent(absl::StrCat("e", i), EventPhase::kNew), 1000 * i, "jpeg").ok());
  }
  ASSERT_EQ(FilesUnder(store->snapshot_dir()).size(), 10u);
  // e3 changed recently: age counts from the last change.
  ASSERT_TRUE(store->Upsert(MakeEvent("e3", EventPhase::kUpdate), 9500).ok());

  // Older than 4.5 s at t = 9.5 s: e0, e1, e2, e4 (e3 was updated at 9.5 s).
  absl::StatusOr<size_t> pruned = store->Prune(std::chrono::milliseconds(4500), 0, 9500);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 4u);
  EXPECT_FALSE(store->Get("e0").has_value());
  EXPECT_FALSE(store->Get("e4").has_value());
  EXPECT_TRUE(store->Get("e3").has_value());
  EXPECT_EQ(FilesUnder(store->snapshot_dir()).size(), 6u);

  // Keep the newest 2 by start: e9, e8.
  pruned = store->Prune(std::chrono::milliseconds(0), 2, 9500);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 4u);
  absl::StatusOr<EventPage> page = store->Query({});
  EXPECT_EQ(Ids(*page), (std::vector<std::string>{"e9", "e8"}));
  std::vector<std::string> files = FilesUnder(store->snapshot_dir());
  ASSERT_EQ(files.size(), 2u);
  std::set<std::string> names;
  for (const std::string& f : files) names.insert(fs::path(f).stem().string());
  EXPECT_EQ(names, (std::set<std::string>{EventStore::SnapshotName("e9"),
                                          EventStore::SnapshotName("e8")}));
  EXPECT_EQ(store->counters().pruned, 8u);
  EXPECT_EQ(*store->Prune(std::chrono::milliseconds(0), 2, 9500), 0u);
}

TEST(EventStoreTest, BackgroundPruningKeepsTheCountBound) {
  EventStoreOptions options;
  options.max_count = 3;
  options.max_age = std::chrono::milliseconds(0);
  options.prune_interval = std::chrono::milliseconds(20);
  auto store = EventStore::Open(options);
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*store)->Upsert(MakeEvent(absl::StrCat("e", i), EventPhase::kNew), i).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*store)->Count() > 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*store)->Count(), 3u);
  EXPECT_TRUE((*store)->Get("e9").has_value());
}

TEST(EventStoreTest, ReopeningKeepsEverything) {
  TempDir dir;
  nlohmann::json before;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Upsert(MakeEvent("keep/1", EventPhase::kNew), 1000, "snap").ok());
    Event end = MakeEvent("keep/2", EventPhase::kNew);
    ASSERT_TRUE(store->Upsert(end, 2000).ok());
    end.phase = EventPhase::kEnd;
    end.end = 30;
    ASSERT_TRUE(store->Upsert(end, 2500).ok());
    before = ToJson(*store->Get("keep/2"));
  }
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Count(), 2u);
  EXPECT_EQ(*store->Snapshot("keep/1"), "snap");
  EXPECT_EQ(ToJson(*store->Get("keep/2")), before);
  // Open prunes with its options: a count bound applies at once.
  store.reset();
  store = OpenStore(dir.path(), 1);
  EXPECT_EQ(store->Count(), 1u);
  EXPECT_FALSE(store->Get("keep/1").has_value());
  EXPECT_EQ(FilesUnder(dir.path() + "/snapshots").size(), 0u);
}

TEST(EventStoreTest, HostileIdsCannotEscapeTheSnapshotsDir) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const std::vector<std::string> hostile = {"../../../../tmp/escape",
                                            "/etc/passwd",
                                            "..",
                                            ".",
                                            "a/../../b",
                                            std::string("nul\0byte", 8),
                                            "snap.jpg",
                                            "~root/.ssh/x",
                                            std::string(256, '/'),
                                            "\xff\xfe"};
  const std::string before_tmp = "/tmp/escape.jpg";
  for (size_t i = 0; i < hostile.size(); ++i) {
    ASSERT_TRUE(
        store->Upsert(MakeEvent(hostile[i], EventPhase::kNew), 1, "x" + std::to_string(i)).ok())
        << i;
  }
  const std::regex safe("[A-Za-z0-9_-]{1,100}\\.jpg");
  const std::vector<std::string> files = FilesUnder(dir.path());
  size_t snapshots = 0;
  for (const std::string& f : files) {
    if (fs::path(f).filename() == "events.db" || f.find("events.db-") != std::string::npos) {
      continue;
    }
    EXPECT_EQ(fs::path(f).parent_path(), fs::path(dir.path() + "/snapshots")) << f;
    EXPECT_TRUE(std::regex_match(fs::path(f).filename().string(), safe)) << f;
    ++snapshots;
  }
  EXPECT_EQ(snapshots, hostile.size()) << "distinct ids, distinct files";
  for (size_t i = 0; i < hostile.size(); ++i) {
    EXPECT_EQ(*store->Snapshot(hostile[i]), "x" + std::to_string(i)) << i;
  }
  EXPECT_FALSE(fs::exists(before_tmp) &&
               fs::last_write_time(before_tmp) >
                   fs::file_time_type::clock::now() - std::chrono::minutes(1));
  const std::string url = ToJson(*store->Get("a/../../b"))["snapshot_url"];
  EXPECT_EQ(url, "/v1/events/a%2F..%2F..%2Fb/snapshot.jpg");
}

TEST(EventStoreTest, OversizedSnapshotIsDroppedButTheEventKept) {
  EventStoreOptions options;
  options.max_snapshot_bytes = 10;
  auto store = EventStore::Open(options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Upsert(MakeEvent("big", EventPhase::kNew), 1, std::string(11, 'x')).ok());
  EXPECT_TRUE((*store)->Get("big").has_value());
  EXPECT_EQ((*store)->Snapshot("big").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*store)->counters().snapshots_rejected, 1u);
  EXPECT_FALSE(ToJson(*(*store)->Get("big")).contains("snapshot_url"));
}

TEST(EventStoreTest, JsonHasTheDocumentedFields) {
  auto store = OpenStore("");
  Event e = MakeEvent("cam/rule/1", EventPhase::kNew);
  e.detail = "not json";
  ASSERT_TRUE(store->Upsert(e, 1234, "s").ok());
  const nlohmann::json j = EventMessage(*store->Get("cam/rule/1"), EventPhase::kNew);
  for (const char* key :
       {"id",         "camera",   "group",      "rule",           "type",
        "phase",      "object",   "colour",     "track_id",       "zone",
        "direction",  "text",     "count",      "start_ms",       "end_ms",
        "start_time", "end_time", "box",        "snapshot_frame", "snapshot_score",
        "provenance", "detail",   "created_ms", "updated_ms",     "snapshot_url",
        "change"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["phase"], "active");
  EXPECT_EQ(j["change"], "new");
  EXPECT_EQ(j["start_ms"], 1234);
  EXPECT_TRUE(j["end_ms"].is_null());
  EXPECT_EQ(j["box"]["x2"], 110);
  EXPECT_EQ(j["provenance"]["node"], "node-a");
  EXPECT_EQ(j["detail"], nlohmann::json::object()) << "invalid detail becomes {}";
  EXPECT_EQ(j["snapshot_url"], "/v1/events/cam%2Frule%2F1/snapshot.jpg");
}

TEST(EventStoreTest, ConcurrentWritersAndReaders) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string id = absl::StrCat("t", t, "/", i);
        EXPECT_TRUE(store->Upsert(MakeEvent(id, EventPhase::kNew), i, "jpeg").ok());
        EXPECT_TRUE(store->Upsert(MakeEvent(id, EventPhase::kEnd), i + 1).ok());
        EXPECT_TRUE(store->Query({.limit = 5}).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(store->Count(), 200u);
  EXPECT_EQ(store->Query({.active_only = true})->events.size(), 0u);
}

}  // namespace
}  // namespace heteroaccel::events
