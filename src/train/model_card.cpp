#include "train/model_card.h"

#include <string>
#include <utility>

#include "simtune/core/file.h"
#include "simtune/core/version.h"

namespace simtune {

namespace fs = std::filesystem;

void write_model_card(const fs::path& out, const std::string& name, const ModelFiles& files,
                      const nlohmann::json& table) {
  std::string readme =
      "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n"
      "tags:\n- sentence-transformers\n- sentence-similarity\n---\n\n"
      "# Fine-tuned with simtune\n\n"
      "Written by simtune " +
      std::string(simtune_version()) + ".\n\n";
  readme +=
      "This is a [sentence-transformers](https://www.sbert.net) model: it maps sentences to a " +
      std::to_string(files.embedding_dimension()) +
      "-dimensional vector space. Load it with `SentenceTransformer(\"" + name +
      "\")` or `simtune encode --model " + name + "`.\n\n## Training\n\n";
  readme += "| | |\n|---|---|\n";
  for (const auto& [key, value] : table.items()) {
    readme +=
        "| " + key + " | " + (value.is_string() ? value.get<std::string>() : value.dump()) + " |\n";
  }
  // The report's plots, as far as they exist yet (no loss plot before the first step).
  const std::pair<const char*, const char*> plots[] = {
      {"loss.svg", "Training loss"}, {"lr.svg", "Learning rate"}, {"eval.svg", "Evaluation"}};
  bool heading = false;
  for (const auto& [file, title] : plots) {
    if (!fs::exists(out / file)) continue;
    if (!heading) readme += "\n## Training report\n\n";
    heading = true;
    readme += std::string("![") + title + "](" + file + ")\n\n";
  }
  write_file_atomic(out / "README.md", readme);
}

}  // namespace simtune
