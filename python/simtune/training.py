"""fit: fine-tune a SentenceTransformer with the options of `simtune train`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple, Union

from . import _simtune
from .sentence_transformer import SentenceTransformer

PairsLike = Union[str, os.PathLike, Sequence[Tuple[Union[str, float], ...]]]


def _pairs(source: PairsLike, options: _simtune.PairFileOptions) -> _simtune.Pairs:
    if isinstance(source, (str, os.PathLike)):
        return _simtune.Pairs.from_file(os.fspath(source), options)
    # sentence-transformers' own containers: an EmbeddingSimilarityEvaluator (sentences1,
    # sentences2, scores) and InputExamples (texts, label).
    if hasattr(source, "sentences1"):
        rows = zip(source.sentences1, source.sentences2, source.scores)
        return _simtune.Pairs.from_list(list(rows), options)
    return _simtune.Pairs.from_list(
        [(*r.texts, r.label) if hasattr(r, "texts") else r for r in source], options
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
    negative_columns: Optional[Sequence[str]] = None,
    skip_bad_rows: bool = False,
    matryoshka_dims: Optional[Sequence[int]] = None,
    matryoshka_weights: Optional[Sequence[float]] = None,
    mini_batch_size: int = 32,
    teacher_embeddings: Optional[Union[str, os.PathLike]] = None,
    num_labels: int = 0,
    loss_init: Optional[Union[str, os.PathLike]] = None,
    batch_sampler: str = "batch_sampler",
    log_file: Optional[Union[str, os.PathLike]] = None,
    checkpoint_steps: int = 0,
    checkpoint_limit: int = 3,
    overlap: bool = True,
    resume: Optional[Union[str, os.PathLike]] = None,
    callback: Optional[Callable[[_simtune.StepReport], None]] = None,
) -> _simtune.TrainResult:
    """Fine-tunes `model` as `simtune train --model <model.path> ...` does, with the same
    options under the same names, and the same numbers: for a seed, the training log
    (`log_file`) is the command line's, bit for bit.

    `loss` is any of `simtune train --loss`'s (sentence-transformers' names and defaults:
    CosineSimilarityLoss, MultipleNegativesRankingLoss, CoSENTLoss, ...), wrapped in
    MatryoshkaLoss with `matryoshka_dims` (and `matryoshka_weights`); `mini_batch_size` is the
    cached loss's, `teacher_embeddings` MSELoss's .npy, `num_labels` SoftmaxLoss's classes (0:
    the largest label + 1) and `loss_init` a .safetensors of its classifier to start from,
    `batch_sampler="no_duplicates"` the library's NoDuplicatesBatchSampler.

    `train` is read in the loss's shape: a file (TSV/CSV/JSONL, with score_scale and the column
    options, as the command line reads it) or a list of tuples, texts then the label when the
    loss takes one: (text_a, text_b, score) with scores already in the loss's range (for
    CosineSimilarityLoss [0, 1]), or (anchor, positive[, negative...]). `evaluator` (dev pairs)
    and `test` are scored pairs, in a file or as (text_a, text_b, score) with scores in [0, 1].
    A list of sentence-transformers' InputExample (texts, label) and an
    EmbeddingSimilarityEvaluator (sentences1, sentences2, scores, name) are read as such. With an evaluator the model is
    evaluated before training, every epoch and every eval_steps, and `output` keeps the best
    model; `test` is evaluated once on the saved model. `callback(report)` runs after every
    step with a StepReport (step, total_steps, epoch, loss, lr, grad_norm, pairs_per_s).

    Training runs without the GIL. Ctrl-C (or an exception from the callback) stops it after
    the current step: the exception reaches the caller, and every file already in `output`
    is complete (files are replaced atomically; the model is saved only at evaluations and at
    the end). On success `model` is reloaded from `output`, as sentence-transformers' fit
    leaves the trained model in the object. Returns a TrainResult (steps, last_loss,
    seconds, evals).

    Under `mpirun -np N python3 script.py` fit trains data-parallel as `simtune train` does
    (docs/distributed.md): rank 0 alone logs, calls `callback`, evaluates and writes `output`,
    and every rank returns once it is written, with `model` reloaded from it. There the
    gradients of each encoder layer are exchanged while backward goes on to the next;
    `overlap=False` (`simtune train --no-overlap`) exchanges them all after backward instead,
    with the same result bit for bit.

    The model's weights and configuration are read
    from its directory (`model.path`), so an unsaved max_seq_length change does not apply.
    """
    if batch_sampler not in ("batch_sampler", "no_duplicates"):
        raise ValueError(f"batch_sampler: {batch_sampler!r} is not 'batch_sampler' or "
                         "'no_duplicates'")
    if callback is not None and not callable(callback):
        raise TypeError("callback: expected a callable taking a StepReport")
    options = _simtune.TrainOptions()
    values = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        warmup_ratio=warmup_ratio,
        warmup_steps=-1 if warmup_steps is None else warmup_steps,
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
        adam_eps=adam_eps,
        seed=seed,
        max_steps=-1 if max_steps is None else max_steps,
        shuffle=shuffle,
        dropout=-1.0 if dropout is None else dropout,
        log_file=os.fspath(log_file) if log_file is not None else "",
        checkpoint_steps=checkpoint_steps,
        checkpoint_limit=checkpoint_limit,
        resume=os.fspath(resume) if resume is not None else "",
        eval_steps=eval_steps,
        loss=loss,
        matryoshka_dims=list(matryoshka_dims or ()),
        matryoshka_weights=list(matryoshka_weights or ()),
        mini_batch_size=mini_batch_size,
        teacher_embeddings=os.fspath(teacher_embeddings) if teacher_embeddings is not None else "",
        no_duplicates=batch_sampler == "no_duplicates",
        num_labels=num_labels,
        loss_init=os.fspath(loss_init) if loss_init is not None else "",
        overlap=overlap,
    )
    for name, value in values.items():
        try:
            setattr(options, name, value)
        except TypeError:
            # An integer that does not fit the option's C++ type (a negative count, one beyond
            # 64 bits) is out of range; the ranges themselves are checked by the library.
            if isinstance(value, int) and not isinstance(value, bool):
                raise ValueError(f"{name}: {value!r} is out of range") from None
            raise
    options.validate()

    file_options = _simtune.PairFileOptions()
    file_options.score_scale = score_scale
    file_options.skip_bad_rows = skip_bad_rows
    file_options.text_a_column = text_a_column or ""
    file_options.text_b_column = text_b_column or ""
    file_options.score_column = score_column or ""
    file_options.negative_columns = list(negative_columns or ())
    # The training data in the loss's shape (its score, or none); evaluation sets stay scored pairs.
    train_options = _simtune.with_loss_shape(file_options, loss, num_labels)

    # A training file is checked once and then read row by row as batches need its rows (under
    # mpirun each rank reads only its own); a list is already in memory.
    if isinstance(train, (str, os.PathLike)):
        pairs = _simtune.PairFile(os.fspath(train), train_options)
    else:
        pairs = _pairs(train, train_options)
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
