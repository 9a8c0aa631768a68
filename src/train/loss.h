// A training objective over the embeddings of a batch, as sentence-transformers' losses are: each
// example has `columns()` texts (two for a scored pair; anchor, positive and hard negatives for a
// ranking loss) and one label, the model embeds every text, and the loss turns those embeddings
// and the labels into a number and its gradient with respect to each embedding. The trainer sees
// only this interface, so a new loss is one file (see docs/architecture.md, "Add a loss").
#pragma once

#include <memory>
#include <string>

#include "simtune/train/losses.h"

namespace simtune {

class Loss {
 public:
  virtual ~Loss() = default;
  // For the model card, e.g. "CosineSimilarityLoss (MSE of cosine similarity and label)".
  virtual std::string description() const = 0;
  // Texts per example.
  virtual int columns() const = 0;
  // embeddings (columns*B, D): column c of example i at row c*B + i; labels (B), or (B, D)
  // teacher embeddings for a loss whose LossShape says teacher.
  // Returns the loss and accumulates its gradient into d_embeddings (same shape).
  virtual float forward_backward(float* d_embeddings, const float* embeddings, const float* labels,
                                 int B, int D) = 0;
};

// The loss sentence-transformers calls `name`, over examples of `columns` texts; throws Error for
// a name simtune does not have or a column count the loss does not take.
std::unique_ptr<Loss> make_loss(const std::string& name, int columns);

}  // namespace simtune
