// Invariant checks for programming errors (never for user input, which throws simtune::Error).
#pragma once

#include <cstdio>
#include <cstdlib>

#define SIMTUNE_CHECK(cond)                                                                  \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: internal check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
