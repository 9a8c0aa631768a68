#include "simtune/eval/metrics.h"

#include <cstdio>
#include <filesystem>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"

namespace simtune {

double metric_value(const Metrics& metrics, const std::string& name) {
  std::string names;
  for (const Metric& m : metrics) {
    if (m.name == name) return m.value;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  throw Error("no metric \"" + name + "\" (the evaluators give: " + names + ")");
}

void append_results_csv(const std::string& dir, const std::string& file,
                        const std::vector<std::string>& columns, int epoch, long steps,
                        const std::vector<double>& values) {
  SIMTUNE_CHECK(columns.size() == values.size());
  std::string header = "epoch,steps", row = std::to_string(epoch) + "," + std::to_string(steps);
  for (std::size_t i = 0; i < columns.size(); i++) {
    char value[32];
    std::snprintf(value, sizeof value, "%.17g", values[i]);
    header += "," + columns[i];
    row += std::string(",") + value;
  }
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = std::filesystem::path(dir) / file;
  const bool fresh = !std::filesystem::exists(path);
  AppendFile out(path, false);
  if (fresh) out.append(header + "\n");
  out.append(row + "\n");
}

}  // namespace simtune
