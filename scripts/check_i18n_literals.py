#!/usr/bin/env python3
"""Fails on user-visible text written as a string literal in app/ or core/ instead of a key of assets/i18n/ (issue 12).

    scripts/check_i18n_literals.py [--root DIR] [--summary] [files ...]

Every string literal of app/ and core/ (*.cpp, *.h) is read (comments, character literals and raw strings handled)
and judged prose or a name:

  1. What is not shown is dropped first: the ImGui id after "##" ("Heads##sweep" keeps "Heads"; "##rows" keeps
     nothing), printf conversions (%d, %.3f, %-12s, %zu …), fmt placeholders ({n}, {ms:.1f}) and escapes (\\n).
  2. What is left is prose when it has
       a. a Chinese character (Chinese belongs in the catalog too), or
       b. a phrase: two words of letters separated by a space, at least one of them three letters long
          ("Open the live demo", "%d tokens", "heads: %d of %d"), or
       c. a label: one capitalised word of three letters or more ("Heads", "Softmax"), or
       d. a lower-case word of three letters or more beside a printf conversion or a placeholder ("%d tokens",
          "head {i}"; not a function of the maths such as max, log, softmax).
     Everything else is a name: tensor paths and keys (encoder.0.self_attn, lessons.next, attention), file names,
     formulas and symbols (softmax(QKᵀ/√d_k), d_k, Q, MLP), numbers and format-only strings ("%s: %.3f").
  3. Kept as they are, never flagged:
       - a literal on a line that ends with the comment `// i18n: name` (a name that looks like prose, e.g. an
         imgui.ini key or GLSL), or the lines between `// i18n: names begin` and `// i18n: names end`;
       - diagnostics written to stderr (std::fprintf(stderr, …), std::cerr): they are for logs and bug reports, kept
         in English so they can be searched; what the app shows on screen is translated;
       - option descriptions given to CLI11 (add_option, add_flag, add_subcommand, description): `--help` stays
         English, as the flags themselves are English;
       - the language names "English" and "简体中文", which each language shows in its own script.

Prints each prose literal as file:line: "text" and exits 1 when there is any; --summary prints counts per file.
"""
import argparse
import pathlib
import re
import sys

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
PRINTF = re.compile(r"%[-+ #0]*(\*|\d+)?(\.(\*|\d+))?(hh|h|ll|l|z|j|t|L)?[diouxXeEfFgGaAcspn%]")
FMT = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(:[^{}]*)?\}|\{\d*(:[^{}]*)?\}")
ESCAPE = re.compile(r"\\(x[0-9a-fA-F]+|u[0-9a-fA-F]{4}|[0-7]{1,3}|.)")
WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
ALLOWED = {"English", "简体中文"}
MATH_WORDS = {"max", "min", "scale", "exp", "log", "mean", "var", "std", "sum", "diag", "softmax", "relu", "gelu"}
# Calls whose string arguments are not shown on screen (diagnostics) or are CLI11's --help texts.
EXEMPT_CALLS = re.compile(r"fprintf\s*\(\s*stderr|std::cerr|perror\s*\(|add_option\s*\(|add_flag\s*\(|add_subcommand\s*\(|"
                          r"->description\s*\(|add_option_function|footer\s*\(|set_help_flag|set_version_flag|static_assert\s*\(")


def literals(source):
    """(line, text, start offset) of each string literal, with comments and character literals skipped."""
    out = []
    i, n, line = 0, len(source), 1
    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += source.count("\n", i, j)
            i = j
        elif c == "'" and not (i > 0 and (source[i - 1].isalnum() or source[i - 1] == "_")):  # not a digit separator
            j = i + 1
            while j < n and source[j] != "'":
                j += 2 if source[j] == "\\" else 1
            i = j + 1
        elif c == "R" and source.startswith('R"', i) and not (i > 0 and (source[i - 1].isalnum() or source[i - 1] == "_")):
            m = re.match(r'R"([^(\s]{0,16})\(', source[i:])
            if not m:
                i += 1
                continue
            end = source.find(")" + m.group(1) + '"', i)
            end = n if end < 0 else end
            out.append((line, source[i + m.end():end], i))
            line += source.count("\n", i, end)
            i = end + len(m.group(1)) + 2
        elif c == '"':
            j, buf = i + 1, []
            while j < n and source[j] != '"':
                if source[j] == "\\":
                    buf.append(source[j:j + 2])
                    j += 2
                else:
                    buf.append(source[j])
                    j += 1
            out.append((line, "".join(buf), i))
            i = j + 1
        else:
            i += 1
    return out


