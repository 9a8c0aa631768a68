#!/usr/bin/env bash
# Installs everything simtune builds and tests with, from Debian's packages and npm only.
# Safe to run again: apt-get and npm ci skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format
  libopenblas-openmp-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev libssl-dev libcpp-httplib-dev libzip-dev
  libopenmpi-dev openmpi-bin
  python3 python3-numpy python3-torch python3-scipy curl
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-pip python3-venv
  python3-setuptools python3-wheel
)
# Node.js may come from elsewhere (its own npm inside); Debian's npm would clash with that.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Hugging Face's own tokenizer (Rust, as a Node binding): the oracle for token ids.
if [ ! -d scripts/oracle/node_modules/tokenizers ]; then
  npm ci --prefix scripts/oracle --no-audit --no-fund
fi

# OpenAI's JavaScript SDK: a real client of `simtune serve` in its tests.
if [ ! -d tests/js/node_modules/openai ]; then
  npm ci --prefix tests/js --no-audit --no-fund
fi
