#include "simtune/text/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/core/json_integer.h"
#include "text/bert_text.h"
#include "text/unicode.h"
#include "text/wordpiece.h"

namespace simtune {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct AddedToken {
  std::string content;
  std::int32_t id;
};

// Finds added tokens in text the way the oracle's AddedVocabulary does (an Aho-Corasick
// automaton in leftmost-longest mode): the earliest match wins, the longest one where several
// start at the same byte. Vocabularies have a handful of added tokens, so a scan suffices.
class AddedTokenMatcher {
 public:
  void add(std::string content, std::int32_t id) {
    if (content.empty()) return;
    first_bytes_[static_cast<unsigned char>(content[0])] = true;
    tokens_.push_back({std::move(content), id});
    std::stable_sort(tokens_.begin(), tokens_.end(), [](const AddedToken& a, const AddedToken& b) {
      return a.content.size() > b.content.size();
    });
  }

  bool empty() const { return tokens_.empty(); }

  // Calls on_text(std::string_view) for the stretches between matches and on_token(id,
  // std::string_view) for each match, in order; either returning false stops the walk (and makes
  // split return false). The views point into `text`.
  template <typename OnText, typename OnToken>
  bool split(std::string_view text, OnText&& on_text, OnToken&& on_token) const {
    std::size_t done = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (!first_bytes_[static_cast<unsigned char>(text[i])]) continue;
      const AddedToken* match = nullptr;
      for (const AddedToken& t : tokens_) {
        if (text.substr(i).starts_with(t.content)) {
          match = &t;
          break;
        }
      }
      if (match == nullptr) continue;
      if (i > done && !on_text(text.substr(done, i - done))) return false;
      if (!on_token(match->id, text.substr(i, match->content.size()))) return false;
      done = i + match->content.size();
      i = done - 1;
    }
    if (done < text.size()) return on_text(text.substr(done));
    return true;
  }

 private:
  std::vector<AddedToken> tokens_;
  std::array<bool, 256> first_bytes_{};
};

json parse_json_file(const fs::path& path) {
  const std::string bytes = read_file(path);
  try {
    return json::parse(bytes);
  } catch (const json::exception& e) {
    throw Error(path.string() + ": malformed JSON: " + e.what());
  }
}

// A special token in tokenizer_config.json / special_tokens_map.json is either its text or an
// AddedToken object with a "content" field.
std::optional<std::string> special_token_text(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return std::nullopt;
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.at("content").get<std::string>();
}

// Splits like Python's readlines() in text mode (universal newlines), which is how transformers'
// load_vocab reads vocab.txt: \n, \r\n and \r all end a line.
std::vector<std::string_view> vocab_lines(std::string_view bytes) {
  std::vector<std::string_view> lines;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n' && bytes[i] != '\r') continue;
    lines.push_back(bytes.substr(begin, i - begin));
    if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    begin = i + 1;
  }
  if (begin < bytes.size()) lines.push_back(bytes.substr(begin));
  return lines;
}

// An integer field of a tokenizer file, named in the error when it is not one that fits.
template <class Int>
Int integer_field(const fs::path& file, const json& v, const std::string& what) {
  if (const std::optional<Int> i = json_integer<Int>(v)) return *i;
  throw Error(file.string() + ": " + what + " is not an integer in range");
}

}  // namespace

struct Tokenizer::Impl {
  text::Vocab vocab;
  std::vector<std::string> id_to_token;
  text::BertNormalizerOptions normalizer;
  std::optional<text::WordPiece> model;
  // Added tokens with normalized=false are matched on the raw text, the others on normalized
  // text (their content normalized too), as the oracle does.
  AddedTokenMatcher raw_added;
  AddedTokenMatcher normalized_added;
  std::int32_t cls_id = -1;
  std::int32_t sep_id = -1;
  std::int32_t pad_id = -1;
  std::vector<bool> assigned;  // which ids have a token, to reject vocabularies with holes
  // Vocabulary plus added tokens: dense ids cannot reach this, and a bigger id in a file must
  // not make id_to_token allocate for it.
  std::size_t id_limit = 0;
  fs::path source;
  bool lowercase_input = false;

  void load_tokenizer_json(const fs::path& dir);
  // The parts of tokenizer.json, each checked against what simtune implements.
  void read_normalizer(const json& j, const fs::path& path);
  void read_wordpiece(const json& j, const fs::path& path);
  void read_post_processor(const json& j, const fs::path& path);
  void load_vocab_txt(const fs::path& dir, const json& config);

