#include "io/torch_pickle.h"

#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "simtune/core/error.h"

namespace simtune {
namespace {

// Bounds that keep a hostile pickle from costing more than ~250 MB or quadratic time: a state
// dict needs about a dozen values per tensor, and tensors have a handful of dimensions.
constexpr std::size_t kMaxValues = 1 << 20;
constexpr std::size_t kMaxDims = 64;

enum class Kind { None, Bool, Int, String, Tuple, Dict, Global, Storage, Tensor };

// The only callables a state dict's pickle names.
enum class Callable { OrderedDict, RebuildTensor, RebuildParameter, StorageType };

struct Value {
  Kind kind = Kind::None;
  std::int64_t number = 0;                    // Bool, Int; Storage: numel
  std::string text;                           // String; Global: "module.name"; Storage: key
  Callable callable = Callable::OrderedDict;  // Global
  DType dtype = DType::F32;                   // Global of a storage type, Storage
  std::vector<Value*> items;                  // Tuple
  std::vector<std::pair<std::string, Value*>> entries;  // Dict, in insertion order
  std::unordered_map<std::string, std::size_t> index;   // Dict: key -> entries index
  Value* storage = nullptr;                             // Tensor
  std::int64_t offset = 0;                              // Tensor
  std::vector<std::int64_t> shape, stride;              // Tensor
};

struct StorageType {
  const char* name;
  DType dtype;
};

// torch.<Name>Storage, the legacy typed-storage names torch.save still writes.
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", DType::F32},     {"DoubleStorage", DType::F64}, {"HalfStorage", DType::F16},
    {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64},   {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},     {"CharStorage", DType::I8},    {"ByteStorage", DType::U8},
    {"BoolStorage", DType::BOOL},
};

// Untrusted text for a one-line message: control characters and non-ASCII bytes become '?',
// long strings are cut.
std::string printable(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 60; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
  }
  if (s.size() > 60) out += "...";
  return out;
}

