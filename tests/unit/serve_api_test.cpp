#include "serve/api.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace simtune::serve {
namespace {

using nlohmann::json;

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status;
  }
  return 200;
}

TEST(ServeApi, FloatsAreShortestAndReadBackExactly) {
  Matrix m{1, 3, {0.1f, -1.0f / 3.0f, 1e-7f}};
  const json rows = json::parse(embeddings_json(m));
  for (std::size_t i = 0; i < 3; i++) {
    EXPECT_EQ(static_cast<float>(rows[0][i].get<double>()), m.data[i]);
  }
  EXPECT_EQ(embeddings_json(Matrix{1, 1, {0.1f}}), "[[0.1]]");
}

TEST(ServeApi, Base64IsLittleEndianFloat32) {
  // 1.0f is 0x3F800000: bytes 00 00 80 3F, base64 "AACAPw==" (RFC 4648 alphabet and padding).
  const json out = json::parse(openai_embeddings_json(Matrix{1, 1, {1.0f}}, true, "m", 3));
  EXPECT_EQ(out["data"][0]["embedding"], "AACAPw==");
  EXPECT_EQ(out["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(out["object"], "list");
}

TEST(ServeApi, StatusCodesAreTeis) {
  EXPECT_EQ(status_of([] { parse_body("{\"inputs\": "); }), 400);
  EXPECT_EQ(status_of([] { parse_body("{\"inputs\": \"\xff\"}"); }), 400);
  EXPECT_EQ(status_of([] { parse_embed(json::parse(R"({"inputs": 3})")); }), 422);
  EXPECT_EQ(status_of([] { parse_embed(json::parse(R"({"inputs": "a", "truncate": 1})")); }), 422);
  EXPECT_EQ(status_of([] { parse_embed(json::parse(R"({"inputs": "a", "dimensions": -2})")); }),
            422);
  EXPECT_EQ(status_of([] { parse_openai_embeddings(json::parse(R"({"input": [1, -1]})")); }), 422);
  EXPECT_EQ(status_of([] { parse_similarity(json::parse(R"({"inputs": "a"})")); }), 422);
  EXPECT_EQ(status_of([] { parse_embed(json::parse(R"({"inputs": "a", "prompt_name": 3})")); }),
            422);
}

TEST(ServeApi, PromptNameReachesEveryRoute) {
  EXPECT_EQ(parse_embed(json::parse(R"({"inputs": "a", "prompt_name": "query"})")).prompt_name,
            "query");
  EXPECT_EQ(parse_embed(json::parse(R"({"inputs": "a", "prompt_name": null})")).prompt_name, "");
  EXPECT_EQ(
      parse_similarity(
          json::parse(
              R"({"inputs": {"source_sentence": "a", "sentences": ["b"]}, "prompt_name": "q"})"))
          .prompt_name,
      "q");
  EXPECT_EQ(parse_tokenize(json::parse(R"({"inputs": "a", "prompt_name": "doc"})")).prompt_name,
            "doc");
  EXPECT_EQ(
      parse_openai_embeddings(json::parse(R"({"input": "a", "prompt_name": "doc"})")).prompt_name,
      "doc");
}

TEST(ServeApi, OpenAiInputShapes) {
  EXPECT_EQ(parse_openai_embeddings(json::parse(R"({"input": "a"})")).inputs.size(), 1u);
  const EmbedRequest ids =
      parse_openai_embeddings(json::parse(R"({"input": [[101, 102], [101, 7, 102]]})"));
  ASSERT_EQ(ids.inputs.size(), 2u);
  EXPECT_EQ(*ids.inputs[1].ids, (std::vector<std::int32_t>{101, 7, 102}));
  const EmbedRequest left = parse_embed(
      json::parse(R"({"inputs": ["a"], "truncation_direction": "left", "normalize": false})"));
  EXPECT_TRUE(left.truncate_left);
  EXPECT_FALSE(left.normalize);
  EXPECT_FALSE(left.truncate.has_value());
}

TEST(ServeApi, ErrorBodies) {
  const ApiError e(429, "Overloaded", "Model is overloaded");
  EXPECT_EQ(json::parse(error_json(e, false)),
            json::parse(R"({"error": "Model is overloaded", "error_type": "Overloaded"})"));
  EXPECT_EQ(
      json::parse(error_json(e, true)),
      json::parse(R"({"message": "Model is overloaded", "code": 429, "type": "Overloaded"})"));
}

}  // namespace
}  // namespace simtune::serve
