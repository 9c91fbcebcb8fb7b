#include "video/testing/rtsp_server.h"

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace heteroaccel::video::testing {
namespace {

absl::Status InitGstreamer() {
  static absl::Status status = [] {
    GError* error = nullptr;
    if (!gst_init_check(nullptr, nullptr, &error)) {
      absl::Status s = absl::UnavailableError(
          absl::StrCat("GStreamer: ", error != nullptr ? error->message : "init failed"));
      if (error != nullptr) g_error_free(error);
      return s;
    }
    return absl::OkStatus();
  }();
  return status;
}

bool HasElement(const char* name) {
  GstElementFactory* factory = gst_element_factory_find(name);
  if (factory == nullptr) return false;
  gst_object_unref(factory);
  return true;
}

GstRTSPFilterResult RemoveClient(GstRTSPServer*, GstRTSPClient*, gpointer) {
  return GST_RTSP_FILTER_REMOVE;
}

std::string LaunchLine(const RtspServer::Options& o, bool jpeg) {
  std::string location = o.file;
  // gst_parse_launch quoting: the location is a double-quoted string.
  std::string quoted;
  for (char c : location) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  std::string caps = "video/x-raw,format=I420";
  if (o.width > 0 && o.height > 0) absl::StrAppend(&caps, ",width=", o.width, ",height=", o.height);
  std::string encode =
      jpeg ? " ! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26"
           : " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bframes=0"
             " ! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1";
  return absl::StrCat("( filesrc location=\"", quoted,
                      "\" ! decodebin ! videoconvert ! videoscale ! ", caps, encode, " )");
}

}  // namespace

// One listening server and the thread running its GLib main context.
struct RtspServer::Loop {
  GMainContext* context = nullptr;
  GMainLoop* main_loop = nullptr;
  GstRTSPServer* server = nullptr;
  guint source_id = 0;
  std::thread thread;

  ~Loop() {
    if (main_loop != nullptr) {
      // Close clients and the listening socket from the loop's own thread.
      g_main_context_invoke(
          context,
          +[](gpointer data) -> gboolean {
            auto* self = static_cast<Loop*>(data);
            gst_rtsp_server_client_filter(self->server, RemoveClient, nullptr);
            if (GSource* source = g_main_context_find_source_by_id(self->context, self->source_id))
              g_source_destroy(source);
            g_main_loop_quit(self->main_loop);
            return G_SOURCE_REMOVE;
          },
          this);
    }
    if (thread.joinable()) thread.join();
    if (server != nullptr) g_object_unref(server);
    if (main_loop != nullptr) g_main_loop_unref(main_loop);
    if (context != nullptr) g_main_context_unref(context);
  }
};

absl::Status RtspServerAvailable() {
  if (absl::Status s = InitGstreamer(); !s.ok()) return s;
  for (const char* e : {"filesrc", "decodebin", "videoconvert", "videoscale"}) {
    if (!HasElement(e))
      return absl::UnavailableError(absl::StrCat("GStreamer element ", e, " missing"));
  }
  if (!HasElement("x264enc") && !HasElement("jpegenc")) {
    return absl::UnavailableError("GStreamer has neither x264enc nor jpegenc");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RtspServer>> RtspServer::Start(const Options& options) {
  if (absl::Status s = RtspServerAvailable(); !s.ok()) return s;
  if (options.file.empty()) return absl::InvalidArgumentError("RtspServer: no file");
  if (options.mount.empty() || options.mount[0] != '/') {
    return absl::InvalidArgumentError("RtspServer: the mount must start with /");
  }
  auto server = std::unique_ptr<RtspServer>(new RtspServer(options));
  server->port_ = options.port;
  absl::MutexLock lock(&server->mu_);
  if (absl::Status s = server->Listen(); !s.ok()) return s;
  return server;
}

RtspServer::RtspServer(Options options) : options_(std::move(options)) {}

RtspServer::~RtspServer() { Stop(); }

std::string RtspServer::Url() const {
  return absl::StrCat("rtsp://127.0.0.1:", port_.load(), options_.mount);
}

void RtspServer::Stop() {
  absl::MutexLock lock(&mu_);
  StopLocked();
}

void RtspServer::StopLocked() { loop_.reset(); }

absl::Status RtspServer::Restart() {
  absl::MutexLock lock(&mu_);
  StopLocked();
  return Listen();
}

absl::Status RtspServer::Listen() {
  auto loop = std::make_unique<Loop>();
  loop->context = g_main_context_new();
  loop->server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(loop->server, "127.0.0.1");
  gst_rtsp_server_set_service(loop->server, std::to_string(port_.load()).c_str());

  const bool jpeg = options_.jpeg || !HasElement("x264enc");
  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, LaunchLine(options_, jpeg).c_str());
  gst_rtsp_media_factory_set_shared(factory, FALSE);  // every client from the file's start
  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(loop->server);
  gst_rtsp_mount_points_add_factory(mounts, options_.mount.c_str(), factory);  // takes factory
  g_object_unref(mounts);

  loop->source_id = gst_rtsp_server_attach(loop->server, loop->context);
  if (loop->source_id == 0) {
    return absl::UnavailableError(
        absl::StrCat("RtspServer: cannot listen on 127.0.0.1:", port_.load(), " (port in use?)"));
  }
  port_ = gst_rtsp_server_get_bound_port(loop->server);
  loop->main_loop = g_main_loop_new(loop->context, FALSE);
  loop->thread = std::thread([l = loop.get()] {
    g_main_context_push_thread_default(l->context);
    g_main_loop_run(l->main_loop);
    g_main_context_pop_thread_default(l->context);
  });
  loop_ = std::move(loop);
  return absl::OkStatus();
}

}  // namespace heteroaccel::video::testing
