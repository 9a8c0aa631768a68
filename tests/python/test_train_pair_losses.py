#!/usr/bin/python3
"""ContrastiveLoss and OnlineContrastiveLoss on STS pairs with 0/1 labels against the PyTorch
reference: gradients of a batch and a 50-step trajectory (tests/python/loss_parity.py)."""

import loss_parity

if __name__ == "__main__":
    loss_parity.main(lambda workdir: [("binary", ["--loss", loss], loss)
                                      for loss in ("ContrastiveLoss", "OnlineContrastiveLoss")])
