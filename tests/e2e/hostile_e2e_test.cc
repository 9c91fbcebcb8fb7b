// No request can crash a process: a battery of hostile requests, sent as raw
// bytes over TCP to a real agent (face model, CPU) and a real server with that
// agent registered. Each must be answered 4xx (408, 413 and 431 included) with
// a body that is valid JSON when it is not empty, and after each one the
// process must still answer GET /v2/health/live with 200 and a camera's
// POST /v1/infer/face (models/images/astronaut.png) with 200.
//
// The requests cover the request line (invalid UTF-8 and bad escapes in the
// path, overlong lines, unknown methods, HTTP/0.9, the HTTP/2 preface,
// absolute-form targets), the header (bad, huge, negative and duplicate
// Content-Length, Transfer-Encoding with Content-Length, bad chunk sizes,
// lines without a colon, NUL and CR bytes, an oversized header, one that never
// ends), the query (invalid UTF-8, bad hints), the bodies of every endpoint
// that reads one (v2 JSON and binary infer, /v1 images, heartbeats, the
// registry) and pipelined mixes of good and bad requests. The statuses seen,
// and which answers closed the connection, are printed for the record.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "absl/strings/str_cat.h"
#include "cluster_wait.h"
#include "http/client.h"
#include "nlohmann/json.hpp"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using namespace std::string_literals;  // NOLINT(google-build-using-namespace): NUL bytes
using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::ReadFileOrDie;
using testing::Subprocess;

constexpr char kToken[] = "s3cret";
// Short, so that a request that never completes is answered 408 quickly.
constexpr int kHeaderTimeoutMs = 1500;

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::atoi(url.substr(url.rfind(':') + 1).c_str()));
}

// One answer as read off the wire.
struct Answer {
  int status = 0;
  std::string content_type;
  std::string body;
  bool close = false;  // "Connection: close": the server closes after it
};

struct Outcome {
  std::vector<Answer> answers;
  bool eof = false;  // the server closed the connection
};

// Sends `bytes` on a fresh connection, then reads answers until `expected` of
// them arrived (and, when the last says it closes, the close), the server
// closed, or `wait` passed. Interim 1xx answers are skipped.
Outcome Exchange(uint16_t port, std::string_view bytes, size_t expected,
                 std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  Outcome outcome;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return outcome;
  timeval send_timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return outcome;
  }
  // The server may answer and close before it has read everything (413, 431):
  // a failed send is part of the test, not an error.
  for (std::string_view rest = bytes; !rest.empty();) {
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    rest.remove_prefix(static_cast<size_t>(n));
  }
  std::string buffer;
  auto parse = [&] {
    while (!buffer.empty()) {
      boost::beast::http::response_parser<boost::beast::http::string_body> parser;
      parser.eager(true);
      parser.body_limit(64u << 20);
      boost::beast::error_code ec;
      size_t used = 0;
      while (!parser.is_done()) {
        const size_t n =
            parser.put(boost::asio::buffer(buffer.data() + used, buffer.size() - used), ec);
        used += n;
        if (ec || n == 0) break;
      }
      if (!parser.is_done()) {
        if (ec && ec != boost::beast::http::error::need_more) {
          ADD_FAILURE() << "unparseable answer: " << ec.message() << "\n" << buffer;
          buffer.clear();
        }
        return;
      }
      buffer.erase(0, used);
      const auto& message = parser.get();
      if (message.result_int() < 200) continue;
      Answer answer;
      answer.status = static_cast<int>(message.result_int());
      answer.content_type = std::string(message[boost::beast::http::field::content_type]);
      answer.body = message.body();
      answer.close = !message.keep_alive();
      outcome.answers.push_back(std::move(answer));
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const bool enough = outcome.answers.size() >= expected &&
                        (outcome.answers.empty() || !outcome.answers.back().close);
    if (enough || outcome.eof) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      outcome.eof = true;
      break;
    }
    buffer.append(chunk, static_cast<size_t>(n));
    parse();
  }
  ::close(fd);
  return outcome;
}

// One hostile exchange: the bytes, and the statuses expected back (a 0 is any
// 4xx; anything else that exact status), in order; `closes`: the last answer
// must close the connection (what follows it must not be read as a request).
struct Hostile {
  std::string name;
  std::string bytes;
  std::vector<int> expect = {0};
  bool closes = false;
};

