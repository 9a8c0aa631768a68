// (anchor, positive, negative) rows, the data of TripletEvaluator: TSV, one triplet a line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace simtune {

struct Triplet {
  std::string anchor, positive, negative;
};

// The first three tab-separated fields of each line (LF or CRLF; more fields are ignored); a
// first line `anchor<TAB>positive<TAB>negative` is a header and skipped, as is a UTF-8
// byte-order mark. A line with fewer fields or invalid UTF-8 throws Error("file:line: ...").
std::vector<Triplet> load_triplets(const std::filesystem::path& path);

}  // namespace simtune
