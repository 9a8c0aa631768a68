// Named metrics as sentence-transformers' evaluators return them ({"cosine_ndcg@10": ...}), in
// the library's order, and the encoder an evaluator calls.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "simtune/core/matrix.h"

namespace simtune {

struct Metric {
  std::string name;
  double value = 0;
};
using Metrics = std::vector<Metric>;

// The value of metric `name`; throws Error listing the names there are.
double metric_value(const Metrics& metrics, const std::string& name);

// Appends `epoch,steps,values...` to <dir>/<file>, writing `epoch,steps,columns...` first when
// the file is new: the layout of every sentence-transformers evaluator's results CSV. Values
// print with 17 significant digits (they read back as the same double).
void append_results_csv(const std::string& dir, const std::string& file,
                        const std::vector<std::string>& columns, int epoch, long steps,
                        const std::vector<double>& values);

// Texts to embeddings (rows in input order), as the evaluators' model.encode.
using EncodeFn = std::function<Matrix(const std::vector<std::string>&)>;

}  // namespace simtune
