#!/usr/bin/python3
"""PyTorch reference for simtune's forward pass: Hugging Face's BertModel (eager attention) plus
sentence-transformers' Pooling and Normalize, read from a sentence-transformers model directory.

Module and parameter names are Hugging Face's (transformers/models/bert/modeling_bert.py) so a
checkpoint loads by name; pooling follows sentence_transformers/models/Pooling.py. Written
against those sources, with neither library installed here.

CLI:  bert_reference.py embed --model DIR --ids ids.jsonl --out emb.npy [--batch-size 32]
ids.jsonl has one {"ids": [...]} per line (as `simtune tokenize` prints); each batch is padded
to its longest row, in file order.
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402


class BertEmbeddings(nn.Module):
    """HF BertEmbeddings: word + token type (all zeros) + absolute position, LayerNorm, dropout."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config["vocab_size"], config["hidden_size"])
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], config["hidden_size"])
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], config["hidden_size"])
        self.LayerNorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, input_ids):
        length = input_ids.shape[1]
        position_ids = torch.arange(length, device=input_ids.device).unsqueeze(0)
        token_type_ids = torch.zeros_like(input_ids)
        # HF's summation order: (words + token types) + positions.
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    """HF BertSelfAttention, eager path: softmax(Q K^T / sqrt(d) + mask) V per head."""

    def __init__(self, config):
        super().__init__()
        hidden = config["hidden_size"]
        self.num_heads = config["num_attention_heads"]
        self.head_size = hidden // self.num_heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(config["attention_probs_dropout_prob"])

    def _heads(self, x):
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, hidden_states, extended_mask):
        query = self._heads(self.query(hidden_states))
        key = self._heads(self.key(hidden_states))
        value = self._heads(self.value(hidden_states))
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_size)
        probs = self.dropout(F.softmax(scores + extended_mask, dim=-1))
        context = torch.matmul(probs, value).permute(0, 2, 1, 3).contiguous()
        return context.view(context.shape[0], context.shape[1], -1)


class BertSelfOutput(nn.Module):
    """HF BertSelfOutput: dense, dropout, LayerNorm(x + residual)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["hidden_size"])
        self.LayerNorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, hidden_states, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states, extended_mask):
        return self.output(self.self(hidden_states, extended_mask), hidden_states)


class BertIntermediate(nn.Module):
    """HF BertIntermediate: dense then exact (erf) GELU."""

    def __init__(self, config):
        super().__init__()
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"hidden_act {config['hidden_act']!r}: only exact 'gelu' is mirrored")
        self.dense = nn.Linear(config["hidden_size"], config["intermediate_size"])

    def forward(self, hidden_states):
        return F.gelu(self.dense(hidden_states))


class BertOutput(nn.Module):
    """HF BertOutput: dense, dropout, LayerNorm(x + residual)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config["intermediate_size"], config["hidden_size"])
        self.LayerNorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, hidden_states, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states, extended_mask):
        attention_output = self.attention(hidden_states, extended_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config["num_hidden_layers"]))

    def forward(self, hidden_states, extended_mask):
        for layer in self.layer:
            hidden_states = layer(hidden_states, extended_mask)
        return hidden_states


class BertPooler(nn.Module):
    """HF BertPooler (tanh(dense(first token))); sentence-transformers never uses it, but
    checkpoints carry it, so it is kept for loading and saving by name."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["hidden_size"])

    def forward(self, hidden_states):
        return torch.tanh(self.dense(hidden_states[:, 0]))


class BertModel(nn.Module):
    """Returns the last hidden state (batch, length, hidden), HF's sequence output."""

    def __init__(self, config, add_pooling_layer=True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, input_ids, attention_mask):
        # HF's get_extended_attention_mask: masked keys get the most negative float32, so their
        # softmax weight underflows to exactly 0.
        extended = attention_mask[:, None, None, :].to(torch.float32)
        extended = (1.0 - extended) * torch.finfo(torch.float32).min
        return self.encoder(self.embeddings(input_ids), extended)


POOLING_ORDER = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens",
                 "weightedmean_tokens", "lasttoken")


# pooling_mode values of sentence-transformers 6, in POOLING_ORDER.
POOLING_MODE_NAMES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


