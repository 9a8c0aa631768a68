// Pickles built opcode by opcode, in the forms torch.save (protocol 2) emits, for tests of the
// pytorch_model.bin reader.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace simtune::testing {

class Pickle {
 public:
  Pickle() { s_ += "\x80\x02"; }
  Pickle& op(std::uint8_t c) {
    s_ += static_cast<char>(c);
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    s_ += "c" + module + "\n" + name + "\n";
    return *this;
  }
  Pickle& str(const std::string& v) {
    op('X');
    for (int i = 0; i < 4; ++i) op(static_cast<std::uint8_t>(v.size() >> (8 * i)));
    s_ += v;
    return *this;
  }
  Pickle& integer(std::uint8_t v) { return op('K').op(v); }
  Pickle& int_tuple(const std::vector<std::uint8_t>& values) {
    op('(');
    for (std::uint8_t v : values) integer(v);
    return op('t');
  }
  Pickle& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  // _rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict()) and REDUCE.
  Pickle& tensor(std::vector<std::uint8_t> shape, std::vector<std::uint8_t> stride,
                 std::uint8_t offset = 0, std::uint8_t numel = 6,
                 const std::string& type = "FloatStorage", const std::string& key = "0") {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", type).str(key).str("cpu").integer(numel).op('t');
    op('Q').integer(offset).int_tuple(shape).int_tuple(stride).op(0x89).ordered_dict();
    return op('t').op('R');
  }
  std::span<const std::uint8_t> bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(s_.data()), s_.size()};
  }
  std::string s_;
};

}  // namespace simtune::testing
