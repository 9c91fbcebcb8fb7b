// k8s_extender_bench: what one kube-scheduler extender cycle (filter, then
// prioritize) costs for 1000 candidate nodes with 4 devices each.
//   1. in-process: k8s::Answer on the request bodies (parse, snapshot copy,
//      answer, JSON), both nodeCacheCapable modes;
//   2. over HTTP: a real `heteroaccel server` fed 1000 agents' heartbeats,
//      filter + prioritize posted on one keep-alive connection (NodeNames).
// Prints the median and p90 of --runs cycles. kube-scheduler's timeout is 5 s;
// deploy/k8s/scheduler sets 2 s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>

#include "cluster/contract.h"
#include "http/client.h"
#include "k8s/extender/extender.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kNodes = 1000;

std::vector<cluster::NodeReport> Reports() {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> queue(0, 6);
  std::uniform_real_distribution<double> ms(2, 40);
  const cluster::VariantKey face{"face", "blazeface-front-128"};
  const cluster::VariantKey object{"object", "ssd-mobilenet-v2"};
  std::vector<cluster::NodeReport> out;
  for (int n = 0; n < kNodes; ++n) {
    cluster::NodeReport r;
    r.node = "node-" + std::to_string(n);
    r.url = "http://10.1." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1) + ":8080";
    r.ready = true;
    const DeviceKind kinds[] = {DeviceKind::kGpu, DeviceKind::kGpu, DeviceKind::kNpu,
                                DeviceKind::kFpga};
    for (int d = 0; d < 4; ++d) {
      cluster::DeviceReport dev;
      dev.id = std::string(KindName(kinds[d])) + std::to_string(d);
      dev.kind = kinds[d];
      dev.name = dev.id;
      dev.slots = 1 + d % 2;
      dev.warm = true;
      dev.models = {face, object};
      dev.service_ms = {{face, ms(rng)}, {object, ms(rng)}};
      dev.queue_depth = queue(rng);
      dev.healthy = (n + d) % 17 != 0;
      dev.pod_assigned = (n + d) % 5 == 0;
      r.devices.push_back(std::move(dev));
    }
    out.push_back(std::move(r));
  }
  return out;
}

Json Pod() {
  return {{"metadata",
           {{"name", "detector-0"},
            {"namespace", "vision"},
            {"annotations", {{"heteroaccel.io/model", "face"}}}}},
          {"spec",
           {{"containers",
             {{{"name", "detector"},
               {"resources",
                {{"limits", {{"heteroaccel.io/gpu", "1"}}},
                 {"requests", {{"heteroaccel.io/gpu", "1"}}}}}}}}}}};
}

std::string NamesBody(const std::vector<cluster::NodeReport>& reports) {
  Json names = Json::array();
  for (const auto& r : reports) names.push_back(r.node);
  return Json{{"Pod", Pod()}, {"Nodes", nullptr}, {"NodeNames", names}}.dump();
}

std::string ListBody(const std::vector<cluster::NodeReport>& reports) {
  Json items = Json::array();
  for (const auto& r : reports) {
    items.push_back(
        {{"metadata", {{"name", r.node}, {"labels", {{"kubernetes.io/hostname", r.node}}}}},
         {"status",
          {{"allocatable", {{"cpu", "16"}, {"memory", "64Gi"}, {"heteroaccel.io/gpu", "2"}}},
           {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
  }
  return Json{{"Pod", Pod()}, {"Nodes", {{"metadata", Json::object()}, {"items", items}}}}.dump();
}

struct Stats {
  double median_ms = 0, p90_ms = 0;
};

Stats Measure(int runs, const std::function<void()>& cycle) {
  std::vector<double> ms;
  cycle();  // warm
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    cycle();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10]};
}

void Print(const char* what, const Stats& s, size_t bytes) {
  std::printf("%-44s median %8.3f ms   p90 %8.3f ms   request %7.1f KiB\n", what, s.median_ms,
              s.p90_ms, static_cast<double>(bytes) / 1024);
}

int Run(int runs) {
  const std::vector<cluster::NodeReport> reports = Reports();
  k8s::ClusterSnapshot cluster;
  for (const auto& r : reports) {
    k8s::NodeSnapshot& node = cluster.nodes[r.node];
    node.up = true;
    for (const auto& d : r.devices) node.devices.push_back(k8s::DeviceSnapshotFromReport(d));
  }
  // Like the server: a copy of the candidates' part of the view per call.
  const k8s::SnapshotFn snapshot = [&](const std::vector<std::string>& nodes) {
    k8s::ClusterSnapshot out;
    for (const std::string& n : nodes) {
      if (auto it = cluster.nodes.find(n); it != cluster.nodes.end()) out.nodes.insert(*it);
    }
    return out;
  };
  const std::string names = NamesBody(reports), list = ListBody(reports);
  int kept = 0;
  for (const auto& [mode, body] : {std::pair{"NodeNames", &names}, std::pair{"Nodes", &list}}) {
    const Stats s = Measure(runs, [&, b = body] {
      auto f = k8s::Answer("filter", *b, snapshot);
      auto p = k8s::Answer("prioritize", *b, snapshot);
      kept = static_cast<int>(f.body.dump().size() + p.body.dump().size());
    });
    Print((std::string("in-process filter+prioritize, ") + mode).c_str(), s, body->size());
  }
  const auto sample = k8s::Answer("filter", names, snapshot);
  std::printf("  (filter keeps %zu of %d nodes)\n", sample.body["NodeNames"].size(), kNodes);

  auto server = testing::Subprocess::Start(
      {testing::HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0"});
  if (!server.ok())
    return std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str()), 1;
  const std::string url = testing::WaitForListeningUrl(**server);
  auto http = http::Client::Create(url);
  if (url.empty() || !http.ok()) return std::fprintf(stderr, "no server\n"), 1;
  for (const auto& r : reports) {
    auto hb = (*http)->Post("/v1/cluster/heartbeat", "application/json", cluster::ToJson(r).dump());
    if (!hb.ok() || hb->status != 200) return std::fprintf(stderr, "heartbeat refused\n"), 1;
  }
  int status = 200;
  const Stats s = Measure(runs, [&] {
    auto f = (*http)->Post("/k8s/extender/filter", "application/json", names);
    auto p = (*http)->Post("/k8s/extender/prioritize", "application/json", names);
    if (!f.ok() || !p.ok() || f->status != 200 || p->status != 200) status = 0;
  });
  Print("over HTTP filter+prioritize, NodeNames", s, names.size());
  if (status != 200) return std::fprintf(stderr, "an extender call failed\n"), 1;
  return kept > 0 ? 0 : 1;
}

}  // namespace
}  // namespace heteroaccel

int main(int argc, char** argv) {
  int runs = 101;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
  }
  return heteroaccel::Run(runs);
}
