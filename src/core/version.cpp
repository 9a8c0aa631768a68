#include "simtune/core/version.h"

namespace simtune {

const char* simtune_version() {
  return SIMTUNE_VERSION;
}

}  // namespace simtune
