"""SentenceTransformer: load a model, embed texts, compare embeddings, save."""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Optional, Sequence, Union

import numpy as np

from . import _simtune, util


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class _ProgressBar:
    """tqdm's bar on stderr, redrawn in place after each batch:
    `Batches:  40%|████      | 400/1000 [00:01<00:02, 312.50it/s]` (elapsed<remaining, rate
    in sentences per second)."""

    WIDTH = 10

    def __init__(self, label: str, stream=None) -> None:
        self.label, self.stream = label, stream or sys.stderr
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.start
        fraction = done / total if total else 1.0
        eighths = int(fraction * self.WIDTH * 8)
        bar = "█" * (eighths // 8)
        if eighths % 8:
            bar += " ▏▎▍▌▋▊▉"[eighths % 8]
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = _clock((total - done) / rate) if rate > 0 else "?"
        line = (f"{self.label}: {fraction:4.0%}|{bar:<{self.WIDTH}}| {done}/{total} "
                f"[{_clock(elapsed)}<{remaining}, {rate:.2f}it/s]")
        print("\r" + line, end="\n" if done >= total else "", file=self.stream, flush=True)


class SentenceTransformer:
    """A sentence-embedding model, as sentence_transformers.SentenceTransformer.

    `model_name_or_path` is a local model directory (sentence-transformers or plain Hugging Face
    BERT layout) or a hub id `org/name[@revision]`, resolved as the command line's --model:
    a local directory of that name wins, downloads go to Hugging Face's cache, and
    HF_HUB_OFFLINE=1 uses the cache only. OSError when it cannot be found or read.
    """

    def __init__(self, model_name_or_path: Union[str, os.PathLike]) -> None:
        self._engine = _simtune.Encoder(os.fspath(model_name_or_path))
        self._similarity_fn_name = self._engine.similarity_fn_name

    @property
    def similarity_fn_name(self) -> str:
        """The function `similarity` computes: cosine, dot, euclidean or manhattan (the last
        two as negative distances), from the model's config_sentence_transformers.json as
        sentence-transformers reads it; settable. ValueError for another name."""
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, name: str) -> None:
        if name not in util.SIMILARITY_FUNCTIONS:
            raise ValueError(
                f"similarity_fn_name {name!r}: expected one of "
                f"{', '.join(util.SIMILARITY_FUNCTIONS)}"
            )
        self._similarity_fn_name = name

    def encode(
        self,
        sentences: Union[str, Sequence[str]],
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        normalize_embeddings: bool = False,
        prompt_name: Optional[str] = None,
        truncate_dim: Optional[int] = None,
    ) -> np.ndarray:
        """Embeds `sentences`: a float32 array (n, dimension), or (dimension,) for one str.

        The rows are `simtune encode`'s for the same texts, bit for bit; the array owns its
        memory (no copy is made, and it stays valid after the model is gone) unless
        `truncate_dim` asks for fewer columns. `normalize_embeddings` L2-normalises each row
        (after truncation, as sentence-transformers does). The GIL is released while the
        engine runs, so threads can encode at once; Ctrl-C raises KeyboardInterrupt between
        batches. `show_progress_bar=True` draws tqdm's progress bar (done/total, elapsed<remaining,
        sentences per second) on stderr; None means off.
        `prompt_name` picks one of the model's prompts (config_sentence_transformers.json);
        None applies its default prompt, if it has one, as sentence-transformers does.
        TypeError for items that are not str, ValueError for an unknown prompt_name or a bad
        batch_size / truncate_dim.
        """
        dimension = self.get_sentence_embedding_dimension()
        if truncate_dim is not None and not 1 <= truncate_dim <= dimension:
            raise ValueError(
                f"truncate_dim={truncate_dim}: must be between 1 and the embedding dimension "
                f"{dimension}"
            )
        single = isinstance(sentences, str)
        texts = [sentences] if single else sentences
        progress = _ProgressBar("Batches") if show_progress_bar else None
        # Truncation comes before normalisation, so the engine normalises only full rows.
        engine_normalizes = normalize_embeddings and truncate_dim is None
        emb = self._engine.encode(texts, batch_size, engine_normalizes, progress, prompt_name)
        if truncate_dim is not None:
            emb = np.ascontiguousarray(emb[:, :truncate_dim])
            if normalize_embeddings:
                norms = np.linalg.norm(emb, axis=1, keepdims=True)
                emb /= np.maximum(norms, np.float32(1e-12))
        return emb[0] if single else emb

    def similarity(self, embeddings1: np.ndarray, embeddings2: np.ndarray) -> np.ndarray:
        """The model's similarity (similarity_fn_name) of every row of embeddings1 with every
        row of embeddings2: a float32 array (n1, n2), as util.cos_sim, dot_score, euclidean_sim
        or manhattan_sim."""
        return util.SIMILARITY_FUNCTIONS[self._similarity_fn_name](embeddings1, embeddings2)

    def get_sentence_embedding_dimension(self) -> int:
        """Width of an embedding (the pooling output)."""
        return self._engine.dimension

    @property
    def max_seq_length(self) -> int:
        """Tokens a text is truncated to; settable (ValueError outside 1..the model's max
        positions). `save` writes it to sentence_bert_config.json."""
        return self._engine.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, tokens: int) -> None:
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            raise TypeError(f"max_seq_length: expected int, got {type(tokens).__name__}")
        if tokens < 1:
            raise ValueError(f"max_seq_length {tokens} is out of range: must be at least 1")
        self._engine.max_seq_length = tokens

    @property
    def path(self) -> str:
        """The model's directory (inside Hugging Face's cache for a hub id)."""
        return os.fspath(self._engine.path)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the model as a sentence-transformers directory (each file atomically), which
        sentence-transformers and simtune both load. OSError when it cannot be written."""
        self._engine.save(os.fspath(path))

    def _reload(self, path: Union[str, os.PathLike]) -> None:
        self._engine = _simtune.Encoder(os.fspath(path))

    def __repr__(self) -> str:
        return (
            f"SentenceTransformer({self.path!r}, "
            f"dimension={self.get_sentence_embedding_dimension()}, "
            f"max_seq_length={self.max_seq_length})"
        )
