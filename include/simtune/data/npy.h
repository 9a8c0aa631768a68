// NumPy .npy matrices (format versions 1-3): the teacher embeddings MSELoss distils from.
#pragma once

#include <filesystem>

#include "simtune/core/matrix.h"

namespace simtune {

// A 2-D C-order array of little-endian float32 or float64 (widened to float32); every value
// finite. Throws Error naming the file and what is wrong (header field, size, row of a NaN).
Matrix load_npy_matrix(const std::filesystem::path& path);

}  // namespace simtune