class Pooling(nn.Module):
    """sentence-transformers Pooling: the enabled modes concatenated in POOLING_ORDER. Reads both
    config forms: 2.x-5.x's pooling_mode_* flags with word_embedding_dimension, 6.x's pooling_mode
    (a name or a list) with embedding_dimension. include_prompt=False masks a prompt's tokens out
    of pooling as 6.x does (cls then takes the first unmasked token, max fills masked rows with
    -inf, lasttoken the last unmasked one)."""

    def __init__(self, config):
        super().__init__()
        mode = config.get("pooling_mode")
        if mode is not None:
            names = [mode] if isinstance(mode, str) else list(mode)
            self.modes = [m for m, name in zip(POOLING_ORDER, POOLING_MODE_NAMES) if name in names]
        else:
            # Keys missing from 1_Pooling/config.json take Pooling.__init__'s defaults (mean on).
            defaults = {"mean_tokens": True}
            self.modes = [m for m in POOLING_ORDER if config.get("pooling_mode_" + m, defaults.get(m, False))]
        if not self.modes:
            raise ValueError("pooling config enables no pooling mode")
        self.include_prompt = config.get("include_prompt", True)

    def forward(self, token_embeddings, attention_mask, prompt_length=0):
        if prompt_length and not self.include_prompt:
            attention_mask = attention_mask.clone()
            attention_mask[:, :prompt_length] = 0
        mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
        outputs = []
        for mode in self.modes:
            if mode == "cls_token":
                first = attention_mask.to(torch.int64).argmax(dim=1)
                outputs.append(token_embeddings[torch.arange(token_embeddings.shape[0]), first])
            elif mode == "max_tokens":
                outputs.append(token_embeddings.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
            elif mode in ("mean_tokens", "mean_sqrt_len_tokens"):
                summed = (token_embeddings * mask).sum(dim=1)
                count = torch.clamp(mask.sum(dim=1), min=1e-9)
                outputs.append(summed / (count if mode == "mean_tokens" else torch.sqrt(count)))
            elif mode == "weightedmean_tokens":
                # Position weights 1..L (arXiv:2202.08904), padding weighted 0.
                positions = torch.arange(1, token_embeddings.shape[1] + 1, dtype=mask.dtype)
                weights = mask * positions[None, :, None]
                summed = (token_embeddings * weights).sum(dim=1)
                outputs.append(summed / torch.clamp(weights.sum(dim=1), min=1e-9))
            elif mode == "lasttoken":
                # Last unmasked position; an all-masked row gathers position 0, zeroed by the
                # mask, as in sentence-transformers.
                length = attention_mask.shape[1]
                values, flipped = attention_mask.flip(1).max(dim=1)
                last = torch.where(values == 0, torch.zeros_like(flipped), length - 1 - flipped)
                rows = torch.arange(token_embeddings.shape[0])
                outputs.append((token_embeddings * mask)[rows, last])
        return torch.cat(outputs, dim=1)


# Dense activation_function values, the torch classes they name.
ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": nn.Identity,
    "torch.nn.modules.activation.Tanh": nn.Tanh,
    "torch.nn.modules.activation.ReLU": nn.ReLU,
    "torch.nn.modules.activation.GELU": nn.GELU,
    "torch.nn.modules.activation.Sigmoid": nn.Sigmoid,
}


class Dense(nn.Module):
    """sentence-transformers Dense: activation_function(linear(x)), weights from the module
    folder's model.safetensors ("linear.weight", "linear.bias")."""

    def __init__(self, module_dir):
        super().__init__()
        config = json.loads((module_dir / "config.json").read_text())
        self.linear = nn.Linear(config["in_features"], config["out_features"], bias=config.get("bias", True))
        self.activation = ACTIVATIONS[config.get("activation_function", "torch.nn.modules.activation.Tanh")]()
        weights = {k: torch.from_numpy(v) for k, v in safetensors_io.load_f32(module_dir / "model.safetensors").items()}
        self.linear.load_state_dict({k.removeprefix("linear."): v for k, v in weights.items()})

    def forward(self, x):
        return self.activation(self.linear(x))