  // Tokenizer::encode after its checks and the input lowercasing; with kOffsets, also each
  // token's bytes in `text` into *offsets, parallel to the ids.
  template <bool kOffsets>
  std::vector<std::int32_t> encode(std::string_view text, std::size_t max_length,
                                   std::vector<TokenOffsets>* offsets) const;

  std::int32_t id_of(const std::string& token, const char* what) const {
    const auto it = vocab.find(token);
    if (it == vocab.end()) {
      throw Error(source.string() + ": " + what + " \"" + token + "\" is not in the vocabulary");
    }
    return it->second;
  }

  void add_token(const fs::path& file, std::string content, std::int64_t id, bool normalized) {
    check_id(file, content, id);
    const auto index = static_cast<std::size_t>(id);
    if (index >= id_to_token.size()) {
      id_to_token.resize(index + 1);
      assigned.resize(index + 1);
    }
    id_to_token[index] = content;
    assigned[index] = true;
    vocab[content] = static_cast<std::int32_t>(id);
    if (normalized) {
      std::string norm;
      text::NormalizerScratch scratch;
      text::bert_normalize(content, normalizer, norm, scratch);
      normalized_added.add(std::move(norm), static_cast<std::int32_t>(id));
    } else {
      raw_added.add(std::move(content), static_cast<std::int32_t>(id));
    }
  }

  // Ids must be 0..n-1 with none missing, else id_to_token would have holes.
  void check_dense_ids(const fs::path& file) const {
    for (std::size_t id = 0; id < assigned.size(); ++id) {
      if (!assigned[id]) {
        throw Error(file.string() + ": token id " + std::to_string(id) +
                    " is missing; expected ids 0.." + std::to_string(id_to_token.size() - 1));
      }
    }
  }

  void check_id(const fs::path& file, const std::string& token, std::int64_t id) const {
    if (id < 0 || static_cast<std::uint64_t>(id) >= id_limit) {
      throw Error(file.string() + ": token \"" + token + "\" has id " + std::to_string(id) +
                  "; expected 0.." + std::to_string(id_limit - 1));
    }
  }

  void set_vocab_entry(const fs::path& file, const std::string& token, std::int64_t id) {
    check_id(file, token, id);
    const auto index = static_cast<std::size_t>(id);
    if (index >= id_to_token.size()) {
      id_to_token.resize(index + 1);
      assigned.resize(index + 1);
    }
    id_to_token[index] = token;
    assigned[index] = true;
    vocab[token] = static_cast<std::int32_t>(id);
  }
};

void Tokenizer::Impl::load_tokenizer_json(const fs::path& dir) {
  const fs::path path = dir / "tokenizer.json";
  source = path;
  const json j = parse_json_file(path);
  try {
    read_normalizer(j, path);
    const json& pre = j.at("pre_tokenizer");
    if (pre.is_null() || pre.at("type") != "BertPreTokenizer") {
      throw Error(path.string() + ": pre_tokenizer " + pre.dump() +
                  " is not supported; expected {\"type\": \"BertPreTokenizer\"}");
    }
    read_wordpiece(j, path);
    read_post_processor(j, path);
    const json& padding = j.contains("padding") ? j["padding"] : json();
    if (!padding.is_null()) {
      pad_id = integer_field<std::int32_t>(path, padding.at("pad_id"), "padding.pad_id");
    }
  } catch (const json::exception& e) {
    throw Error(path.string() + ": unexpected structure: " + e.what());
  }
}

void Tokenizer::Impl::read_normalizer(const json& j, const fs::path& path) {
  const json& norm = j.at("normalizer");
  if (norm.is_null() || norm.at("type") != "BertNormalizer") {
    throw Error(path.string() + ": normalizer " + norm.dump() + " is not supported; expected " +
                "{\"type\": \"BertNormalizer\", ...}");
  }
  normalizer.clean_text = norm.value("clean_text", true);
  normalizer.handle_chinese_chars = norm.value("handle_chinese_chars", true);
  normalizer.lowercase = norm.value("lowercase", true);
  // null means "strip accents when lowercasing", as in the original BERT.
  const json& strip = norm.contains("strip_accents") ? norm["strip_accents"] : json();
  normalizer.strip_accents = strip.is_null() ? normalizer.lowercase : strip.get<bool>();
}

