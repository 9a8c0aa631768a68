// Range checks of numeric options, shared by the library's option structs and the CLI, so that
// every front end refuses the same values with the same words.
#pragma once

#include <string>
#include <utility>

#include "simtune/core/error.h"

namespace simtune {

// An option of a library's options struct outside its range: option() is the member's name
// ("batch_size"), so each front end names it its own way (--batch-size, batch_size=).
class OptionError : public Error {
 public:
  OptionError(std::string option, std::string reason)
      : Error(option + ": " + reason), option_(std::move(option)), reason_(std::move(reason)) {}
  const std::string& option() const { return option_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string option_, reason_;
};

// Upper bounds shared by every options struct and front end.
constexpr double kMaxCount = 1e9;      // steps, epochs, top-k, chunk sizes: far above any real run
constexpr double kMaxBatch = 1 << 20;  // sentences or pairs per batch
constexpr double kMaxFloat = 3.4e38;   // rates, norms, scales: just below float's largest value

enum class Bound { closed, open };

// "[lo, hi]", "(lo, hi]", ...
std::string range_text(double lo, double hi, Bound lo_bound = Bound::closed,
                       Bound hi_bound = Bound::closed);

// Throws OptionError(option, "V is outside [lo, hi]") unless `value` is in the range; NaN and
// infinity never are.
void check_range(const std::string& option, double value, double lo, double hi,
                 Bound lo_bound = Bound::closed, Bound hi_bound = Bound::closed);

}  // namespace simtune
