// Texts to embeddings with given weights: shared by the Encoder facade and by the trainer's
// evaluations, so both give the numbers `simtune encode` gives for the same weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simtune/encode/encoder.h"
#include "simtune/io/model_files.h"
#include "simtune/model/bert.h"
#include "simtune/text/tokenizer.h"

namespace simtune {

// The model pieces an encode pass reads; the caller owns them.
struct EncodeModel {
  const ModelFiles& files;
  const Tokenizer& tokenizer;
  const BertWeights& weights;
  const PackedWeights& packed;  // of weights
};

// Buffers reused from one encode pass to the next.
struct EncodeScratch {
  explicit EncodeScratch(const BertConfig& config) : acts(config, false) {}
  Activations acts;
  PackedBatch batch;
  std::vector<float> pooled;
};

// One embedding per text, in input order, from length-sorted packed batches.
// Throws Error("text N: ...") for invalid UTF-8.
Matrix encode_texts(const EncodeModel& model, EncodeScratch& scratch,
                    const std::vector<std::string>& texts, const EncodeOptions& options);

// The same for texts already tokenized (each as Tokenizer::encode gives it: [CLS] ... [SEP],
// ids within the vocabulary, at most the model's max_seq_length long); options.max_seq_length
// is not applied.
Matrix encode_token_ids(const EncodeModel& model, EncodeScratch& scratch,
                        const std::vector<std::vector<std::int32_t>>& ids,
                        const EncodeOptions& options);

}  // namespace simtune
