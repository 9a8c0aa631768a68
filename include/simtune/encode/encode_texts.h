// Texts to embeddings with given weights: shared by the Encoder facade and by the trainer's
// evaluations, so both give the numbers `simtune encode` gives for the same weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simtune/encode/encoder.h"
#include "simtune/io/model_files.h"
#include "simtune/model/bert.h"
#include "simtune/model/head.h"
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
  explicit EncodeScratch(const ModelFiles& files) : acts(files.bert, false), head(files) {}
  Activations acts;
  PackedBatch batch;
  SentenceHead head;
};

// The prompt an encode prepends, as sentence-transformers picks it: options.prompt, else the
// model's prompt named options.prompt_name, else the model's default prompt; "" for none.
// Throws Error for a prompt name the model does not have.
std::string resolve_prompt(const ModelFiles& files, const EncodeOptions& options);

// One embedding per text, in input order, from length-sorted packed batches, each text behind
// the prompt resolve_prompt picks. Throws Error("text N: ...") for invalid UTF-8.
Matrix encode_texts(const EncodeModel& model, EncodeScratch& scratch,
                    const std::vector<std::string>& texts, const EncodeOptions& options);

// The same for texts already tokenized (each as Tokenizer::encode gives it: [CLS] ... [SEP],
// ids within the vocabulary, at most the model's max_seq_length long), each starting with the
// same prompt_length tokens of a prompt ([CLS] included; 0 for none), which pooling leaves out
// where the model's Pooling says include_prompt false; options.max_seq_length and the options'
// prompt are not applied.
Matrix encode_token_ids(const EncodeModel& model, EncodeScratch& scratch,
                        const std::vector<std::vector<std::int32_t>>& ids, int prompt_length,
                        const EncodeOptions& options);

}  // namespace simtune
