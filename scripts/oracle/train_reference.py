#!/usr/bin/python3
"""PyTorch reference for `simtune train`: sentence-transformers' fit() with its losses, on the
model of bert_reference.py, written from sentence_transformers/SentenceTransformer.py (fit),
losses/CosineSimilarityLoss.py, MultipleNegativesRankingLoss.py,
MultipleNegativesSymmetricRankingLoss.py, CoSENTLoss.py, AnglELoss.py, ContrastiveLoss.py,
OnlineContrastiveLoss.py, TripletLoss.py, MSELoss.py, SoftmaxLoss.py, MatryoshkaLoss.py, util.py (cos_sim, pairwise_cos_sim,
pairwise_angle_sim) and transformers' get_linear_schedule_with_warmup.

One optimizer step on a batch of examples (texts_a, texts_b, labels, negative columns):
  embeddings of each column, each run as its own padded batch
  loss = the loss's formula (LOSSES) of the embeddings and labels
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


def batches(ids_a, ids_b, labels, batch_size, negatives=()):
    """[(ids_a, ids_b, labels tensor, [ids of each negative column])] of consecutive examples in
    the given order; the last batch may be short (fit()'s DataLoader keeps it). ids_b None:
    examples of one text (MSELoss's (text))."""
    return [(ids_a[i:i + batch_size], None if ids_b is None else ids_b[i:i + batch_size],
             torch.tensor(labels[i:i + batch_size], dtype=torch.float32),
             [column[i:i + batch_size] for column in negatives])
            for i in range(0, len(labels), batch_size)]


def trainable_parameters(model, loss=None):
    """[(name, parameter)] of every parameter the loss reaches: BERT's but the pooler, under HF
    names, then the Dense modules' as simtune names them ("dense.0.linear.weight"), then the
    loss's own when it is a module (SoftmaxLoss's "classifier.weight", as fit() optimises the
    loss model's parameters)."""
    own = list(loss.named_parameters()) if isinstance(loss, torch.nn.Module) else []
    return ([(name, p) for name, p in model.bert.named_parameters() if not name.startswith("pooler.")]
            + [("dense." + name, p) for name, p in model.dense.named_parameters()] + own)


def cos_sim(a, b):
    """util.cos_sim: the cosine of every row of a with every row of b."""
    return F.normalize(a, p=2, dim=1) @ F.normalize(b, p=2, dim=1).T


def pairwise_cos_sim(a, b):
    """util.pairwise_cos_sim: the cosine of row i of a with row i of b."""
    return (F.normalize(a, p=2, dim=1) * F.normalize(b, p=2, dim=1)).sum(dim=-1)


def pairwise_angle_sim(x, y):
    """util.pairwise_angle_sim: the embeddings as complex vectors (first half real, second half
    imaginary), |sum(re + im)| of their quotient normalised by the norms."""
    a, b = torch.chunk(x, 2, dim=1)
    c, d = torch.chunk(y, 2, dim=1)
    z = torch.sum(c**2 + d**2, dim=1, keepdim=True)
    re = (a * c + b * d) / z
    im = (b * c - a * d) / z
    dz = torch.sum(a**2 + b**2, dim=1, keepdim=True) ** 0.5
    dw = torch.sum(c**2 + d**2, dim=1, keepdim=True) ** 0.5
    re /= dz / dw
    im /= dz / dw
    return torch.abs(torch.sum(torch.concat((re, im), dim=1), dim=1))


def multiple_negatives_ranking(embeddings, labels, scale=20.0, symmetric=False):
    """MultipleNegativesRankingLoss: cross-entropy of scale * cos_sim(anchors, all candidates),
    each anchor's target its own positive; the symmetric variant averages in the cross-entropy
    of each positive over the anchors."""
    anchors, candidates = embeddings[0], torch.cat(embeddings[1:])
    scores = cos_sim(anchors, candidates) * scale
    targets = torch.arange(len(anchors))
    loss = F.cross_entropy(scores, targets)
    if not symmetric:
        return loss
    backward = F.cross_entropy(scores[:, :len(anchors)].transpose(0, 1), targets)
    return (loss + backward) / 2


def cosent(embeddings, labels, similarity=pairwise_cos_sim, scale=20.0):
    """CoSENTLoss: logsumexp over 0 and s_i - s_j of every pair with label_i < label_j."""
    scores = similarity(embeddings[0], embeddings[1]) * scale
    scores = scores[:, None] - scores[None, :]
    ordered = (labels[:, None] < labels[None, :]).float()
    scores = scores - (1 - ordered) * 1e12
    scores = torch.cat((torch.zeros(1), scores.view(-1)), dim=0)
    return torch.logsumexp(scores, dim=0)


def cosine_distance(x, y):
    """SiameseDistanceMetric.COSINE_DISTANCE."""
    return 1 - F.cosine_similarity(x, y)


def contrastive(embeddings, labels, margin=0.5):
    """ContrastiveLoss: mean of 0.5 * (y d^2 + (1 - y) relu(margin - d)^2)."""
    distances = cosine_distance(embeddings[0], embeddings[1])
    losses = 0.5 * (labels.float() * distances.pow(2)
                    + (1 - labels).float() * F.relu(margin - distances).pow(2))
    return losses.mean()


def online_contrastive(embeddings, labels, margin=0.5):
    """OnlineContrastiveLoss: the contrastive terms of the hard positives and negatives, summed."""
    distance_matrix = cosine_distance(embeddings[0], embeddings[1])
    negs = distance_matrix[labels == 0]
    poss = distance_matrix[labels == 1]
    negative_pairs = negs[negs < (poss.max() if len(poss) > 1 else negs.mean())]
    positive_pairs = poss[poss > (negs.min() if len(negs) > 1 else poss.mean())]
    return positive_pairs.pow(2).sum() + F.relu(margin - negative_pairs).pow(2).sum()


def triplet(embeddings, labels, margin=5.0):
    """TripletLoss with TripletDistanceMetric.EUCLIDEAN."""
    distance_pos = F.pairwise_distance(embeddings[0], embeddings[1], p=2)
    distance_neg = F.pairwise_distance(embeddings[0], embeddings[2], p=2)
    return F.relu(distance_pos - distance_neg + margin).mean()


class SoftmaxLoss(torch.nn.Module):
    """SoftmaxLoss with the library's defaults (concatenation_sent_rep=True,
    concatenation_sent_difference=True, concatenation_sent_multiplication=False): a Linear
    classifier over concat(u, v, |u - v|), CrossEntropyLoss against the class labels."""

    def __init__(self, dimension, num_labels):
        super().__init__()
        self.classifier = torch.nn.Linear(3 * dimension, num_labels)

    def forward(self, embeddings, labels):
        u, v = embeddings
        logits = self.classifier(torch.cat([u, v, torch.abs(u - v)], 1))
        return F.cross_entropy(logits, labels.long())


LOSSES = {
    "CosineSimilarityLoss":
        lambda e, labels: F.mse_loss(torch.cosine_similarity(e[0], e[1]), labels),
    "MultipleNegativesRankingLoss": multiple_negatives_ranking,
    "MultipleNegativesSymmetricRankingLoss":
        lambda e, labels: multiple_negatives_ranking(e, labels, symmetric=True),
    "CoSENTLoss": cosent,
    "AnglELoss": lambda e, labels: cosent(e, labels, similarity=pairwise_angle_sim),
    "ContrastiveLoss": contrastive,
    "OnlineContrastiveLoss": online_contrastive,
    "TripletLoss": triplet,
    # MSELoss: every column against the example's teacher embedding (labels (B, D)).
    "MSELoss": lambda e, labels: F.mse_loss(torch.cat(e), labels.repeat(len(e), 1)),
}


def matryoshka(loss, dims, weights=None):
    """MatryoshkaLoss around `loss` (a LOSSES name): the dimensions largest first, each with its
    weight (default 1), the loss of the embeddings cut to each summed with the weights."""
    weights = weights or [1.0] * len(dims)
    dims, weights = zip(*sorted(zip(dims, weights), key=lambda x: x[0], reverse=True))

    def total(embeddings, labels):
        value = 0.0
        for dim, weight in zip(dims, weights):
            value = value + weight * LOSSES[loss]([e[..., :dim] for e in embeddings], labels)
        return value
    return total


def batch_loss(model, ids_a, ids_b, labels, negatives=(), loss="CosineSimilarityLoss"):
    """The loss (a LOSSES name or a function like them) of one batch; every column embedded as
    its own padded batch, as fit() does; ids_b None: one text an example."""
    columns = [ids_a, *([] if ids_b is None else [ids_b]), *negatives]
    embeddings = [bert_reference.forward_ids(model, ids)[2] for ids in columns]
    return (LOSSES[loss] if isinstance(loss, str) else loss)(embeddings, labels)


def gradients(model, ids_a, ids_b, labels, negatives=(), loss="CosineSimilarityLoss"):
    """(loss, {HF name: gradient array}) of one batch with dropout off, weights unchanged."""
    model.eval()
    params = trainable_parameters(model, loss)
    for _, p in params:
        p.grad = None
    value = batch_loss(model, ids_a, ids_b, labels, negatives, loss)
    value.backward()
    grads = {name: p.grad.detach().numpy().copy() for name, p in params}
    for _, p in params:
        p.grad = None
    return value.item(), grads


def make_optimizer(model, config, loss=None):
    """torch.optim.AdamW over the trainable parameters in fit()'s two weight-decay groups."""
    params = trainable_parameters(model, loss)
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

    def __init__(self, model, config, dropout=False, loss="CosineSimilarityLoss"):
        self.model = model
        self.loss = loss
        self.config = config
        self.params = [p for _, p in trainable_parameters(model, loss)]
        self.optimizer = make_optimizer(model, config, loss)
        self.scheduler = linear_schedule(self.optimizer, config.warmup(), config.total_steps)
        model.train(dropout)

    def step(self, ids_a, ids_b, labels, negatives=()):
        """One optimizer step; returns {"loss", "lr", "grad_norm"} as `simtune train` logs them:
        the loss before the update, the lr used, the total gradient norm before clipping."""
        lr = self.optimizer.param_groups[0]["lr"]
        loss = batch_loss(self.model, ids_a, ids_b, labels, negatives, self.loss)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.scheduler.step()
        return {"loss": loss.item(), "lr": lr, "grad_norm": grad_norm.item()}
