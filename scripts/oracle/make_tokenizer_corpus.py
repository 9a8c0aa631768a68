#!/usr/bin/python3
"""Writes the tokenizer stress corpora (tests/golden/tokenizer_stress.txt, tokenizer_long.txt):
every STS benchmark sentence plus hand-written lines aimed at each stage of the BERT tokenizer,
and lines holding every code point where the oracle and utf8proc disagree
(src/text/oracle_unicode_tables.h). One input per line, so no line holds \\n or \\r.

It also writes tests/golden/tokenizer_utf8.jsonl: byte strings, whether they are valid UTF-8 and
their repair, both from Python's decoder (errors="replace" substitutes U+FFFD per maximal
subpart, as WHATWG does).

Then the expected ids come from the oracle:
  node scripts/oracle/tokenize_oracle.js tests/golden/tokenizer_stress.txt \\
      > tests/golden/tokenizer_stress.expected.jsonl
  node scripts/oracle/tokenize_oracle.js tests/golden/tokenizer_long.txt --max-length 512 \\
      > tests/golden/tokenizer_long.expected512.jsonl
"""
import json
import os
import random
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

HAND_WRITTEN = [
    # Accents and combining marks: precomposed, decomposed, stacked, orphaned, reordered.
    "Café naïve résumé coöperate façade jalapeño",
    "Cafe\u0301 nai\u0308ve re\u0301sume\u0301 (decomposed)",
    "Ångström Øresund Łódź Dvořák Şişli Ærøskøbing",
    "Tiếng Việt có dấu: Hà Nội, Đà Nẵng",
    "a\u0301\u0302\u0303\u0304\u0305 stacked marks",
    "\u0301 leading combining mark, and one after a space: x \u0301y",
    "a\u0323\u0307 a\u0307\u0323 ṩ ḍ̇ reorder",
    "music \U0001D15E \U0001D160 x\U0001D16D\U0001D165 x\U0001D165\U0001D16D",
    "ﬁ ﬂ ﬀ ligatures ² ³ ½ ｈａｌｆ compatibility (not canonical)",
    "한국어 텍스트 처리 ᄀᄁ ᅡ ᆨ jamo",
    "العَرَبِيَّة مرحبا بالعالم",
    "שָׁלוֹם עוֹלָם",
    "हिन्दी भाषा क़ ड़",
    "ภาษาไทย สวัสดี",
    "ཀྵ ཱི ྲྀ Tibetan",
    "Ελληνικά: άέήίόύώ ΐΰ ϊϋ",
    "Кириллица: йё Йё ў",
    # Case mapping beyond ASCII.
    "İstanbul IŞIK ılık İİİ iİi",
    "STRASSE Straße ẞ ß",
    "ΟΔΟΣ Σίσυφος ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ",
    "ᏣᎳᎩ ꮳꮃꭹ Cherokee Ᏸ ᏸ",
    "Ა Ბ Გ ᲐᲑᲒ Georgian Mtavruli ქართული",
    "𐐀𐐁𐐂 Deseret 𐐨𐐩",
    "ԵՒ և Armenian Ա ա",
    "𞤀𞤁 Adlam 𞤢",
    "ＡＢＣ ｆｕｌｌｗｉｄｔｈ ＨＥＬＬＯ",
    "Ⅻ ⅻ Ⓐ ⓐ ǅ ǈ ǋ Ǳ",
    "ꟊ Ꟑ ꟗ Ᲊ case pairs",
    # CJK.
    "我爱自然语言处理。",
    "日本語のテキスト、カタカナとひらがな",
    "abc中文def混合text",
    "𠀀𠀁 extension B 𪜀 𫝀 𫠠 𬺰 𰀀",
    "豈更 compatibility ideographs 丽",
    "「引用」『二重』（括弧）【強調】！？",
    "ｶﾀｶﾅ halfwidth",
    "〇 々 〆 ヶ",
    # Emoji.
    "I love 🍕 and 🎉!",
    "Family: 👨‍👩‍👧‍👦 and 👩‍💻",
    "Flags 🇺🇸🇯🇵🇩🇪 and 🏴‍☠️",
    "Skin tones 👍🏽 👋🏿 keycap 1️⃣ #️⃣",
    "Variation ☺️ ☺︎ ❤️ ✔",
    "Newer emoji 🫨 🩷 🪿 🫎",
    "😀😃😄😁😆😅😂🤣",
    # Control, format and zero-width characters.
    "zero\u200bwidth\u200cnon\u200djoiner",
    "\ufeffBOM at the start",
    "soft\u00adhyphen",
    "tab\tseparated\tvalues",
    "vertical\u000btab form\u000cfeed",
    "null\u0000byte",
    "bell\u0007 escape\u001b[0m",
    "next line\u0085here",
    "line\u2028sep para\u2029sep",
    "replacement \ufffd char",
    "bidi \u202eevil\u202c text \u200eltr\u200f",
    "\u2066isolate\u2069 \u2061invisible",
    "private \ue000\uf8ff use \U000F0000 \U0010FFFD",
    "del\u007f and C1\u0080\u009f",
    "interlinear \ufff9a\ufffab\ufffb",
    "arabic \u0600\u0605 number sign, \u061c mark, \u06dd end of ayah",
    "tags \U000E0001\U000E0020\U000E007F",
    "noncharacters \ufdd0 \ufffe \U0001FFFE",
    "unassigned \u0378 \U0002FFFF \U000E0080",
    # Unusual spaces.
    "non\u00a0breaking space",
    "narrow\u202fnbsp",
    "ideographic\u3000space",
    "en\u2002em\u2003thin\u2009hair\u200afigure\u2007",
    "ogham\u1680space",
    "mongolian\u180evowel",
    "medium\u205fmath",
    # Words around max_input_chars_per_word (100 chars).
    "a" * 100,
    "a" * 101,
    "b" * 99 + " " + "c" * 102,
    "supercalifragilistic" * 6,
    "é" * 60,
    "é" * 101,
    "e\u0301" * 60,
    "https://example.com/" + "x" * 150,
    "中" * 150,
    "word" + "!" * 120,
    # Empty and whitespace-only.
    "",
    " ",
    "\t\t",
    "\u00a0\u3000\u2003",
    "\u200b",
    "\u0000\u0001",
    # Around and beyond 128 tokens.
    " ".join(["a"] * 125),
    " ".join(["a"] * 126),
    " ".join(["a"] * 127),
    " ".join(["word"] * 300),
    " ".join(str(i) for i in range(400)),
    "!" * 300,
    " ".join(["a"] * 125) + " [SEP] [CLS]",
    " ".join(["a"] * 124) + " unbelievably",
    # Special tokens typed in the text.
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "[PAD]",
    "[UNK]",
    "hello [MASK] world",
    "a[SEP]b",
    "[CLS][SEP][CLS]",
    "[cls] [Sep] [MASK ] [ MASK] [MASK",
    "[[CLS]]",
    "[UNK]known unknown[UNK]",
    "foo[MASK]bar",
    "[PAD][PAD]",
    "##ing ##s ##",
    "[CLS CLS] [CL S] [ＣＬＳ]",
    "\u00a0[CLS]\u00a0",
    "[MASK]\u0301 accent after a special token",
    "I[MASK]you[SEP]",
    # Punctuation of all kinds.
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "“quotes” ‘single’ «guillemets» „low“ ‹›",
    "dashes – — ‐ ‒ ― ellipsis … ¡hola! ¿qué?",
    "§ ¶ · • ※ ‰ ′ ″ ⁂ † ‡ ⁋",
    "3.14 1,000 e-mail don't U.S.A. C++ C# node.js",
    "math ± × ÷ ≠ ≤ ∞ √ ∑",
    "currency $ € £ ¥ ₹ ₿ ¢",
    "symbols © ® ™ ° № ℃",
    "won't can't shouldn't've y'all",
    "...???!!!---",
    "under_score snake_case CamelCase",
    "email@example.com #hashtag @mention",
    "ascii art ¯\\_(ツ)_/¯",
    "୰ ᠀ ᠆ ⸗ ⸚ 〜 〰 ゠ ・ ꓾ ꓿",
    # A mixture.
    "Mixed: İ ß 中文 🎉 e\u0301 \u200b [MASK] — «ok»",
]


