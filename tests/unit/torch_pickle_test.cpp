// The pickle reader behind pytorch_model.bin: what torch.save writes for a state dict is read;
// everything else (other globals, callables, opcodes, malformed tensors) is refused by name.
// Checkpoints written by PyTorch itself are covered by tests/python/test_weight_formats.py.
#include "io/torch_pickle.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pickle_builder.h"
#include "test_errors.h"

namespace simtune {
namespace {

using testing::error_of;
using testing::Pickle;

// An OrderedDict holding one tensor "w" of shape (2, 3).
Pickle one_tensor(std::vector<std::uint8_t> stride = {3, 1}, std::uint8_t offset = 0,
                  std::uint8_t numel = 6) {
  Pickle p;
  p.ordered_dict().op('(').str("w").tensor({2, 3}, std::move(stride), offset, numel);
  p.op('u').op('.');
  return p;
}

std::string refusal(const Pickle& p) {
  return error_of([&] { read_torch_pickle(p.bytes(), "m.bin: data.pkl"); });
}

TEST(TorchPickle, ReadsAStateDictAsTorchSaveWritesIt) {
  Pickle p;  // BINPUT after each object, as torch.save memoizes them
  p.global("collections", "OrderedDict").op('q').op(0).op(')').op('R').op('q').op(1).op('(');
  p.str("a").tensor({2, 3}, {3, 1}, 0, 10);
  p.str("b").tensor({4}, {1}, 6, 10, "FloatStorage", "0");  // shares storage 0 at offset 6
  p.str("ids").tensor({1, 2}, {2, 1}, 0, 2, "LongStorage", "1");
  p.op('u');
  // BUILD with the _metadata attribute state_dict() attaches.
  p.op('}').str("_metadata").ordered_dict().op('s').op('b').op('.');
  const std::vector<PickledTensor> t = read_torch_pickle(p.bytes(), "m.bin");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name, "a");
  EXPECT_EQ(t[0].dtype, DType::F32);
  EXPECT_EQ(t[0].shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(t[0].storage_numel, 10);
  EXPECT_EQ(t[1].offset, 6);
  EXPECT_EQ(t[1].storage, "0");
  EXPECT_EQ(t[2].dtype, DType::I64);
  EXPECT_EQ(t[2].storage, "1");
}

TEST(TorchPickle, ReadsProtocol4FramesAndStackGlobals) {
  Pickle p;
  p.s_ = "\x80\x04\x95";
  p.s_ += std::string(8, '\0');  // FRAME length, a hint only
  p.op(0x8c).op(11).s_ += "collections";
  p.op(0x8c).op(11).s_ += "OrderedDict";
  p.op(0x93).op(0x94).op(')').op('R').op('.');  // STACK_GLOBAL, MEMOIZE, ()
  EXPECT_TRUE(read_torch_pickle(p.bytes(), "m.bin").empty());
}

TEST(TorchPickle, RefusesGlobalsOutsideTensorRebuilding) {
  for (const auto& [module, name] :
       std::vector<std::pair<std::string, std::string>>{{"os", "system"},
                                                        {"posix", "system"},
                                                        {"builtins", "eval"},
                                                        {"torch", "load"},
                                                        {"torch._utils", "_rebuild_qtensor"}}) {
    Pickle p;
    p.global(module, name).op('(').str("touch pwned").op('t').op('R').op('.');
    const std::string msg = refusal(p);
    EXPECT_CONTAINS(msg, "m.bin: data.pkl: byte 2: GLOBAL " + module + "." + name + " is refused");
  }
  Pickle stack;
  stack.op(0x8c).op(5).s_ += "posix";
  stack.op(0x8c).op(6).s_ += "system";
  stack.op(0x93).op('.');
  EXPECT_CONTAINS(refusal(stack), "GLOBAL posix.system is refused");
}

TEST(TorchPickle, RefusesCallsOtherThanTensorRebuilding) {
  Pickle storage;  // a storage type is a class: calling it is not something torch.save writes
  storage.global("torch", "FloatStorage").op(')').op('R').op('.');
  EXPECT_CONTAINS(refusal(storage), "REDUCE calls torch.FloatStorage");
  Pickle string_call;
  string_call.str("os.system").op(')').op('R').op('.');
  EXPECT_CONTAINS(refusal(string_call), "REDUCE calls the string \"os.system\"");
  Pickle hooks;  // backward hooks would be callables
  hooks.ordered_dict().str("w").global("torch._utils", "_rebuild_tensor_v2").op('(');
  hooks.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(1);
  hooks.op('t').op('Q').integer(0).int_tuple({1}).int_tuple({1}).op(0x89);
  hooks.op('}').str("h").integer(1).op('s').op('t').op('R').op('s').op('.');
  EXPECT_CONTAINS(refusal(hooks), "_rebuild_tensor_v2 arguments are not");
}

TEST(TorchPickle, RefusesObjectBuildingAndUnknownOpcodes) {
  for (const auto& [opcode, name] :
       std::vector<std::pair<std::uint8_t, std::string>>{{'i', "0x69 (INST)"},
                                                         {'o', "0x6f (OBJ)"},
                                                         {0x81, "0x81 (NEWOBJ)"},
                                                         {0x92, "0x92 (NEWOBJ_EX)"},
                                                         {0x82, "0x82 (EXT)"},
                                                         {'P', "0x50 (PERSID)"},
                                                         {'S', "0x53 ('S')"},
                                                         {0xff, "0xff"}}) {
    Pickle p;
    p.op(opcode).op('.');
    EXPECT_CONTAINS(refusal(p), "byte 2: opcode " + name + " is not one a state dict needs");
  }
}

TEST(TorchPickle, RefusesMalformedStreams) {
  EXPECT_CONTAINS(refusal(Pickle()), "ends inside an opcode (no STOP)");
  Pickle truncated;
  truncated.op('X').op(0xff).op(0xff).op(0).op(0).op('a');
  EXPECT_CONTAINS(refusal(truncated), "runs past the end");
  Pickle underflow;
  underflow.op('R');
  EXPECT_CONTAINS(refusal(underflow), "stack underflow");
  Pickle memo;
  memo.op('h').op(7);
  EXPECT_CONTAINS(refusal(memo), "memo entry 7 was never stored");
  Pickle no_mark;
  no_mark.op('t');
  EXPECT_CONTAINS(refusal(no_mark), "no MARK");
  Pickle odd;
  odd.op('}').op('(').str("k").op('u');
  EXPECT_CONTAINS(refusal(odd), "odd number");
  Pickle big;
  big.op(0x8a).op(9);
  EXPECT_CONTAINS(refusal(big), "does not fit 64 bits");
  Pickle two;
  two.op('N').op('N').op('.');
  EXPECT_CONTAINS(refusal(two), "unbalanced stack");
  Pickle key;
  key.op('}').integer(1).integer(2).op('s').op('.');
  EXPECT_CONTAINS(refusal(key), "dict key the integer 1 is not a string");
}

TEST(TorchPickle, RefusesWhatIsNotAStateDictOfTensors) {
  Pickle list;
  list.op('N').op('.');
  EXPECT_CONTAINS(refusal(list), "holds None, expected a state dict");
  Pickle value;
  value.op('}').str("epoch").integer(3).op('s').op('.');
  EXPECT_CONTAINS(refusal(value), "the value of \"epoch\" is the integer 3, expected a tensor");
  Pickle pid;
  pid.op('}').str("w").str("storage").op('Q').op('s').op('.');
  EXPECT_CONTAINS(refusal(pid), "persistent id the string \"storage\" is not");
}

TEST(TorchPickle, RefusesTensorsItCannotCopyAsOneBlock) {
  EXPECT_NO_THROW(read_torch_pickle(one_tensor().bytes(), "m.bin"));
  EXPECT_CONTAINS(refusal(one_tensor({1, 2})),
                  "tensor \"w\" is not contiguous (size [2, 3], stride [1, 2])");
  EXPECT_CONTAINS(refusal(one_tensor({3, 1}, 1)), "tensor \"w\" runs past its storage");
  EXPECT_CONTAINS(refusal(one_tensor({3, 1}, 0, 5)), "runs past its storage");
  Pickle dims;
  dims.ordered_dict().op('(').str("w").tensor(std::vector<std::uint8_t>(65, 1),
                                              std::vector<std::uint8_t>(65, 1));
  EXPECT_CONTAINS(refusal(dims), "a tensor's size has 65 dimensions, over 64");
  Pickle many;
  for (int i = 0; i < (1 << 20) + 1; ++i) many.op('N');
  EXPECT_CONTAINS(refusal(many), "more than 1048576 values");
  Pickle mismatch;
  mismatch.ordered_dict().op('(').str("w").tensor({2, 3}, {1}).op('u').op('.');
  EXPECT_CONTAINS(refusal(mismatch), "size [2, 3] and stride [1] differ in length");
}

}  // namespace
}  // namespace simtune
