"""Similarity, semantic search and paraphrase mining, as sentence_transformers.util.

Results are numpy arrays and plain lists where sentence-transformers returns torch tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Sequence, Union

import numpy as np

from . import _simtune

if TYPE_CHECKING:
    from .sentence_transformer import SentenceTransformer

ArrayLike = Union[np.ndarray, Sequence[float], Sequence[Sequence[float]]]


def _rows(x: ArrayLike, name: str) -> np.ndarray:
    if x is None:
        raise TypeError(f"{name}: expected an array, got None")
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 1-D or 2-D array, got {a.ndim} dimensions")
    return a


def _normalize(a: np.ndarray) -> np.ndarray:
    # F.normalize's rule: divide by max(norm, 1e-12).
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(norms, np.float32(1e-12))


def cos_sim(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Cosine similarity of every row of a with every row of b: float32 (len(a), len(b)).
    A 1-D input is one row. ValueError when the widths differ."""
    a, b = _rows(a, "a"), _rows(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"cos_sim: a has width {a.shape[1]}, b has width {b.shape[1]}")
    return _normalize(a) @ _normalize(b).T


def dot_score(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Dot product of every row of a with every row of b: float32 (len(a), len(b))."""
    a, b = _rows(a, "a"), _rows(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"dot_score: a has width {a.shape[1]}, b has width {b.shape[1]}")
    return a @ b.T


def _distances(a: ArrayLike, b: ArrayLike, name: str, p: int) -> np.ndarray:
    a, b = _rows(a, "a"), _rows(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name}: a has width {a.shape[1]}, b has width {b.shape[1]}")
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float32)
    b64 = b.astype(np.float64)
    # A row of a at a time: the (n1, n2, d) differences at once could take gigabytes.
    for i, row in enumerate(a.astype(np.float64)):
        out[i] = np.linalg.norm(b64 - row, ord=p, axis=1)
    return out


def euclidean_sim(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Negative Euclidean distance of every row of a to every row of b (larger is closer):
    float32 (len(a), len(b)), as sentence_transformers.util.euclidean_sim (-torch.cdist)."""
    return -_distances(a, b, "euclidean_sim", 2)


def manhattan_sim(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Negative Manhattan (L1) distance of every row of a to every row of b: float32
    (len(a), len(b)), as sentence_transformers.util.manhattan_sim (-torch.cdist, p=1)."""
    return -_distances(a, b, "manhattan_sim", 1)


#: sentence-transformers' SimilarityFunction names and the functions they stand for.
SIMILARITY_FUNCTIONS = {
    "cosine": cos_sim,
    "dot": dot_score,
    "euclidean": euclidean_sim,
    "manhattan": manhattan_sim,
}


def semantic_search(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 500000,
    top_k: int = 10,
) -> List[List[Dict[str, Union[int, float]]]]:
    """For each query, the top_k most cosine-similar corpus rows, best first, as
    [{'corpus_id': int, 'score': float}, ...]. Chunk sizes are accepted for compatibility;
    they do not change the hits. Ties go to the lower corpus index."""
    return _simtune.semantic_search(
        _rows(query_embeddings, "query_embeddings"),
        _rows(corpus_embeddings, "corpus_embeddings"),
        top_k,
    )


def paraphrase_mining_embeddings(
    embeddings: ArrayLike,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
) -> List[List[Union[float, int]]]:
    """Pairs [score, i, j] (i < j) of rows among each other's top_k most cosine-similar rows,
    best first, with sentence-transformers' chunking and max_pairs cap."""
    return _simtune.paraphrase_mining_embeddings(
        _rows(embeddings, "embeddings"), query_chunk_size, corpus_chunk_size, max_pairs, top_k
    )


def paraphrase_mining(
    model: "SentenceTransformer",
    sentences: Sequence[str],
    show_progress_bar: bool = False,
    batch_size: int = 32,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
) -> List[List[Union[float, int]]]:
    """Encodes `sentences` with `model` and mines paraphrase pairs [score, i, j] among them
    (paraphrase_mining_embeddings)."""
    embeddings = model.encode(sentences, batch_size=batch_size, show_progress_bar=show_progress_bar)
    return paraphrase_mining_embeddings(
        embeddings, query_chunk_size, corpus_chunk_size, max_pairs, top_k
    )
