#include <omp.h>

#include "simtune/core/threads.h"

namespace simtune {

void set_num_threads(int n) {
  // OpenBLAS's OpenMP build sizes its work by omp_get_max_threads(), so one call sets both.
  if (n > 0) omp_set_num_threads(n);
}

}  // namespace simtune