def sts_sentences():
    for name in ("sts-train.csv", "sts-dev.csv", "sts-test.csv"):
        with open(os.path.join(ROOT, "data", "stsbenchmark", name), encoding="utf-8", newline="") as f:
            for line in f:
                fields = line.rstrip("\r\n").split("\t")
                yield fields[5]
                yield fields[6]


def oracle_difference_lines():
    """Every code point in the oracle-vs-utf8proc tables, 16 to a line, each between letters."""
    text = open(os.path.join(ROOT, "src", "text", "oracle_unicode_tables.h"), encoding="utf-8").read()
    for name, body in re.findall(r"constexpr \w+ (k\w+)\[\] = \{(.*?)\};", text, re.S):
        if name == "kOracleLowercase":
            cps = [int(m, 16) for m in re.findall(r"\{(0x[0-9A-F]+), \{", body)]
        else:
            cps = []
            for a, b in re.findall(r"\{(0x[0-9A-F]+), (0x[0-9A-F]+)\}", body):
                cps.extend(range(int(a, 16), int(b, 16) + 1))
        for i in range(0, len(cps), 16):
            yield f"{name}: " + " ".join(f"x{chr(c)}y" for c in cps[i:i + 16])


def long_lines(sentences):
    joined = " ".join(sentences[:80])
    return [
        joined,
        " ".join(["word"] * 600),
        "中文" * 300,
        " ".join(["a"] * 509) + " [SEP] [CLS] b",
        " ".join(sentences[80:120]) + " İstanbul ß 🎉 " * 40,
        "!" * 700,
    ]


