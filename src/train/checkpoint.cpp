#include "train/checkpoint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/io/safetensors.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "trainer_state.json";

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
  if (std::isfinite(best_score)) j["best_score"] = best_score;
  return j;
}

// Deletes all but the newest `keep` complete checkpoints under root.
void prune_checkpoints(const fs::path& root, int keep) {
  std::vector<std::pair<std::int64_t, fs::path>> existing;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && name.find('.') == std::string::npos) {
      existing.emplace_back(std::stoll(name.substr(11)), entry.path());
    }
  }
  std::sort(existing.begin(), existing.end());
  const std::size_t n = static_cast<std::size_t>(std::max(1, keep));
  for (std::size_t i = 0; i + n < existing.size(); i++) fs::remove_all(existing[i].second);
}

}  // namespace

void save_checkpoint(const fs::path& output, const ModelFiles& files, const TrainState& state,
                     const RunIdentity& run, double best_score, int keep) {
  const fs::path root = output / "checkpoints";
  const std::string name = "checkpoint-" + std::to_string(state.step);
  const fs::path final_dir = root / name;
  const fs::path tmp = root / (name + ".partial");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  write_model_directory(files, tmp, state.params.tensor_refs());
  save_moments(tmp / kOptimizerFile, state);
  write_file_atomic(tmp / kStateFile, state_json(state, run, best_score).dump(2) + "\n");
  // The directory appears under its final name only once complete.
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  prune_checkpoints(root, keep);
}

double load_checkpoint(const fs::path& dir, TrainState& state, const RunIdentity& run) {
  const fs::path state_path = dir / kStateFile;
  double best = -std::numeric_limits<double>::infinity();
  try {
    const json j = json::parse(read_file(state_path));
    if (j.at("batch_size").get<std::size_t>() != run.batch_size ||
        j.at("shuffle").get<bool>() != run.shuffle ||
        j.at("seed").get<std::uint64_t>() != run.seed) {
      throw Error(state_path.string() +
                  ": the checkpoint was made with another --batch-size, --seed or shuffle setting");
    }
    std::array<std::uint64_t, 4> words{};
    for (int i = 0; i < 4; i++) {
      words[i] = std::stoull(j.at("dropout_rng").at(i).get<std::string>());
    }
    state.dropout_rng.set_state(words);
    state.adam.set_steps(j.at("adam_steps").get<std::int64_t>());
    state.step = j.at("step").get<std::int64_t>();
    if (j.contains("best_score")) best = j.at("best_score").get<double>();
  } catch (const json::exception& e) {
    throw Error(state_path.string() + ": not a simtune checkpoint state: " + e.what());
  }
  load_moments(dir / kOptimizerFile, state);
  state.grads.rows().mark_rows_with_moments(state.adam.m(), state.adam.v());
  return best;
}

}  // namespace simtune
