// The one thread pool: OpenMP's, which OpenBLAS's OpenMP build shares.
#pragma once

namespace simtune {

// Sets the pool to n threads; n <= 0 keeps the default (all cores).
void set_num_threads(int n);

}  // namespace simtune
