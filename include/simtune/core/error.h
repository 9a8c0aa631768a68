// Errors that cross the library's edge: bad files, bad input, bad arguments.
#pragma once

#include <stdexcept>
#include <string>

namespace simtune {

// Thrown for anything the user can fix: the message names the file / line / tensor at fault
// and, where it helps, what was expected. Internal invariants abort instead (core/check.h).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace simtune