class Normalize(nn.Module):
    """sentence-transformers Normalize: F.normalize(p=2, dim=1), eps 1e-12."""

    def forward(self, embeddings):
        return F.normalize(embeddings, p=2, dim=1)


class SentenceModel(nn.Module):
    """Transformer -> Pooling -> Dense... [-> Normalize], as listed in modules.json."""

    def __init__(self, bert, pooling, dense, normalize, max_seq_length):
        super().__init__()
        self.bert = bert
        self.pooling = pooling
        self.dense = nn.ModuleList(dense)
        self.normalize = Normalize() if normalize else None
        self.max_seq_length = max_seq_length

    def pool(self, token_embeddings, attention_mask, prompt_length=0):
        pooled = self.pooling(token_embeddings, attention_mask, prompt_length)
        for dense in self.dense:
            pooled = dense(pooled)
        return self.normalize(pooled) if self.normalize is not None else pooled

    def forward(self, input_ids, attention_mask, prompt_length=0):
        """Returns (token_embeddings, sentence_embedding)."""
        tokens = self.bert(input_ids, attention_mask)
        return tokens, self.pool(tokens, attention_mask, prompt_length)


def _module_paths(model_dir):
    """(transformer dir, pooling config or None, [Dense dirs], has Normalize) from modules.json;
    module types are matched by class name, so 2.x-5.x's and 6.x's type names both work."""
    modules_file = model_dir / "modules.json"
    if not modules_file.exists():
        # A plain Hugging Face BERT directory: sentence-transformers adds mean pooling.
        return model_dir, None, [], False
    transformer_dir, pooling_config, dense, normalize = None, None, [], False
    for module in json.loads(modules_file.read_text()):
        kind = module["type"].rsplit(".", 1)[-1]
        path = model_dir / module["path"]
        if kind == "Transformer":
            transformer_dir = path
        elif kind == "Pooling":
            pooling_config = json.loads((path / "config.json").read_text())
        elif kind == "Dense":
            dense.append(path)
        elif kind == "Normalize":
            normalize = True
        else:
            raise ValueError(f"{modules_file}: module type {module['type']} is not mirrored")
    if transformer_dir is None:
        raise ValueError(f"{modules_file}: no Transformer module")
    return transformer_dir, pooling_config, dense, normalize


def load_bert(transformer_dir):
    """BertModel with the weights of transformer_dir/model.safetensors (F32, F16 or BF16)."""
    config = json.loads((transformer_dir / "config.json").read_text())
    config.setdefault("layer_norm_eps", 1e-12)
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are mirrored")
    weights_file = transformer_dir / "model.safetensors"
    weights = {}
    for name, array in safetensors_io.load_f32(weights_file).items():
        name = name.removeprefix("bert.")
        # Older checkpoints store HF's position_ids buffer; positions are always 0..L-1 here.
        if name != "embeddings.position_ids":
            weights[name] = torch.from_numpy(array)
    bert = BertModel(config, add_pooling_layer="pooler.dense.weight" in weights)
    expected = bert.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{weights_file}: missing {missing}, unexpected {unexpected}")
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(f"{weights_file}: {name} has shape {tuple(tensor.shape)}, "
                             f"config.json implies {tuple(expected[name].shape)}")
    bert.load_state_dict(weights)
    return bert


def load_model(model_dir):
    """SentenceModel for a sentence-transformers (or plain HF BERT) directory, in eval mode."""
    model_dir = Path(model_dir)
    transformer_dir, pooling_config, dense_dirs, normalize = _module_paths(model_dir)
    bert = load_bert(transformer_dir)
    st_config_file = transformer_dir / "sentence_bert_config.json"
    st_config = json.loads(st_config_file.read_text()) if st_config_file.exists() else {}
    max_seq_length = st_config.get("max_seq_length") or min(512, bert.config["max_position_embeddings"])
    model = SentenceModel(bert, Pooling(pooling_config or {}), [Dense(d) for d in dense_dirs], normalize,
                          max_seq_length)
    return model.eval()


