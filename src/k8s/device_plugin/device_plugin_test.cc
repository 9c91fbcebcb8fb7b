#include "k8s/device_plugin/device_plugin.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "k8s/device_plugin/testing/fake_kubelet.h"

namespace heteroaccel::k8s {
namespace {

using testing::FakeKubelet;
using std::chrono::milliseconds;

constexpr milliseconds kWait{5000};
constexpr char kGpu[] = "heteroaccel.io/gpu";
constexpr char kEmulatedNpu[] = "heteroaccel.io/emulated-npu";

bool AllHealthy(const FakeKubelet::DeviceList& list) {
  return std::all_of(list.begin(), list.end(),
                     [](const v1beta1::Device& d) { return d.health() == kHealthy; });
}

std::string HealthOf(const FakeKubelet::DeviceList& list, const std::string& id) {
  for (const v1beta1::Device& d : list) {
    if (d.id() == id) return d.health();
  }
  return "";
}

class DevicePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ha-dp-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    node_ = dir_ + "/dev-gpu0";  // stands in for a device node that exists
    std::ofstream(node_) << "";
    devices_ = {
        {"cpu0", DeviceKind::kCpu, false, true, 0, {}, ""},
        {"gpu0", DeviceKind::kGpu, false, true, 0, {node_, dir_ + "/missing"}, "vendor.io/gpu=0"},
        {"gpu1", DeviceKind::kGpu, false, true, 1, {}, ""},
        {"gpu2", DeviceKind::kGpu, false, true, 1, {}, ""},
        {"gpu3", DeviceKind::kGpu, false, true, 0, {}, ""},
        {"npu0", DeviceKind::kNpu, true, true, std::nullopt, {}, "never.io/npu=0"},
    };
  }
  void TearDown() override {
    plugins_.clear();
    kubelet_.reset();
    std::filesystem::remove_all(dir_);
  }

  DevicePlugin& StartPlugin() { return StartPlugin(Options()); }
  DevicePlugin& StartPlugin(const DevicePluginOptions& options) {
    auto plugin = DevicePlugin::Create(options);
    EXPECT_TRUE(plugin.ok()) << plugin.status();
    absl::Status s = (*plugin)->Start();
    EXPECT_TRUE(s.ok()) << s;
    plugins_.push_back(std::move(*plugin));
    return *plugins_.back();
  }
  absl::StatusOr<std::unique_ptr<DevicePlugin>> NewPlugin() {
    return DevicePlugin::Create(Options());
  }
  // Without a PodResources socket unless a test serves one at pod_resources_socket_.
  DevicePluginOptions Options() {
    DevicePluginOptions options;
    options.pod_resources_socket = pod_resources_socket_;
    options.pod_resources_interval = milliseconds(100);
    options.plugin_dir = dir_;
    options.devices = [this] {
      absl::MutexLock lock(&mu_);
      return devices_;
    };
    options.poll_interval = milliseconds(200);
    options.retry_interval = milliseconds(100);
    return options;
  }
  void StartKubelet(const std::string& pod_resources_socket = "") {
    auto kubelet = FakeKubelet::Start(dir_, pod_resources_socket);
    ASSERT_TRUE(kubelet.ok()) << kubelet.status();
    kubelet_ = std::move(*kubelet);
  }
  void SetHealthy(const std::string& id, bool healthy) {
    absl::MutexLock lock(&mu_);
    for (PluginDevice& d : devices_) {
      if (d.id == id) d.healthy = healthy;
    }
  }

  std::string dir_;
  std::string node_;
  std::string pod_resources_socket_ = "/nonexistent/pod-resources/kubelet.sock";
  absl::Mutex mu_;
  std::vector<PluginDevice> devices_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<FakeKubelet> kubelet_;
  std::vector<std::unique_ptr<DevicePlugin>> plugins_;
};

