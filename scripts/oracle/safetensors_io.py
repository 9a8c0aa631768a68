"""Minimal safetensors reader/writer with json + numpy only.

Format: u64 little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the data buffer that the offsets index into.
"""

import json
import struct
from pathlib import Path

import numpy as np

_NUMPY_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _decode(dtype, raw, shape, name):
    if dtype == "BF16":
        # bfloat16 is the upper half of a float32, numpy has no native type for it.
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape)
    if dtype not in _NUMPY_DTYPES:
        raise ValueError(f"tensor {name}: unsupported dtype {dtype}")
    return np.frombuffer(raw, dtype=np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<")).reshape(shape)


def load(path):
    """Returns ({name: array in the stored dtype, BF16 widened to float32}, metadata)."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} runs past the file")
    header = json.loads(data[8:8 + header_len])
    buffer = memoryview(data)[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(buffer):
            raise ValueError(f"{path}: tensor {name} offsets {begin}..{end} outside the data")
        tensors[name] = _decode(info["dtype"], buffer[begin:end], info["shape"], name)
    return tensors, metadata


def load_f32(path):
    """Every floating tensor converted to a writable float32 array."""
    tensors, _ = load(path)
    out = {}
    for name, array in tensors.items():
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"{path}: tensor {name} is {array.dtype}, expected a float type")
        out[name] = np.array(array, dtype=np.float32)
    return out


def _encode(array, dtype):
    array = np.ascontiguousarray(array, dtype="<f4")
    if dtype == "F32":
        return array.tobytes()
    if dtype == "F16":
        return array.astype("<f2").tobytes()
    if dtype == "BF16":
        # Round to nearest even on the dropped lower 16 bits, as torch's float->bfloat16 does.
        bits = array.view("<u4").astype(np.uint64)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return rounded.astype("<u2").tobytes()
    raise ValueError(f"cannot write dtype {dtype}")


def save(path, tensors, dtype="F32", metadata=None):
    """Writes float {name: array} as one dtype (F32, F16 or BF16), names sorted and the header
    padded to 8 bytes, as the Python safetensors writer does."""
    header = {"__metadata__": metadata if metadata is not None else {"format": "pt"}}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        raw = _encode(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(tensors[name])),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)
