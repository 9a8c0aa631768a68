#include "train/checkpoint.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/core/json_integer.h"
#include "simtune/io/safetensors.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kLossFile = "loss.safetensors";

void save_moments(const fs::path& path, const TrainState& state) {
  std::vector<TensorRef> moments;
  for (const auto& t : state.params.layout.tensors) {
    moments.push_back({"exp_avg." + t.name, t.shape, state.adam.m() + t.offset});
    moments.push_back({"exp_avg_sq." + t.name, t.shape, state.adam.v() + t.offset});
  }
  save_safetensors(path, moments);
}

void load_moments(const fs::path& path, TrainState& state) {
  const SafetensorsFile moments = SafetensorsFile::open(path);
  for (const auto& t : state.params.layout.tensors) {
    for (auto [prefix, buffer] :
         {std::pair{"exp_avg.", state.adam.m()}, std::pair{"exp_avg_sq.", state.adam.v()}}) {
      const TensorInfo* info = moments.find(prefix + t.name);
      if (info == nullptr || static_cast<std::size_t>(info->numel()) != t.numel) {
        throw Error(moments.origin() + ": tensor '" + prefix + t.name +
                    "' is missing or mis-shaped");
      }
      moments.read_f32(*info, buffer + t.offset);
    }
  }
}

json state_json(const TrainState& state, const RunIdentity& run, double best_score) {
  json j = {{"step", state.step}, {"seed", run.seed}, {"adam_steps", state.adam.steps()}};
  json rng_state = json::array();
  for (auto word : state.dropout_rng.state()) rng_state.push_back(std::to_string(word));
  j["dropout_rng"] = rng_state;
  j["batch_size"] = run.batch_size;
  j["shuffle"] = run.shuffle;
  j["batch_sampler"] = run.no_duplicates ? "no_duplicates" : "batch_sampler";
  if (std::isfinite(best_score)) j["best_score"] = best_score;
  return j;
}

// Deletes all but the newest `keep` complete checkpoints under root.
void prune_checkpoints(const fs::path& root, int keep) {
  std::vector<std::pair<std::int64_t, fs::path>> existing;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("checkpoint-")) continue;
    std::int64_t step = 0;
    const auto [end, ec] = std::from_chars(name.data() + 11, name.data() + name.size(), step);
    if (ec == std::errc() && end == name.data() + name.size()) {
      existing.emplace_back(step, entry.path());
    }
  }
  std::sort(existing.begin(), existing.end());
  const std::size_t n = static_cast<std::size_t>(std::max(1, keep));
  for (std::size_t i = 0; i + n < existing.size(); i++) {
    remove_directory_atomic(existing[i].second);
  }
}

}  // namespace

fs::path save_checkpoint(const fs::path& output, const ModelFiles& files, const TrainState& state,
                         const RunIdentity& run, double best_score, int keep) {
  const fs::path root = output / "checkpoints";
  const std::string name = "checkpoint-" + std::to_string(state.step);
  save_directory_atomic(root / name, [&](const fs::path& dir) {
    write_model_directory(files, dir, state.model_tensor_refs());
    if (state.loss_tensors > 0) save_safetensors(dir / kLossFile, state.loss_tensor_refs());
    save_moments(dir / kOptimizerFile, state);
    write_file_atomic(dir / kStateFile, state_json(state, run, best_score).dump(2) + "\n");
  });
  prune_checkpoints(root, keep);
  return root / name;
}

SavedState parse_trainer_state(const std::string& text, const std::string& origin) {
  SavedState s;
  const auto bad = [&](const std::string& what) {
    return Error(origin + ": not a simtune checkpoint state: " + what);
  };
  try {
    const json j = json::parse(text);
    if (!j.is_object()) throw bad("expected a JSON object");
    const auto integer = [&]<class Int>(const char* key, Int& out) {
      const std::optional<Int> v = json_integer<Int>(j.at(key));
      if (!v)
        throw bad(std::string("\"") + key + "\" is " + j.at(key).dump() +
                  ", not an integer in range");
      out = *v;
    };
    integer("batch_size", s.run.batch_size);
    s.run.shuffle = j.at("shuffle").get<bool>();
    // Checkpoints from before the sampler was recorded used the default one.
    const std::string sampler = j.value("batch_sampler", "batch_sampler");
    if (sampler != "batch_sampler" && sampler != "no_duplicates") {
      throw bad("\"batch_sampler\" is \"" + sampler + "\", not batch_sampler or no_duplicates");
    }
    s.run.no_duplicates = sampler == "no_duplicates";
    integer("seed", s.run.seed);
    const json& rng = j.at("dropout_rng");
    if (!rng.is_array() || rng.size() != s.rng.size()) {
      throw bad("\"dropout_rng\" is not 4 numbers in strings");
    }
    for (std::size_t i = 0; i < s.rng.size(); i++) {
      const std::string word = rng.at(i).get<std::string>();
      const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), s.rng[i]);
      if (word.empty() || ec != std::errc() || end != word.data() + word.size()) {
        throw bad("\"dropout_rng\" holds \"" + word + "\", not an unsigned 64-bit number");
      }
    }
    integer("adam_steps", s.adam_steps);
    integer("step", s.step);
    if (j.contains("best_score")) s.best_score = j.at("best_score").get<double>();
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
  // A run saves its checkpoints while both counts are equal and at most a billion steps in.
  if (s.step < 0 || s.step > 1000000000 || s.adam_steps != s.step) {
    throw bad("step " + std::to_string(s.step) + " and adam_steps " + std::to_string(s.adam_steps) +
              " must be equal and in [0, 1e9]");
  }
  if (s.run.batch_size == 0) throw bad("batch_size is 0");
  if (s.rng == std::array<std::uint64_t, 4>{}) throw bad("\"dropout_rng\" is all zeros");
  if (std::isnan(s.best_score)) throw bad("best_score is not a number");
  return s;
}

double load_checkpoint(const fs::path& dir, TrainState& state, const RunIdentity& run) {
  const fs::path state_path = dir / kStateFile;
  const SavedState saved = parse_trainer_state(read_file(state_path), state_path.string());
  if (saved.run.batch_size != run.batch_size || saved.run.shuffle != run.shuffle ||
      saved.run.seed != run.seed || saved.run.no_duplicates != run.no_duplicates) {
    throw Error(state_path.string() +
                ": the checkpoint was made with another --batch-size, --seed, shuffle setting or "
                "--batch-sampler");
  }
  state.dropout_rng.set_state(saved.rng);
  state.adam.set_steps(saved.adam_steps);
  state.step = saved.step;
  load_moments(dir / kOptimizerFile, state);
  if (state.loss_tensors > 0) load_loss_tensors(dir / kLossFile, state);
  state.grads.rows().mark_rows_with_moments(state.adam.m(), state.adam.v());
  return saved.best_score;
}

}  // namespace simtune
