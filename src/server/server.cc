#include "server/server.h"

#include <charconv>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpc/server.h"
#include "http/server.h"
#include "httpapi/server_metrics.h"
#include "server/grpc_service.h"
#include "server/handlers.h"
#include "server/http_agent_channel.h"

namespace heteroaccel::server {

struct Server::State {
  ServerConfig config;
  std::unique_ptr<metrics::Registry> registry;
  std::unique_ptr<HttpAgentChannel> channel;  // outlives the dispatcher
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<ServerContext> context;
  std::unique_ptr<http::Server> http;
  std::unique_ptr<GrpcService> grpc_service;
  std::unique_ptr<grpcfront::GrpcServer> grpc;
};

namespace {}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerConfig& config) {
  auto state = std::make_unique<State>();
  state->config = config;
  RETURN_IF_ERROR(scheduler::ParsePolicy(config.policy).status());
  state->registry = std::make_unique<metrics::Registry>();
  state->registry->AddGauge("heteroaccel_build_info", "Version of this binary", {"version", "role"})
      .WithLabels({HETEROACCEL_VERSION, "server"})
      .Set(1);
  state->channel =
      std::make_unique<HttpAgentChannel>(std::chrono::milliseconds(config.forward_timeout_ms));
  state->dispatcher =
      std::make_unique<Dispatcher>(config, *state->registry, SystemClock(), *state->channel);
  state->context.reset(
      new ServerContext{*state->dispatcher, *state->registry, config.cluster_token});
  http::Router router;
  AddFrontRoutes(router, *state->context);
  AddClusterRoutes(router, *state->context);
  http::ServerOptions options;
  ASSIGN_OR_RETURN(std::tie(options.host, options.port), http::ParseListenAddress(config.listen));
  options.max_body_bytes = config.max_body_bytes;
  options.io_threads = config.io_threads;
  options.max_connections = config.max_connections;
  options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  options.keepalive_timeout = std::chrono::milliseconds(config.keepalive_timeout_ms);
  options.max_inflight_body_bytes = config.max_inflight_body_bytes;
  ASSIGN_OR_RETURN(state->http, http::Server::Create(options, std::move(router)));
  httpapi::ExportHttpServerMetrics(*state->registry, *state->http);
  if (!config.grpc_listen.empty()) {
    state->grpc_service = std::make_unique<GrpcService>(*state->dispatcher);
    grpcfront::GrpcServerOptions grpc_options;
    grpc_options.listen = config.grpc_listen;
    grpc_options.max_message_bytes = static_cast<int>(config.max_body_bytes);
    ASSIGN_OR_RETURN(state->grpc,
                     grpcfront::GrpcServer::Create(grpc_options, *state->grpc_service));
  }
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() { Stop(); }

void Server::Start() {
  state_->dispatcher->Start();
  state_->http->Start();
}

void Server::Stop() {
  if (state_->grpc) state_->grpc->Stop();
  state_->http->Stop();
  state_->dispatcher->Stop();
}

std::string Server::address() const { return state_->http->address(); }
std::string Server::grpc_address() const { return state_->grpc ? state_->grpc->address() : ""; }

}  // namespace heteroaccel::server
