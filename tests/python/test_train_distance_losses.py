#!/usr/bin/python3
"""TripletLoss on (anchor, positive, negative) and MSELoss on STS pairs, and on their first
sentences alone (a one-column file, as the library's MSELoss takes (text) examples), against
random teacher embeddings (a .npy) against the PyTorch reference: gradients of a batch and a
50-step trajectory (tests/python/loss_parity.py)."""

import loss_parity

if __name__ == "__main__":
    loss_parity.main(lambda workdir: [
        ("triplets", ["--loss", "TripletLoss"], "TripletLoss"),
        ("teacher", ["--loss", "MSELoss", "--teacher-embeddings", workdir / "teacher.npy"],
         "MSELoss"),
        ("teacher-texts", ["--loss", "MSELoss", "--teacher-embeddings", workdir / "teacher.npy"],
         "MSELoss")])