def pad_batch(id_lists, pad_id):
    """(input_ids, attention_mask) int64 tensors, right-padded to the longest row."""
    length = max(len(ids) for ids in id_lists)
    input_ids = torch.full((len(id_lists), length), pad_id, dtype=torch.int64)
    attention_mask = torch.zeros((len(id_lists), length), dtype=torch.int64)
    for row, ids in enumerate(id_lists):
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.int64)
        attention_mask[row, :len(ids)] = 1
    return input_ids, attention_mask


def forward_ids(model, id_lists, prompt_length=0):
    """Runs one padded batch: returns (token_embeddings, attention_mask, sentence_embedding) as
    tensors, with autograd as the caller's context sets it. Dropout is active only if the
    caller put the model in train mode. prompt_length: the tokens of a prompt every row starts
    with ([CLS] included), as sentence-transformers passes it to pooling."""
    input_ids, attention_mask = pad_batch(id_lists, model.bert.config.get("pad_token_id", 0))
    tokens, pooled = model(input_ids, attention_mask, prompt_length)
    return tokens, attention_mask, pooled


# The intermediate tensors named_activations captures, by Hugging Face module path: each module's
# output, and for a LayerNorm also its input (the pre-norm sum) as "<path>.input".
ACTIVATION_MODULES = re.compile(
    r"embeddings\.LayerNorm|encoder\.layer\.\d+\.(attention\.self(\.(query|key|value))?"
    r"|attention\.output\.LayerNorm|intermediate(\.dense)?|output\.LayerNorm)")


def named_activations(bert, id_lists, batch_size=32):
    """{name: float32 array} of every intermediate tensor of `bert` (a BertModel, in eval mode)
    that simtune_activation_dump writes, named alike, in forward order. Each is packed as simtune
    packs tokens: (tokens, features), the sequences' rows back to back without padding. Hooks
    read the modules' outputs, so Hugging Face's own BertModel would give the same names."""
    current = {}

    def keep(name):
        def hook(module, args, output=None):
            tensor = args[0] if output is None else output
            current[name] = tensor[0] if isinstance(tensor, tuple) else tensor
        return hook

    handles = []
    for name, module in bert.named_modules():
        if ACTIVATION_MODULES.fullmatch(name):
            if isinstance(module, nn.LayerNorm):
                handles.append(module.register_forward_pre_hook(keep(name + ".input")))
            handles.append(module.register_forward_hook(keep(name)))
    packed = {}
    try:
        with torch.inference_mode():
            for start in range(0, len(id_lists), batch_size):
                input_ids, attention_mask = pad_batch(id_lists[start:start + batch_size],
                                                      bert.config.get("pad_token_id", 0))
                current.clear()
                bert(input_ids, attention_mask)
                real = attention_mask.bool()
                for name, tensor in current.items():  # in the order the hooks fired
                    packed.setdefault(name, []).append(tensor[real].numpy())
    finally:
        for handle in handles:
            handle.remove()
    return {name: np.concatenate(parts).astype(np.float32) for name, parts in packed.items()}


def embed(model, id_lists, batch_size=32, prompt_length=0):
    """Sentence embeddings (float32, one row per id list, input order); batches of batch_size
    in input order, each padded to its longest row; eval mode, no autograd."""
    model.eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(id_lists), batch_size):
            rows.append(forward_ids(model, id_lists[start:start + batch_size], prompt_length)[2])
    return torch.cat(rows).numpy().astype(np.float32)


def read_ids(path):
    with open(path) as f:
        return [json.loads(line)["ids"] for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    embed_cmd = commands.add_parser("embed", help="sentence embeddings for token id lists")
    embed_cmd.add_argument("--model", required=True, type=Path)
    embed_cmd.add_argument("--ids", required=True, type=Path, help="JSONL, one {\"ids\": [...]} a line")
    embed_cmd.add_argument("--out", required=True, type=Path, help=".npy output (float32)")
    embed_cmd.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    model = load_model(args.model)
    id_lists = read_ids(args.ids)
    too_long = [i for i, ids in enumerate(id_lists) if len(ids) > model.bert.config["max_position_embeddings"]]
    if too_long:
        sys.exit(f"{args.ids}: line {too_long[0] + 1} has more ids than max_position_embeddings")
    np.save(args.out, embed(model, id_lists, args.batch_size))


if __name__ == "__main__":
    main()
