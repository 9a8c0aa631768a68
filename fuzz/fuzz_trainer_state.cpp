// trainer_state.json as --resume reads it: any byte string either parses into a state within
// range or throws simtune::Error; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const simtune::SavedState s = simtune::parse_trainer_state(
        std::string(reinterpret_cast<const char*>(data), size), "trainer_state.json");
    SIMTUNE_CHECK(s.step >= 0 && s.step == s.adam_steps && s.run.batch_size > 0);
  } catch (const simtune::Error&) {
  }
  return 0;
}
