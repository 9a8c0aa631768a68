// The comparison server of bench/serve_bench.py --ort: POST /embed {"inputs": str | [str]} ->
// [[float]] (L2-normalized, as TEI), computed by ONNX Runtime's CPU session on the model that
// bench/onnx_export.py exported, tokenized by Hugging Face's tokenizer (tokenizer.json). Batched
// dynamically as simtune serve batches: requests that arrive while a batch runs form the next
// one, padded to its longest text. Logs "listening on http://127.0.0.1:PORT" when ready.
// Usage: node bench/ort_server.js MODEL.onnx MODEL_DIR MAX_LENGTH THREADS
// (npm install --ignore-scripts --prefix bench/ort first: the install script fetches GPU
// builds from the network; the CPU build is in the package.)
'use strict';
const http = require('http');
const path = require('path');
const ort = require(path.join(__dirname, 'ort/node_modules/onnxruntime-node'));
const {Tokenizer} = require(path.join(__dirname, 'ort/node_modules/tokenizers'));

const [onnxFile, modelDir, maxLength, threads] = process.argv.slice(2);
const MAX_BATCH = 64;

async function main() {
  const session = await ort.InferenceSession.create(onnxFile, {
    executionProviders: ['cpu'], intraOpNumThreads: Number(threads), interOpNumThreads: 1,
    graphOptimizationLevel: 'all'});
  const tokenizer = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
  tokenizer.setTruncation(Number(maxLength));
  const queue = [];  // {ids, resolve}
  let running = false;

  async function runBatches() {
    running = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      const length = Math.max(...batch.map((e) => e.ids.length));
      const ids = new BigInt64Array(batch.length * length);
      const mask = new BigInt64Array(batch.length * length);
      batch.forEach((e, row) => e.ids.forEach((id, k) => {
        ids[row * length + k] = BigInt(id);
        mask[row * length + k] = 1n;
      }));
      const dims = [batch.length, length];
      const out = await session.run({input_ids: new ort.Tensor('int64', ids, dims),
                                     attention_mask: new ort.Tensor('int64', mask, dims)});
      const emb = out.sentence_embedding;
      const width = emb.dims[1];
      batch.forEach((e, row) => e.resolve(Array.from(emb.data.subarray(row * width, (row + 1) * width))));
    }
    running = false;
  }

  async function embed(texts) {
    const encodings = await tokenizer.encodeBatch(texts, {addSpecialTokens: true});
    const rows = encodings.map((enc) => new Promise((resolve) => queue.push({ids: enc.getIds(), resolve})));
    if (!running) runBatches();
    return Promise.all(rows);
  }

  const server = http.createServer({keepAliveTimeout: 5000}, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const texts = typeof body.inputs === 'string' ? [body.inputs] : body.inputs;
        const rows = await embed(texts);
        res.writeHead(200, {'Content-Type': 'application/json'});
        res.end(JSON.stringify(rows));
      } catch (e) {
        res.writeHead(422, {'Content-Type': 'application/json'});
        res.end(JSON.stringify({error: String(e), error_type: 'Validation'}));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    console.error(`ort_server: listening on http://127.0.0.1:${server.address().port}`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
