"""simtune: sentence-transformers' everyday API on simtune's C++ engine.

    import simtune
    model = simtune.SentenceTransformer("path/or/org/name")
    emb = model.encode(["A man is playing a guitar.", "Someone plays guitar."])
    model.similarity(emb, emb)
    simtune.fit(model, "pairs.tsv", output="tuned", score_scale=5)

The numbers are those of the `simtune` command line, bit for bit: the same engine runs both.
Encoding and training run without the GIL; Ctrl-C stops them between batches or steps with
KeyboardInterrupt. Errors are ValueError for bad input, OSError for files, TypeError for
arguments of the wrong type, with the command line's messages.
"""

from . import util
from ._simtune import (
    EvalRecord,
    SimilarityMetrics,
    StepReport,
    TrainResult,
    kernels,
    set_num_threads,
)
from .sentence_transformer import SentenceTransformer
from .training import fit

__version__ = "0.1.0"

__all__ = [
    "EvalRecord",
    "SentenceTransformer",
    "SimilarityMetrics",
    "StepReport",
    "TrainResult",
    "fit",
    "kernels",
    "set_num_threads",
    "util",
]
