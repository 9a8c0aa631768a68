"""Exports a simtune / sentence-transformers model directory to ONNX with Debian's PyTorch, for
the ONNX Runtime side of bench/serve_bench.py: scripts/oracle/bert_reference.py's mirror of the
model (Transformer, Pooling, Dense, Normalize as modules.json lists them) plus TEI's default L2
normalization, traced by torch.onnx.export (offline; no `onnx` package needed).
Inputs input_ids, attention_mask (int64, batch x length); output sentence_embedding.
Usage: bench/onnx_export.py --model DIR --out model.onnx"""
import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "oracle"))
import bert_reference  # noqa: E402


class Served(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        _, pooled = self.model(input_ids, attention_mask)
        return F.normalize(pooled, p=2, dim=1)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    served = Served(bert_reference.load_model(args.model)).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2088, 102, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    with torch.no_grad():
        torch.onnx.export(served, (ids, mask), args.out, input_names=["input_ids", "attention_mask"],
                          output_names=["sentence_embedding"], opset_version=14,
                          dynamic_axes={"input_ids": {0: "batch", 1: "length"},
                                        "attention_mask": {0: "batch", 1: "length"},
                                        "sentence_embedding": {0: "batch"}})


if __name__ == "__main__":
    main()
