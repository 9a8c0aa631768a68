#!/usr/bin/python3
"""PyTorch reference for `simtune train`: sentence-transformers' fit() with CosineSimilarityLoss,
on the model of bert_reference.py, written from sentence_transformers/SentenceTransformer.py (fit),
losses/CosineSimilarityLoss.py and transformers' get_linear_schedule_with_warmup.

One optimizer step on a batch of pairs (texts_a, texts_b, labels):
  u, v = pooled embeddings of texts_a and texts_b, each side run as its own padded batch
  loss = MSE(cosine_similarity(u, v), labels)
  loss.backward(); clip_grad_norm_(params, max_grad_norm); optimizer.step();
  optimizer.zero_grad(); scheduler.step()
torch.optim.AdamW with fit()'s two parameter groups: no weight decay for names containing
"bias", "LayerNorm.bias" or "LayerNorm.weight". BERT's pooler is not used by the forward pass,
so it gets no gradient; it is left out of the optimizer (fit() passes it, but torch's AdamW
skips parameters without a gradient, so it stays untouched either way).

Labels are scores divided by the score scale (STS: 0-5 -> 0-1), as fit()'s InputExample labels.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

import bert_reference

NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")


@dataclass
class TrainConfig:
    """Hyper-parameters with `simtune train`'s defaults."""
    total_steps: int
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None  # overrides warmup_ratio
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    adam_eps: float = 1e-8

    def warmup(self):
        if self.warmup_steps is not None:
            return self.warmup_steps
        return math.ceil(self.warmup_ratio * self.total_steps)


def read_sts_pairs(path, score_scale=5.0, limit=None):
    """[(text_a, text_b, label)] from an STS benchmark file in file order: tab-separated, score
    in column 5, sentences in 6 and 7 (1-based); extra trailing fields and CRLF are ignored."""
    pairs = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            line = line.rstrip("\n").removesuffix("\r")
            if not line:
                continue
            fields = line.split("\t")
            pairs.append((fields[5], fields[6], float(fields[4]) / score_scale))
            if limit is not None and len(pairs) == limit:
                break
    return pairs


def batches(ids_a, ids_b, labels, batch_size):
    """[(ids_a, ids_b, labels tensor)] of consecutive pairs in the given order; the last batch
    may be short (fit()'s DataLoader keeps it)."""
    return [(ids_a[i:i + batch_size], ids_b[i:i + batch_size],
             torch.tensor(labels[i:i + batch_size], dtype=torch.float32))
            for i in range(0, len(labels), batch_size)]


def trainable_parameters(model):
    """[(name, parameter)] of every parameter the loss reaches: BERT's but the pooler, under HF
    names, then the Dense modules' as simtune names them ("dense.0.linear.weight")."""
    return ([(name, p) for name, p in model.bert.named_parameters() if not name.startswith("pooler.")]
            + [("dense." + name, p) for name, p in model.dense.named_parameters()])


def cosine_similarity_loss(model, ids_a, ids_b, labels):
    """CosineSimilarityLoss of one batch: MSE(cos(u, v), labels), u and v padded separately."""
    u = bert_reference.forward_ids(model, ids_a)[2]
    v = bert_reference.forward_ids(model, ids_b)[2]
    return F.mse_loss(torch.cosine_similarity(u, v), labels)


def gradients(model, ids_a, ids_b, labels):
    """(loss, {HF name: gradient array}) of one batch with dropout off, weights unchanged."""
    model.eval()
    params = trainable_parameters(model)
    model.zero_grad(set_to_none=True)
    loss = cosine_similarity_loss(model, ids_a, ids_b, labels)
    loss.backward()
    grads = {name: p.grad.detach().numpy().copy() for name, p in params}
    model.zero_grad(set_to_none=True)
    return loss.item(), grads


def make_optimizer(model, config):
    """torch.optim.AdamW over the trainable parameters in fit()'s two weight-decay groups."""
    params = trainable_parameters(model)
    groups = [
        {"params": [p for n, p in params if not any(nd in n for nd in NO_DECAY)],
         "weight_decay": config.weight_decay},
        {"params": [p for n, p in params if any(nd in n for nd in NO_DECAY)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999), eps=config.adam_eps)


def linear_schedule(optimizer, warmup, total):
    """transformers' get_linear_schedule_with_warmup: 0 -> lr over `warmup` steps, then down to
    0 at `total`; the first step runs at lr 0."""
    def factor(step):
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Trainer:
    """fit()'s inner loop, one step() per batch. dropout=True trains with the config's dropout
    probabilities (model.train()); False keeps dropout off, as the parity tests need."""

    def __init__(self, model, config, dropout=False):
        self.model = model
        self.config = config
        self.params = [p for _, p in trainable_parameters(model)]
        self.optimizer = make_optimizer(model, config)
        self.scheduler = linear_schedule(self.optimizer, config.warmup(), config.total_steps)
        model.train(dropout)

    def step(self, ids_a, ids_b, labels):
        """One optimizer step; returns {"loss", "lr", "grad_norm"} as `simtune train` logs them:
        the loss before the update, the lr used, the total gradient norm before clipping."""
        lr = self.optimizer.param_groups[0]["lr"]
        loss = cosine_similarity_loss(self.model, ids_a, ids_b, labels)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.scheduler.step()
        return {"loss": loss.item(), "lr": lr, "grad_norm": grad_norm.item()}
