#include "simtune/encoder.h"

#include <algorithm>
#include <mutex>
#include <numeric>

#include "model/bert.h"
#include "model/params.h"
#include "model/pooling.h"
#include "simtune/error.h"

namespace simtune {

struct Encoder::Impl {
  ModelFiles files;
  Tokenizer tokenizer;
  BertParams params;
  BertWeights weights;
  std::vector<PackedLayer> packed;
  // encode() is const for callers but reuses one activation arena; the mutex makes concurrent
  // calls (the server) take turns instead of racing on it.
  mutable std::mutex mutex;
  mutable Activations acts;
  mutable PackedBatch batch;

  Impl(ModelFiles f, Tokenizer t, BertParams p)
      : files(std::move(f)),
        tokenizer(std::move(t)),
        params(std::move(p)),
        weights(bert_weights(params.layout, files.bert, params.values.data())),
        packed(pack_layers(weights, files.bert)),
        acts(files.bert, false) {}
};

Encoder::Encoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

Encoder Encoder::load(const std::filesystem::path& model_dir) {
  ModelFiles files = load_model_files(model_dir);
  Tokenizer tokenizer = Tokenizer::from_directory(files.transformer_dir);
  BertParams params = BertParams::load(files.weights, files.bert);
  return Encoder(std::make_unique<Impl>(std::move(files), std::move(tokenizer), std::move(params)));
}

Matrix Encoder::encode(const std::vector<std::string>& texts, const EncodeOptions& options) const {
  Impl& m = *impl_;
  const std::size_t max_len = options.max_seq_length > 0
                                  ? std::min(options.max_seq_length, max_seq_length())
                                  : max_seq_length();
  const std::size_t batch_size = std::max<std::size_t>(options.batch_size, 1);
  const int C = m.files.bert.hidden_size;
  const int D = m.files.pooling.output_dimension();

  std::vector<std::vector<std::int32_t>> ids(texts.size());
  for (std::size_t i = 0; i < texts.size(); i++) {
    try {
      ids[i] = m.tokenizer.encode(texts[i], max_len);
    } catch (const Error& e) {
      throw Error("text " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  // Longest first, as sentence-transformers sorts, so each batch holds similar lengths; the
  // stable sort keeps equal-length texts in input order, making the result reproducible.
  std::vector<std::size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ids[a].size() > ids[b].size(); });

  Matrix result;
  result.rows = texts.size();
  result.cols = static_cast<std::size_t>(D);
  result.data.assign(result.rows * result.cols, 0.0f);
  std::vector<float> pooled(batch_size * static_cast<std::size_t>(D));

  std::lock_guard<std::mutex> lock(m.mutex);
  for (std::size_t begin = 0; begin < order.size(); begin += batch_size) {
    const std::size_t end = std::min(order.size(), begin + batch_size);
    m.batch.clear();
    for (std::size_t k = begin; k < end; k++) m.batch.add(ids[order[k]]);
    const float* hidden =
        bert_forward(m.acts, m.batch, m.weights, m.files.bert, nullptr, &m.packed);
    pooling_forward(pooled.data(), hidden, m.batch.spans(), C, m.files.pooling);
    const int B = m.batch.sequences();
    if (m.files.normalize || options.normalize) normalize_forward(pooled.data(), B, D);
    for (int b = 0; b < B; b++) {
      std::copy_n(pooled.data() + static_cast<std::size_t>(b) * D, D,
                  result.row(order[begin + static_cast<std::size_t>(b)]));
    }
    if (options.progress) options.progress(end, order.size());
  }
  return result;
}

std::size_t Encoder::dimension() const {
  return static_cast<std::size_t>(impl_->files.pooling.output_dimension());
}
std::size_t Encoder::max_seq_length() const {
  return impl_->files.max_seq_length;
}
const Tokenizer& Encoder::tokenizer() const {
  return impl_->tokenizer;
}
const ModelFiles& Encoder::files() const {
  return impl_->files;
}

}  // namespace simtune
