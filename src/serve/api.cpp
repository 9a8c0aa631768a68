#include "serve/api.h"

#include <charconv>
#include <cstring>
#include <limits>

namespace simtune::serve {

using nlohmann::json;

namespace {

ApiError invalid(const std::string& message) {
  return ApiError(422, "Validation", message);
}

// A field that may be absent or null; anything else must have the wanted type.
const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

bool boolean(const json& body, const char* name, bool fallback) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_boolean()) throw invalid(std::string("`") + name + "` must be a boolean");
  return v->get<bool>();
}

std::string text(const json& v, const char* what) {
  if (!v.is_string()) throw invalid(std::string("`") + what + "` must be a string");
  return v.get<std::string>();
}

// TEI's fields shared by its routes: the prompt's name (checked against the model's prompts
// later, by the embedder), truncation settings.
void common_fields(const json& body, EmbedRequest& r) {
  if (const json* p = field(body, "prompt_name")) r.prompt_name = text(*p, "prompt_name");
  if (const json* t = field(body, "truncate")) {
    if (!t->is_boolean()) throw invalid("`truncate` must be a boolean");
    r.truncate = t->get<bool>();
  }
  if (const json* d = field(body, "truncation_direction")) {
    const std::string dir = d->is_string() ? d->get<std::string>() : "";
    if (dir == "left" || dir == "Left") {
      r.truncate_left = true;
    } else if (dir != "right" && dir != "Right") {
      throw invalid("`truncation_direction` must be \"right\" or \"left\"");
    }
  }
}

std::size_t dimensions(const json& body) {
  const json* d = field(body, "dimensions");
  if (!d) return 0;
  if (!d->is_number_integer() || d->get<std::int64_t>() < 1) {
    throw invalid("`dimensions` must be a positive integer");
  }
  return d->get<std::size_t>();
}

void require_object(const json& body) {
  if (!body.is_object()) throw invalid("the request body must be a JSON object");
}

// "inputs" / "input" as a string or a list of strings.
std::vector<Input> texts(const json& v, const char* name, bool& single) {
  std::vector<Input> out;
  single = v.is_string();
  if (single) {
    out.push_back({v.get<std::string>(), std::nullopt});
  } else if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_string())
        throw invalid(std::string("`") + name + "` must be a string or a list of strings");
      out.push_back({e.get<std::string>(), std::nullopt});
    }
  } else {
    throw invalid(std::string("`") + name + "` must be a string or a list of strings");
  }
  return out;
}

std::vector<std::int32_t> token_ids(const json& list) {
  std::vector<std::int32_t> ids;
  for (const json& e : list) {
    if (!e.is_number_integer() || e.get<std::int64_t>() < 0 ||
        e.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
      throw invalid("`input` token ids must be non-negative integers");
    }
    ids.push_back(static_cast<std::int32_t>(e.get<std::int64_t>()));
  }
  return ids;
}

void append_float(std::string& out, float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_row(std::string& out, const float* v, std::size_t n) {
  out += '[';
  for (std::size_t i = 0; i < n; i++) {
    if (i) out += ',';
    append_float(out, v[i]);
  }
  out += ']';
}

std::string base64(const unsigned char* data, std::size_t n) {
  static const char* const alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (std::size_t i = 0; i < n; i += 3) {
    const std::uint32_t a = data[i];
    const std::uint32_t b = i + 1 < n ? data[i + 1] : 0;
    const std::uint32_t c = i + 2 < n ? data[i + 2] : 0;
    const std::uint32_t triple = (a << 16) | (b << 8) | c;
    out += alphabet[(triple >> 18) & 63];
    out += alphabet[(triple >> 12) & 63];
    out += i + 1 < n ? alphabet[(triple >> 6) & 63] : '=';
    out += i + 2 < n ? alphabet[triple & 63] : '=';
  }
  return out;
}

}  // namespace

json parse_body(const std::string& body) {
  try {
    return json::parse(body);
  } catch (const json::parse_error& e) {
    throw ApiError(400, "Validation", std::string("the body is not valid JSON: ") + e.what());
  }
}

EmbedRequest parse_embed(const json& body) {
  require_object(body);
  EmbedRequest r;
  const json* inputs = field(body, "inputs");
  if (!inputs) throw invalid("missing field `inputs`");
  r.inputs = texts(*inputs, "inputs", r.single);
  r.normalize = boolean(body, "normalize", true);
  r.dimensions = dimensions(body);
  common_fields(body, r);
  return r;
}