TEST_F(DevicePluginTest, RegistersEachResourceOnceItsSocketServes) {
  StartKubelet();
  DevicePlugin& plugin = StartPlugin();
  EXPECT_EQ(plugin.Resources(), (std::vector<std::string>{kGpu, kEmulatedNpu}));
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(kubelet_->WaitForStreams(kEmulatedNpu, 1, kWait));
  EXPECT_TRUE(kubelet_->errors().empty()) << kubelet_->errors().front();

  const v1beta1::RegisterRequest request = kubelet_->LastRequest(kGpu);
  EXPECT_EQ(request.version(), "v1beta1");
  EXPECT_EQ(request.endpoint(), "heteroaccel-gpu.sock");
  EXPECT_TRUE(request.options().get_preferred_allocation_available());
  EXPECT_EQ(kubelet_->LastRequest(kEmulatedNpu).endpoint(), "heteroaccel-emulated-npu.sock");
  EXPECT_TRUE(kubelet_->Options(kGpu).get_preferred_allocation_available());
  EXPECT_EQ(kubelet_->Registrations("heteroaccel.io/cpu"), 0);

  const FakeKubelet::DeviceList gpus = kubelet_->LastList(kGpu);
  ASSERT_EQ(gpus.size(), 4u);
  EXPECT_EQ(gpus[1].id(), "gpu1");
  ASSERT_EQ(gpus[1].topology().nodes_size(), 1);
  EXPECT_EQ(gpus[1].topology().nodes(0).id(), 1);
  EXPECT_TRUE(AllHealthy(gpus));
  const FakeKubelet::DeviceList npus = kubelet_->LastList(kEmulatedNpu);
  ASSERT_EQ(npus.size(), 1u);
  EXPECT_FALSE(npus[0].has_topology());  // NUMA node unknown: no hint
}

TEST_F(DevicePluginTest, RegistersWhenTheKubeletComesUpLater) {
  DevicePlugin& plugin = StartPlugin();
  StartKubelet();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  // The kubelet may dial back before the plugin has read Register's answer.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (plugin.registrations() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(plugin.registrations(), 2);  // one per resource
}

TEST_F(DevicePluginTest, SendsTheWholeListOnAHealthChangeAndRecovers) {
  StartKubelet();
  DevicePlugin& plugin = StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  SetHealthy("gpu2", false);
  plugin.Refresh();
  ASSERT_TRUE(kubelet_->WaitForList(
      kGpu, [](const auto& l) { return HealthOf(l, "gpu2") == kUnhealthy; }, kWait));
  const FakeKubelet::DeviceList list = kubelet_->LastList(kGpu);
  EXPECT_EQ(list.size(), 4u);  // the whole list, not the one device
  EXPECT_EQ(HealthOf(list, "gpu0"), kHealthy);

  SetHealthy("gpu2", true);  // no Refresh: the health poll finds it
  ASSERT_TRUE(kubelet_->WaitForList(kGpu, AllHealthy, kWait));
  EXPECT_EQ(kubelet_->LastList(kGpu).size(), 4u);
}

TEST_F(DevicePluginTest, ReRegistersWhenItsSocketIsDeleted) {
  StartKubelet();
  StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_EQ(::unlink((dir_ + "/heteroaccel-gpu.sock").c_str()), 0);
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 2, kWait));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/heteroaccel-gpu.sock"));
  EXPECT_EQ(kubelet_->Registrations(kEmulatedNpu), 1);  // the other resource is untouched
}

TEST_F(DevicePluginTest, ReRegistersAfterAKubeletRestart) {
  StartKubelet();
  StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(kubelet_->WaitForStreams(kEmulatedNpu, 1, kWait));
  ASSERT_TRUE(kubelet_->Restart().ok());
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 2, kWait));
  ASSERT_TRUE(kubelet_->WaitForStreams(kEmulatedNpu, 2, kWait));
  EXPECT_TRUE(kubelet_->WaitForList(kGpu, [](const auto& l) { return l.size() == 4; }, kWait));
  EXPECT_TRUE(kubelet_->errors().empty()) << ::testing::PrintToString(kubelet_->errors());
}

TEST_F(DevicePluginTest, ReRegistersWhenTheStreamBreaks) {
  StartKubelet();
  StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  kubelet_->BreakStream(kGpu);
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 2, kWait));
  // A re-registration replaces the previous stream without starting a loop.
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(kubelet_->Registrations(kGpu), 2);
}

TEST_F(DevicePluginTest, ASecondPluginRefusesALiveSocket) {
  StartKubelet();
  DevicePlugin& first = StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  auto second = NewPlugin();
  ASSERT_TRUE(second.ok());
  const absl::Status s = (*second)->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("already serves"), std::string::npos) << s;
  second->reset();  // its Stop must leave the first one's sockets alone
  SetHealthy("gpu1", false);
  first.Refresh();
  EXPECT_TRUE(kubelet_->WaitForList(
      kGpu, [](const auto& l) { return HealthOf(l, "gpu1") == kUnhealthy; }, kWait));
  EXPECT_EQ(kubelet_->Registrations(kGpu), 1);
}

