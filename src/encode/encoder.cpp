#include "simtune/encode/encoder.h"

#include <algorithm>
#include <mutex>
#include <numeric>

#include "simtune/core/error.h"
#include "simtune/encode/encode_texts.h"
#include "simtune/model/loader.h"

namespace simtune {

struct Encoder::Impl {
  ModelFiles files;
  Tokenizer tokenizer;
  BertParams params;
  BertWeights weights;
  PackedWeights packed;
  // encode() is const for callers but reuses one activation arena; the mutex makes concurrent
  // calls (threads of one program) take turns instead of racing on it.
  mutable std::mutex mutex;
  mutable EncodeScratch scratch;

  explicit Impl(LoadedModel m)
      : files(std::move(m.files)),
        tokenizer(std::move(m.tokenizer)),
        params(std::move(m.params)),
        weights(bert_weights(params.layout, files.bert, params.values.data())),
        packed(PackedWeights::every_layer(weights, files.bert)),
        scratch(files) {}
};

Encoder::Encoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

Encoder Encoder::load(const std::filesystem::path& model_dir) {
  return Encoder(std::make_unique<Impl>(load_model(model_dir.string())));
}

Matrix Encoder::encode(const std::vector<std::string>& texts, const EncodeOptions& options) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  return encode_texts({m.files, m.tokenizer, m.weights, m.packed}, m.scratch, texts, options);
}

Matrix Encoder::encode_token_ids(const std::vector<std::vector<std::int32_t>>& ids,
                                 std::size_t prompt_length, const EncodeOptions& options) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  return simtune::encode_token_ids({m.files, m.tokenizer, m.weights, m.packed}, m.scratch, ids,
                                   static_cast<int>(prompt_length), options);
}

std::size_t Encoder::dimension() const {
  return static_cast<std::size_t>(impl_->files.embedding_dimension());
}
std::size_t Encoder::max_seq_length() const {
  return impl_->files.max_seq_length;
}
void Encoder::set_max_seq_length(std::size_t tokens) {
  const auto positions = static_cast<std::size_t>(impl_->files.bert.max_position_embeddings);
  if (tokens < 1 || tokens > positions) {
    throw Error("max_seq_length " + std::to_string(tokens) + " is out of range: the model (" +
                impl_->files.dir.string() + ") takes 1 to " + std::to_string(positions) +
                " tokens");
  }
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->files.max_seq_length = tokens;
}
void Encoder::save(const std::filesystem::path& out) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  write_model_directory(impl_->files, out, impl_->params.tensor_refs());
}
const Tokenizer& Encoder::tokenizer() const {
  return impl_->tokenizer;
}
const ModelFiles& Encoder::files() const {
  return impl_->files;
}

}  // namespace simtune
