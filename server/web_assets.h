// The page's files (server/web/*), embedded into the binary at build time by
// cmake/embed_assets.cmake. Served by server/routes.cpp; tested by tests/server/test_static.cpp.
#pragma once

#include <cstddef>
#include <string_view>

namespace scrawl::web {

struct Asset {
  const char* name;  // file name inside server/web, e.g. "index.html"
  const char* mime;  // Content-Type to serve it with
  const char* etag;  // strong ETag, quoted: the first 16 hex digits of its SHA-256
  const unsigned char* data;
  size_t size;
};

// Terminated by an entry whose name is nullptr.
extern const Asset kAssets[];

// The asset called `name`, or nullptr.
inline const Asset* asset_find(std::string_view name) {
  for (const Asset* a = kAssets; a->name; ++a)
    if (name == a->name) return a;
  return nullptr;
}

}  // namespace scrawl::web
