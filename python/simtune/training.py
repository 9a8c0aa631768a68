"""fit: fine-tune a SentenceTransformer with the options of `simtune train`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple, Union

from . import _simtune
from .sentence_transformer import SentenceTransformer

PairsLike = Union[str, os.PathLike, Sequence[Tuple[str, str, float]]]


def _pairs(source: PairsLike, options: _simtune.PairFileOptions) -> _simtune.Pairs:
    if isinstance(source, (str, os.PathLike)):
        return _simtune.Pairs.from_file(os.fspath(source), options)
    # sentence-transformers' own containers: an EmbeddingSimilarityEvaluator (sentences1,
    # sentences2, scores) and InputExamples (texts, label).
    if hasattr(source, "sentences1"):
        rows = zip(source.sentences1, source.sentences2, source.scores)
        return _simtune.Pairs.from_list(list(rows))
    return _simtune.Pairs.from_list(
        [(r.texts[0], r.texts[1], r.label) if hasattr(r, "texts") else r for r in source]
    )


def _name(source: PairsLike, name: Optional[str], default: str) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).stem
    return getattr(source, "name", None) or default


def fit(
    model: SentenceTransformer,
    train: PairsLike,
    *,
    output: Union[str, os.PathLike],
    loss: str = "CosineSimilarityLoss",
    epochs: int = 4,
    batch_size: int = 16,
    lr: float = 2e-5,
    warmup_ratio: float = 0.1,
    warmup_steps: Optional[int] = None,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    adam_eps: float = 1e-8,
    seed: int = 42,
    max_steps: Optional[int] = None,
    shuffle: bool = True,
    dropout: Optional[float] = None,
    evaluator: Optional[PairsLike] = None,
    eval_name: Optional[str] = None,
    eval_steps: int = 0,
    test: Optional[PairsLike] = None,
    test_name: Optional[str] = None,
    score_scale: float = 1.0,
    text_a_column: Optional[str] = None,
    text_b_column: Optional[str] = None,
    score_column: Optional[str] = None,
    skip_bad_rows: bool = False,
    log_file: Optional[Union[str, os.PathLike]] = None,
    checkpoint_steps: int = 0,
    checkpoint_limit: int = 3,
    resume: Optional[Union[str, os.PathLike]] = None,
    callback: Optional[Callable[[_simtune.StepReport], None]] = None,
) -> _simtune.TrainResult:
    """Fine-tunes `model` as `simtune train --model <model.path> ...` does, with the same
    options under the same names, and the same numbers: for a seed, the training log
    (`log_file`) is the command line's, bit for bit.

    `train`, `evaluator` (dev pairs) and `test` are a pair file (TSV/CSV/JSONL, read with
    score_scale and the column options, as the command line reads them) or a list of
    (text_a, text_b, score) with scores already in [0, 1]; a list of sentence-transformers'
    InputExample (texts, label) and an EmbeddingSimilarityEvaluator (sentences1, sentences2,
    scores, name) are read as such. With an evaluator the model is
    evaluated before training, every epoch and every eval_steps, and `output` keeps the best
    model; `test` is evaluated once on the saved model. `callback(report)` runs after every
    step with a StepReport (step, total_steps, epoch, loss, lr, grad_norm, pairs_per_s).

    Training runs without the GIL. Ctrl-C (or an exception from the callback) stops it after
    the current step: the exception reaches the caller, and every file already in `output`
    is complete (files are replaced atomically; the model is saved only at evaluations and at
    the end). On success `model` is reloaded from `output`, as sentence-transformers' fit
    leaves the trained model in the object. Returns a TrainResult (steps, last_loss,
    seconds, evals).

    Only CosineSimilarityLoss is implemented. The model's weights and configuration are read
    from its directory (`model.path`), so an unsaved max_seq_length change does not apply.
    """
    if loss != "CosineSimilarityLoss":
        raise ValueError(f"loss={loss!r}: simtune implements only CosineSimilarityLoss")
    if callback is not None and not callable(callback):
        raise TypeError("callback: expected a callable taking a StepReport")
    file_options = _simtune.PairFileOptions()
    file_options.score_scale = score_scale
    file_options.skip_bad_rows = skip_bad_rows
    file_options.text_a_column = text_a_column or ""
    file_options.text_b_column = text_b_column or ""
    file_options.score_column = score_column or ""

    options = _simtune.TrainOptions()
    for positive, value in (("epochs", epochs), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{positive} must be at least 1, got {value}")
    options.epochs = epochs
    options.batch_size = batch_size
    options.lr = lr
    options.warmup_ratio = warmup_ratio
    options.warmup_steps = -1 if warmup_steps is None else warmup_steps
    options.weight_decay = weight_decay
    options.max_grad_norm = max_grad_norm
    options.adam_eps = adam_eps
    options.seed = seed
    options.max_steps = -1 if max_steps is None else max_steps
    options.shuffle = shuffle
    options.dropout = -1.0 if dropout is None else dropout
    options.log_file = os.fspath(log_file) if log_file is not None else ""
    options.checkpoint_steps = checkpoint_steps
    options.checkpoint_limit = checkpoint_limit
    options.resume = os.fspath(resume) if resume is not None else ""
    options.eval_steps = eval_steps

    pairs = _pairs(train, file_options)
    dev = _pairs(evaluator, file_options) if evaluator is not None else None
    test_pairs = _pairs(test, file_options) if test is not None else None
    result = _simtune.train(
        model.path,
        options,
        pairs,
        os.fspath(output),
        dev,
        _name(evaluator, eval_name, "dev") if evaluator is not None else "",
        test_pairs,
        _name(test, test_name, "test") if test is not None else "",
        callback,
    )
    model._reload(output)
    return result
