"""SentenceTransformer against `simtune encode` / `similarity` / `search` / `mine-paraphrases`."""

import gc
import json
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest

import simtune
from conftest import sentences, write_lines


@pytest.fixture(scope="module")
def model(minilm_dir):
    return simtune.SentenceTransformer(minilm_dir)


@pytest.fixture(scope="module")
def texts(workdir):
    lines = sentences(60)
    write_lines(workdir / "texts.txt", lines)
    return lines


def cli_encode(cli, workdir, model_dir, *options):
    out = workdir / "cli-emb.npy"
    cli("encode", "--model", model_dir, "--input", workdir / "texts.txt", "--output", out,
        "--quiet", *options)
    return np.load(out)


@pytest.mark.parametrize("batch_size,normalize", [(32, False), (7, True)])
def test_embeddings_are_the_clis_bit_for_bit(cli, workdir, minilm_dir, model, texts, batch_size,
                                             normalize):
    expected = cli_encode(cli, workdir, minilm_dir, "--batch-size", batch_size,
                          *(["--normalize"] if normalize else []))
    emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=normalize)
    assert emb.dtype == np.float32 and emb.shape == (len(texts), 384)
    assert emb.tobytes() == expected.tobytes()


def test_max_seq_length_and_save_are_the_clis(cli, workdir, minilm_dir, texts):
    model = simtune.SentenceTransformer(minilm_dir)
    assert model.max_seq_length == 128
    assert model.get_sentence_embedding_dimension() == 384
    expected = cli_encode(cli, workdir, minilm_dir, "--max-seq-length", 9)
    model.max_seq_length = 9
    assert model.max_seq_length == 9
    assert model.encode(texts).tobytes() == expected.tobytes()
    # The saved directory carries the new length: the CLI encodes it as the model object does.
    model.save(workdir / "saved")
    config = json.loads((workdir / "saved" / "sentence_bert_config.json").read_text())
    assert config["max_seq_length"] == 9
    assert cli_encode(cli, workdir, workdir / "saved").tobytes() == expected.tobytes()


def test_prompts_are_the_clis(cli, workdir, minilm_dir, texts):
    prompted = workdir / "prompted"
    shutil.copytree(minilm_dir, prompted)
    config_path = prompted / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config["prompts"] = {"query": "query: ", "doc": "passage: "}
    config["default_prompt_name"] = "doc"
    config_path.write_text(json.dumps(config))
    model = simtune.SentenceTransformer(prompted)
    for name, options in (("query", ["--prompt-name", "query"]), (None, [])):
        expected = cli_encode(cli, workdir, prompted, *options)
        assert model.encode(texts, prompt_name=name).tobytes() == expected.tobytes(), name
    # The default prompt applies when none is named, so the rows differ from the unprompted model.
    plain = simtune.SentenceTransformer(minilm_dir).encode(texts)
    assert model.encode(texts).tobytes() != plain.tobytes()


def test_single_string_and_empty_list(model, texts):
    one = model.encode(texts[0])
    assert one.shape == (384,)
    assert one.tobytes() == model.encode(texts[:1])[0].tobytes()
    assert model.encode([]).shape == (0, 384)


def test_truncate_dim_normalizes_after_truncating(model, texts):
    full = model.encode(texts[:5])
    emb = model.encode(texts[:5], truncate_dim=16, normalize_embeddings=True)
    assert emb.shape == (5, 16)
    expected = full[:, :16].astype(np.float64)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(emb, expected, rtol=0, atol=1e-6)


def test_similarity_is_the_clis(cli, minilm_dir, model):
    a, b = "A man is playing a guitar.", "Someone plays an instrument."
    printed = float(cli("similarity", "--model", minilm_dir, a, b).stdout)
    sim = model.similarity(model.encode([a]), model.encode([b]))
    assert sim.shape == (1, 1)
    assert abs(float(sim[0, 0]) - printed) <= 1e-6


