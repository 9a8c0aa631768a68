// Deterministic random numbers: the same seed gives the same stream on every platform and
// standard library (std::normal_distribution is implementation-defined, so we do not use it).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace simtune {

// Output i (from 0) of the SplitMix64 generator started at `key`: a function of (key, i) alone,
// so a loop may draw element i on any thread and still give the same numbers for a key.
inline std::uint64_t splitmix64(std::uint64_t key, std::uint64_t i) {
  std::uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// SplitMix64-seeded xoshiro256**: small state (saved in checkpoints), fast, good statistics.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (std::uint64_t i = 0; i < 4; i++) state_[i] = splitmix64(seed, i);
  }

  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // The whole generator state, for checkpoints.
  std::array<std::uint64_t, 4> state() const {
    return {state_[0], state_[1], state_[2], state_[3]};
  }
  void set_state(const std::array<std::uint64_t, 4>& s) {
    for (int i = 0; i < 4; i++) state_[i] = s[i];
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Standard normal by Box-Muller (both values of a pair are not reused, to keep state simple).
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]: log never sees 0
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
};

}  // namespace simtune
