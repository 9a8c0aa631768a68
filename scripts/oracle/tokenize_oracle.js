// Hugging Face's tokenizer (the Rust `tokenizers` crate via its node binding) on each line of a
// file: prints one JSON line {"ids": [...]} per input line, with special tokens added and
// truncation to --max-length (default 128, sentence-transformers' max_seq_length for MiniLM).
//
// usage: node tokenize_oracle.js LINES.txt [--max-length N] [--model DIR]
'use strict';
const fs = require('fs');
const path = require('path');
const {Tokenizer} = require('tokenizers');

function main() {
  const args = process.argv.slice(2);
  let maxLength = 128;
  let model = path.join(__dirname, '../../data/models/paraphrase-MiniLM-L6-v2');
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--max-length') maxLength = Number(args[++i]);
    else if (args[i] === '--model') model = args[++i];
    else files.push(args[i]);
  }
  if (files.length !== 1 || !(maxLength >= 2)) {
    console.error('usage: node tokenize_oracle.js LINES.txt [--max-length N] [--model DIR]');
    process.exit(2);
  }
  const bytes = fs.readFileSync(files[0]);
  // Decoding would silently turn bad bytes into U+FFFD, which simtune rejects instead.
  const text = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();

  const tokenizer = Tokenizer.fromFile(path.join(model, 'tokenizer.json'));
  tokenizer.setTruncation(maxLength);
  return tokenizer.encodeBatch(lines, {addSpecialTokens: true}).then((encodings) => {
    const out = encodings.map((e) => JSON.stringify({ids: e.getIds()}));
    process.stdout.write(out.join('\n') + '\n');
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