EmbedRequest parse_openai_embeddings(const json& body) {
  require_object(body);
  EmbedRequest r;
  const json* input = field(body, "input");
  if (!input) throw invalid("missing field `input`");
  if (input->is_array() && !input->empty() && input->front().is_number()) {
    r.inputs.push_back({{}, token_ids(*input)});
    r.single = true;
  } else if (input->is_array() && !input->empty() && input->front().is_array()) {
    for (const json& e : *input) {
      if (!e.is_array()) throw invalid("`input` must be a list of token id lists");
      r.inputs.push_back({{}, token_ids(e)});
    }
  } else {
    r.inputs = texts(*input, "input", r.single);
  }
  if (const json* model = field(body, "model"); model && !model->is_string()) {
    throw invalid("`model` must be a string");
  }
  if (const json* f = field(body, "encoding_format")) {
    const std::string format = f->is_string() ? f->get<std::string>() : "";
    if (format != "float" && format != "base64") {
      throw invalid("`encoding_format` must be \"float\" or \"base64\"");
    }
    r.base64 = format == "base64";
  }
  r.dimensions = dimensions(body);
  common_fields(body, r);
  return r;
}

EmbedRequest parse_similarity(const json& body) {
  require_object(body);
  const json* inputs = field(body, "inputs");
  if (!inputs || !inputs->is_object()) {
    throw invalid("`inputs` must be an object {\"source_sentence\": str, \"sentences\": [str]}");
  }
  const json* source = field(*inputs, "source_sentence");
  const json* sentences = field(*inputs, "sentences");
  if (!source || !sentences) throw invalid("`inputs` needs `source_sentence` and `sentences`");
  EmbedRequest r;
  r.inputs.push_back({text(*source, "source_sentence"), std::nullopt});
  if (!sentences->is_array()) throw invalid("`sentences` must be a list of strings");
  if (sentences->empty()) throw ApiError(422, "Empty", "`sentences` cannot be empty");
  for (const json& s : *sentences) r.inputs.push_back({text(s, "sentences"), std::nullopt});
  common_fields(body, r);
  return r;
}

TokenizeRequest parse_tokenize(const json& body) {
  require_object(body);
  const json* inputs = field(body, "inputs");
  if (!inputs) throw invalid("missing field `inputs`");
  EmbedRequest probe;
  common_fields(body, probe);
  TokenizeRequest r;
  r.prompt_name = probe.prompt_name;
  bool single = false;
  for (Input& in : texts(*inputs, "inputs", single)) r.texts.push_back(std::move(in.text));
  r.add_special_tokens = boolean(body, "add_special_tokens", true);
  return r;
}

std::string embeddings_json(const Matrix& m) {
  std::string out = "[";
  out.reserve(m.rows * m.cols * 12 + 2);
  for (std::size_t r = 0; r < m.rows; r++) {
    if (r) out += ',';
    append_row(out, m.row(r), m.cols);
  }
  out += ']';
  return out;
}

std::string floats_json(const std::vector<float>& values) {
  std::string out;
  append_row(out, values.data(), values.size());
  return out;
}

std::string openai_embeddings_json(const Matrix& m, bool as_base64, const std::string& model,
                                   std::size_t prompt_tokens) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  out.reserve(m.rows * m.cols * 12 + 200);
  for (std::size_t r = 0; r < m.rows; r++) {
    if (r) out += ',';
    out += "{\"object\":\"embedding\",\"index\":" + std::to_string(r) + ",\"embedding\":";
    if (as_base64) {
      // x86-64 and aarch64 store floats little-endian, the byte order OpenAI's clients read.
      out += '"';
      out += base64(reinterpret_cast<const unsigned char*>(m.row(r)), m.cols * sizeof(float));
      out += '"';
    } else {
      append_row(out, m.row(r), m.cols);
    }
    out += '}';
  }
  const std::string tokens = std::to_string(prompt_tokens);
  out += "],\"model\":" + json(model).dump() + ",\"usage\":{\"prompt_tokens\":" + tokens +
         ",\"total_tokens\":" + tokens + "}}";
  return out;
}

std::string error_json(const ApiError& e, bool openai) {
  const std::string message = json(e.what()).dump(-1, ' ', false, json::error_handler_t::replace);
  if (openai) {
    return "{\"message\":" + message + ",\"code\":" + std::to_string(e.status) +
           ",\"type\":" + json(e.type).dump() + "}";
  }
  return "{\"error\":" + message + ",\"error_type\":" + json(e.type).dump() + "}";
}

}  // namespace simtune::serve
