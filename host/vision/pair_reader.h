// Number mode's pair reader over a network: two touching digits read as one 28x56 image into
// 100 classes (models/pairs.json). The CLI and the server build it the same way.
// Tested by tests/unit/test_vision.cpp (PairReader.*).
#pragma once

#include <memory>

#include "host/backend.h"
#include "host/model_file.h"
#include "host/vision/preprocess.h"

namespace scrawl::vision {

// The pair model `file` loaded onto `backend` (which the reader then owns). The reader is
// thread-safe: callers take turns on the one network. FormatError when the model does not read
// (1, 28, 56) images into kPairClasses classes.
PairReader pair_reader_create(std::unique_ptr<Backend> backend, const ModelFile& file);

}  // namespace scrawl::vision
