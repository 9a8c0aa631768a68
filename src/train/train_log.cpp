#include "train/train_log.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"

namespace simtune {

using nlohmann::json;

std::string format_float(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

TrainLog::TrainLog(const std::filesystem::path& path, bool append) {
  if (path.empty()) return;
  file_ = AppendFile(path, !append);
}

void TrainLog::step(const StepReport& r) {
  steps_.push_back(r);
  if (!file_.is_open()) return;
  file_.append(json{{"step", r.step},
                    {"epoch", r.epoch},
                    {"loss", r.loss},
                    {"lr", r.lr},
                    {"grad_norm", r.grad_norm},
                    {"pairs_per_s", r.pairs_per_s}}
                   .dump() +
               "\n");
}

void TrainLog::eval(const EvalRecord& r) {
  if (!file_.is_open()) return;
  metrics(r.name, r.step, r.epoch, named_metrics(r.metrics));
}

void TrainLog::metrics(const std::string& name, std::int64_t step, double epoch,
                       const Metrics& metrics) {
  if (!file_.is_open()) return;
  json line = {{"eval", name}, {"step", step}, {"epoch", epoch}};
  for (const Metric& m : metrics) line[m.name] = m.value;
  file_.append(line.dump() + "\n");
}

void TrainLog::test(const EvalRecord& r) {
  if (!file_.is_open()) return;
  json line = {{"eval", r.name}};
  for (const Metric& m : named_metrics(r.metrics)) line[m.name] = m.value;
  file_.append(line.dump() + "\n");
}

}  // namespace simtune
