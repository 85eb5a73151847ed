// Small shared pieces of the Backend interface: Adam's step size and the dropout mask.
#include <cmath>

#include "host/backend.h"
#include "host/dropout_hash.h"

namespace scrawl {

float AdamStep::step_size() const {
  const double t_d = static_cast<double>(t);
  return static_cast<float>(lr * std::sqrt(1.0 - std::pow(double(beta2), t_d)) /
                            (1.0 - std::pow(double(beta1), t_d)));
}

float dropout_uniform(uint64_t seed, uint64_t index) { return dropout_hash_uniform(seed, index); }

}  // namespace scrawl
