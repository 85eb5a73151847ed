// Typed exceptions thrown by library code. Only main() turns them into exit codes;
// the server turns them into HTTP errors.
#pragma once

#include <stdexcept>
#include <string>

namespace scrawl {

// Base of every error the library throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file or input the user gave is malformed (bad magic, truncated, wrong sizes...).
class FormatError : public Error {
 public:
  using Error::Error;
};

// An image that could be read but holds nothing we can classify (no ink, empty).
class NoInkError : public Error {
 public:
  using Error::Error;
};

// An input larger than the limits we accept (pixels, bytes).
class TooLargeError : public Error {
 public:
  using Error::Error;
};

// The requested device or feature is not available in this build or on this machine.
class UnavailableError : public Error {
 public:
  using Error::Error;
};

}  // namespace scrawl
