"""simtune against sentence-transformers (PyTorch 2.x) on one machine, in one run, for issue 14's
table: the CPU's peak at each thread count, encode and training (CosineSimilarityLoss at batch 16
and 64, MultipleNegativesRankingLoss at batch 64) side by side at 2 and 16 threads, simtune's
thread scaling at batch 64, and each instruction-set path forced in turn.

Both sides get the same MiniLM-shaped weights (the shared same-cpu tool's gen_model.py writes
identical bits anywhere) and the same STS sentences and pairs in file order (section shuffled: in
one seeded shuffled order, as fit() trains). Pack a portable build
with ../shared/tools/same-cpu/pack.sh build/simtune .same-cpu, copy this file into .same-cpu, then
on the machine: python3 .same-cpu/device_bench.py [--out DIR]. Prints and appends JSON lines.
"""
import argparse, json, os, random, subprocess, sys, tarfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_model

ap = argparse.ArgumentParser()
ap.add_argument('--out', default=os.environ.get('OUT', '.'))
ap.add_argument('--compare-threads', default='2,16')
ap.add_argument('--scaling-threads', default='1,4,8')
ap.add_argument('--sections', default='compare,scaling,isa',
                help='any of compare (2 and 16 threads against the library), scaling, isa, and '
                     'placement (2 threads with and without OMP_PLACES=cores OMP_PROC_BIND=spread, '
                     'with the kernel against oneDNN where the pack has libdnnl.so.2), and matmul '
                     '(the products at 320, 1,280 and 5,120 tokens on 2 and 16 threads), and shuffled '
                     '(compare\'s training on the pairs in a seeded shuffled order)')
a = ap.parse_args()
sections = set(a.sections.split(','))
log_path = os.path.join(a.out, 'device_bench.jsonl')
T0 = time.time()


def emit(kind, **fields):
    rec = dict(kind=kind, t=round(time.time() - T0, 1), **fields)
    line = json.dumps(rec)
    print(line, flush=True)
    with open(log_path, 'a') as f:
        f.write(line + '\n')


tarfile.open(os.path.join(HERE, 'simlib.tar.xz')).extractall('/tmp/device-bench-lib')
BIN = '/tmp/device-bench-lib/lib/simtune'
ENV = dict(os.environ, LD_LIBRARY_PATH='/tmp/device-bench-lib/lib', OMP_WAIT_POLICY='passive')
MODEL = '/tmp/device-bench-model'
gen_model.make(MODEL)
SENT_FILE = os.path.join(HERE, 'sentences.txt')
TRAIN_FILE = os.path.join(HERE, 'sts-train.csv')
sents = [l.rstrip('\n') for l in open(SENT_FILE, encoding='utf-8') if l.strip()]
TRAIN_ROWS = [l for l in open(TRAIN_FILE, encoding='utf-8') if len(l.rstrip('\n').split('\t')) >= 7]


def parse_pairs(rows):
    return [(f[5], f[6], float(f[4]) / 5) for f in (l.rstrip('\n').split('\t') for l in rows)]


pairs = parse_pairs(TRAIN_ROWS)


def simtune(*args, isa=None, env_extra=None):
    env = dict(ENV, **(env_extra or {}))
    if env.get('OMP_WAIT_POLICY') == '':
        del env['OMP_WAIT_POLICY']  # libgomp's default: spin a while, then sleep
    if isa:
        env['SIMTUNE_ISA'] = isa
    p = subprocess.run([BIN, *args, '--json'], capture_output=True, text=True, env=env)
    return json.loads(p.stdout) if p.returncode == 0 else {'error': p.stderr[-400:]}


def sim_train(threads, batch, steps, loss='CosineSimilarityLoss', isa=None, env_extra=None,
              train_file=TRAIN_FILE):
    return simtune('bench', 'train', '--model', MODEL, '--train', train_file, '--score-scale', '5',
                   '--loss', loss, '--batch-size', str(batch), '--steps', str(steps), '--warmup', '2',
                   '--threads', str(threads), isa=isa, env_extra=env_extra)


def sim_encode(threads, repeat=2, isa=None):
    return simtune('bench', 'encode', '--model', MODEL, '--input', SENT_FILE, '--threads', str(threads),
                   '--repeat', str(repeat), isa=isa)


emit('machine', lscpu=subprocess.run("lscpu | grep -E 'Model name|^CPU\\(s\\)|Flags' | cut -c1-400",
                                      shell=True, capture_output=True, text=True).stdout,
     version=subprocess.run([BIN, '--version'], capture_output=True, text=True, env=ENV).stdout)
for n in sorted({1, 2, 4, 8, 16} | {int(x) for x in a.compare_threads.split(',')}):
    if n <= os.cpu_count():
        emit('peak', threads=n, result=simtune('bench', 'peak', '--threads', str(n), '--seconds', '0.3'))

import torch, transformers
from sentence_transformers import SentenceTransformer, losses

emit('torch', torch=torch.__version__, transformers=transformers.__version__,
     mkl=torch.backends.mkl.is_available(), mkldnn=torch.backends.mkldnn.is_available())


