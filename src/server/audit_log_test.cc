#include "server/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace heteroaccel::server {
namespace {

AuditEntry Entry(const std::string& who, int version) {
  AuditEntry e;
  e.who = who;
  e.action = "placement";
  e.comment = "it's \"quoted\"; DROP TABLE audit;";
  e.before = {{"version", version - 1}};
  e.after = {{"version", version}};
  e.state_before = {{"policy", "static"}};
  e.state_after = {{"policy", "idle-first"}};
  e.version_after = version;
  return e;
}

TEST(AuditLogTest, TheLastPlacementIsNotACameraChange) {
  auto log = AuditLog::Open("");
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append(Entry("admin", 3)).ok());
  AuditEntry camera = Entry("admin", 0);
  camera.action = "camera";
  camera.state_after = {{"id", "gate-1"}};
  ASSERT_TRUE((*log)->Append(camera).ok());
  ASSERT_TRUE((*log)->LastPlacement().has_value());
  EXPECT_EQ((*log)->LastPlacement()->version_after, 3);
  EXPECT_EQ((*log)->LastPlacement()->action, "placement");
}

TEST(AuditLogTest, EntriesSurviveReopeningTheFile) {
  const std::string path =
      ::testing::TempDir() + "/heteroaccel_audit_" + std::to_string(getpid()) + ".db";
  std::filesystem::remove(path);
  {
    auto log = AuditLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    auto first = (*log)->Append(Entry("admin (alice)", 1));
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->id, 1);
    EXPECT_GT(first->time_ms, 0);
    auto second = (*log)->Append(Entry("admin", 2));
    ASSERT_TRUE(second.ok());
    ASSERT_TRUE((*log)->MarkReverted(1, 2).ok());
  }
  auto log = AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::vector<AuditEntry> recent = (*log)->Recent(10);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].id, 1) << "newest last";
  EXPECT_EQ(recent[0].who, "admin (alice)");
  EXPECT_EQ(recent[0].comment, "it's \"quoted\"; DROP TABLE audit;");
  EXPECT_EQ(recent[0].reverted_by, 2);
  EXPECT_EQ(recent[0].state_after["policy"], "idle-first");
  EXPECT_EQ((*log)->LastPlacement()->version_after, 2);
  EXPECT_FALSE((*log)->Get(99).has_value());
  EXPECT_EQ(AuditLog::ToJson(recent[1])["reverted_by"], nullptr);
  std::filesystem::remove(path);
}

TEST(AuditLogTest, InMemoryWhenNoPathAndClearErrorsForABadOne) {
  auto memory = AuditLog::Open("");
  ASSERT_TRUE(memory.ok());
  EXPECT_TRUE((*memory)->Append(Entry("admin", 1)).ok());
  EXPECT_EQ((*memory)->Recent(5).size(), 1u);
  auto bad = AuditLog::Open("/nonexistent-dir/x/audit.db");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/nonexistent-dir/x/audit.db"), std::string_view::npos);
}

}  // namespace
}  // namespace heteroaccel::server
