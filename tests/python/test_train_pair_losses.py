#!/usr/bin/python3
"""ContrastiveLoss and OnlineContrastiveLoss (0/1 labels), TripletLoss ((anchor, positive,
negative)) and MSELoss (the STS pairs against random teacher embeddings) against the PyTorch
reference: gradients of a batch and a 50-step trajectory (tests/python/loss_parity.py)."""

import loss_parity

if __name__ == "__main__":
    loss_parity.main(lambda workdir: [(data, ["--loss", loss], loss) for data, loss in (
        ("binary", "ContrastiveLoss"),
        ("binary", "OnlineContrastiveLoss"),
        ("triplets", "TripletLoss"))] +
        [("teacher", ["--loss", "MSELoss", "--teacher-embeddings", workdir / "teacher.npy"],
          "MSELoss")])
