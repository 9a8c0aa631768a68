// A run's record: the JSONL log (--log-file: one line per step and per evaluation) and the step
// history the report's plots are drawn from.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "simtune/core/file.h"
#include "simtune/train/trainer.h"

namespace simtune {

class TrainLog {
 public:
  // No file when `path` is empty; `append` continues a resumed run's log.
  TrainLog(const std::filesystem::path& path, bool append);

  void step(const StepReport& report);
  // A dev evaluation (with its step and epoch), or the final test: the similarity metrics
  // under the library's names (named_metrics).
  void eval(const EvalRecord& record);
  void test(const EvalRecord& record);
  // An evaluator's metrics under the library's names.
  void metrics(const std::string& name, std::int64_t step, double epoch, const Metrics& metrics);

  const std::vector<StepReport>& steps() const { return steps_; }

 private:
  AppendFile file_;
  std::vector<StepReport> steps_;
};

// A figure as the log, the model card and messages print it: printf's %g.
std::string format_float(double v);

}  // namespace simtune
