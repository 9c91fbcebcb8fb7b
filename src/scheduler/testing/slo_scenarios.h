// The scenarios the SLO targets are measured on (simulation_test.cc,
// docs/scheduling.md): the paper's cluster, a cluster whose devices are each best at
// a different type, bursty cameras, a device slowing 2x mid-run, and one camera at 4x
// the others' rate. Rates are set by AtLoad (slo_simulation.h) as a multiple of the
// scenario's ideal. Plain functions returning values.
#pragma once

#include <string>
#include <vector>

#include "scheduler/testing/slo_simulation.h"

namespace heteroaccel::scheduler::testing {

inline const std::map<std::string, double> kFourTypes = {
    {"face", 1}, {"pose", 1}, {"text", 1}, {"hand", 1}};

// examples/paper: three nodes, each with a CPU (946 ms) and one accelerator (GPU
// 75.7 ms, NPU 87 ms, FPGA 11,658 ms), one latency for every type; four cameras
// sending all four types. The deadline, 2.5 s, lets a CPU serve a request that waits
// at most about one other request's time there (its 0.9 quantile is ~1.26 s).
inline SloScenario PaperScenario() {
  auto all = [](double ms) {
    return std::map<std::string, double>{{"face", ms}, {"pose", ms}, {"text", ms}, {"hand", ms}};
  };
  SloScenario s;
  s.name = "paper";
  s.devices = {{"node-g", "cpu", "cpu", 1, all(946)},   {"node-g", "iris-xe", "gpu", 1, all(75.7)},
               {"node-f", "cpu", "cpu", 1, all(946)},   {"node-f", "arria10", "fpga", 1, all(11658)},
               {"node-n", "cpu", "cpu", 1, all(946)},   {"node-n", "ncs2", "npu", 1, all(87.0)}};
  for (int c = 0; c < 4; ++c) {
    s.cameras.push_back({"cam" + std::to_string(c), 1, kFourTypes, 2500});
  }
  s.duration_s = 300;
  s.warmup_s = 20;
  return s;
}

// Three devices, each 10 ms on its own type and 30 ms (40 ms) on the others: the
// ideal needs every type on its own device. 150 ms deadline.
inline SloScenario SpecialisedScenario() {
  SloScenario s;
  s.name = "specialised";
  s.devices = {{"n1", "gpu0", "gpu", 1, {{"face", 10}, {"pose", 30}, {"text", 40}}},
               {"n2", "npu0", "npu", 1, {{"face", 40}, {"pose", 10}, {"text", 30}}},
               {"n3", "fpga0", "fpga", 1, {{"face", 30}, {"pose", 40}, {"text", 10}}}};
  const std::map<std::string, double> mix = {{"face", 1}, {"pose", 1}, {"text", 1}};
  for (int c = 0; c < 5; ++c) s.cameras.push_back({"cam" + std::to_string(c), 1, mix, 150});
  s.duration_s = 120;
  return s;
}

// The specialised cluster with every camera sending in bursts: 250 ms on at twice
// its average rate, 250 ms off, the cameras out of phase by their own Poisson gaps.
inline SloScenario BurstyScenario() {
  SloScenario s = SpecialisedScenario();
  s.name = "bursty";
  for (SloCamera& c : s.cameras) {
    c.on_ms = 250;
    c.off_ms = 250;
    c.deadline_ms = 400;
  }
  return s;
}

// The paper's cluster whose GPU slows down 2x after a third of the run; the ideal is
// the slowed cluster's.
inline SloScenario SlowingScenario() {
  SloScenario s = PaperScenario();
  s.name = "gpu slows 2x";
  s.slowdowns = {{1, 100, 2}};
  return s;
}

// The specialised cluster with five cameras, one at 4x the others' rate.
inline SloScenario HeavyCameraScenario() {
  SloScenario s = SpecialisedScenario();
  s.name = "one camera at 4x";
  s.cameras[0].rate = 4;
  s.cameras[0].name = "heavy";
  return s;
}

inline std::vector<SloScenario> AllSloScenarios() {
  return {PaperScenario(), SpecialisedScenario(), BurstyScenario(), SlowingScenario(),
          HeavyCameraScenario()};
}

}  // namespace heteroaccel::scheduler::testing
