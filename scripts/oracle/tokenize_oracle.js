// Hugging Face's tokenizer (the Rust `tokenizers` crate via its node binding) on each line of a
// file: prints one JSON line {"ids": [...]} per input line, with special tokens added and
// truncation to --max-length (default 128, sentence-transformers' max_seq_length for MiniLM).
// With --offsets, each line also has "offsets": [[begin, end], ...], the UTF-8 byte range of the
// line each token came from ([0, 0] for [CLS] and [SEP]), "special", the special-tokens mask, and
// "tokens". --no-special-tokens leaves [CLS] and [SEP] out.
//
// usage: node tokenize_oracle.js LINES.txt [--max-length N] [--model DIR] [--offsets]
//            [--no-special-tokens]
'use strict';
const fs = require('fs');
const path = require('path');
const {Tokenizer} = require('tokenizers');

// The binding gives offsets in code points; byteOffsets(s)[k] is the UTF-8 offset of the k-th.
function byteOffsets(s) {
  const at = [0];
  for (const c of s) at.push(at[at.length - 1] + Buffer.byteLength(c, 'utf8'));
  return at;
}

function main() {
  const args = process.argv.slice(2);
  let maxLength = 128;
  let model = path.join(__dirname, '../../data/models/paraphrase-MiniLM-L6-v2');
  let offsets = false;
  let addSpecialTokens = true;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--max-length') maxLength = Number(args[++i]);
    else if (args[i] === '--offsets') offsets = true;
    else if (args[i] === '--no-special-tokens') addSpecialTokens = false;
    else if (args[i] === '--model') model = args[++i];
    else files.push(args[i]);
  }
  if (files.length !== 1 || !(maxLength >= 2)) {
    console.error('usage: node tokenize_oracle.js LINES.txt [--max-length N] [--model DIR] [--offsets] ' +
                  '[--no-special-tokens]');
    process.exit(2);
  }
  const bytes = fs.readFileSync(files[0]);
  // Decoding would silently turn bad bytes into U+FFFD, which simtune rejects instead.
  const text = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();

  const tokenizer = Tokenizer.fromFile(path.join(model, 'tokenizer.json'));
  tokenizer.setTruncation(maxLength);
  return tokenizer.encodeBatch(lines, {addSpecialTokens}).then((encodings) => {
    const out = encodings.map((e, n) => {
      if (!offsets) return JSON.stringify({ids: e.getIds()});
      const bytes = byteOffsets(lines[n]);
      return JSON.stringify({
        ids: e.getIds(),
        offsets: e.getOffsets().map(([b, end]) => [bytes[b], bytes[end]]),
        special: e.getSpecialTokensMask(),
        tokens: e.getTokens(),
      });
    });
    process.stdout.write(out.join('\n') + '\n');
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
