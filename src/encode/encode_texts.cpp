#include "simtune/encode/encode_texts.h"

#include <algorithm>
#include <numeric>

#include "simtune/core/error.h"
#include "simtune/model/pooling.h"

namespace simtune {

std::string resolve_prompt(const ModelFiles& files, const EncodeOptions& options) {
  if (options.prompt) return *options.prompt;
  const std::string& name =
      options.prompt_name.empty() ? files.default_prompt_name : options.prompt_name;
  if (name.empty()) return "";
  const auto it = files.prompts.find(name);
  if (it == files.prompts.end()) {
    std::string names;
    for (const auto& [known, text] : files.prompts) names += (names.empty() ? "" : ", ") + known;
    throw Error("prompt name \"" + name + "\" is not among the model's prompts (" +
                (names.empty() ? "it has none" : names) +
                ", in config_sentence_transformers.json)");
  }
  return it->second;
}

Matrix encode_texts(const EncodeModel& model, EncodeScratch& scratch,
                    const std::vector<std::string>& texts, const EncodeOptions& options) {
  const std::size_t model_max = model.files.max_seq_length;
  const auto positions = static_cast<std::size_t>(model.files.bert.max_position_embeddings);
  if (options.max_seq_length > positions) {
    throw Error("max_seq_length " + std::to_string(options.max_seq_length) +
                " exceeds the model's max_position_embeddings " + std::to_string(positions));
  }
  const std::size_t max_len =
      options.max_seq_length > 0 ? std::min(options.max_seq_length, model_max) : model_max;
  // sentence-transformers prepends the prompt to each text and counts its tokens as those of
  // the prompt tokenized alone, [CLS] included, [SEP] not; an empty prompt is no prompt.
  const std::string prompt = resolve_prompt(model.files, options);
  int prompt_length = 0;
  if (!prompt.empty()) {
    try {
      prompt_length = static_cast<int>(model.tokenizer.encode(prompt, max_len).size()) - 1;
    } catch (const Error& e) {
      throw Error(std::string("prompt: ") + e.what());
    }
  }
  std::vector<std::vector<std::int32_t>> ids(texts.size());
  for (std::size_t i = 0; i < texts.size(); i++) {
    try {
      ids[i] = model.tokenizer.encode(prompt.empty() ? texts[i] : prompt + texts[i], max_len);
    } catch (const Error& e) {
      throw Error("text " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return encode_token_ids(model, scratch, ids, prompt_length, options);
}

Matrix encode_token_ids(const EncodeModel& model, EncodeScratch& scratch,
                        const std::vector<std::vector<std::int32_t>>& ids, int prompt_length,
                        const EncodeOptions& options) {
  // No batch larger than the input: the scratch is sized by it.
  const std::size_t batch_size =
      std::clamp<std::size_t>(options.batch_size, 1, std::max<std::size_t>(ids.size(), 1));
  const int D = model.files.embedding_dimension();
  // Longest first, as sentence-transformers sorts, so each batch holds similar lengths; the
  // stable sort keeps equal-length texts in input order, making the result reproducible.
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });

  const std::size_t keep =
      options.dimensions > 0 && options.dimensions < static_cast<std::size_t>(D)
          ? options.dimensions
          : static_cast<std::size_t>(D);
  Matrix result;
  result.rows = ids.size();
  result.cols = keep;
  result.data.assign(result.rows * result.cols, 0.0f);
  for (std::size_t begin = 0; begin < order.size(); begin += batch_size) {
    const std::size_t end = std::min(order.size(), begin + batch_size);
    scratch.batch.clear();
    for (std::size_t k = begin; k < end; k++) scratch.batch.add(ids[order[k]]);
    const float* hidden =
        bert_forward(scratch.acts, scratch.batch, model.weights, model.packed, model.files.bert);
    const float* emb =
        scratch.head.forward(hidden, scratch.batch.spans(), model.weights.dense, prompt_length,
                             model.files.normalize || options.normalize);
    const int B = scratch.batch.sequences();
    for (int b = 0; b < B; b++) {
      std::copy_n(emb + static_cast<std::size_t>(b) * D, keep,
                  result.row(order[begin + static_cast<std::size_t>(b)]));
    }
    if (options.progress) options.progress(end, order.size());
  }
  // The library cuts the model's output (after any Normalize module) and normalises what is left
  // only when asked to.
  if (keep < static_cast<std::size_t>(D) && options.normalize) {
    normalize_forward(result.data.data(), static_cast<int>(result.rows), static_cast<int>(keep));
  }
  return result;
}

}  // namespace simtune
