// The one range check of TrainOptions and ServeOptions that every front end (CLI, Python's fit,
// the library) goes through: each option at and beyond its edges, named as the member.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>

#include "simtune/core/option_range.h"
#include "simtune/serve/server.h"
#include "simtune/train/trainer.h"

namespace simtune {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// The member validate() names for options changed by `change` ("" when it accepts them).
template <class Options>
std::string refused(const std::function<void(Options&)>& change) {
  Options o;
  change(o);
  try {
    validate(o);
  } catch (const OptionError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(e.option() + ": ", 0), 0u) << e.what();
    return e.option();
  }
  return "";
}

using Train = std::function<void(TrainOptions&)>;
using Serve = std::function<void(ServeOptions&)>;

TEST(TrainOptionsValidate, DefaultsAndEdgesAreAccepted) {
  EXPECT_EQ(refused<TrainOptions>([](TrainOptions&) {}), "");
  EXPECT_EQ(refused<TrainOptions>([](TrainOptions& o) {
              o.batch_size = 1 << 20;
              o.epochs = 1000000;
              o.warmup_ratio = 1;
              o.warmup_steps = 0;
              o.weight_decay = 0;
              o.dropout = 0;
              o.checkpoint_steps = 0;
              o.eval_steps = 0;
              o.seed = std::numeric_limits<std::uint64_t>::max();
              // The library's MatryoshkaLoss takes any order and repeats.
              o.matryoshka_dims = {8, 32, 8};
              o.matryoshka_weights = {1, -0.5f, 0};
            }),
            "");
}

TEST(TrainOptionsValidate, EachOptionOutOfRangeIsNamed) {
  const std::pair<const char*, Train> cases[] = {
      {"loss", [](TrainOptions& o) { o.loss = "NoSuchLoss"; }},
      {"epochs", [](TrainOptions& o) { o.epochs = 0; }},
      {"epochs", [](TrainOptions& o) { o.epochs = 2147483647; }},
      {"batch_size", [](TrainOptions& o) { o.batch_size = 0; }},
      {"batch_size", [](TrainOptions& o) { o.batch_size = std::size_t{1} << 40; }},
      {"mini_batch_size", [](TrainOptions& o) { o.mini_batch_size = 0; }},
      {"lr", [](TrainOptions& o) { o.lr = 0; }},
      {"lr", [](TrainOptions& o) { o.lr = -1e-3f; }},
      {"lr", [](TrainOptions& o) { o.lr = kNaN; }},
      {"lr", [](TrainOptions& o) { o.lr = kInf; }},
      {"warmup_ratio", [](TrainOptions& o) { o.warmup_ratio = 1.5f; }},
      {"warmup_ratio", [](TrainOptions& o) { o.warmup_ratio = kNaN; }},
      {"warmup_steps", [](TrainOptions& o) { o.warmup_steps = -2; }},
      {"weight_decay", [](TrainOptions& o) { o.weight_decay = -1; }},
      {"max_grad_norm", [](TrainOptions& o) { o.max_grad_norm = 0; }},
      {"adam_eps", [](TrainOptions& o) { o.adam_eps = 0; }},
      {"adam_eps", [](TrainOptions& o) { o.adam_eps = 1; }},
      {"max_steps", [](TrainOptions& o) { o.max_steps = 0; }},
      {"max_steps", [](TrainOptions& o) { o.max_steps = std::int64_t{1} << 40; }},
      {"dropout", [](TrainOptions& o) { o.dropout = 1; }},
      {"dropout", [](TrainOptions& o) { o.dropout = -0.5f; }},
      {"dropout", [](TrainOptions& o) { o.dropout = kNaN; }},
      {"checkpoint_steps", [](TrainOptions& o) { o.checkpoint_steps = -1; }},
      {"checkpoint_limit", [](TrainOptions& o) { o.checkpoint_limit = 0; }},
      {"num_labels", [](TrainOptions& o) { o.num_labels = -1; }},
      {"eval_steps", [](TrainOptions& o) { o.eval_steps = -1; }},
      {"matryoshka_dims",
       [](TrainOptions& o) {
         o.matryoshka_dims = {64, 0};
       }},
      {"matryoshka_weights", [](TrainOptions& o) { o.matryoshka_weights = {1}; }},
      {"matryoshka_weights",
       [](TrainOptions& o) {
         o.matryoshka_dims = {64, 32};
         o.matryoshka_weights = {1};
       }},
      {"matryoshka_weights",
       [](TrainOptions& o) {
         o.matryoshka_dims = {64};
         o.matryoshka_weights = {kNaN};
       }},
  };
  for (const auto& [option, change] : cases) EXPECT_EQ(refused<TrainOptions>(change), option);
}

TEST(ServeOptionsValidate, EachLimitOutOfRangeIsNamed) {
  EXPECT_EQ(refused<ServeOptions>([](ServeOptions&) {}), "");
  const std::pair<const char*, Serve> cases[] = {
      {"port", [](ServeOptions& o) { o.port = 70000; }},
      {"port", [](ServeOptions& o) { o.port = -1; }},
      {"max_batch_tokens", [](ServeOptions& o) { o.max_batch_tokens = 0; }},
      {"max_batch_requests", [](ServeOptions& o) { o.max_batch_requests = SIZE_MAX; }},
      {"max_concurrent_requests", [](ServeOptions& o) { o.max_concurrent_requests = 100000; }},
      // Would wrap around to a handful of threads once the spare ones are added.
      {"max_concurrent_requests", [](ServeOptions& o) { o.max_concurrent_requests = SIZE_MAX; }},
      {"max_client_batch_size", [](ServeOptions& o) { o.max_client_batch_size = 0; }},
      {"payload_limit", [](ServeOptions& o) { o.payload_limit = 0; }},
      {"request_timeout", [](ServeOptions& o) { o.request_timeout = std::nan(""); }},
      {"request_timeout", [](ServeOptions& o) { o.request_timeout = 0; }},
  };
  for (const auto& [option, change] : cases) EXPECT_EQ(refused<ServeOptions>(change), option);
}

TEST(CheckRange, MessageNamesValueAndRange) {
  try {
    check_range("lr", -1, 0, 1, Bound::open);
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_STREQ(e.what(), "lr: -1 is outside (0, 1]");
    EXPECT_EQ(e.reason(), "-1 is outside (0, 1]");
  }
}

}  // namespace
}  // namespace simtune
