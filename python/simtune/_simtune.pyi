"""Type stubs of the extension simtune._simtune (python/src/*.cpp)."""

from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

kernels: str

def set_num_threads(n: int) -> None: ...

class Encoder:
    def __init__(self, model_name_or_path: str) -> None: ...
    def encode(
        self,
        sentences: Sequence[str],
        batch_size: int = 32,
        normalize: bool = False,
        progress: Optional[Callable[[int, int], None]] = None,
        prompt_name: Optional[str] = None,
    ) -> np.ndarray: ...
    @property
    def dimension(self) -> int: ...
    @property
    def max_seq_length(self) -> int: ...
    @max_seq_length.setter
    def max_seq_length(self, tokens: int) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def normalizes(self) -> bool: ...
    @property
    def similarity_fn_name(self) -> str: ...
    def save(self, path: str) -> None: ...

def semantic_search(
    query_embeddings: np.ndarray, corpus_embeddings: np.ndarray, top_k: int = 10
) -> List[List[dict]]: ...
def paraphrase_mining_embeddings(
    embeddings: np.ndarray,
    query_chunk_size: int = 5000,
    corpus_chunk_size: int = 100000,
    max_pairs: int = 500000,
    top_k: int = 100,
) -> List[List[Union[float, int]]]: ...

class PairFileOptions:
    text_a_column: str
    text_b_column: str
    score_column: str
    negative_columns: List[str]
    score_scale: float
    skip_bad_rows: bool
    def __init__(self) -> None: ...

def with_loss_shape(options: PairFileOptions, loss: str, num_labels: int = 0) -> PairFileOptions: ...

class PairFile:
    def __init__(self, path: str, options: PairFileOptions) -> None: ...
    def __len__(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def first_skipped(self) -> str: ...

class Pairs:
    @staticmethod
    def from_file(path: str, options: PairFileOptions) -> Pairs: ...
    @staticmethod
    def from_list(rows: Sequence[Tuple[Union[str, float], ...]], options: PairFileOptions) -> Pairs: ...
    def __len__(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def first_skipped(self) -> str: ...

class TrainOptions:
    epochs: int
    batch_size: int
    lr: float
    warmup_ratio: float
    warmup_steps: int
    weight_decay: float
    max_grad_norm: float
    adam_eps: float
    seed: int
    max_steps: int
    shuffle: bool
    dropout: float
    log_file: str
    checkpoint_steps: int
    checkpoint_limit: int
    resume: str
    eval_steps: int
    loss: str
    matryoshka_dims: List[int]
    matryoshka_weights: List[float]
    mini_batch_size: int
    teacher_embeddings: str
    num_labels: int
    loss_init: str
    no_duplicates: bool
    overlap: bool
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class StepReport:
    @property
    def step(self) -> int: ...
    @property
    def total_steps(self) -> int: ...
    @property
    def epoch(self) -> float: ...
    @property
    def loss(self) -> float: ...
    @property
    def lr(self) -> float: ...
    @property
    def grad_norm(self) -> float: ...
    @property
    def pairs_per_s(self) -> float: ...

class SimilarityMetrics:
    @property
    def cosine_pearson(self) -> float: ...
    @property
    def cosine_spearman(self) -> float: ...
    @property
    def euclidean_pearson(self) -> float: ...
    @property
    def euclidean_spearman(self) -> float: ...
    @property
    def manhattan_pearson(self) -> float: ...
    @property
    def manhattan_spearman(self) -> float: ...
    @property
    def dot_pearson(self) -> float: ...
    @property
    def dot_spearman(self) -> float: ...

class EvalRecord:
    @property
    def name(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def epoch(self) -> float: ...
    @property
    def metrics(self) -> SimilarityMetrics: ...

class TrainResult:
    @property
    def steps(self) -> int: ...
    @property
    def last_loss(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def evals(self) -> List[EvalRecord]: ...

def train(
    model: str,
    options: TrainOptions,
    pairs: Union[Pairs, PairFile],
    output: str,
    dev: Optional[Pairs] = None,
    dev_name: str = "",
    test: Optional[Pairs] = None,
    test_name: str = "",
    callback: Optional[Callable[[StepReport], None]] = None,
) -> TrainResult: ...
