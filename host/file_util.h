// File helpers shared by model files and results: whole-file reads and atomic writes
// (temporary file in the same folder, fsync, rename). Tested via tests/unit/test_model_file.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scrawl {

// Reads a whole file; throws Error naming the path when it cannot, or when it is larger
// than max_bytes.
std::vector<uint8_t> file_read_all(const std::string& path, size_t max_bytes = size_t(1) << 31);

// Writes bytes to path so that readers see either the old file or the whole new one.
void file_write_atomic(const std::string& path, const void* data, size_t size);

// FNV-1a, 64 bit: a fast checksum that catches truncation and flipped bytes.
uint64_t fnv1a64(const void* data, size_t size, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace scrawl
