// The ranges of TrainOptions, shared by the CLI, Python's fit and the Trainer itself.
#include <string>

#include "simtune/core/error.h"
#include "simtune/core/option_range.h"
#include "simtune/train/losses.h"
#include "simtune/train/trainer.h"

namespace simtune {

namespace {

// An option whose `unset` value means "not given" (the default applies).
void optional_in_range(const char* option, double value, double unset, double lo, double hi,
                       Bound hi_bound = Bound::closed) {
  if (value != unset) check_range(option, value, lo, hi, Bound::closed, hi_bound);
}

}  // namespace

void validate(const TrainOptions& o) {
  try {
    loss_shape(o.loss);
  } catch (const Error& e) {
    throw OptionError("loss", e.what());
  }
  check_range("epochs", o.epochs, 1, 1e6);
  check_range("batch_size", static_cast<double>(o.batch_size), 1, kMaxBatch);
  check_range("mini_batch_size", static_cast<double>(o.mini_batch_size), 1, kMaxBatch);
  check_range("lr", o.lr, 0, kMaxFloat, Bound::open);
  check_range("warmup_ratio", o.warmup_ratio, 0, 1);
  optional_in_range("warmup_steps", static_cast<double>(o.warmup_steps), -1, 0, kMaxCount);
  check_range("weight_decay", o.weight_decay, 0, 1e6);
  check_range("max_grad_norm", o.max_grad_norm, 0, kMaxFloat, Bound::open);
  check_range("adam_eps", o.adam_eps, 0, 1, Bound::open, Bound::open);
  optional_in_range("max_steps", static_cast<double>(o.max_steps), -1, 1, kMaxCount);
  optional_in_range("dropout", o.dropout, -1, 0, 1, Bound::open);
  check_range("checkpoint_steps", static_cast<double>(o.checkpoint_steps), 0, kMaxCount);
  check_range("checkpoint_limit", o.checkpoint_limit, 1, kMaxCount);
  check_range("eval_steps", static_cast<double>(o.eval_steps), 0, kMaxCount);
  check_range("num_labels", o.num_labels, 0, kMaxCount);  // 0: the largest label + 1
  // MatryoshkaLoss takes the dimensions in any order, duplicates included (each one is a term
  // of the sum); beyond the model's embedding they are refused when training starts.
  for (int d : o.matryoshka_dims) check_range("matryoshka_dims", d, 1, kMaxCount);
  if (!o.matryoshka_weights.empty() && o.matryoshka_dims.empty()) {
    throw OptionError("matryoshka_weights", "needs matryoshka_dims");
  }
  if (!o.matryoshka_weights.empty() && o.matryoshka_weights.size() != o.matryoshka_dims.size()) {
    throw OptionError("matryoshka_weights",
                      std::to_string(o.matryoshka_weights.size()) + " weights for " +
                          std::to_string(o.matryoshka_dims.size()) + " dimensions");
  }
  for (float w : o.matryoshka_weights) check_range("matryoshka_weights", w, -kMaxFloat, kMaxFloat);
}

}  // namespace simtune
