#!/usr/bin/python3
"""MatryoshkaLoss around CoSENTLoss (dimensions out of order, with weights) against the PyTorch
reference: gradients of a batch and a 50-step trajectory (tests/python/loss_parity.py); then `simtune encode --dimensions 64` of the trained model, with
and without --normalize, against the reference's embeddings cut as sentence-transformers'
truncate_dim cuts them (then normalised when asked), within 1e-5."""

import numpy as np
import torch.nn.functional as F

import oracle_common as oc  # first: it puts scripts/oracle on sys.path
import bert_reference
import loss_parity
import test_train_parity as parity
import train_reference

DIMS = [128, 384, 64, 256]  # the library sorts them, largest first, with their weights
WEIGHTS = [0.25, 1.0, 2.0, 0.5]
CUT = 64
EMBED_TOLERANCE = 1e-5


def check_truncated_encode(args, checks, model_dir):
    inputs = args.workdir / "embed-inputs.txt"
    oc.write_lines(inputs, oc.varied_sentences(count=20, long_lines=0))
    ids = [row["ids"] for row in oc.read_jsonl(oc.run(
        [args.simtune, "tokenize", "--model", model_dir, "--input", inputs]))]
    full = bert_reference.forward_ids(bert_reference.load_model(model_dir), ids)[2].detach()
    for flags, expected in (([], full[:, :CUT]),
                            (["--normalize"], F.normalize(full[:, :CUT], p=2, dim=1))):
        out = args.workdir / "cut.npy"
        oc.run([args.simtune, "encode", "--model", model_dir, "--input", inputs, "--output", out,
                "--dimensions", CUT, *flags, "--quiet"])
        checks.close(f"encode --dimensions {CUT} {' '.join(flags)}", np.load(out),
                     expected.numpy(), EMBED_TOLERANCE)


def main():
    args = parity.parse_args()
    checks = oc.Checks()
    model_dir, data = loss_parity.prepare(args)
    loss_parity.check_loss(
        args, checks, model_dir, data["sts"],
        ["--loss", "CoSENTLoss", "--matryoshka-dims", ",".join(map(str, DIMS)),
         "--matryoshka-weights", ",".join(map(str, WEIGHTS))],
        train_reference.matryoshka("CoSENTLoss", DIMS, WEIGHTS))
    check_truncated_encode(args, checks, args.workdir / "trained")
    checks.finish()


if __name__ == "__main__":
    main()