# sentence-transformers' SimilarityFunction formulas in torch, run in a process of their own:
# importing torch here would set this process's OpenMP thread count (torch's default), and the
# bit-for-bit comparisons with the CLI that follow would then reduce in another order.
TORCH_SIMILARITY = """
import sys
import numpy as np
import torch
name, a, b, out = sys.argv[1:]
a, b = torch.from_numpy(np.load(a)), torch.from_numpy(np.load(b))
f = {"cosine": lambda: torch.nn.functional.normalize(a) @ torch.nn.functional.normalize(b).T,
     "dot": lambda: a @ b.T,
     "euclidean": lambda: -torch.cdist(a, b, p=2.0),
     "manhattan": lambda: -torch.cdist(a, b, p=1.0)}[name]
np.save(out, f().numpy())
"""


@pytest.mark.parametrize("name", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_uses_the_models_function(cli, workdir, minilm_dir, model, texts, name):
    """model.similarity computes the model's similarity_fn_name as sentence-transformers' util
    does it in torch, and the CLI's `similarity` prints the same number."""
    directory = workdir / f"similarity-{name}"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(minilm_dir, directory)
    config_path = directory / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config_path.write_text(json.dumps(dict(config, similarity_fn_name=name)))
    scored = simtune.SentenceTransformer(directory)
    assert scored.similarity_fn_name == name
    a, b = model.encode(texts[:7]), model.encode(texts[7:12])
    np.save(workdir / "sim-a.npy", a)
    np.save(workdir / "sim-b.npy", b)
    subprocess.run(["/usr/bin/python3", "-c", TORCH_SIMILARITY, name, workdir / "sim-a.npy",
                    workdir / "sim-b.npy", workdir / "sim-want.npy"], check=True)
    want = np.load(workdir / "sim-want.npy")
    got = scored.similarity(a, b)
    assert got.shape == (7, 5) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    printed = float(cli("similarity", "--model", directory, texts[0], texts[7]).stdout)
    assert abs(printed - float(got[0, 0])) <= 1e-5 * max(1.0, abs(printed))


def test_similarity_fn_name_is_settable(model):
    a = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    model.similarity_fn_name = "dot"
    try:
        assert model.similarity(a, a)[1, 1] == 4.0
        with pytest.raises(ValueError, match="expected one of cosine, dot, euclidean, manhattan"):
            model.similarity_fn_name = "jaccard"
    finally:
        model.similarity_fn_name = "cosine"
    assert model.similarity(a, a)[1, 1] == 1.0


def test_progress_bar_shows_rate_and_eta(model, texts, capsys):
    model.encode(texts, batch_size=8, show_progress_bar=True)
    err = capsys.readouterr().err
    frames = err.split("\r")[1:]
    # One frame per batch, as tqdm redraws it: percentage, bar, done/total, elapsed<remaining,
    # rate; the last one complete and ended by a newline.
    assert len(frames) == (len(texts) + 7) // 8
    pattern = r"Batches: +\d+%\|[█▏▎▍▌▋▊▉ ]{10}\| \d+/60 \[\d\d:\d\d<(\d\d:\d\d|\?), \d+\.\d\dit/s\]"
    assert all(re.fullmatch(pattern, f.rstrip("\n")) for f in frames), frames
    assert frames[-1].startswith("Batches: 100%|██████████| 60/60 [") and frames[-1].endswith("]\n")
    model.encode(texts[:3])
    assert capsys.readouterr().err == ""


def test_search_and_mining_are_the_clis(cli, workdir, minilm_dir, model, texts):
    corpus = texts[:40]
    write_lines(workdir / "corpus.txt", corpus)
    queries = texts[40:43]
    args = ["--model", minilm_dir, "--corpus", workdir / "corpus.txt", "--top-k", 5, "--json",
            "--quiet"]
    for q in queries:
        args += ["--query", q]
    expected = [json.loads(line) for line in cli("search", *args).stdout.splitlines()]
    hits = simtune.util.semantic_search(model.encode(queries), model.encode(corpus), top_k=5)
    assert [[(h["corpus_id"], h["score"]) for h in row] for row in hits] == \
        [[(h["corpus_id"], h["score"]) for h in row["hits"]] for row in expected]

    expected = [json.loads(line) for line in cli(
        "mine-paraphrases", "--model", minilm_dir, "--input", workdir / "corpus.txt",
        "--top-k", 3, "--json", "--quiet").stdout.splitlines()]
    pairs = simtune.util.paraphrase_mining(model, corpus, top_k=3)
    assert pairs == [[p["score"], p["i"], p["j"]] for p in expected]


def test_cos_sim_matches_float64(model, texts):
    a, b = model.encode(texts[:4]), model.encode(texts[4:9])
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected = (a64 @ b64.T) / np.outer(np.linalg.norm(a64, axis=1), np.linalg.norm(b64, axis=1))
    np.testing.assert_allclose(simtune.util.cos_sim(a, b), expected, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="width"):
        simtune.util.cos_sim(a, b[:, :10])


def test_result_owns_its_memory_and_outlives_the_model(minilm_dir, texts):
    model = simtune.SentenceTransformer(minilm_dir)
    emb = model.encode(texts)
    # No copy: the array wraps the engine's buffer, kept alive by a capsule.
    assert not emb.flags.owndata and type(emb.base).__name__ == "PyCapsule"
    row = emb[3]
    snapshot = emb.copy()
    del model, emb
    gc.collect()
    # Fresh allocations would reuse freed memory: the data must still be there.
    again = simtune.SentenceTransformer(minilm_dir).encode(texts)
    assert row.tobytes() == snapshot[3].tobytes()
    assert again.tobytes() == snapshot.tobytes()


def test_four_threads_encode_as_one(model, texts):
    expected = model.encode(texts, batch_size=8)
    results = [None] * 4
    start = threading.Barrier(4)

    def work(i):
        start.wait()
        results[i] = [model.encode(texts[i:] + texts[:i], batch_size=8) for _ in range(2)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i, runs in enumerate(results):
        assert runs is not None, f"thread {i} did not finish"
        for emb in runs:
            assert np.roll(emb, i, axis=0).tobytes() == expected.tobytes()


def test_bad_input_raises_clean_exceptions(cli, workdir, model, texts):
    with pytest.raises(TypeError, match=r"sentences\[1\]: expected str, got NoneType"):
        model.encode(["fine", None])
    with pytest.raises(TypeError, match=r"sentences\[0\]: expected str, got int"):
        model.encode([3])
    with pytest.raises(TypeError, match="expected a list of str, got NoneType"):
        model.encode(None)
    with pytest.raises(UnicodeEncodeError):
        model.encode(["lone surrogate \ud800"])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        model.encode(["x"], batch_size=0)
    with pytest.raises(ValueError, match="not among the model's prompts"):
        model.encode(["x"], prompt_name="query")
    with pytest.raises(ValueError, match="out of range"):
        model.max_seq_length = 100000
    assert model.max_seq_length == 128

    missing = workdir / "no-such-model"
    expected = cli.error("encode", "--model", missing, "--input", workdir / "texts.txt",
                         "--output", workdir / "x.npy")
    with pytest.raises(FileNotFoundError) as raised:
        simtune.SentenceTransformer(missing)
    assert str(raised.value) == expected
    (workdir / "a-file").write_text("")
    with pytest.raises(OSError):
        model.save(workdir / "a-file" / "model")


def test_max_seq_length_set_during_an_encode_waits_for_it(minilm_dir, texts):
    model = simtune.SentenceTransformer(minilm_dir)
    started = threading.Event()
    worker = threading.Thread(daemon=True, target=lambda: model._engine.encode(
        texts * 2, 1, False, lambda done, total: started.set()))
    worker.start()
    assert started.wait(60)
    model.max_seq_length = 64  # blocks until the encode is done; must not deadlock with it
    worker.join(60)
    assert not worker.is_alive() and model.max_seq_length == 64
