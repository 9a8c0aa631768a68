#include "simtune/encode/encode_texts.h"

#include <algorithm>
#include <numeric>

#include "simtune/core/error.h"
#include "simtune/model/pooling.h"

namespace simtune {

Matrix encode_texts(const EncodeModel& model, EncodeScratch& scratch,
                    const std::vector<std::string>& texts, const EncodeOptions& options) {
  const std::size_t model_max = model.files.max_seq_length;
  const std::size_t max_len =
      options.max_seq_length > 0 ? std::min(options.max_seq_length, model_max) : model_max;
  std::vector<std::vector<std::int32_t>> ids(texts.size());
  for (std::size_t i = 0; i < texts.size(); i++) {
    try {
      ids[i] = model.tokenizer.encode(texts[i], max_len);
    } catch (const Error& e) {
      throw Error("text " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return encode_token_ids(model, scratch, ids, options);
}

Matrix encode_token_ids(const EncodeModel& model, EncodeScratch& scratch,
                        const std::vector<std::vector<std::int32_t>>& ids,
                        const EncodeOptions& options) {
  const std::size_t batch_size = std::max<std::size_t>(options.batch_size, 1);
  const int C = model.files.bert.hidden_size;
  const int D = model.files.pooling.output_dimension();
  // Longest first, as sentence-transformers sorts, so each batch holds similar lengths; the
  // stable sort keeps equal-length texts in input order, making the result reproducible.
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });

  Matrix result;
  result.rows = ids.size();
  result.cols = static_cast<std::size_t>(D);
  result.data.assign(result.rows * result.cols, 0.0f);
  scratch.pooled.resize(batch_size * static_cast<std::size_t>(D));
  for (std::size_t begin = 0; begin < order.size(); begin += batch_size) {
    const std::size_t end = std::min(order.size(), begin + batch_size);
    scratch.batch.clear();
    for (std::size_t k = begin; k < end; k++) scratch.batch.add(ids[order[k]]);
    const float* hidden =
        bert_forward(scratch.acts, scratch.batch, model.weights, model.packed, model.files.bert);
    float* pooled = scratch.pooled.data();
    pooling_forward(pooled, hidden, scratch.batch.spans(), C, model.files.pooling);
    const int B = scratch.batch.sequences();
    if (model.files.normalize || options.normalize) normalize_forward(pooled, B, D);
    for (int b = 0; b < B; b++) {
      std::copy_n(pooled + static_cast<std::size_t>(b) * D, D,
                  result.row(order[begin + static_cast<std::size_t>(b)]));
    }
    if (options.progress) options.progress(end, order.size());
  }
  return result;
}

}  // namespace simtune