def utf8_cases():
    cases = [b"", b"plain ascii", "valid é 中 🎉".encode()]
    cases += [bytes([b]) for b in range(0x80, 0x100)]
    # Each lead byte followed by the boundary values of a continuation byte, alone and completed.
    for lead in (0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF):
        for second in (0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0):
            cases.append(bytes([lead, second]))
            cases.append(bytes([lead, second, 0x80]))
            cases.append(bytes([lead, second, 0x80, 0x80]) + b"x")
    cases += [b"\xe2\x82", b"a\xe2\x82b", b"\xf0\x9f\x8e", b"\xf0\x9f\x8e\xc3\xa9", b"\xed\xa0\x80\xed\xb0\x80",
              b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xc3\xc3\xa9", b"text\x00\xff[CLS]"]
    rng = random.Random(20240601)
    alphabet = [0x00, 0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
    for _ in range(2000):
        cases.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 8))))
    for case in cases:
        try:
            case.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        replaced = case.decode("utf-8", errors="replace").encode("utf-8")
        yield json.dumps({"bytes": case.hex(), "valid": valid, "replaced": replaced.hex()})


def write(path, lines):
    for n, line in enumerate(lines):
        assert "\n" not in line and "\r" not in line, (path, n)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))
    print(f"{path}: {len(lines)} lines")


def main():
    sts = list(sts_sentences())
    golden = os.path.join(ROOT, "tests", "golden")
    write(os.path.join(golden, "tokenizer_stress.txt"), sts + HAND_WRITTEN + list(oracle_difference_lines()))
    write(os.path.join(golden, "tokenizer_long.txt"), long_lines(sts))
    write(os.path.join(golden, "tokenizer_utf8.jsonl"), list(utf8_cases()))


main()
