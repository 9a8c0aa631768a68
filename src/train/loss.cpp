#include "train/loss.h"

#include "simtune/core/error.h"
#include "train/cosine_similarity_loss.h"

namespace simtune {

// The one table of losses: a new loss adds its line here.
std::unique_ptr<Loss> make_loss(const std::string& name) {
  if (name == "CosineSimilarityLoss") return std::make_unique<CosineSimilarityLoss>();
  throw Error("unknown loss \"" + name + "\" (simtune has CosineSimilarityLoss)");
}

}  // namespace simtune