void Tokenizer::Impl::read_wordpiece(const json& j, const fs::path& path) {
  const json& m = j.at("model");
  if (m.value("type", std::string()) != "WordPiece") {
    throw Error(path.string() + ": model type \"" + m.value("type", std::string()) +
                "\" is not supported; expected \"WordPiece\"");
  }
  const json& added = j.contains("added_tokens") ? j["added_tokens"] : json::array();
  id_limit = m.at("vocab").size() + added.size();
  for (const auto& [token, id] : m.at("vocab").items()) {
    set_vocab_entry(path, token,
                    integer_field<std::int64_t>(path, id, "the id of \"" + token + "\""));
  }
  const auto unk = m.at("unk_token").get<std::string>();
  id_of(unk, "model.unk_token");
  // The model sees its own vocabulary only; added tokens are matched before it runs.
  model.emplace(vocab, unk, m.value("continuing_subword_prefix", std::string("##")),
                m.contains("max_input_chars_per_word")
                    ? integer_field<std::size_t>(path, m["max_input_chars_per_word"],
                                                 "model.max_input_chars_per_word")
                    : std::size_t{100});
  for (const json& t : added) {
    const auto content = t.at("content").get<std::string>();
    if (t.value("lstrip", false) || t.value("rstrip", false) || t.value("single_word", false)) {
      throw Error(path.string() + ": added token \"" + content +
                  "\" uses lstrip/rstrip/single_word, which simtune does not support");
    }
    add_token(path, content,
              integer_field<std::int64_t>(path, t.at("id"), "the id of \"" + content + "\""),
              t.value("normalized", true));
  }
  check_dense_ids(path);
}

void Tokenizer::Impl::read_post_processor(const json& j, const fs::path& path) {
  const json& post = j.at("post_processor");
  const std::string post_type = post.is_null() ? "null" : post.value("type", std::string());
  if (post_type == "BertProcessing") {
    cls_id = integer_field<std::int32_t>(path, post.at("cls").at(1), "post_processor.cls");
    sep_id = integer_field<std::int32_t>(path, post.at("sep").at(1), "post_processor.sep");
  } else if (post_type == "TemplateProcessing") {
    // Only the BERT shape "[CLS] $A [SEP]" is supported; its ids come from the file.
    const json& single = post.at("single");
    auto special_id = [&](const json& item) -> std::optional<std::int32_t> {
      if (!item.contains("SpecialToken")) return std::nullopt;
      const json& ids =
          post.at("special_tokens").at(item["SpecialToken"].at("id").get<std::string>()).at("ids");
      if (ids.size() != 1) return std::nullopt;
      return integer_field<std::int32_t>(path, ids[0], "a special token id");
    };
    std::optional<std::int32_t> cls, sep;
    if (single.size() == 3 && single[1].contains("Sequence")) {
      cls = special_id(single[0]);
      sep = special_id(single[2]);
    }
    if (!cls || !sep) {
      throw Error(path.string() + ": post_processor.single " + single.dump() +
                  " is not supported; expected [CLS] $A [SEP] (one special token each side)");
    }
    cls_id = *cls;
    sep_id = *sep;
  } else {
    throw Error(path.string() + ": post_processor type \"" + post_type +
                "\" is not supported; expected TemplateProcessing or BertProcessing");
  }
  for (const std::int32_t id : {cls_id, sep_id}) {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token.size()) {
      throw Error(path.string() + ": post_processor token id " + std::to_string(id) +
                  " is outside the vocabulary");
    }
  }
}