std::string Get(const std::string& target, const std::string& extra = "") {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: t\r\n", extra, "\r\n");
}

std::string Post(const std::string& target, const std::string& body,
                 const std::string& extra = "") {
  return absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: t\r\n", extra,
                      "Content-Length: ", body.size(), "\r\n\r\n", body);
}

std::string Put(const std::string& target, const std::string& body, const std::string& extra = "") {
  return absl::StrCat("PUT ", target, " HTTP/1.1\r\nHost: t\r\n", extra,
                      "Content-Length: ", body.size(), "\r\n\r\n", body);
}

// A real JPEG whose frame header is patched to announce 30000x30000 pixels:
// decoding it would take gigabytes for a body of a few kilobytes.
std::string JpegBomb() {
  std::string jpeg = ReadFileOrDie(ModelsDir() + "/images/hands/nocurl.jpg");
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    const auto marker = static_cast<unsigned char>(jpeg[i + 1]);
    if (static_cast<unsigned char>(jpeg[i]) == 0xff && (marker == 0xc0 || marker == 0xc2)) {
      for (size_t at : {i + 5, i + 7}) {
        jpeg[at] = static_cast<char>(30000 >> 8);
        jpeg[at + 1] = static_cast<char>(30000 & 0xff);
      }
      break;
    }
  }
  return jpeg;
}

