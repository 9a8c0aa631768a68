"""Fixtures for the package's tests: the simtune binary (the reference every test compares the
package with), a scratch directory, and models made by `simtune init`."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MINILM_DIR = REPO / "data" / "models" / "paraphrase-MiniLM-L6-v2"
STS_DEV = REPO / "data" / "stsbenchmark" / "sts-dev.csv"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json")


def pytest_addoption(parser):
    parser.addoption("--simtune", required=True, help="the simtune binary")
    parser.addoption("--workdir", required=True, help="scratch directory (recreated)")


@pytest.fixture(scope="session")
def simtune_bin(request):
    return Path(request.config.getoption("--simtune")).resolve()


@pytest.fixture(scope="session")
def workdir(request):
    path = Path(request.config.getoption("--workdir")).resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


class Cli:
    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args, check=True):
        """Runs `simtune args...`; returns the completed process (stdout, stderr as text)."""
        result = subprocess.run([str(self.binary), *map(str, args)], capture_output=True, text=True)
        if check and result.returncode != 0:
            pytest.fail(f"simtune {' '.join(map(str, args))} exited {result.returncode}:\n"
                        f"{result.stderr}")
        return result

    def error(self, *args):
        """The message of a failing command, without the "simtune: error: " prefix."""
        result = self(*args, check=False)
        assert result.returncode == 1, result.stderr
        prefix = "simtune: error: "
        assert result.stderr.startswith(prefix), result.stderr
        return result.stderr[len(prefix):].strip()


@pytest.fixture(scope="session")
def cli(simtune_bin):
    return Cli(simtune_bin)


@pytest.fixture(scope="session")
def minilm_dir(cli, workdir):
    """A randomly initialised model with paraphrase-MiniLM-L6-v2's configuration and tokenizer."""
    out = workdir / "minilm"
    cli("init", "--config", MINILM_DIR, "--seed", 0, "--out", out)
    return out


@pytest.fixture(scope="session")
def tiny_dir(cli, workdir):
    """A tiny BERT (hidden 32, 2 layers) with MiniLM's tokenizer: training in milliseconds."""
    config_dir = workdir / "tiny-config"
    config_dir.mkdir()
    config = json.loads((MINILM_DIR / "config.json").read_text())
    config.update({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "intermediate_size": 64})
    (config_dir / "config.json").write_text(json.dumps(config))
    for name in TOKENIZER_FILES:
        shutil.copy(MINILM_DIR / name, config_dir / name)
    out = workdir / "tiny"
    cli("init", "--config", config_dir, "--seed", 1, "--out", out)
    return out


def sts_rows(count):
    """The first `count` rows of STS dev as (sentence1, sentence2, score 0..5)."""
    rows = []
    with open(STS_DEV, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            rows.append((fields[5], fields[6], float(fields[4])))
            if len(rows) == count:
                break
    return rows


def sentences(count):
    """`count` STS sentences of varied length, with some unicode and an empty line."""
    texts = [t for a, b, _ in sts_rows(count) for t in (a, b)][:count - 3]
    return texts + ["", "Ünïcödé — naïve café, 東京 and emoji 🎸", " ".join(texts[:40])]


def write_lines(path, lines):
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
