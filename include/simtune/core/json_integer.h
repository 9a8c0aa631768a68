#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace simtune {

// An integer field of an untrusted JSON file, if it is one and fits in Int. nlohmann's get<Int>()
// converts floats and out-of-range numbers with a plain cast, which is undefined behaviour for a
// value such as 4e28; every integer read from a file goes through here instead.
template <class Int>
std::optional<Int> json_integer(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.get<std::uint64_t>();
    if (std::in_range<Int>(u)) return static_cast<Int>(u);
  } else if (v.is_number_integer()) {
    const std::int64_t s = v.get<std::int64_t>();
    if (std::in_range<Int>(s)) return static_cast<Int>(s);
  }
  return std::nullopt;
}

}  // namespace simtune
