// Runs every stage of Hugging Face's BERT normalizer and pre-tokenizer over every Unicode scalar
// value and prints, as compact ranges, each code point the stage does not leave untouched. The
// output (tests/golden/tokenizer_unicode.txt) is what simtune's per-character Unicode tables are
// checked against: the oracle's Rust crates carry Unicode tables older than utf8proc's.
//
// usage: node unicode_scan.js > ../../tests/golden/tokenizer_unicode.txt
'use strict';
const tk = require('tokenizers');

const clean = tk.bertNormalizer({cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false});
const chinese = tk.bertNormalizer({cleanText: false, handleChineseChars: true, stripAccents: false, lowercase: false});
const strip = tk.bertNormalizer({cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false});
const lower = tk.bertNormalizer({cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true});
const pre = tk.bertPreTokenizer();

const hex = (cp) => cp.toString(16).toUpperCase().padStart(4, '0');
const cps = (s) => Array.from(s, (c) => hex(c.codePointAt(0))).join(' ');

// Boolean classes are printed as ranges "class FIRST LAST".
const classes = ['removed', 'space', 'chinese', 'split_space', 'split_punct'];
const open = {};
const out = [];
function mark(name, cp, on) {
  if (on && open[name] === undefined) open[name] = cp;
  if (!on && open[name] !== undefined) {
    out.push(`${name} ${hex(open[name])} ${hex(cp - 1)}`);
    delete open[name];
  }
}

console.log(`# tokenizers ${require('tokenizers/package.json').version} (Hugging Face, node binding): per code point`);
console.log('# "<class> FIRST LAST" ranges; "strip|lower CP -> OUT..." maps (OUT empty = dropped)');
for (let cp = 0; cp <= 0x110000; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  if (cp === 0x110000) {
    for (const c of classes) mark(c, cp, false);
    break;
  }
  const ch = String.fromCodePoint(cp);
  const c = clean.normalizeString(ch);
  mark('removed', cp, c === '');
  mark('space', cp, c === ' ' && ch !== ' ');
  mark('chinese', cp, chinese.normalizeString(ch) === ` ${ch} `);
  const p = pre.preTokenizeString(`a${ch}a`).map((x) => x[0]);
  mark('split_space', cp, p.length === 2);
  mark('split_punct', cp, p.length === 3);
  const s = strip.normalizeString(ch);
  if (s !== ch) out.push(`strip ${hex(cp)} ->${s ? ' ' + cps(s) : ''}`);
  const l = lower.normalizeString(ch);
  if (l !== ch) out.push(`lower ${hex(cp)} -> ${cps(l)}`);
}
// Group by kind so the file diffs well when the oracle changes.
const kind = (line) => line.split(' ')[0];
const order = [...classes, 'strip', 'lower'];
out.sort((a, b) => order.indexOf(kind(a)) - order.indexOf(kind(b)));
console.log(out.join('\n'));
