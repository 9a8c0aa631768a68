#!/usr/bin/python3
"""CoSENTLoss and AnglELoss on STS scored pairs against the PyTorch reference: gradients of a
batch and a 50-step trajectory (tests/python/loss_parity.py)."""

import loss_parity

if __name__ == "__main__":
    loss_parity.main(lambda workdir: [("sts", ["--loss", loss], loss) for loss in ("CoSENTLoss", "AnglELoss")])
