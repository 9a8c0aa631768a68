// Checking the messages of simtune::Error: what a user sees must name the file, line or tensor.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "simtune/core/error.h"

namespace simtune::testing {

// The message f throws as simtune::Error, or "<no error>".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace simtune::testing

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)
