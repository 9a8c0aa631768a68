#include "simtune/data/triplets.h"

#include "data/lines.h"
#include "simtune/core/error.h"

namespace simtune {

std::vector<Triplet> load_triplets(const std::filesystem::path& path) {
  std::vector<Triplet> triplets;
  bool first = true;
  for_each_line(path, [&](const std::string& where, std::string_view rest) {
    std::string_view fields[3];
    for (std::size_t i = 0; i < 3; i++) {
      const std::size_t tab = rest.find('\t');
      if (i < 2 && tab == std::string_view::npos) {
        throw Error(where + ": expected anchor<TAB>positive<TAB>negative, found " +
                    std::to_string(i + 1) + " field" + (i ? "s" : ""));
      }
      fields[i] = rest.substr(0, tab);
      rest = tab == std::string_view::npos ? std::string_view() : rest.substr(tab + 1);
    }
    const bool header =
        first && fields[0] == "anchor" && fields[1] == "positive" && fields[2] == "negative";
    first = false;
    if (!header) {
      triplets.push_back({std::string(fields[0]), std::string(fields[1]), std::string(fields[2])});
    }
  });
  return triplets;
}

}  // namespace simtune