def st_train(threads, batch, steps, loss_name='CosineSimilarityLoss', warm=2, data=pairs):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = SentenceTransformer(MODEL, device='cpu')
    m.train()
    lm = getattr(losses, loss_name)(m)
    opt = torch.optim.AdamW(lm.parameters(), lr=2e-5)
    sched = transformers.get_linear_schedule_with_warmup(opt, 1, steps + warm)
    t = 0
    for s in range(steps + warm):
        if s == warm:
            t = time.time()
        b = data[s * batch:(s + 1) * batch]
        fa = {k: v for k, v in m.tokenize([x[0] for x in b]).items() if torch.is_tensor(v)}
        fb = {k: v for k, v in m.tokenize([x[1] for x in b]).items() if torch.is_tensor(v)}
        loss = lm([fa, fb], torch.tensor([x[2] for x in b]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step(); opt.zero_grad(); sched.step()
    return steps * batch / (time.time() - t)


def st_encode(threads):
    torch.set_num_threads(threads)
    m = SentenceTransformer(MODEL, device='cpu')
    with torch.inference_mode():
        m.encode(sents[:256], batch_size=32)
        t = time.time()
        emb = m.encode(sents, batch_size=32)
    return len(sents) / (time.time() - t), emb


PLACED = {'OMP_PLACES': 'cores', 'OMP_PROC_BIND': 'spread'}
if 'placement' in sections:
    emit('topology', cpus=subprocess.run('lscpu -e=CPU,CORE,SOCKET,NODE', shell=True, capture_output=True,
                                         text=True).stdout)
    for placed in (False, True, False, True):
        extra = PLACED if placed else {}
        emit('placement', placed=placed,
             peak=simtune('bench', 'peak', '--threads', '2', '--seconds', '0.3', env_extra=extra),
             matmul=simtune('bench', 'matmul', '--threads', '2', env_extra=extra),
             train=sim_train(2, 16, 20, env_extra=extra))
    emit('matmul_1_thread', result=simtune('bench', 'matmul', '--threads', '1'))

# The products at training's token counts (batch 16, 64 and 256 of STS pairs): whether a large a
# still comes from memory on this machine's caches, against oneDNN on the same shapes.
if 'matmul' in sections:
    for tokens in (320, 1280, 5120):
        for n in (2, 16):
            if n <= os.cpu_count():
                emit('matmul_tokens', tokens=tokens, threads=n,
                     result=simtune('bench', 'matmul', '--tokens', str(tokens), '--threads', str(n),
                                    '--repeat', '5'))

# Exactness on this machine first (cheap): the portable build against the library's own encode.
import numpy as np
_, ref = st_encode(16 if os.cpu_count() >= 16 else os.cpu_count())
npy = '/tmp/device-bench-emb.npy'
subprocess.run([BIN, 'encode', '--model', MODEL, '--input', SENT_FILE, '--output', npy], env=ENV, check=True,
               capture_output=True)
emit('parity', sentences=len(sents), max_abs_diff=float(np.abs(np.load(npy) - ref).max()))

for n in (int(x) for x in a.compare_threads.split(',')) if 'compare' in sections else ():
    if n > os.cpu_count():
        continue
    se = sim_encode(n)
    te, _ = st_encode(n)
    emit('encode', threads=n, simtune=se, torch_sent_per_s=te, ratio=se.get('sentences_per_s', 0) / te)
    for batch, steps in ((16, 20), (64, 8)):
        s = sim_train(n, batch, steps)
        t = st_train(n, batch, steps)
        # The library's process runs libgomp's default wait policy (spin, then sleep); simtune's
        # runs above are passive (threads sleep at once): the same step with the library's policy.
        spin = sim_train(n, batch, steps, env_extra={'OMP_WAIT_POLICY': ''})
        emit('train', loss='CosineSimilarityLoss', threads=n, batch=batch, simtune=s, torch_pairs_per_s=t,
             ratio=s.get('pairs_per_s', 0) / t, simtune_default_wait_pairs_per_s=spin.get('pairs_per_s'))
    s = sim_train(n, 64, 6, 'MultipleNegativesRankingLoss')
    t = st_train(n, 64, 6, 'MultipleNegativesRankingLoss')
    emit('train', loss='MultipleNegativesRankingLoss', threads=n, batch=64, simtune=s, torch_pairs_per_s=t,
         ratio=s.get('pairs_per_s', 0) / t)

# What fit() trains on: batches drawn in a shuffled order mix STS's short captions with its long
# news and forum sentences, and the library pads each batch to its longest text (simtune packs the
# texts, no padding). In file order a batch's texts are alike in length. The same order both sides.
if 'shuffled' in sections:
    rows = list(TRAIN_ROWS)
    random.Random(42).shuffle(rows)
    shuffled_file = '/tmp/device-bench-sts-train-shuffled.csv'
    with open(shuffled_file, 'w', encoding='utf-8') as f:
        f.writelines(rows)
    shuffled = parse_pairs(rows)
    for n in (int(x) for x in a.compare_threads.split(',')):
        if n > os.cpu_count():
            continue
        for loss, batch, steps in (('CosineSimilarityLoss', 16, 20), ('CosineSimilarityLoss', 64, 8),
                                   ('MultipleNegativesRankingLoss', 64, 6)):
            s = sim_train(n, batch, steps, loss, train_file=shuffled_file)
            t = st_train(n, batch, steps, loss, data=shuffled)
            emit('train_shuffled', loss=loss, threads=n, batch=batch, simtune=s, torch_pairs_per_s=t,
                 ratio=s.get('pairs_per_s', 0) / t)

for n in (int(x) for x in a.scaling_threads.split(',')) if 'scaling' in sections else ():
    if n <= os.cpu_count():
        emit('scaling', threads=n, train_batch64=sim_train(n, 64, 8), encode=sim_encode(n, repeat=1))

for n in (int(x) for x in a.scaling_threads.split(',')) if 'scaling' in sections else ():
    if 1 < n <= os.cpu_count():
        emit('torch_scaling', threads=n, train_batch64=st_train(n, 64, 8))

n = min(16, os.cpu_count())
for isa in ('avx2', 'generic') if 'isa' in sections else ():
    emit('isa', isa=isa, threads=n, encode=sim_encode(n, repeat=1, isa=isa), train=sim_train(n, 64, 8, isa=isa))
emit('done')