const std::string& Image() {
  static const std::string* image =
      new std::string(ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
  return *image;
}

// Requests every front door must refuse: the HTTP layer, routing, and the
// endpoints the agent and the server share.
std::vector<Hostile> CommonBattery() {
  const std::string auth = absl::StrCat("Authorization: Bearer ", kToken, "\r\n");
  const std::string binary_header =
      R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":8}}]})";
  return {
      // The request line and the path.
      {"invalid UTF-8 path %FF", Get("/%FF")},
      {"invalid UTF-8 path %C3%28", Get("/%C3%28")},
      {"overlong UTF-8 path %C0%AF", Get("/v2/models/%C0%AF")},
      {"NUL in the path", Get("/v2/health/live%00")},
      {"invalid UTF-8 under a known route", Get("/v2/models/%FF%FE")},
      {"405 with invalid UTF-8", "DELETE /v2/models/%FF%C3%28 HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"bad percent escape", Get("/v2/health/live%G1")},
      {"truncated percent escape", Get("/v2/models/face%")},
      {"raw invalid UTF-8 bytes in the path", Get("/v2/models/\xff\xc3\x28")},
      {"very long request line", Get(absl::StrCat("/", std::string(70'000, 'a')))},
      {"unknown method", "BREW /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"lower-case method", "get /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"HTTP/0.9", "GET /v2/health/live\r\n\r\n"},
      {"HTTP/2 preface", std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")},
      {"HTTP/3.7", "GET /v2/health/live HTTP/3.7\r\nHost: t\r\n\r\n"},
      {"absolute-form target to an unknown path", Get("http://example.com/%FF/x")},
      // DELETE: the server serves GET / (its dashboard), so only a method no
      // route has makes the answer a 4xx on both.
      {"absolute-form target without a path",
       "DELETE http://example.com HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"},
      {"empty request line", "\r\n\r\n\r\n \r\n"},
      {"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s},
      // The header.
      {"huge Content-Length",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n"},
      {"Content-Length over the body limit",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\nabc"},
      {"negative Content-Length",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\nabc"},
      {"duplicate Content-Length",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
       "Content-Length: 4\r\n\r\nabcd"},
      {"Content-Length with junk",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: 3x\r\n\r\nabc"},
      {"Transfer-Encoding with Content-Length",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding without chunked, then a request",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n" + Get("/v2"),
       {400},
       true},
      {"Transfer-Encoding gzip, chunked",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
       "0\r\n\r\n" +
           Get("/v2"),
       {400},
       true},
      {"Transfer-Encoding chunked twice",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
           Get("/v2"),
       {400},
       true},
      {"bad chunk size",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
       "\r\nzz\r\nabc\r\n0\r\n\r\n"},
      {"huge chunk size",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
       "\r\nfffffffffffffffffff\r\nabc\r\n"},
      {"chunk longer than its size",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\n"
       "Transfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n"},
      {"header without a colon", "GET /v2/health/live HTTP/1.1\r\nHost t\r\n\r\n"},
      {"NUL in a header value", "GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-A: b\0c\r\n\r\n"s},
      {"NUL in a header name", "GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX\0A: b\r\n\r\n"s},
      {"CR inside a header value", "GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-A: b\rc\r\n\r\n"},
      {"space before the colon", "GET /v2/health/live HTTP/1.1\r\nHost : t\r\n\r\n"},
      // RFC 9112 5.2 lets a server replace obs-fold with spaces instead of refusing it.
      {"obsolete line folding",
       "GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n",
       {200}},
      {"very long header",
       Get("/v2/health/live", absl::StrCat("X-Long: ", std::string(70'000, 'h'), "\r\n"))},
      {"header that never ends", "GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-A: b", {408}},
      {"body that never arrives",
       "POST /v1/infer/face HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab",
       {408}},
      // Queries.
      {"device=%FF", Post("/v1/infer/face?device=%FF", Image(), "Content-Type: image/png\r\n")},
      {"variant=%C3%28",
       Post("/v1/infer/face?variant=%C3%28&device=%FF", Image(), "Content-Type: image/png\r\n")},
      // v2 infer bodies.
      {"v2 body that is not JSON", Post("/v2/models/face/infer", "this is { not json")},
      {"v2 body that is empty", Post("/v2/models/face/infer", "")},
      {"v2 body with wrong types",
       Post("/v2/models/face/infer",
            R"({"inputs":[{"name":1,"datatype":[],"shape":"x","data":{}}]})")},
      {"v2 body with invalid UTF-8 in strings",
       Post("/v2/models/face/infer",
            "{\"id\":\"\xff\xfe\",\"inputs\":[{\"name\":\"im\xc3\x28\",\"datatype\":\"BYTES\","
            "\"shape\":[1],\"data\":[\"\xc0\xaf\"]}]}")},
      {"v2 body with a huge shape",
       Post(
           "/v2/models/face/infer",
           R"({"inputs":[{"name":"image","datatype":"UINT8","shape":[99999999999,99999999,3],"data":[1]}]})")},
      {"v2 body with a negative shape",
       Post("/v2/models/face/infer",
            R"({"inputs":[{"name":"image","datatype":"UINT8","shape":[-2,2,3],"data":[1]}]})")},
      {"v2 body nested 100000 deep", Post("/v2/models/face/infer", std::string(100'000, '['))},
      {"v2 BYTES input that is not an image",
       Post("/v2/models/face/infer",
            R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8="]}]})")},
      {"v2 for an unknown model",
       Post("/v2/models/%FF/infer",
            R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8="]}]})")},
      {"binary extension with Inference-Header-Content-Length past the body",
       Post("/v2/models/face/infer", absl::StrCat(binary_header, "\x04\0\0\0abcd"s),
            "Inference-Header-Content-Length: 99999\r\n")},
      {"binary extension with Inference-Header-Content-Length short of the header",
       Post("/v2/models/face/infer", absl::StrCat(binary_header, "\x04\0\0\0abcd"s),
            "Inference-Header-Content-Length: 10\r\n")},
      {"binary extension with Inference-Header-Content-Length not a number",
       Post("/v2/models/face/infer", absl::StrCat(binary_header, "\x04\0\0\0abcd"s),
            "Inference-Header-Content-Length: -1\r\n")},
      {"binary extension with an element size past the data",
       Post("/v2/models/face/infer",
            absl::StrCat(binary_header,
                         "\xff\xff\xff\x7f"
                         "abcd"s),
            absl::StrCat("Inference-Header-Content-Length: ", binary_header.size(), "\r\n"))},
      // /v1 bodies.
      {"/v1 with a text body", Post("/v1/infer/face", "hello", "Content-Type: text/plain\r\n")},
      {"/v1 with a non-image body", Post("/v1/infer/face", "hello", "Content-Type: image/png\r\n")},
      {"/v1 with a truncated PNG",
       Post("/v1/infer/face", Image().substr(0, 200), "Content-Type: image/png\r\n")},
      {"/v1 with a PNG claiming 100000x100000 pixels",
       Post("/v1/infer/face",
            "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0"s,
            "Content-Type: image/png\r\n")},
      {"/v1 with an empty body", Post("/v1/infer/face", "", "Content-Type: image/png\r\n")},
      {"/v1 with a JPEG claiming 30000x30000 pixels",
       Post("/v1/infer/face", JpegBomb(), "Content-Type: image/jpeg\r\n")},
      {"/v1 for an unknown model",
       Post("/v1/infer/%C3%28", Image(), "Content-Type: image/png\r\n")},
      // Pipelined mixes: the good ones are answered, the bad ones refused, in order.
      {"pipelined good and bad",
       absl::StrCat(Get("/v2/health/live"), Get("/%FF"), Post("/v2/models/face/infer", "{"),
                    Get("/v2/health/live")),
       {200, 404, 400, 200}},
      {"pipelined after a malformed request nothing more is read",
       absl::StrCat(Get("/v2/health/live"), "GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
                    Get("/v2/health/live")),
       {200, 400}},
      {"pipelined camera between bad requests",
       absl::StrCat(Get("/%C3%28"), Post("/v1/infer/face", Image(), "Content-Type: image/png\r\n"),
                    Post("/v1/infer/face", "junk", "Content-Type: image/png\r\n")),
       {404, 200, 400}},
  };
}

std::vector<Hostile> AgentBattery() {
  const std::string png = "Content-Type: image/png\r\n";
  const std::string auth = absl::StrCat("Authorization: Bearer ", kToken, "\r\n");
  const std::string install = R"({"name":"m","version":1,"sha256":")" + std::string(64, 'a') +
                              R"(","size":10,"format":"onnx","type":"face","variant":"v")";
  return {
      // Model installs (the server's deploy routes call this).
      {"model install without the token", Post("/v1/fleet/models/install", install + "}"), {401}},
      {"model install with garbage", Post("/v1/fleet/models/install", "\x01\xff{", auth), {400}},
      {"model install with an escaping name",
       Post("/v1/fleet/models/install",
            R"({"name":"../../etc","version":1,"sha256":")" + std::string(64, 'a') +
                R"(","size":1,"format":"onnx","type":"face","variant":"v"})",
            auth),
       {400}},
      {"model install replacing a file outside the base variant",
       Post("/v1/fleet/models/install", install + R"(,"replaces":"/etc/passwd"})", auth), {400}},
      {"model install over a built-in variant",
       Post("/v1/fleet/models/install",
            R"({"name":"m","version":1,"sha256":")" + std::string(64, 'a') +
                R"(","size":1,"format":"onnx","type":"face","variant":"blazeface-front-128"})",
            auth),
       {400}},
      {"time sync without the token", Post("/v1/fleet/time/sync", "{}"), {401}},
      {"time sync on an agent without --allow-time-sync",
       Post("/v1/fleet/time/sync", "\xff garbage", auth), {403}},
      {"model install with an unknown field",
       Post("/v1/fleet/models/install", install + R"(,"command":"rm -rf /"})", auth), {400}},
      // An emulated device's speed (a fault drill): the token, then a typed body.
      {"emulation without the token",
       Post("/v1/fleet/emulation", R"({"device":"cpu0","slowdown":2})"), {401}},
      {"emulation with garbage", Post("/v1/fleet/emulation", "\x01\xff{", auth), {400}},
      {"emulation of a device in invalid UTF-8",
       Post("/v1/fleet/emulation", "{\"device\":\"\xff\xfe\",\"slowdown\":2}", auth), {400}},
      {"emulation of a device not on the node",
       Post("/v1/fleet/emulation", R"({"device":"../../gpu0","slowdown":2})", auth), {404}},
      {"emulation slowing down by infinity",
       Post("/v1/fleet/emulation", R"({"device":"cpu0","slowdown":1e999})", auth), {400}},
      {"emulation with an unknown field",
       Post("/v1/fleet/emulation", R"({"device":"cpu0","slowdown":2,"command":"rm -rf /"})",
            auth),
       {400}},
      {"readiness of a model named in invalid UTF-8", Get("/v2/models/%FF%FE/ready")},
      // The server's forwarding headers, sent by a client: a bad device is
      // refused; bad numbers are ignored, and the answer stays valid JSON.
      {"forwarded device in invalid UTF-8",
       Post("/v1/infer/face", Image(), png + "X-HeteroAccel-Device: \xff\xc3\x28\r\n")},
      {"forwarded queue time of infinity",
       Post("/v1/infer/face", Image(),
            png + "X-HeteroAccel-Server-Queue-Ms: inf\r\nX-HeteroAccel-Attempt: 99999999999\r\n"),
       {200}},
  };
}

std::vector<Hostile> ServerBattery() {
  const std::string auth = absl::StrCat("Authorization: Bearer ", kToken, "\r\n");
  const std::string png = "Content-Type: image/png\r\n";
  return {
      // A readiness probe of a model no registered device serves: 404, as the
      // agent answers (503 is for a model whose devices are all down).
      {"readiness of a model named in invalid UTF-8", Get("/v2/models/%FF%FE/ready"), {404}},
      {"timeout_ms=abc", Post("/v1/infer/face?timeout_ms=abc", Image(), png)},
      {"priority=1e99", Post("/v1/infer/face?priority=1e99", Image(), png)},
      {"device_kind=%FF", Post("/v1/infer/face?device_kind=%FF", Image(), png)},
      {"device pinned to an unknown node",
       Post("/v1/infer/face?device=nowhere/cpu9", Image(), png)},
      {"group=%FF", Post("/v1/infer/face?group=%FF", Image(), png), {400}},
      {"empty group", Post("/v1/infer/face?group=", Image(), png), {400}},
      {"degrade=maybe", Post("/v1/infer/face?degrade=maybe", Image(), png), {400}},
      {"v2 degrade hint of the wrong type",
       Post("/v2/models/face/infer",
            R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGk="]}],)"
            R"("parameters":{"degrade":[1]}})"),
       {400}},
      {"v2 group of the wrong type",
       Post("/v2/models/face/infer",
            R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGk="]}],)"
            R"("parameters":{"group":["line-1"]}})"),
       {400}},
      // The model repository (the server keeps one under --state-dir).
      {"model upload with an escaping name", Post("/v1/models/..%2F..%2Fetc/uploads", "{}", auth),
       {400}},
      {"model upload with invalid UTF-8 metadata",
       Post("/v1/models/m/uploads", "{\"metadata\":{\"type\":\"\xff\"}}", auth), {400}},
      {"model upload without the token", Post("/v1/models/m/uploads", "{}"), {401}},
      {"model deploy without the token", Post("/v1/models/m/deploy", "{}"), {401}},
      {"node settings without the token", Put("/v1/nodes/n1", R"({"groups":["a"]})"), {401}},
      {"node settings with garbage", Put("/v1/nodes/n1", "\xff{", auth), {400}},
      {"node settings with a bad group",
       Put("/v1/nodes/n1", R"({"groups":["../etc"]})", auth), {400}},
      {"node settings with a control character in a label",
       Put("/v1/nodes/n1", R"({"labels":{"k":"\u0000"}})", auth), {400}},
      {"node settings of a name with a space", Put("/v1/nodes/a%20b", "{}", auth), {400}},
      {"node settings with too many groups",
       Put("/v1/nodes/n1", R"({"groups":["a","b","c","d","e","f","g","h","i"]})", auth), {400}},
      {"model deploy with garbage", Post("/v1/models/m/deploy", "\xff{", auth), {400}},
      {"model deploy to all", Post("/v1/models/m/deploy", R"({"target":"all"})", auth), {400}},
      {"model deploy of an escaping name",
       Post("/v1/models/..%2Fetc/deploy", R"({"target":"group/g"})", auth), {400}},
      {"model deploy of an unknown model",
       Post("/v1/models/nothing/deploy", R"({"target":"group/g"})", auth), {404}},
      {"model rollback with a version field",
       Post("/v1/models/m/rollback", R"({"target":"group/g","version":1})", auth), {400}},
      {"model chunk to an unknown upload", Put("/v1/models/m/uploads/zzz?offset=-1", "x", auth),
       {400}},
      {"model blob of an unknown version with a bad range",
       Get("/v1/models/m/versions/1/blob", "Range: bytes=9-1\r\n"), {404}},
      {"v2 hints of the wrong types",
       Post("/v2/models/face/infer",
            R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGk="]}],)"
            R"("parameters":{"priority":"high","timeout_ms":-5,"device":7}})")},
      {"v2 with a version", Post("/v2/models/face/versions/x/infer", "{}")},
      {"heartbeat without the token", Post("/v1/cluster/heartbeat", "{}")},
      {"heartbeat with malformed JSON", Post("/v1/cluster/heartbeat", "{\"node\":\xff", auth)},
      {"heartbeat with wrong types",
       Post("/v1/cluster/heartbeat",
            R"({"node":5,"url":null,"ready":"yes","devices":[{"id":"x","slots":-1,"models":7}]})",
            auth)},
      {"heartbeat with invalid UTF-8 names",
       Post("/v1/cluster/heartbeat",
            "{\"node\":\"\xff\",\"url\":\"http://\xc3\x28\",\"ready\":true,\"devices\":[]}", auth)},
      {"registry PUT without the token", Put("/v1/registry", "{}")},
      {"registry PUT with garbage", Put("/v1/registry", "\x01\x02garbage", auth)},
      {"registry PUT with wrong types", Put("/v1/registry", R"({"face":{"variants":[1]}})", auth)},
      {"registry PUT with an unknown kind",
       Put("/v1/registry", R"({"face":{"variants":{"quantum":"blazeface-front-128"}}})", auth)},
      {"capacity without a mix", Get("/v1/cluster/capacity?mix=%FF:abc")},
      // The dashboard's routes (the server runs with --admin-token kToken).
      {"placement PUT without the token", Put("/v1/placement", "{}"), {401}},
      {"placement PUT with a wrong token",
       Put("/v1/placement", "{}", "Authorization: Bearer x\r\n"),
       {401}},
      {"placement PUT with garbage", Put("/v1/placement", "\x01\xffgarbage", auth), {400}},
      {"placement PUT with wrong types",
       Put("/v1/placement", R"({"version":"1","types":{"face":{"pin":[1]}}})", auth),
       {400}},
      {"placement PUT of a type nobody loaded",
       Put("/v1/placement", R"({"types":{"\u00ff\ud800":{"pin":"gpu"}}})", auth),
       {400}},
      {"placement PUT with an unknown policy",
       Put("/v1/placement", R"({"policy":"\xc3\x28"})", auth),
       {400}},
      // The dashboard's degradation editor sends these blocks.
      {"placement PUT with a degrade floor out of range",
       Put("/v1/placement",
           R"({"types":{"face":{"degrade":{"floor":1.5,"variants":{"blazeface-front-128":0.9}}}}})",
           auth),
       {400}},
      {"placement PUT with degrade variants that are not an object",
       Put("/v1/placement", R"({"types":{"face":{"degrade":{"floor":0.5,"variants":[1]}}}})",
           auth),
       {400}},
      {"placement PUT with a degrade variant nobody loaded",
       Put("/v1/placement",
           R"({"types":{"face":{"degrade":{"floor":0.5,"variants":{"\u00ff\ud800":-3}}}}})", auth),
       {400}},
      {"what-if with garbage", Post("/v1/placement/whatif", "[[[[", ""), {400}},
      {"revert of an id in invalid UTF-8", Post("/v1/audit/%FF/revert", "", auth), {400}},
      {"revert of an id past 64 bits",
       Post("/v1/audit/99999999999999999999/revert", "", auth),
       {400}},
      {"revert of an unknown entry", Post("/v1/audit/7/revert", "", auth), {404}},
      {"revert without the token", Post("/v1/audit/1/revert", ""), {401}},
      {"audit with a limit that is not a number", Get("/v1/audit?limit=1e9"), {400}},
      {"decisions with a negative limit", Get("/v1/decisions?limit=-1"), {400}},
      {"history without a Prometheus", Get("/v1/history/query_range?query=%0d%0aX:%20y"), {503}},
      // The scheduler extender's routes (kube-scheduler's webhook).
      {"extender filter with garbage", Post("/k8s/extender/filter", "\x01\xff{[", ""), {400}},
      {"extender prioritize without a Pod", Post("/k8s/extender/prioritize", "{}", ""), {400}},
      {"extender filter with NodeNames of numbers",
       Post("/k8s/extender/filter", R"({"Pod":{},"NodeNames":[1,2]})", ""),
       {400}},
      {"extender limits that are not quantities",
       Post("/k8s/extender/filter",
            R"({"Pod":{"spec":{"containers":[{"resources":{"limits":{"heteroaccel.io/gpu":"1e99"}}}]}},"NodeNames":["n"]})",
            ""),
       {400}},
      {"extender verb that does not exist", Post("/k8s/extender/bind", "{}", ""), {404}},
      {"extender filter as GET", Get("/k8s/extender/filter"), {405}},
      // Cameras and their events (docs/cameras.md).
      {"camera POST without the token", Post("/v1/cameras", "{}", ""), {401}},
      {"camera POST with garbage", Post("/v1/cameras", "\x01\xff{[", auth), {400}},
      {"camera POST with wrong types",
       Post("/v1/cameras", R"({"id":7,"source":[],"pipeline":{"x":1}})", auth),
       {400}},
      {"camera POST whose id escapes its directory",
       Post("/v1/cameras",
            R"({"id":"../../etc","source":{"type":"push"},"pipeline":[{"id":"d","block":"detect","input":"source","type":"face"}]})",
            auth),
       {400}},
      {"camera POST as a YAML alias bomb",
       Post("/v1/cameras",
            "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n",
            auth + "Content-Type: application/yaml\r\n"),
       {400}},
      {"camera POST with a cycle",
       Post("/v1/cameras",
            R"({"id":"c","source":{"type":"push"},"pipeline":[{"id":"d","block":"detect","input":"source","type":"face"},{"id":"a","block":"filter","input":"b"},{"id":"b","block":"filter","input":"a"}]})",
            auth),
       {400}},
      {"camera named in invalid UTF-8", Get("/v1/cameras/%FF%FE"), {404}},
      {"frame of an unknown camera", Get("/v1/cameras/nope/frame.jpg"), {404}},
      {"geometry of an unknown camera", Put("/v1/cameras/nope/geometry", "[[", auth)},
      {"frames pushed to an unknown camera", Post("/v1/cameras/nope/frames", Image(), auth + png),
       {404}},
      {"events with a forged cursor", Get("/v1/events?cursor=%FF%00abc"), {400}},
      {"events with a limit past the bound", Get("/v1/events?limit=100000"), {400}},
      {"events with a time that is not a number", Get("/v1/events?since=yesterday"), {400}},
      {"snapshot of an id that escapes", Get("/v1/events/..%2F..%2Fetc%2Fpasswd/snapshot.jpg"),
       {404}},
      {"v2 with a version nobody serves",
       Post("/v2/models/face/versions/%FF%2E%2E/infer",
            R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGk="]}]})"),
       {404}},
  };
}

class HostileE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string timeout = std::to_string(kHeaderTimeoutMs);
    auto server = Subprocess::Start({HeteroaccelBinary(), "server", "--listen", "127.0.0.1:0",
                                     "--cluster-token", kToken, "--admin-token", kToken,
                                     "--header-timeout-ms", timeout, "--state-dir",
                                     ::testing::TempDir() + "/heteroaccel_hostile_state_" +
                                         std::to_string(getpid())});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    server_url_ = new std::string(WaitForListeningUrl(*server_));
    ASSERT_FALSE(server_url_->empty()) << server_->Output();
    auto agent = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                                    "--models-dir", ModelsDir(), "--models", "face", "--no-opencl",
                                    "--cpu-slots", "1", "--server", *server_url_, "--cluster-token",
                                    kToken, "--header-timeout-ms", timeout});
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = agent->release();
    agent_url_ = new std::string(WaitForListeningUrl(*agent_));
    ASSERT_FALSE(agent_url_->empty()) << agent_->Output();
    ASSERT_TRUE(agent_->WaitForLine("ready", std::chrono::minutes(2)).has_value())
        << agent_->Output();
    ASSERT_TRUE(e2e::WaitForServingAgent(*server_url_, std::chrono::seconds(20)))
        << server_->Output();
    ready_ = true;
  }

  static void TearDownTestSuite() {
    delete agent_;
    delete server_;
    delete agent_url_;
    delete server_url_;
    agent_ = server_ = nullptr;
    agent_url_ = server_url_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(ready_) << "the agent and server did not start"; }

  // The process answers a health check and a camera.
  static void ExpectStillServing(Subprocess& process, const std::string& url,
                                 const std::string& after) {
    auto http = http::Client::Create(url, std::chrono::seconds(20));
    ASSERT_TRUE(http.ok()) << http.status();
    auto live = (*http)->Get("/v2/health/live");
    ASSERT_TRUE(live.ok()) << "after '" << after << "': " << live.status() << "\n"
                           << process.Output();
    EXPECT_EQ(live->status, 200) << "after '" << after << "'";
    auto camera = (*http)->Post("/v1/infer/face", "image/png", Image());
    ASSERT_TRUE(camera.ok()) << "after '" << after << "': " << camera.status() << "\n"
                             << process.Output();
    EXPECT_EQ(camera->status, 200) << "after '" << after << "': " << camera->body;
  }

  // Sends each hostile exchange on its own connection, checks its answers,
  // then that the process still serves.
  static void RunBattery(Subprocess& process, const std::string& url, const char* who,
                         const std::vector<Hostile>& battery) {
    for (const Hostile& h : battery) {
      const Outcome outcome = Exchange(PortOf(url), h.bytes, h.expect.size());
      std::string seen;
      for (const Answer& a : outcome.answers) {
        absl::StrAppend(&seen, seen.empty() ? "" : " ", a.status, a.close ? " (closes)" : "");
      }
      std::printf("[%s] %-72s %s\n", who, h.name.c_str(),
                  seen.empty() ? "no answer" : seen.c_str());
      EXPECT_EQ(outcome.answers.size(), h.expect.size())
          << who << ": '" << h.name << "' answered " << seen;
      for (size_t i = 0; i < outcome.answers.size() && i < h.expect.size(); ++i) {
        const Answer& a = outcome.answers[i];
        if (h.expect[i] == 0) {
          EXPECT_TRUE(a.status >= 400 && a.status <= 499)
              << who << ": '" << h.name << "' answered " << a.status << ": " << a.body;
        } else {
          EXPECT_EQ(a.status, h.expect[i]) << who << ": '" << h.name << "': " << a.body;
        }
        if (!a.body.empty() && a.content_type.rfind("application/json", 0) == 0) {
          EXPECT_TRUE(nlohmann::json::accept(a.body))
              << who << ": '" << h.name << "' answered a body that is not JSON: " << a.body;
        }
        if (a.status >= 400 && a.status <= 499) {
          EXPECT_FALSE(a.body.empty()) << who << ": '" << h.name << "' gave no reason";
        }
      }
      if (h.closes) {
        EXPECT_TRUE(!outcome.answers.empty() && outcome.answers.back().close && outcome.eof)
            << who << ": '" << h.name << "' left the connection open";
      }
      if (!outcome.answers.empty() && outcome.answers.back().close) {
        EXPECT_TRUE(outcome.eof) << who << ": '" << h.name << "' said close but stayed open";
      }
      ExpectStillServing(process, url, h.name);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  static inline Subprocess* agent_ = nullptr;
  static inline Subprocess* server_ = nullptr;
  static inline std::string* agent_url_ = nullptr;
  static inline std::string* server_url_ = nullptr;
  static inline bool ready_ = false;
};

TEST_F(HostileE2ETest, AgentAnswersEveryHostileRequest4xxAndKeepsServing) {
  std::vector<Hostile> battery = CommonBattery();
  for (Hostile& h : AgentBattery()) battery.push_back(std::move(h));
  RunBattery(*agent_, *agent_url_, "agent", battery);
}

TEST_F(HostileE2ETest, ServerAnswersEveryHostileRequest4xxAndKeepsServing) {
  std::vector<Hostile> battery = CommonBattery();
  for (Hostile& h : ServerBattery()) battery.push_back(std::move(h));
  RunBattery(*server_, *server_url_, "server", battery);
}

}  // namespace
}  // namespace heteroaccel
