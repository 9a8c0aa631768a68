// The losses `simtune train --loss` offers, under sentence-transformers' names, and what each
// needs from the data, so a caller reads a training file in the loss's shape before training.
#pragma once

#include <string>
#include <vector>

#include "simtune/data/pairs.h"

namespace simtune {

struct LossShape {
  std::string name;     // sentence-transformers' class name
  std::string summary;  // one line for --help
  bool takes_label = true;
  double min_label = 0, max_label = 1;  // the label's range, after --score-scale
  int min_texts = 2, max_texts = 2;     // texts per example; max 0: any number from min_texts
  bool cached = false;   // GradCache: the batch embedded in TrainOptions::mini_batch_size pieces
  bool teacher = false;  // labels are teacher embeddings (TrainOptions::teacher_embeddings)
  // The examples of a batch interact (in-batch negatives, pairwise ranking, hard-pair mining):
  // the loss is not a mean of per-example terms, so a batch cannot be split over mpirun's ranks.
  bool batch_wide = false;
  // Labels are classes 0..num_labels-1 (SoftmaxLoss): read as whole numbers.
  bool classes = false;
};

// Every loss, in the order --help lists them.
const std::vector<LossShape>& loss_shapes();
// The loss called `name`; throws Error naming the losses there are.
const LossShape& loss_shape(const std::string& name);
// `options` set to read a training file in the shape of `loss`: its score read or not, and
// checked against the loss's label range (for a loss over classes, whole numbers below
// `num_labels` when that is set).
PairFileOptions with_loss_shape(PairFileOptions options, const LossShape& loss, int num_labels = 0);

}  // namespace simtune