TEST_F(DevicePluginTest, AStaleSocketIsRemovedAndReused) {
  // A socket file nobody answers on, as a killed agent leaves behind.
  const std::string path = dir_ + "/heteroaccel-gpu.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  ASSERT_TRUE(std::filesystem::exists(path));
  StartKubelet();
  StartPlugin();
  EXPECT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
}

TEST_F(DevicePluginTest, StopRemovesItsSockets) {
  StartKubelet();
  DevicePlugin& plugin = StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  plugin.Stop();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/heteroaccel-gpu.sock"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/kubelet.sock"));
}

TEST_F(DevicePluginTest, CreateRejectsAMissingDirectory) {
  DevicePluginOptions options;
  options.plugin_dir = dir_ + "/nope";
  options.devices = [] { return std::vector<PluginDevice>(); };
  auto plugin = DevicePlugin::Create(options);
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(plugin.status().message().find("does not exist"), std::string::npos);
}

v1beta1::PreferredAllocationRequest Request(std::vector<std::string> available,
                                            std::vector<std::string> must, int size) {
  v1beta1::PreferredAllocationRequest request;
  auto* c = request.add_container_requests();
  for (const auto& id : available) c->add_available_deviceids(id);
  for (const auto& id : must) c->add_must_include_deviceids(id);
  c->set_allocation_size(size);
  return request;
}

std::vector<std::string> Ids(const v1beta1::ContainerPreferredAllocationResponse& r) {
  return {r.deviceids().begin(), r.deviceids().end()};
}

TEST_F(DevicePluginTest, PreferredAllocationIsExactKeepsMustIncludeAndOneNumaNode) {
  StartKubelet();
  StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  const std::vector<std::string> all = {"gpu0", "gpu1", "gpu2", "gpu3"};
  // Two on one node: node 0 (gpu0, gpu3) or node 1 (gpu1, gpu2), never mixed.
  auto r = kubelet_->Preferred(kGpu, Request(all, {}, 2));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->container_responses_size(), 1);
  std::vector<std::string> ids = Ids(r->container_responses(0));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_TRUE((ids == std::vector<std::string>{"gpu0", "gpu3"} ||
               ids == std::vector<std::string>{"gpu1", "gpu2"}));
  // gpu2 must be in: its partner on node 1 is gpu1.
  r = kubelet_->Preferred(kGpu, Request(all, {"gpu2"}, 2));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Ids(r->container_responses(0)), (std::vector<std::string>{"gpu2", "gpu1"}));
  // Best fit: one device comes from the node with fewest free (node 1 has only gpu1).
  r = kubelet_->Preferred(kGpu, Request({"gpu0", "gpu1", "gpu3"}, {}, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(r->container_responses(0)), (std::vector<std::string>{"gpu1"}));
  // Three span nodes but still come out exact.
  r = kubelet_->Preferred(kGpu, Request(all, {"gpu0"}, 3));
  ASSERT_TRUE(r.ok());
  ids = Ids(r->container_responses(0));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], "gpu0");
  EXPECT_EQ(ids[1], "gpu3");
}

