// kube-scheduler's extender (k8s/extender/extender.h): POST /k8s/extender/filter
// and POST /k8s/extender/prioritize, JSON with Go's field names.
//
// No token: kube-scheduler's extender configuration has TLS options only, and
// both routes are read-only (they change nothing in the server) and tell no
// more than /v1/cluster. Bodies are bounded by the server's body limit
// (--max-body-bytes).
//
// A malformed body is answered 400 with {"Error": "<field and problem>"} on
// both verbs: kube-scheduler counts any status but 200 as a failed call (with
// `ignorable: true` it then goes on without the extender), and prioritize's
// answer, a bare list, has no field to carry an error in a 200. The message is
// also logged here, since kube-scheduler logs only the status.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "k8s/extender/extender.h"
#include "server/handlers.h"

namespace heteroaccel::server {
namespace {

struct ExtenderMetrics {
  explicit ExtenderMetrics(metrics::Registry& r)
      : calls(r.AddCounter("heteroaccel_server_extender_calls_total",
                           "kube-scheduler extender calls, by verb and HTTP status",
                           {"verb", "code"})),
        seconds(r.AddHistogram("heteroaccel_server_extender_seconds",
                               "Time to answer a kube-scheduler extender call", {"verb"},
                               metrics::ExponentialBuckets(0.0001, 2.5, 12))) {}
  metrics::Family<metrics::Counter>& calls;
  metrics::Family<metrics::Histogram>& seconds;
  // The routes take no token, so a refused call is logged at most once per
  // kWarnEvery (kube-scheduler logs only the status; the count is in calls).
  std::atomic<int64_t> next_warn_ns{0};
};

constexpr std::chrono::seconds kWarnEvery{10};

bool WarnNow(std::atomic<int64_t>& next_warn_ns) {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t due = next_warn_ns.load(std::memory_order_relaxed);
  return now >= due &&
         next_warn_ns.compare_exchange_strong(
             due, now + std::chrono::duration_cast<std::chrono::nanoseconds>(kWarnEvery).count(),
             std::memory_order_relaxed);
}

}  // namespace

void AddK8sRoutes(http::Router& router, ServerContext& context) {
  auto metrics = std::make_shared<ExtenderMetrics>(context.registry);
  for (std::string_view verb_name : {k8s::kFilterVerb, k8s::kPrioritizeVerb}) {
    const std::string verb(verb_name);
    router.Add(
        "POST", absl::StrCat(std::string(k8s::kExtenderPrefix), "/", verb),
        [&context, metrics, verb](http::Request&& request, const http::PathParams&,
                                  http::Responder r) {
          const auto start = std::chrono::steady_clock::now();
          Dispatcher& dispatcher = context.dispatcher;
          k8s::ExtenderAnswer answer =
              k8s::Answer(verb, request.body, [&dispatcher](const std::vector<std::string>& nodes) {
                return dispatcher.ExtenderSnapshot(nodes);
              });
          if (answer.status != 200 && WarnNow(metrics->next_warn_ns)) {
            spdlog::warn("scheduler extender {}: {}", verb,
                         answer.body.value("Error", std::string()));
          }
          metrics->calls.WithLabels({verb, std::to_string(answer.status)}).Increment();
          metrics->seconds.WithLabels({verb}).Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          r(httpapi::JsonResponse(answer.body, answer.status));
        });
  }
}

}  // namespace heteroaccel::server
