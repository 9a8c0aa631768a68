// A training objective over the embeddings of a batch, as sentence-transformers' losses are: each
// example has `columns()` texts (two for a scored pair; anchor, positive and hard negatives for a
// ranking loss) and one label, the model embeds every text, and the loss turns those embeddings
// and the labels into a number and its gradient with respect to each embedding. The trainer sees
// only this interface, so a new loss is one file (see docs/architecture.md, "Add a loss").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "simtune/core/rng.h"
#include "simtune/model/params.h"
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

  // Throws Error unless the loss can take embeddings of `dimension` values (the model's, and each
  // MatryoshkaLoss cut); every dimension does for most losses.
  virtual void check_dimension(int /*dimension*/) const {}

  // The loss's own trainable tensors (SoftmaxLoss's classifier; most losses have none), named as
  // in the library's loss module. The trainer lays them out after the model's parameters, so
  // AdamW updates them, the gradient norm counts them and checkpoints carry them; the saved
  // model leaves them out, as the library saves the SentenceTransformer alone.
  virtual std::vector<ParamTensor> parameters() const { return {}; }
  // Their initial values, laid out as parameters() one after the other, drawn from `rng`.
  virtual void init_parameters(float* /*values*/, Rng& /*rng*/) const {}
  // Where their values and gradients live (same layout): forward_backward reads the values and
  // accumulates the gradients.
  void bind_parameters(const float* values, float* grads);
  // Multiplies their gradients by `factor`: under mpirun, a rank's share of the global batch, as
  // its embeddings' gradient is, so that the ranks' sum is the gradient of the whole batch.
  void scale_parameter_gradients(float factor);

 protected:
  const float* parameter_values() const { return parameter_values_; }
  float* parameter_grads() const { return parameter_grads_; }

 private:
  const float* parameter_values_ = nullptr;
  float* parameter_grads_ = nullptr;
  std::size_t parameter_floats_ = 0;
};

// What sizes a loss's own parameters: SoftmaxLoss's classes and the embedding dimension.
struct LossDims {
  int num_labels = 0;
  int dimension = 0;
};

// The classes of a loss over classes (LossShape::classes; 0 for the others): num_labels when
// set, else one more than the largest label. Throws Error naming the example whose label is not a
// class (a list passed in directly; a file's reader has already checked them, naming its line).
int loss_classes(const std::string& name, int num_labels, const PairRows& pairs);

// The loss sentence-transformers calls `name`, over examples of `columns` texts; throws Error for
// a name simtune does not have or a column count the loss does not take.
std::unique_ptr<Loss> make_loss(const std::string& name, int columns, const LossDims& dims = {});

}  // namespace simtune
