"""SentenceTransformer: load a model, embed texts, compare embeddings, save."""

from __future__ import annotations

import os
import sys
from typing import Callable, Optional, Sequence, Union

import numpy as np

from . import _simtune, util


def _progress_bar(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


class SentenceTransformer:
    """A sentence-embedding model, as sentence_transformers.SentenceTransformer.

    `model_name_or_path` is a local model directory (sentence-transformers or plain Hugging Face
    BERT layout) or a hub id `org/name[@revision]`, resolved as the command line's --model:
    a local directory of that name wins, downloads go to Hugging Face's cache, and
    HF_HUB_OFFLINE=1 uses the cache only. OSError when it cannot be found or read.
    """

    #: The similarity function `similarity` computes (simtune reads no other yet).
    similarity_fn_name = "cosine"

    def __init__(self, model_name_or_path: Union[str, os.PathLike]) -> None:
        self._engine = _simtune.Encoder(os.fspath(model_name_or_path))

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
        batches. `show_progress_bar=True` prints progress on stderr (None means off).
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
        progress = _progress_bar("encode") if show_progress_bar else None
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
        """Cosine similarity of every row of embeddings1 with every row of embeddings2:
        a float32 array (n1, n2), as util.cos_sim."""
        return util.cos_sim(embeddings1, embeddings2)

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
