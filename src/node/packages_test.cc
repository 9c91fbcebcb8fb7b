#include "node/packages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace heteroaccel::node {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ValidatePackageNameTest, AcceptsDebianNames) {
  for (const char* name : {"zip", "libc6", "g++", "libstdc++6", "python3.11", "0ad", "x11-common"}) {
    EXPECT_TRUE(ValidatePackageName(name).ok()) << name;
  }
}

TEST(ValidatePackageNameTest, RejectsOptionsShellAndCase) {
  for (const char* name : {"", "a", "-y", "--allow-downgrades", "zip;rm", "zip bash", "Zip",
                           "$(id)", "zip\n", ".hidden", "+x", "a/b", "zip=1.0", "zip:amd64"}) {
    absl::Status s = ValidatePackageName(name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("Debian Policy")) << name;
  }
  EXPECT_FALSE(ValidatePackageName(std::string(129, 'a')).ok());
  EXPECT_TRUE(ValidatePackageName(std::string(128, 'a')).ok());
}

TEST(ValidatePackageRequestTest, PackagesOnlyWithUpgradeAndBounded) {
  PackageRequest r{PackageOp::kListUpgradable, {"zip"}, true};
  EXPECT_THAT(ValidatePackageRequest(r).message(), HasSubstr("only with op upgrade"));
  r.op = PackageOp::kUpgrade;
  EXPECT_TRUE(ValidatePackageRequest(r).ok());
  r.packages.assign(kMaxPackageNames + 1, "zip");
  EXPECT_THAT(ValidatePackageRequest(r).message(), HasSubstr("at most 64"));
  r.packages = {"zip", "-o"};
  EXPECT_EQ(ValidatePackageRequest(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParsePackageOpTest, NamesTheChoices) {
  EXPECT_EQ(*ParsePackageOp("update"), PackageOp::kUpdate);
  EXPECT_EQ(*ParsePackageOp("list"), PackageOp::kListUpgradable);
  EXPECT_EQ(*ParsePackageOp("upgrade"), PackageOp::kUpgrade);
  EXPECT_THAT(ParsePackageOp("dist-upgrade").status().message(),
              HasSubstr("not one of update, list, upgrade"));
}

TEST(AptArgvTest, FixedVectors) {
  EXPECT_TRUE(AptArgv({PackageOp::kUpdate, {}, true}).empty());
  EXPECT_THAT(AptArgv({PackageOp::kUpdate, {}, false}),
              ElementsAre("/usr/bin/apt-get", "-q", "update"));
  EXPECT_THAT(AptArgv({PackageOp::kListUpgradable, {}, false}),
              ElementsAre("/usr/bin/apt-get", "--simulate", "upgrade"));
  EXPECT_THAT(AptArgv({PackageOp::kUpgrade, {}, true}),
              ElementsAre("/usr/bin/apt-get", "--simulate", "-y", "-q", "-o",
                          "Dpkg::Options::=--force-confdef", "-o",
                          "Dpkg::Options::=--force-confold", "upgrade"));
  EXPECT_THAT(AptArgv({PackageOp::kUpgrade, {"zip", "g++"}, false}, "/x/apt-get"),
              ElementsAre("/x/apt-get", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o",
                          "Dpkg::Options::=--force-confold", "install", "--only-upgrade", "--",
                          "zip", "g++"));
}

TEST(ParseSimulatedUpgradeTest, ReadsInstLines) {
  const char* out =
      "Reading package lists...\n"
      "The following packages will be upgraded:\n  unzip zip\n"
      "Inst unzip [6.0-28] (6.0-28+deb12u1 Debian-Security:12/oldstable-security [amd64])\n"
      "Inst linux-image-6.1.0-40-amd64 (6.1.153-1 Debian-Security:12 [amd64])\n"
      "Conf unzip (6.0-28+deb12u1 Debian-Security:12/oldstable-security [amd64])\n";
  std::vector<Upgradable> list = ParseSimulatedUpgrade(out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "unzip");
  EXPECT_EQ(list[0].from, "6.0-28");
  EXPECT_EQ(list[0].to, "6.0-28+deb12u1");
  EXPECT_EQ(list[1].name, "linux-image-6.1.0-40-amd64");
  EXPECT_EQ(list[1].from, "");
  EXPECT_EQ(list[1].to, "6.1.153-1");
}

TEST(SpawnRunnerTest, CapturesOutputAndExitCode) {
  SpawnRunner runner;
  absl::StatusOr<CommandResult> r =
      runner.Run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(10),
                 4096);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
  EXPECT_THAT(r->output, HasSubstr("out\n"));
  EXPECT_THAT(r->output, HasSubstr("err\n"));
  EXPECT_FALSE(r->truncated);
}

TEST(SpawnRunnerTest, FixedEnvironmentAndNoStdin) {
  SpawnRunner runner;
  setenv("HETEROACCEL_SECRET_FOR_TEST", "leak", 1);
  absl::StatusOr<CommandResult> r =
      runner.Run({"/bin/sh", "-c", "env; cat"}, std::chrono::seconds(10), 65536);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_THAT(r->output, HasSubstr("DEBIAN_FRONTEND=noninteractive"));
  EXPECT_THAT(r->output, ::testing::Not(HasSubstr("HETEROACCEL_SECRET_FOR_TEST")));
}

TEST(SpawnRunnerTest, BoundsOutputToHeadAndTail) {
  SpawnRunner runner;
  absl::StatusOr<CommandResult> r = runner.Run(
      {"/bin/sh", "-c", "echo HEAD; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo TAIL"},
      std::chrono::seconds(20), 1024);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->output_bytes, 5 + 1'000'000 + 1 + 5);
  EXPECT_LT(r->output.size(), 1100u);
  EXPECT_THAT(r->output, ::testing::StartsWith("HEAD\n"));
  EXPECT_THAT(r->output, ::testing::EndsWith("TAIL\n"));
  EXPECT_THAT(r->output, HasSubstr("bytes omitted"));
}

TEST(SpawnRunnerTest, KillsTheProcessGroupAtTheTimeLimit) {
  SpawnRunner runner;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommandResult> r =
      runner.Run({"/bin/sh", "-c", "sleep 30 & sleep 30"}, std::chrono::milliseconds(300), 1024);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SpawnRunnerTest, MissingProgramIsNotFoundAndRelativeIsRefused) {
  SpawnRunner runner;
  absl::StatusOr<CommandResult> r = runner.Run({"/nonexistent/apt-get"}, std::chrono::seconds(1), 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/apt-get"));
  EXPECT_EQ(runner.Run({"sh"}, std::chrono::seconds(1), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A real Debian tree: this machine's apt, simulated (changes nothing).
TEST(SpawnRunnerTest, SimulatedUpgradeOnThisMachinesApt) {
  if (!std::filesystem::exists("/usr/bin/apt-get")) GTEST_SKIP() << "no apt-get here";
  SpawnRunner runner;
  absl::StatusOr<CommandResult> r =
      runner.Run(AptArgv({PackageOp::kUpgrade, {}, true}), std::chrono::seconds(120), 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_THAT(r->output, HasSubstr("Reading package lists"));
  // Every package the simulation would install appears in its summary line.
  const std::vector<Upgradable> list = ParseSimulatedUpgrade(r->output);
  EXPECT_THAT(r->output, HasSubstr(absl::StrCat(list.size(), " upgraded")));
}

}  // namespace
}  // namespace heteroaccel::node