def shown_part(text):
    if "##" in text:
        text = text.split("##", 1)[0]
    text = ESCAPE.sub(" ", text)
    text = PRINTF.sub(" ", text)
    text = FMT.sub(" ", text)
    return text


def is_prose(text):
    if text in ALLOWED:
        return False
    shown = shown_part(text)
    if shown.strip() in ALLOWED:
        return False
    if CJK.search(shown):
        return True
    # Words are runs of letters between spaces and punctuation; a run glued by . _ / or a digit is a name.
    tokens = re.split(r"\s+", shown.strip())
    words = [t.strip("()[]:;,!?\"'—–-…·→←↑↓<>=+*|") for t in tokens]
    words = [w for w in words if w and WORD.fullmatch(w)]
    if len(words) >= 2 and any(len(w) >= 3 for w in words) and any(len(w) >= 2 and w.islower() or w[:1].isupper() and w[1:].islower() for w in words):
        return True
    if len(words) == 1 and len(tokens) == 1 and re.fullmatch(r"[A-Z][a-z]{2,}", words[0]):
        return True
    # A word beside a number or a name filled in: "%d tokens", "{n} heads", "head %d".
    base = text.split("##", 1)[0]
    if (PRINTF.search(base) or FMT.search(base)) and any(len(w) >= 3 and w.islower() and w not in MATH_WORDS for w in words):
        return True
    return False


def statement_before(source, offset):
    """The source from the start of the statement holding `offset` up to it (to see which call a literal is in)."""
    start = max(source.rfind(";", 0, offset), source.rfind("{\n", 0, offset), source.rfind("}\n", 0, offset))
    return source[start + 1:offset]


def check(path, root):
    source = path.read_text(encoding="utf-8")
    lines = source.split("\n")
    names_region = set()
    inside = False
    for k, text in enumerate(lines, 1):
        if "// i18n: names begin" in text:
            inside = True
        if inside:
            names_region.add(k)
        if "// i18n: names end" in text:
            inside = False
    found = []
    for line, text, offset in literals(source):
        if line in names_region or "// i18n: name" in lines[line - 1]:
            continue
        if not is_prose(text):
            continue
        if EXEMPT_CALLS.search(statement_before(source, offset)):
            continue
        found.append((str(path.relative_to(root)), line, text))
    return found


# The rule on examples, checked before every scan, so a change to it that lets prose through fails here first.
EXAMPLES = {
    "Open the live demo": True, "%d tokens": True, "heads: %d of %d": True, "Heads": True, "Heads##sweep": True,
    "注意力头": True, "Saved %s to %s": True, "(empty folder)": True,
    "##rows": False, "encoder.0.self_attn.head.0.P": False, "softmax(QKᵀ/√d_k)": False, "%s: %.3f": False, "d_k": False,
    "lessons.next": False, "English": False, "简体中文": False, "QKV": False, "{n} × {m}": False, "attention": False,
    "Q, K, V": False, "%.2f GiB": False, "max |%s − %s| = %.1e": False, "DarkTheme=%d": False, "x·W_1 + b_1": False, "%-28s %s\\n": False,
}


def self_test():
    wrong = [text for text, prose in EXAMPLES.items() if is_prose(text) != prose]
    if wrong:
        print("check_i18n_literals.py: its rule misjudges " + ", ".join(repr(t) for t in wrong), file=sys.stderr)
        sys.exit(2)


def main():
    self_test()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    root = pathlib.Path(args.root).resolve()
    files = [pathlib.Path(f).resolve() for f in args.files] or sorted(
        p for d in ("app", "core") for p in (root / d).rglob("*") if p.suffix in (".cpp", ".h"))
    found = []
    for f in files:
        found += check(f, root)
    if args.summary:
        per_file = {}
        for f, _, _ in found:
            per_file[f] = per_file.get(f, 0) + 1
        for f, count in sorted(per_file.items(), key=lambda x: -x[1]):
            print(f"{count:5d}  {f}")
    else:
        for f, line, text in found:
            print(f'{f}:{line}: "{text}"')
    print(f"{len(found)} user-visible literal(s) not taken from assets/i18n/" if found else f"no user-visible literal in {len(files)} files",
          file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