std::string describe(const Value* v) {
  switch (v->kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return v->number ? "True" : "False";
    case Kind::Int:
      return "the integer " + std::to_string(v->number);
    case Kind::String:
      return "the string \"" + printable(v->text) + "\"";
    case Kind::Tuple:
      return "a tuple of " + std::to_string(v->items.size());
    case Kind::Dict:
      return "a dict";
    case Kind::Global:
      return v->text;
    case Kind::Storage:
      return "a storage";
    case Kind::Tensor:
      return "a tensor";
  }
  return "";
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::string opcode_text(std::uint8_t op) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", op);
  std::string s = std::string("opcode ") + hex;
  // Name the opcodes that build arbitrary objects, the usual way in for pickle exploits.
  switch (op) {
    case 'i':
      return s + " (INST)";
    case 'o':
      return s + " (OBJ)";
    case 0x81:
      return s + " (NEWOBJ)";
    case 0x92:
      return s + " (NEWOBJ_EX)";
    case 0x82:
    case 0x83:
    case 0x84:
      return s + " (EXT)";
    case 'P':
      return s + " (PERSID)";
    default:
      break;
  }
  if (op >= 0x20 && op < 0x7f) s += std::string(" ('") + static_cast<char>(op) + "')";
  return s;
}

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, const std::string& origin)
      : bytes_(bytes), origin_(origin) {}

  Value* run() {
    for (;;) {
      op_pos_ = pos_;
      const std::uint8_t op = *take(1);
      switch (op) {
        case 0x80:  // PROTO
          if (*take(1) > 5) fail("pickle protocol above 5");
          break;
        case 0x95:  // FRAME: a length hint only
          take(8);
          break;
        case 'c': {  // GLOBAL
          const std::string module = line();
          const std::string name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const std::string name = pop_string("STACK_GLOBAL name");
          const std::string module = pop_string("STACK_GLOBAL module");
          push(global(module, name));
          break;
        }
        case '(':  // MARK
          marks_.push_back(stack_.size());
          break;
        case ')':  // EMPTY_TUPLE
          push(make(Kind::Tuple));
          break;
        case 't': {  // TUPLE
          Value* t = make(Kind::Tuple);
          t->items = pop_mark();
          push(t);
          break;
        }
        case 0x85:    // TUPLE1
        case 0x86:    // TUPLE2
        case 0x87: {  // TUPLE3
          Value* t = make(Kind::Tuple);
          t->items.resize(static_cast<std::size_t>(op - 0x84));
          for (auto it = t->items.rbegin(); it != t->items.rend(); ++it) *it = pop();
          push(t);
          break;
        }
        case '}':  // EMPTY_DICT
          push(make(Kind::Dict));
          break;
        case 's': {  // SETITEM
          Value* value = pop();
          Value* key = pop();
          set_item(key, value);
          break;
        }
        case 'u': {  // SETITEMS
          const std::vector<Value*> items = pop_mark();
          if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
          for (std::size_t i = 0; i < items.size(); i += 2) set_item(items[i], items[i + 1]);
          break;
        }
        case 'N':
          push(make(Kind::None));
          break;
        case 0x88:  // NEWTRUE
        case 0x89:  // NEWFALSE
          push(make_int(Kind::Bool, op == 0x88));
          break;
        case 'J':  // BININT: signed 32-bit
          push(make_int(Kind::Int, static_cast<std::int32_t>(little_endian(4))));
          break;
        case 'K':  // BININT1
          push(make_int(Kind::Int, static_cast<std::int64_t>(little_endian(1))));
          break;
        case 'M':  // BININT2
          push(make_int(Kind::Int, static_cast<std::int64_t>(little_endian(2))));
          break;
        case 0x8a:  // LONG1: n-byte two's complement
          push(make_int(Kind::Int, long1()));
          break;
        case 'X':  // BINUNICODE
          push_string(little_endian(4));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          push_string(little_endian(1));
          break;
        case 'q':  // BINPUT
          put(static_cast<std::uint32_t>(little_endian(1)));
          break;
        case 'r':  // LONG_BINPUT
          put(static_cast<std::uint32_t>(little_endian(4)));
          break;
        case 0x94:  // MEMOIZE
          put(static_cast<std::uint32_t>(memo_.size()));
          break;
        case 'h':  // BINGET
          get(static_cast<std::uint32_t>(little_endian(1)));
          break;
        case 'j':  // LONG_BINGET
          get(static_cast<std::uint32_t>(little_endian(4)));
          break;
        case 'Q':  // BINPERSID
          push(persistent(pop()));
          break;
        case 'R': {  // REDUCE
          Value* args = pop();
          Value* callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 'b': {  // BUILD: sets attributes; on a state dict only _metadata, which we ignore
          Value* state = pop();
          if (top()->kind != Kind::Dict ||
              (state->kind != Kind::Dict && state->kind != Kind::None)) {
            fail("BUILD of " + describe(top()) + " with " + describe(state) +
                 " (only a state dict's metadata is expected)");
          }
          break;
        }
        case '.':  // STOP
          if (stack_.size() != 1 || !marks_.empty()) fail("STOP with an unbalanced stack");
          return stack_.back();
        default:
          fail(opcode_text(op) + " is not one a state dict needs (simtune never runs pickle code)");
      }
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(origin_ + ": byte " + std::to_string(op_pos_) + ": " + what);
  }

 private:
  const std::uint8_t* take(std::size_t n) {
    if (n > bytes_.size() - pos_) fail("the pickle ends inside an opcode (no STOP)");
    const std::uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::uint64_t little_endian(std::size_t n) {
    const std::uint8_t* p = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }

  std::int64_t long1() {
    const std::size_t n = *take(1);
    if (n > 8) fail("LONG1 of " + std::to_string(n) + " bytes does not fit 64 bits");
    if (n == 0) return 0;
    const std::uint64_t raw = little_endian(n);
    // Sign-extend from the top bit of the n-th byte.
    const unsigned shift = static_cast<unsigned>(64 - 8 * n);
    return static_cast<std::int64_t>(raw << shift) >> shift;
  }

  // A GLOBAL operand: text up to '\n'. Module and attribute names are short.
  std::string line() {
    std::string s;
    for (;;) {
      const char c = static_cast<char>(*take(1));
      if (c == '\n') return s;
      if (s.size() >= 256) fail("GLOBAL name longer than 256 bytes");
      s += c;
    }
  }

  Value* make(Kind kind) {
    if (arena_.size() >= kMaxValues) {
      fail("more than " + std::to_string(kMaxValues) + " values, far beyond any state dict");
    }
    arena_.push_back(std::make_unique<Value>());
    arena_.back()->kind = kind;
    return arena_.back().get();
  }

  Value* make_int(Kind kind, std::int64_t n) {
    Value* v = make(kind);
    v->number = n;
    return v;
  }

  void push(Value* v) { stack_.push_back(v); }

  void push_string(std::uint64_t n) {
    if (n > bytes_.size() - pos_) fail("a string runs past the end of the pickle");
    Value* v = make(Kind::String);
    const std::uint8_t* p = take(static_cast<std::size_t>(n));
    v->text.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    push(v);
  }

  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  Value* top() const {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }

  Value* pop() {
    Value* v = top();
    stack_.pop_back();
    return v;
  }

  std::string pop_string(const char* what) {
    Value* v = pop();
    if (v->kind != Kind::String) fail(std::string(what) + " is " + describe(v) + ", not a string");
    return v->text;
  }

  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  void put(std::uint32_t index) { memo_[index] = top(); }

  void get(std::uint32_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
    push(it->second);
  }

  // The dict being filled is the value under the key and value just popped; pickled dicts are
  // never shared before they are filled, so it is modified in place.
  void set_item(Value* key, Value* value) {
    Value* dict = top();
    if (dict->kind != Kind::Dict) fail("SETITEM on " + describe(dict) + ", not a dict");
    if (key->kind != Kind::String) fail("dict key " + describe(key) + " is not a string");
    const auto [it, inserted] = dict->index.emplace(key->text, dict->entries.size());
    if (inserted) {
      dict->entries.emplace_back(key->text, value);
    } else {
      dict->entries[it->second].second = value;  // Python's dict keeps the last value
    }
  }

  Value* global(const std::string& module, const std::string& name) {
    Value* g = make(Kind::Global);
    g->text = printable(module) + "." + printable(name);
    if (module == "collections" && name == "OrderedDict") {
      g->callable = Callable::OrderedDict;
      return g;
    }
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      g->callable = Callable::RebuildTensor;
      return g;
    }
    if (module == "torch._utils" && name == "_rebuild_parameter") {
      g->callable = Callable::RebuildParameter;
      return g;
    }
    if (module == "torch") {
      for (const StorageType& s : kStorageTypes) {
        if (name == s.name) {
          g->callable = Callable::StorageType;
          g->dtype = s.dtype;
          return g;
        }
      }
    }
    fail("GLOBAL " + g->text +
         " is refused: a state dict needs only collections.OrderedDict, "
         "torch._utils._rebuild_tensor_v2 and torch storage types (simtune never runs pickle "
         "code)");
  }

  // ("storage", torch.<T>Storage, key, location, numel), torch.save's persistent id.
  Value* persistent(Value* pid) {
    const bool ok = pid->kind == Kind::Tuple && pid->items.size() == 5 &&
                    pid->items[0]->kind == Kind::String && pid->items[0]->text == "storage" &&
                    pid->items[1]->kind == Kind::Global &&
                    pid->items[1]->callable == Callable::StorageType &&
                    pid->items[2]->kind == Kind::String && pid->items[3]->kind == Kind::String &&
                    pid->items[4]->kind == Kind::Int && pid->items[4]->number >= 0;
    if (!ok) {
      fail("persistent id " + describe(pid) +
           " is not (\"storage\", torch.<type>Storage, key, location, numel)");
    }
    Value* s = make(Kind::Storage);
    s->dtype = pid->items[1]->dtype;
    s->text = pid->items[2]->text;
    s->number = pid->items[4]->number;
    return s;
  }

  std::vector<std::int64_t> int_tuple(Value* v, const char* what) {
    if (v->kind != Kind::Tuple) fail(std::string(what) + " is " + describe(v) + ", not a tuple");
    if (v->items.size() > kMaxDims) {
      fail(std::string(what) + " has " + std::to_string(v->items.size()) + " dimensions, over " +
           std::to_string(kMaxDims));
    }
    std::vector<std::int64_t> out;
    for (Value* item : v->items) {
      if (item->kind != Kind::Int || item->number < 0) {
        fail(std::string(what) + " holds " + describe(item) + ", not a non-negative integer");
      }
      out.push_back(item->number);
    }
    return out;
  }

  bool empty_dict(Value* v) const { return v->kind == Kind::Dict && v->entries.empty(); }

  Value* reduce(Value* callable, Value* args) {
    if (callable->kind != Kind::Global || callable->callable == Callable::StorageType) {
      fail("REDUCE calls " + describe(callable) + ", which a state dict never calls");
    }
    if (args->kind != Kind::Tuple) fail("REDUCE arguments are " + describe(args) + ", not a tuple");
    const std::vector<Value*>& a = args->items;
    if (callable->callable == Callable::OrderedDict) {
      if (!a.empty()) fail("collections.OrderedDict called with arguments");
      return make(Kind::Dict);
    }
    if (callable->callable == Callable::RebuildParameter) {
      // (data, requires_grad, backward_hooks): a Parameter is its tensor here.
      if (a.size() != 3 || a[0]->kind != Kind::Tensor || a[1]->kind != Kind::Bool ||
          !empty_dict(a[2])) {
        fail("torch._utils._rebuild_parameter arguments are not (tensor, bool, {})");
      }
      return a[0];
    }
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
    if ((a.size() != 6 && a.size() != 7) || a[0]->kind != Kind::Storage ||
        a[1]->kind != Kind::Int || a[1]->number < 0 || a[4]->kind != Kind::Bool ||
        !empty_dict(a[5]) || (a.size() == 7 && a[6]->kind != Kind::None && !empty_dict(a[6]))) {
      fail(
          "torch._utils._rebuild_tensor_v2 arguments are not (storage, offset, size, stride, "
          "requires_grad, {})");
    }
    Value* t = make(Kind::Tensor);
    t->storage = a[0];
    t->offset = a[1]->number;
    t->shape = int_tuple(a[2], "a tensor's size");
    t->stride = int_tuple(a[3], "a tensor's stride");
    if (t->shape.size() != t->stride.size()) {
      fail("a tensor's size " + shape_text(t->shape) + " and stride " + shape_text(t->stride) +
           " differ in length");
    }
    return t;
  }

  std::span<const std::uint8_t> bytes_;
  std::string origin_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::vector<std::unique_ptr<Value>> arena_;  // owns every value; the rest point into it
  std::vector<Value*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, Value*> memo_;
};

// A tensor record checked to be a plain view the reader can copy: contiguous, inside its storage.
PickledTensor to_record(const std::string& name, Value* t, const std::string& origin) {
  auto fail = [&](const std::string& what) {
    throw Error(origin + ": tensor \"" + printable(name) + "\" " + what);
  };
  PickledTensor r;
  r.name = name;
  r.dtype = t->storage->dtype;
  r.storage = t->storage->text;
  r.storage_numel = t->storage->number;
  r.offset = t->offset;
  r.shape = t->shape;
  r.stride = t->stride;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t numel = 1;
  for (std::int64_t d : r.shape) {
    if (d != 0 && numel > kMax / d)
      fail("has a size " + shape_text(r.shape) + " overflowing 64 bits");
    numel *= d;
  }
  // torch's is_contiguous: row-major strides, where dimensions of size 1 may have any stride.
  std::int64_t expected = 1;
  for (std::size_t i = r.shape.size(); i-- > 0;) {
    if (r.shape[i] != 1 && r.stride[i] != expected && numel != 0) {
      fail("is not contiguous (size " + shape_text(r.shape) + ", stride " + shape_text(r.stride) +
           "); save it with .contiguous()");
    }
    expected *= r.shape[i];
  }
  if (r.offset > r.storage_numel || numel > r.storage_numel - r.offset) {
    fail("runs past its storage: offset " + std::to_string(r.offset) + " + " +
         std::to_string(numel) + " elements, storage of " + std::to_string(r.storage_numel));
  }
  return r;
}

}  // namespace

std::vector<PickledTensor> read_torch_pickle(std::span<const std::uint8_t> pickle,
                                             const std::string& origin) {
  Reader reader(pickle, origin);
  Value* result = reader.run();
  if (result->kind != Kind::Dict) {
    throw Error(origin + ": the pickle holds " + describe(result) +
                ", expected a state dict (a dict of tensors)");
  }
  std::vector<PickledTensor> tensors;
  for (const auto& [name, value] : result->entries) {
    if (value->kind != Kind::Tensor) {
      throw Error(origin + ": the value of \"" + printable(name) + "\" is " + describe(value) +
                  ", expected a tensor");
    }
    tensors.push_back(to_record(name, value, origin));
  }
  return tensors;
}

}  // namespace simtune
