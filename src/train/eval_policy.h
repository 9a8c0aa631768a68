// When a run evaluates on dev and which model it keeps: before training, after every epoch and
// every `eval_steps` optimizer steps counted over the whole run (sentence-transformers 2.x's fit
// counts them within each epoch instead), keeping the model with the best main score, as fit's
// save_best_model does.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace simtune {

// Where an evaluation sits, in the results CSV's columns: epoch -1 before training, steps -1 at
// an epoch's end, else the steps done within the epoch.
struct EvalPoint {
  int epoch = -1;
  long steps = -1;
};

class EvalPolicy {
 public:
  EvalPolicy(std::int64_t steps_per_epoch, std::int64_t total_steps, std::int64_t eval_steps)
      : per_epoch_(steps_per_epoch), total_(total_steps), every_(eval_steps) {}

  // The evaluation due once `done` steps are done, if any.
  std::optional<EvalPoint> due_after(std::int64_t done) const {
    const std::int64_t epoch = (done - 1) / per_epoch_;
    if (done % per_epoch_ == 0 || done == total_) return EvalPoint{static_cast<int>(epoch), -1};
    if (every_ > 0 && done % every_ == 0) {
      return EvalPoint{static_cast<int>(epoch), static_cast<long>(done - epoch * per_epoch_)};
    }
    return std::nullopt;
  }

  // Records a dev score; true when it beats every earlier one (the model is then saved).
  bool improves(double score) {
    if (!(score > best_)) return false;
    best_ = score;
    return true;
  }
  double best() const { return best_; }
  // After a resume: the best score the checkpoint saved.
  void restore_best(double score) { best_ = score; }

 private:
  std::int64_t per_epoch_, total_, every_;
  double best_ = -std::numeric_limits<double>::infinity();
};

}  // namespace simtune