void Tokenizer::Impl::load_vocab_txt(const fs::path& dir, const json& config) {
  Impl& impl = *this;
  const fs::path path = dir / "vocab.txt";
  impl.source = path;
  const std::string bytes = read_file(path);
  const auto lines = vocab_lines(bytes);
  const json& added =
      config.contains("added_tokens_decoder") ? config["added_tokens_decoder"] : json::object();
  impl.id_limit = lines.size() + (added.is_object() ? added.size() : 0);
  for (std::size_t n = 0; n < lines.size(); ++n) {
    if (!is_valid_utf8(lines[n])) {
      throw Error(path.string() + ":" + std::to_string(n + 1) + ": token is not valid UTF-8");
    }
    // A repeated token keeps its last id, as in transformers' load_vocab.
    impl.set_vocab_entry(path, std::string(lines[n]), static_cast<std::int64_t>(n));
  }
  const fs::path config_path = dir / "tokenizer_config.json";
  try {
    // transformers' BertTokenizer defaults, used when the config leaves a field out.
    impl.normalizer.clean_text = true;
    impl.normalizer.lowercase = config.value("do_lower_case", true);
    impl.normalizer.handle_chinese_chars = config.value("tokenize_chinese_chars", true);
    const json strip = config.contains("strip_accents") ? config["strip_accents"] : json();
    impl.normalizer.strip_accents = strip.is_null() ? impl.normalizer.lowercase : strip.get<bool>();

    const auto unk = special_token_text(config, "unk_token").value_or("[UNK]");
    const auto cls = special_token_text(config, "cls_token").value_or("[CLS]");
    const auto sep = special_token_text(config, "sep_token").value_or("[SEP]");
    impl.id_of(unk, "unk_token");
    // transformers' BertConverter builds the fast tokenizer with WordPiece's defaults.
    impl.model.emplace(impl.vocab, unk, "##", 100);
    if (config.contains("added_tokens_decoder")) {
      for (const auto& [id, t] : added.items()) {
        impl.add_token(config_path, t.at("content").get<std::string>(), std::stoll(id),
                       t.value("normalized", false));
      }
    } else {
      // Without the list, the special tokens are the added ones, matched on the raw text.
      for (const char* key : {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
        const auto text = special_token_text(config, key);
        if (text && impl.vocab.contains(*text)) {
          impl.add_token(config_path, *text, impl.vocab.at(*text), false);
        }
      }
    }
    impl.check_dense_ids(path);
    impl.cls_id = impl.id_of(cls, "cls_token");
    impl.sep_id = impl.id_of(sep, "sep_token");
  } catch (const json::exception& e) {
    throw Error(config_path.string() + ": unexpected structure: " + e.what());
  } catch (const std::invalid_argument&) {
    throw Error(config_path.string() + ": added_tokens_decoder has a key that is not an id");
  } catch (const std::out_of_range&) {
    throw Error(config_path.string() + ": added_tokens_decoder has an id out of range");
  }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_directory(const fs::path& dir) {
  auto impl = std::make_unique<Impl>();
  // tokenizer_config.json and special_tokens_map.json name the special tokens; either may be
  // missing, and BertTokenizer's defaults apply then.
  json config = json::object();
  if (fs::exists(dir / "special_tokens_map.json")) {
    config = parse_json_file(dir / "special_tokens_map.json");
  }
  if (fs::exists(dir / "tokenizer_config.json")) {
    const json tc = parse_json_file(dir / "tokenizer_config.json");
    if (!tc.is_object()) {
      throw Error((dir / "tokenizer_config.json").string() + ": expected a JSON object");
    }
    for (const auto& [key, value] : tc.items()) config[key] = value;
  }
  if (!config.is_object()) {
    throw Error((dir / "special_tokens_map.json").string() + ": expected a JSON object");
  }
  if (fs::exists(dir / "tokenizer.json")) {
    impl->load_tokenizer_json(dir);
  } else if (fs::exists(dir / "vocab.txt")) {
    impl->load_vocab_txt(dir, config);
  } else {
    throw Error(dir.string() + ": no tokenizer.json or vocab.txt in the model directory");
  }
  if (impl->pad_id < 0) {
    std::string pad;
    try {
      pad = special_token_text(config, "pad_token").value_or("[PAD]");
    } catch (const json::exception& e) {
      throw Error(dir.string() + ": pad_token in tokenizer_config.json: " + e.what());
    }
    impl->pad_id = impl->id_of(pad, "pad_token");
  }
  return Tokenizer(std::move(impl));
}

template <bool kOffsets>
std::vector<std::int32_t> Tokenizer::Impl::encode(
    std::string_view text, std::size_t max_length,
    [[maybe_unused]] std::vector<TokenOffsets>* offsets) const {
  const std::size_t limit = max_length - 1;  // ids before [SEP]
  std::vector<std::int32_t> ids;
  ids.reserve(std::min<std::size_t>(max_length, text.size() / 3 + 8));
  ids.push_back(cls_id);
  if constexpr (kOffsets) offsets->assign(1, TokenOffsets{});

  std::string normalized;
  text::NormalizerScratch scratch;
  // With kOffsets: the raw piece being tokenized starts at text[piece_begin], normalized[i] came
  // from the char at text[piece_begin + origin[i]], and `base` is the normalized string whose
  // views the pre-tokenizer and the normalized added tokens hand out.
  [[maybe_unused]] std::size_t piece_begin = 0;
  [[maybe_unused]] std::vector<std::uint32_t> origin;
  [[maybe_unused]] std::string_view base;
  // The bytes of `text` behind normalized bytes [b, e) of the current piece.
  [[maybe_unused]] auto source = [&](std::size_t b, std::size_t e) {
    const std::size_t last = piece_begin + origin[e - 1];
    return TokenOffsets{piece_begin + origin[b], last + text::sequence_length(text[last])};
  };
  // Truncation keeps the first tokens, so tokenizing stops once they are all known.
  auto add_words = [&](std::string_view piece) {
    return text::bert_pre_tokenize(piece, [&](std::string_view word) {
      if constexpr (kOffsets) {
        const std::size_t first = ids.size();
        model->encode_word(word, ids, *offsets);
        const auto at = static_cast<std::size_t>(word.data() - base.data());
        for (std::size_t k = first; k < ids.size(); ++k) {
          TokenOffsets& o = (*offsets)[k];
          o = source(at + o.begin, at + o.end);
        }
      } else {
        model->encode_word(word, ids);
      }
      return ids.size() < limit;
    });
  };
  auto add_raw_token = [&](std::int32_t id, [[maybe_unused]] std::string_view match) {
    ids.push_back(id);
    if constexpr (kOffsets) {
      const auto at = static_cast<std::size_t>(match.data() - text.data());
      offsets->push_back({at, at + match.size()});
    }
    return ids.size() < limit;
  };
  auto add_normalized_token = [&](std::int32_t id, [[maybe_unused]] std::string_view match) {
    ids.push_back(id);
    if constexpr (kOffsets) {
      const auto at = static_cast<std::size_t>(match.data() - base.data());
      offsets->push_back(source(at, at + match.size()));
    }
    return ids.size() < limit;
  };
  auto add_raw_piece = [&](std::string_view piece) {
    if constexpr (kOffsets) {
      piece_begin = static_cast<std::size_t>(piece.data() - text.data());
      text::bert_normalize_with_origin(piece, normalizer, normalized, origin, scratch);
    } else {
      text::bert_normalize(piece, normalizer, normalized, scratch);
    }
    if (normalized_added.empty()) {
      if constexpr (kOffsets) base = normalized;
      return add_words(normalized);
    }
    const std::string normalized_piece = normalized;
    if constexpr (kOffsets) base = normalized_piece;
    return normalized_added.split(normalized_piece, add_words, add_normalized_token);
  };
  raw_added.split(text, add_raw_piece, add_raw_token);
  if (ids.size() > limit) ids.resize(limit);
  ids.push_back(sep_id);
  if constexpr (kOffsets) {
    offsets->resize(ids.size() - 1);
    offsets->push_back(TokenOffsets{});
  }
  return ids;
}

namespace {

void check_input(std::string_view text, std::size_t max_length) {
  if (!is_valid_utf8(text)) {
    const std::string fixed = replace_invalid_utf8(text);
    throw Error("tokenizer input is not valid UTF-8 (with U+FFFD for the bad bytes: \"" +
                fixed.substr(0, 80) + (fixed.size() > 80 ? "...\")" : "\")"));
  }
  if (max_length < 2) {
    throw Error("max_length " + std::to_string(max_length) + " cannot hold [CLS] and [SEP]");
  }
}

}  // namespace

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, std::size_t max_length) const {
  check_input(text, max_length);
  if (impl_->lowercase_input) {
    const std::string lower = text::python_lower(text);
    return impl_->encode<false>(lower, max_length, nullptr);
  }
  return impl_->encode<false>(text, max_length, nullptr);
}

Encoding Tokenizer::encode_with_offsets(std::string_view text, std::size_t max_length) const {
  check_input(text, max_length);
  Encoding e;
  if (!impl_->lowercase_input) {
    e.ids = impl_->encode<true>(text, max_length, &e.offsets);
    return e;
  }
  // Offsets into the lowercased text, taken back to the chars of `text` they came from; [CLS]
  // and [SEP], first and last, keep {0, 0}.
  std::vector<std::uint32_t> origin;
  const std::string lower = text::python_lower_with_origin(text, origin);
  e.ids = impl_->encode<true>(lower, max_length, &e.offsets);
  for (std::size_t k = 1; k + 1 < e.offsets.size(); ++k) {
    TokenOffsets& o = e.offsets[k];
    const std::size_t last = origin[o.end - 1];
    o = {origin[o.begin], last + text::sequence_length(text[last])};
  }
  return e;
}

void Tokenizer::set_lowercase_input(bool on) {
  impl_->lowercase_input = on;
}

const std::string& Tokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->id_to_token.size()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(impl_->id_to_token.size()) + ")");
  }
  return impl_->id_to_token[static_cast<std::size_t>(id)];
}

std::size_t Tokenizer::vocab_size() const {
  return impl_->id_to_token.size();
}
std::int32_t Tokenizer::pad_id() const {
  return impl_->pad_id;
}
std::int32_t Tokenizer::cls_id() const {
  return impl_->cls_id;
}
std::int32_t Tokenizer::sep_id() const {
  return impl_->sep_id;
}
std::int32_t Tokenizer::unk_id() const {
  return impl_->model->unk_id();
}

}  // namespace simtune