TEST_F(DevicePluginTest, PreferredAllocationRejectsImpossibleRequests) {
  StartKubelet();
  StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  auto r = kubelet_->Preferred(kGpu, Request({"gpu0", "gpu1"}, {}, 3));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("asks for 3"), std::string::npos) << r.status();
  r = kubelet_->Preferred(kGpu, Request({"gpu0", "gpu1"}, {"gpu3"}, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("gpu3"), std::string::npos);
  r = kubelet_->Preferred(kGpu, Request({"gpu0", "gpu1"}, {"gpu0", "gpu1"}, 1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DevicePluginTest, AllocateAnswersEachContainerInOrder) {
  StartKubelet();
  DevicePlugin& plugin = StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(kubelet_->WaitForStreams(kEmulatedNpu, 1, kWait));
  auto r = kubelet_->Allocate(kGpu, {{"gpu1"}, {"gpu0", "gpu3"}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->container_responses_size(), 2);
  const auto& first = r->container_responses(0);
  EXPECT_EQ(first.envs().at("HETEROACCEL_DEVICES"), "gpu1");
  EXPECT_EQ(first.envs().at("HETEROACCEL_GPU_DEVICES"), "gpu1");
  EXPECT_EQ(first.devices_size(), 0);
  const auto& second = r->container_responses(1);
  EXPECT_EQ(second.envs().at("HETEROACCEL_DEVICES"), "gpu0,gpu3");
  ASSERT_EQ(second.devices_size(), 1);  // the missing node is left out
  EXPECT_EQ(second.devices(0).host_path(), node_);
  EXPECT_EQ(second.devices(0).container_path(), node_);
  EXPECT_EQ(second.devices(0).permissions(), "rw");
  ASSERT_EQ(second.cdi_devices_size(), 1);
  EXPECT_EQ(second.cdi_devices(0).name(), "vendor.io/gpu=0");
  EXPECT_EQ(plugin.AssignedIds(), (std::set<std::string>{"gpu0", "gpu1", "gpu3"}));

  auto npu = kubelet_->Allocate(kEmulatedNpu, {{"npu0"}});
  ASSERT_TRUE(npu.ok()) << npu.status();
  EXPECT_EQ(npu->container_responses(0).envs().at("HETEROACCEL_EMULATED_NPU_DEVICES"), "npu0");
  EXPECT_EQ(npu->container_responses(0).cdi_devices_size(), 0);  // emulated: no CDI device
  EXPECT_TRUE(plugin.IsAssigned("npu0"));
}

TEST_F(DevicePluginTest, AllocateRejectsUnknownAndUnhealthyDevices) {
  StartKubelet();
  DevicePlugin& plugin = StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  auto r = kubelet_->Allocate(kGpu, {{"gpu0"}, {"gpu9"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unknown device gpu9"), std::string::npos) << r.status();
  r = kubelet_->Allocate(kGpu, {{"npu0"}});  // another resource's device
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  SetHealthy("gpu2", false);
  plugin.Refresh();
  r = kubelet_->Allocate(kGpu, {{"gpu2"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("gpu2"), std::string::npos);
  EXPECT_NE(r.status().message().find("unhealthy"), std::string::npos);
  EXPECT_TRUE(plugin.AssignedIds().empty());  // a refused request assigns nothing
}

// One pod per entry, with one container holding the IDs of one resource.
v1::ListPodResourcesResponse Pods(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& holdings) {
  v1::ListPodResourcesResponse response;
  int n = 0;
  for (const auto& [resource, ids] : holdings) {
    v1::PodResources* pod = response.add_pod_resources();
    pod->set_name(absl::StrCat("pod-", n++));
    pod->set_namespace_("default");
    v1::ContainerResources* container = pod->add_containers();
    container->set_name("main");
    v1::ContainerDevices* devices = container->add_devices();
    devices->set_resource_name(resource);
    for (const std::string& id : ids) devices->add_device_ids(id);
  }
  return response;
}

template <typename Predicate>
bool WaitFor(Predicate done, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

TEST_F(DevicePluginTest, PodResourcesFreesADeviceOnceTheKubeletNoLongerListsIt) {
  // The kubelet's layout: the PodResources socket is found next to the plugin directory.
  const std::string plugins = dir_ + "/device-plugins";
  std::filesystem::create_directories(plugins);
  auto kubelet = FakeKubelet::Start(plugins, dir_ + "/pod-resources/kubelet.sock");
  ASSERT_TRUE(kubelet.ok()) << kubelet.status();
  kubelet_ = std::move(*kubelet);
  // gpu2 is held by a pod from before the agent started; gpu3 is listed under
  // another plugin's resource name.
  kubelet_->SetPodResources(Pods({{kGpu, {"gpu2"}}, {"vendor.com/gpu", {"gpu3"}}}));
  DevicePluginOptions options = Options();
  options.plugin_dir = plugins;
  options.pod_resources_socket = "";
  DevicePlugin& plugin = StartPlugin(options);
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(kubelet_->WaitForListCalls(1, kWait));
  EXPECT_TRUE(WaitFor([&] { return plugin.IsAssigned("gpu2"); }, kWait));

  ASSERT_TRUE(kubelet_->Allocate(kGpu, {{"gpu1"}}).ok());
  EXPECT_TRUE(plugin.IsAssigned("gpu1"));
  kubelet_->SetPodResources(
      Pods({{kGpu, {"gpu1"}}, {kGpu, {"gpu2"}}, {"vendor.com/gpu", {"gpu3"}}}));
  const int calls = kubelet_->ListCalls();
  ASSERT_TRUE(kubelet_->WaitForListCalls(calls + 3, kWait));
  EXPECT_EQ(plugin.AssignedIds(), (std::set<std::string>{"gpu1", "gpu2"}));

  // gpu1's pod ends: the kubelet lists it no longer.
  const auto ended = std::chrono::steady_clock::now();
  kubelet_->SetPodResources(Pods({{kGpu, {"gpu2"}}}));
  ASSERT_TRUE(WaitFor([&] { return !plugin.IsAssigned("gpu1"); }, kWait));
  const auto freed_after = std::chrono::steady_clock::now() - ended;
  // Two intervals at most, with room for a loaded machine.
  EXPECT_LT(freed_after, milliseconds(1000))
      << std::chrono::duration_cast<milliseconds>(freed_after).count() << " ms";
  EXPECT_EQ(plugin.AssignedIds(), (std::set<std::string>{"gpu2"}));
}

TEST_F(DevicePluginTest, PodResourcesKeepsAnAllocationTheKubeletDoesNotListYet) {
  pod_resources_socket_ = dir_ + "/pod-resources.sock";
  StartKubelet(pod_resources_socket_);  // lists no pods
  DevicePluginOptions options = Options();
  options.pod_resources_interval = milliseconds(500);
  DevicePlugin& plugin = StartPlugin(options);
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(kubelet_->WaitForListCalls(1, kWait));
  // Lists up to `calls` began before the allocation; the next one may too,
  // so neither may free it.
  const int calls = kubelet_->ListCalls();
  const auto allocated = std::chrono::steady_clock::now();
  ASSERT_TRUE(kubelet_->Allocate(kGpu, {{"gpu0"}}).ok());
  ASSERT_TRUE(kubelet_->WaitForListCalls(calls + 1, kWait));
  EXPECT_TRUE(plugin.IsAssigned("gpu0"));
  // A List that began a whole interval after the allocation and still leaves
  // it out frees it: at most three intervals after it.
  ASSERT_TRUE(WaitFor([&] { return !plugin.IsAssigned("gpu0"); }, kWait));
  const auto freed_after = std::chrono::steady_clock::now() - allocated;
  EXPECT_GE(freed_after, milliseconds(500));
  EXPECT_LT(freed_after, milliseconds(2500))
      << std::chrono::duration_cast<milliseconds>(freed_after).count() << " ms";
}

TEST_F(DevicePluginTest, WithoutPodResourcesAllocationsStayAssigned) {
  StartKubelet();  // no PodResources socket anywhere
  DevicePluginOptions options = Options();
  options.pod_resources_interval = milliseconds(20);
  DevicePlugin& plugin = StartPlugin(options);
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(kubelet_->Allocate(kGpu, {{"gpu0"}, {"gpu3"}}).ok());
  std::this_thread::sleep_for(milliseconds(300));  // fifteen polls that cannot list
  EXPECT_EQ(plugin.AssignedIds(), (std::set<std::string>{"gpu0", "gpu3"}));
  EXPECT_EQ(kubelet_->ListCalls(), 0);
}

TEST_F(DevicePluginTest, AFailingPodResourcesSocketKeepsTheLastAssignment) {
  pod_resources_socket_ = dir_ + "/pod-resources.sock";
  StartKubelet(pod_resources_socket_);
  kubelet_->SetPodResources(Pods({{kGpu, {"gpu1"}}}));
  DevicePlugin& plugin = StartPlugin();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait));
  ASSERT_TRUE(WaitFor([&] { return plugin.IsAssigned("gpu1"); }, kWait));
  // The kubelet goes away; its socket file stays but nobody answers.
  kubelet_->Stop();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, pod_resources_socket_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
  std::this_thread::sleep_for(milliseconds(400));  // four failing polls
  EXPECT_EQ(plugin.AssignedIds(), (std::set<std::string>{"gpu1"}));
}

TEST(PreferredAllocationTest, WorksWithoutNumaInformation) {
  auto ids = PreferredAllocation({}, {"a", "b", "c"}, {"c"}, 2);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"c", "a"}));
  ids = PreferredAllocation({}, {"a"}, {}, 0);
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty());
  EXPECT_FALSE(PreferredAllocation({}, {"a"}, {}, -1).ok());
}

TEST(SocketNameTest, NamesEmulatedDevicesApart) {
  EXPECT_EQ(SocketName(DeviceKind::kGpu, false), "heteroaccel-gpu.sock");
  EXPECT_EQ(SocketName(DeviceKind::kNpu, true), "heteroaccel-emulated-npu.sock");
}

}  // namespace
}  // namespace heteroaccel::k8s
