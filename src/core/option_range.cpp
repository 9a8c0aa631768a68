#include "simtune/core/option_range.h"

#include <cmath>
#include <cstdio>

#include "simtune/core/error.h"

namespace simtune {

namespace {

// Integers in full (1000000, 4294967296); others in the shortest form that reads back (0.001,
// 3.4e+38), as a float when the value is one (a float option's -1e-3 is -0.001, not
// -0.0010000000474974513).
std::string number(double v) {
  char text[32];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", v);
    return text;
  }
  const bool is_float = static_cast<double>(static_cast<float>(v)) == v;
  for (int digits = 6; digits <= 17; digits++) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    double back = 0;
    if (std::sscanf(text, "%lf", &back) != 1) break;
    if (back == v || (is_float && static_cast<float>(back) == static_cast<float>(v))) break;
  }
  return text;
}

}  // namespace

std::string range_text(double lo, double hi, Bound lo_bound, Bound hi_bound) {
  return (lo_bound == Bound::open ? "(" : "[") + number(lo) + ", " + number(hi) +
         (hi_bound == Bound::open ? ")" : "]");
}

void check_range(const std::string& option, double value, double lo, double hi, Bound lo_bound,
                 Bound hi_bound) {
  const bool below = lo_bound == Bound::open ? !(value > lo) : !(value >= lo);
  const bool above = hi_bound == Bound::open ? !(value < hi) : !(value <= hi);
  if (below || above) {
    throw OptionError(option,
                      number(value) + " is outside " + range_text(lo, hi, lo_bound, hi_bound));
  }
}

}  // namespace simtune
