// config.json: any byte string is either a configuration whose parameter layout can be laid out
// without overflow, or simtune::Error (or a JSON parse error, which load_model_files reports as
// Error naming the file). Anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/io/model_files.h"
#include "simtune/model/params.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
  try {
    const simtune::BertConfig config = simtune::BertConfig::from_json(j, "config.json");
    // The bounds must keep every buffer size representable: the layout sums them all.
    const simtune::ParamLayout layout = simtune::bert_layout(config);
    SIMTUNE_CHECK(layout.total > 0 && layout.total < (std::size_t{1} << 40));
  } catch (const simtune::Error&) {
  }
  return 0;
}
