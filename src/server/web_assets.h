// The dashboard (web/, built by Vite into web/dist), embedded in the server
// binary at build time by cmake/EmbedAssets.cmake.
#pragma once

#include <span>
#include <string_view>

namespace heteroaccel::server {

struct WebAsset {
  std::string_view path;  // "/index.html", "/assets/index-3f2a.js"
  std::string_view content_type;
  std::string_view body;
};

std::span<const WebAsset> WebAssets();
// False when the server was built without web/dist (a page says how to build it).
bool WebAssetsBuilt();

}  // namespace heteroaccel::server
