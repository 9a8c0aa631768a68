#!/usr/bin/python3
"""MultipleNegativesRankingLoss on (anchor, positive, negative) triplets,
MultipleNegativesSymmetricRankingLoss on the STS file read as (anchor, positive) (its scores
ignored), and CachedMultipleNegativesRankingLoss (against MNRL's formula) against the PyTorch
reference:
gradients of a batch and a 50-step trajectory (tests/python/loss_parity.py)."""

import loss_parity

if __name__ == "__main__":
    loss_parity.main(lambda workdir: [(data, ["--loss", loss], loss) for data, loss in (
        ("triplets", "MultipleNegativesRankingLoss"),
        ("sts", "MultipleNegativesSymmetricRankingLoss"))] +
        # GradCache over mini-batches of 3 of a batch's 12 texts: MNRL's loss and gradients.
        [("triplets", ["--loss", "CachedMultipleNegativesRankingLoss", "--mini-batch-size", 3],
          "MultipleNegativesRankingLoss")])
