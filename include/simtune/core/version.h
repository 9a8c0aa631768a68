// simtune's version (CMake's project version): `simtune --version` and the model cards say it.
#pragma once

namespace simtune {

const char* simtune_version();

}  // namespace simtune
