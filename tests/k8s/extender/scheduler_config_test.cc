// deploy/k8s/scheduler/kube-scheduler-config.yaml against the code: the
// extender entry names the server's routes and exactly the resource names the
// code derives from the device kinds.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <set>
#include <string>

#include "k8s/extender/extender.h"

namespace heteroaccel::k8s {
namespace {

YAML::Node Config() {
  const char* source = std::getenv("HETEROACCEL_SOURCE_DIR");
  return YAML::LoadFile(std::string(source != nullptr ? source : ".") +
                        "/deploy/k8s/scheduler/kube-scheduler-config.yaml");
}

// Go's time.ParseDuration for the plain "<n>s" / "<n>ms" forms; -1 otherwise.
double Seconds(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  const std::string unit(end);
  if (unit == "s") return value;
  if (unit == "ms") return value / 1000;
  return -1;
}

TEST(SchedulerConfigTest, ExtenderEntryMatchesTheServer) {
  const YAML::Node config = Config();
  EXPECT_EQ(config["apiVersion"].as<std::string>(), "kubescheduler.config.k8s.io/v1");
  EXPECT_EQ(config["kind"].as<std::string>(), "KubeSchedulerConfiguration");
  ASSERT_TRUE(config["profiles"].IsSequence());
  EXPECT_GE(config["profiles"].size(), 1u);
  ASSERT_TRUE(config["extenders"].IsSequence());
  ASSERT_EQ(config["extenders"].size(), 1u);
  const YAML::Node e = config["extenders"][0];
  const std::string url = e["urlPrefix"].as<std::string>();
  EXPECT_EQ(url, "http://heteroaccel-server.heteroaccel.svc:8000" + std::string(kExtenderPrefix));
  EXPECT_EQ(e["filterVerb"].as<std::string>(), kFilterVerb);
  EXPECT_EQ(e["prioritizeVerb"].as<std::string>(), kPrioritizeVerb);
  const int weight = e["weight"].as<int>();
  EXPECT_GE(weight, 1);  // kube-scheduler rejects a prioritizing extender without a weight
  EXPECT_LE(weight, 100);
  const double timeout = Seconds(e["httpTimeout"].as<std::string>());
  EXPECT_GT(timeout, 0);
  EXPECT_LT(timeout, 5);  // under kube-scheduler's default
  EXPECT_TRUE(e["nodeCacheCapable"].as<bool>());
  EXPECT_TRUE(e["ignorable"].as<bool>());
  EXPECT_FALSE(e["enableHTTPS"].as<bool>());
  std::vector<std::string> names;
  for (const YAML::Node& r : e["managedResources"]) {
    names.push_back(r["name"].as<std::string>());
    EXPECT_FALSE(r["ignoredByScheduler"].as<bool>()) << names.back();
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, ManagedResourceNames());
}

}  // namespace
}  // namespace heteroaccel::k8s
