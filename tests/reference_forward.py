#!/usr/bin/python3
"""Independent NumPy (float64) reference of QKV Lab's forward pass, checked against a qkvlab-cli export.

    /usr/bin/python3 tests/reference_forward.py DIR [--verbose] [--tol 1e-4]

DIR is what `qkvlab-cli run ... --export DIR` wrote. Only the weights (manifest kind "weight"), the tokens, the
vocabulary and the session are read to compute; the exported activations are read only to compare with. Every
tensor the reference computes must exist in the export and agree: finite cells within tol·max(1, max|ref|)
(per tensor), −∞ cells (masks) exactly where the reference has them, no NaN. Prints the largest difference per
tensor family and the worst tensor; exits 1 on any disagreement, 2 on a session this reference does not cover
(train mode, a batch, decoding) or an unreadable export.

Written from README.md and the semantics of core/ (not by translating it line by line): Post-Norm Norm(x + F(x)),
Pre-Norm x + F(Norm(x)) with a final norm, masks as −∞ added to the scaled scores, RoPE on the self-attention
queries and keys of each head, ALiBi −slope·|i−j| on self-attention, tied output logits H·Eᵀ.
"""
import argparse
import json
import math
import os
import re
import sys

import numpy as np

NEG_INF = -np.inf
PAD, BOS, EOS = "[PAD]", "[BOS]", "[EOS]"


class Refused(Exception):
    """The export is outside what this reference covers (or cannot be read)."""


# [SECTION] Tokenizer (an independent re-implementation, used only to check the manifest's token lists)
def _stands_alone(cp):
    return (0x2E80 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF or 0xF900 <= cp <= 0xFAFF or 0xFF00 <= cp <= 0xFFEF
            or 0x20000 <= cp <= 0x2FFFF)


_C_SPACE = set(" \t\n\v\f\r")
_C_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def tokenize(text, kind):
    tokens, word, pos = [], "", 0

    def flush():
        nonlocal word
        if word:
            tokens.append(word)
        word = ""

    while pos < len(text):
        special = next((s for s in (PAD, BOS, EOS) if text.startswith(s, pos)), None)
        if special:
            flush()
            tokens.append(special)
            pos += len(special)
            continue
        ch = text[pos]
        pos += 1
        if kind == "chars":
            tokens.append(ch)
            continue
        if ch in _C_SPACE:
            flush()
        elif ch == "'" and word and pos < len(text) and text[pos].isascii() and text[pos].isalnum():
            word += ch
        elif ch in _C_PUNCT:
            flush()
            tokens.append(ch)
        elif ch == "\u3000":
            flush()
        elif ord(ch) >= 0x80 and _stands_alone(ord(ch)):
            flush()
            tokens.append(ch)
        else:
            word += ch
    flush()
    return tokens


# [SECTION] Building blocks
def softmax_rows(Z):
    """Row softmax of Z (which may hold −∞); a row with every cell −∞ becomes zeros."""
    P = np.zeros_like(Z)
    for i, z in enumerate(Z):
        top = np.max(z)
        if top == NEG_INF:
            continue
        e = np.where(z == NEG_INF, 0.0, np.exp(z - top))
        P[i] = e / e.sum()
    return P


def layer_norm(X, gamma, beta, eps):
    mu = X.mean(axis=1, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=1, keepdims=True)
    return (X - mu) / np.sqrt(var + eps) * gamma + beta


def rms_norm(X, gamma, eps):
    return X / np.sqrt((X ** 2).mean(axis=1, keepdims=True) + eps) * gamma


def batch_norm(X, gamma, beta, eps):
    mu = X.mean(axis=0, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=0, keepdims=True)
    return (X - mu) / np.sqrt(var + eps) * gamma + beta, mu, var


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(X):
    return 0.5 * X * (1.0 + _erf(X / math.sqrt(2.0)))


def sinusoidal(n, d, base):
    pos = np.arange(n, dtype=np.float64)[:, None]
    col = np.arange(d)
    angle = pos / np.power(base, (col - col % 2) / d)[None, :]
    return np.where(col % 2 == 0, np.sin(angle), np.cos(angle))


def rope(X, base):
    """Rotates each pair (2i, 2i+1) of row p by the angle p·base^(−2i/d)."""
    n, d = X.shape
    theta = np.arange(n, dtype=np.float64)[:, None] * np.power(base, -np.arange(0, d, 2) / d)[None, :]
    c, s = np.cos(theta), np.sin(theta)
    x0, x1 = X[:, 0::2], X[:, 1::2]
    Y = np.empty_like(X)
    Y[:, 0::2] = x0 * c - x1 * s
    Y[:, 1::2] = x0 * s + x1 * c
    return Y


def alibi_slopes(h):
    """Press et al. 2022: geometric slopes 2^(−8k/h); for h not a power of two, interleave the 2h sequence."""
    def geometric(count):
        return [2.0 ** (-8.0 * (k + 1) / count) for k in range(count)]

    lower = 1 << (h.bit_length() - 1)
    slopes = geometric(lower)
    if lower < h:
        slopes += geometric(2 * lower)[0::2][: h - lower]
    return slopes


def parse_mask(text):
    flags = set()
    for part in re.split(r"[+,]", text):
        part = part.strip()
        if part in ("causal", "padding", "custom"):
            flags.add(part)
        elif part != "none":
            raise Refused(f"unknown mask {text!r}")
    return flags


def build_mask(flags, n, m, key_pad, cells):
    M = np.zeros((n, m))
    if "causal" in flags:
        M[np.triu(np.ones((n, m), dtype=bool), k=1)] = NEG_INF
    if "padding" in flags:
        M[:, np.asarray(key_pad, dtype=bool)] = NEG_INF
    if "custom" in flags:
        for i, j in cells:
            if 0 <= i < n and 0 <= j < m:
                M[i, j] = NEG_INF
    return M


# [SECTION] The model
class Reference:
    def __init__(self, session, weights):
        self.s = session
        c = self.c = session["model"]
        self.W = weights
        self.out = {}  # activation path -> float64 array
        self.d_model, self.h = c["d_model"], c["heads"]
        self.d_k = c["d_k"] or self.d_model // self.h
        self.d_v = c["d_v"] or self.d_model // self.h
        self.pe = c["pe"]
        self.norm_kind = c["norm"] if c["norm"] != "none" else None
        self.pre = c["norm_placement"] == "pre"
        self.eps = float(c["norm_eps"])
        sqrt_dk = math.sqrt(self.d_k) if c["score_scale"] == "sqrt-dk" else 1.0
        self.scale = 1.0 / (sqrt_dk * float(c["temperature"]))
        self.slopes = alibi_slopes(self.h) if self.pe == "alibi" else None

    def w(self, name):
        if name not in self.W:
            raise Refused(f"weight {name} is not in the export")
        return self.W[name]

    def record(self, name, value):
        self.out[name] = np.array(value, dtype=np.float64)

    # Projections, per the session's projection mode (tied-qk: K uses W_Q; identity: the identity matrix).
    def projection_weights(self, p):
        c, d = self.c, self.d_model
        if c["projection"] == "identity":
            WQ = WK = np.eye(d, self.h * self.d_k)
            WV = np.eye(d, self.h * self.d_v)
            for name, ref in (("W_Q", WQ), ("W_K", WK), ("W_V", WV)):
                if not np.array_equal(self.w(p + name), ref):
                    raise Refused(f"{p}{name} is not the identity though projection = identity")
            b = (None, None, None)
        else:
            WQ = self.w(p + "W_Q")
            WK = WQ if c["projection"] == "tied-qk" else self.w(p + "W_K")
            WV = self.w(p + "W_V")
            if c["projection"] == "tied-qk" and not np.array_equal(self.w(p + "W_K"), WQ):
                raise Refused(f"{p}W_K differs from W_Q though projection = tied-qk")
            b = tuple(self.w(p + n)[0] if c["bias"] else None for n in ("b_Q", "b_K", "b_V"))
        return WQ, WK, WV, b

    def attention(self, p, Xq, Xkv, M, self_attn):
        n, m, h, d_k, d_v = Xq.shape[0], Xkv.shape[0], self.h, self.d_k, self.d_v
        WQ, WK, WV, (bQ, bK, bV) = self.projection_weights(p + ".")
        Q, K, V = Xq @ WQ, Xkv @ WK, Xkv @ WV
        if bQ is not None:
            Q, K, V = Q + bQ, K + bK, V + bV
        self.record(p + ".M", M)
        heads = []
        for i in range(h):
            hp = f"{p}.head.{i}."
            Qi, Ki, Vi = Q[:, i * d_k:(i + 1) * d_k], K[:, i * d_k:(i + 1) * d_k], V[:, i * d_v:(i + 1) * d_v]
            if self_attn and self.pe == "rope":
                Qi, Ki = rope(Qi, float(self.c["pe_base"])), rope(Ki, float(self.c["pe_base"]))
            if self.c["scoring"] == "additive":
                wa = self.w(p + ".w_a")[i]
                S = np.tanh(Qi[:, None, :] + Ki[None, :, :]) @ wa
            else:
                S = Qi @ Ki.T
            S_scaled = S * self.scale
            bias = np.zeros((n, m))
            if self_attn and self.slopes is not None:
                bias = -self.slopes[i] * np.abs(np.arange(n)[:, None] - np.arange(m)[None, :]).astype(np.float64)
                self.record(hp + "B", bias)
            S_masked = S_scaled + bias + M
            P = softmax_rows(S_masked)
            O = P @ Vi
            for name, value in (("Q", Qi), ("K", Ki), ("V", Vi), ("S", S), ("S_scaled", S_scaled), ("S_masked", S_masked),
                                ("P", P), ("O", O)):
                self.record(hp + name, value)
            heads.append(O)
        concat = np.concatenate(heads, axis=1)
        out = concat @ self.w(p + ".W_O")
        if self.c["bias"]:
            out = out + self.w(p + ".b_O")[0]
        self.record(p + ".concat", concat)
        self.record(p + ".out", out)
        return out

    def norm(self, p, X):
        gamma = self.w(p + ".gamma")[0]
        if self.norm_kind == "layernorm":
            return layer_norm(X, gamma, self.w(p + ".beta")[0], self.eps)
        if self.norm_kind == "rmsnorm":
            return rms_norm(X, gamma, self.eps)
        if self.norm_kind == "batchnorm":
            Y, mu, var = batch_norm(X, gamma, self.w(p + ".beta")[0], self.eps)
            self.record(p + ".batch_mean", mu)
            self.record(p + ".batch_var", var)
            return Y
        raise Refused(f"unknown norm {self.norm_kind!r}")

    def sublayer(self, p, H, body):
        X = H
        if self.norm_kind and self.pre:
            X = self.norm(p + ".norm", H)
            self.record(p + ".norm", X)
        F = body(X)
        R = H + F if self.c["residual"] else F
        self.record(p + ".residual", R)
        if self.norm_kind and not self.pre:
            R = self.norm(p + ".norm", R)
            self.record(p + ".norm", R)
        return R

    def ffn(self, p, X):
        hidden = X @ self.w(p + ".W_1")
        if self.c["bias"]:
            hidden = hidden + self.w(p + ".b_1")[0]
        act = gelu(hidden) if self.c["activation"] == "gelu" else np.maximum(hidden, 0.0)
        out = act @ self.w(p + ".W_2")
        if self.c["bias"]:
            out = out + self.w(p + ".b_2")[0]
        self.record(p + ".hidden", hidden)
        self.record(p + ".act", act)
        self.record(p + ".out", out)
        return out

    def embed(self, stack, ids):
        n, d = len(ids), self.d_model
        E_x = self.w("embed.E")[ids] * (math.sqrt(d) if self.c["scale_embeddings"] else 1.0)
        self.record(stack + ".embed.E_x", E_x)
        X = E_x
        if self.pe in ("sinusoidal", "learned"):
            PE = sinusoidal(n, d, float(self.c["pe_base"])) if self.pe == "sinusoidal" else self.w("pos.learned")[:n]
            self.record(stack + ".embed.PE", PE)
            X = E_x + PE
        self.record(stack + ".embed.X", X)
        return X

    def stack(self, stack, H, self_mask, memory=None, cross_mask=None):
        for l in range(self.c["layers"]):
            p = f"{stack}.{l}"
            self.record(p + ".input", H)
            H = self.sublayer(p + ".self_attn", H, lambda X: self.attention(p + ".self_attn", X, X, self_mask, True))
            if memory is not None:
                H = self.sublayer(p + ".cross_attn", H, lambda X: self.attention(p + ".cross_attn", X, memory, cross_mask, False))
            H = self.sublayer(p + ".ffn", H, lambda X: self.ffn(p + ".ffn", X))
            self.record(p + ".output", H)
        if self.norm_kind and self.pre:
            H = self.norm(stack + ".final_norm", H)
            self.record(stack + ".final_norm", H)
        return H

    def run(self, source_ids, target_ids):
        s, arch = self.s, self.c["arch"]
        cells = [tuple(cell) for cell in s["custom_cells"]]
        marked = set(s["padding_positions"])
        src_pad = [t == 0 or k in marked for k, t in enumerate(source_ids)]  # id 0 is [PAD]
        enc_flags, dec_flags = parse_mask(s["encoder_mask"]), parse_mask(s["decoder_mask"])
        if arch == "encoder-only":
            n = len(source_ids)
            H = self.stack("encoder", self.embed("encoder", source_ids), build_mask(enc_flags, n, n, src_pad, cells))
        elif arch == "decoder-only":
            n = len(source_ids)
            H = self.stack("decoder", self.embed("decoder", source_ids), build_mask(dec_flags, n, n, src_pad, cells))
        elif arch == "encoder-decoder":
            n, t = len(source_ids), len(target_ids)
            memory = self.stack("encoder", self.embed("encoder", source_ids), build_mask(enc_flags, n, n, src_pad, cells))
            tgt_pad = [i == 0 for i in target_ids]  # the decoder's own keys: only written [PAD] tokens
            cross = build_mask(enc_flags & {"padding"}, t, n, src_pad, [])  # cross-attention: source padding only
            H = self.stack("decoder", self.embed("decoder", target_ids), build_mask(dec_flags, t, t, tgt_pad, cells),
                           memory, cross)
        else:
            raise Refused(f"unknown arch {arch!r}")
        logits = H @ self.w("embed.E").T
        self.record("output.logits", logits)
        self.record("output.probs", softmax_rows(logits))


# [SECTION] Loading and comparing
def load_export(d):
    try:
        with open(os.path.join(d, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise Refused(f"cannot read {d}/manifest.json: {e}")
    weights, activations = {}, {}
    for t in manifest["tensors"]:
        if t["kind"] == "weight":
            a = np.load(os.path.join(d, t["file"]))
            if list(a.shape) != list(t["shape"]):
                raise Refused(f"{t['file']} has shape {a.shape}, the manifest says {t['shape']}")
            weights[t["name"]] = a.astype(np.float64)
        else:
            activations[t["name"]] = t
    return manifest, weights, activations


def check_session(s):
    if s.get("mode", "eval") != "eval":
        raise Refused(f"mode = {s['mode']!r}: this reference covers eval only (no dropout)")
    if s.get("extra_batch"):
        raise Refused(f"extra_batch has {len(s['extra_batch'])} sequence(s): this reference covers single sequences only")
    if s.get("decode_steps", 0) != 0:
        raise Refused(f"decode_steps = {s['decode_steps']}: this reference covers the parallel pass only")


def expected_tokens(s):
    """Token lists as README.md describes them: the decoder of an encoder-decoder reads [BOS] + target."""
    arch, special, kind = s["model"]["arch"], s["add_special_tokens"], s["tokenizer"]
    src = tokenize(s["text"], kind)
    if special:
        src = [BOS] + src if arch == "decoder-only" else src + [EOS]
    tgt = [BOS] + tokenize(s["target"], kind) if arch == "encoder-decoder" else []
    return src, tgt


def family(name):
    return re.sub(r"(?<=\.)\d+(?=\.|$)", "*", name)


def tensor_problems(a, r, tol):
    """One exported tensor `a` against its reference `r` (same shape, float64): (max |diff| over cells finite in
    both, scale = max(1, max |r|), [problems]): NaN cells, ±inf cells where the reference has none (or the reverse),
    and a difference over tol·scale. tests/hf_reference.py compares its tensors with this too."""
    problems = []
    if np.isnan(a).any():
        problems.append(f"{int(np.isnan(a).sum())} NaN cell(s)")
    for label, test in (("-inf", np.isneginf), ("+inf", np.isposinf)):
        differ = test(a) != test(r)
        if differ.any():
            i, j = np.argwhere(differ)[0]
            problems.append(f"{int(differ.sum())} {label} cell(s) differ, first at ({i}, {j}): export {a[i, j]}, reference {r[i, j]}")
    finite = np.isfinite(a) & np.isfinite(r)
    scale = max(1.0, float(np.abs(r[np.isfinite(r)]).max(initial=0.0)))
    absdiff = np.zeros_like(r)
    absdiff[finite] = np.abs(a[finite] - r[finite])
    diff = float(absdiff.max(initial=0.0))
    if diff > tol * scale:
        i, j = np.unravel_index(np.argmax(absdiff), absdiff.shape)
        problems.append(f"max |diff| {diff:.3g} > {tol:g}·{scale:.3g} at ({i}, {j}): export {a[i, j]:.7g}, reference {r[i, j]:.7g}")
    return diff, scale, problems


def compare(ref, export_dir, activations, tol):
    """Returns a list of (name, family, max_abs_diff, scale, problem-or-None)."""
    rows = []
    for name, r in ref.items():
        entry = activations.get(name)
        if entry is None:
            rows.append((name, family(name), math.nan, math.nan, "missing from the export"))
            continue
        a = np.load(os.path.join(export_dir, entry["file"])).astype(np.float64)
        if a.shape != r.shape:
            rows.append((name, family(name), math.nan, math.nan, f"shape {a.shape}, expected {r.shape}"))
            continue
        diff, scale, problems = tensor_problems(a, r, tol)
        rows.append((name, family(name), diff, scale, "; ".join(problems) or None))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export_dir")
    ap.add_argument("--tol", type=float, default=1e-4, help="allowed |diff| per unit of max(1, max|ref|) (1e-4)")
    ap.add_argument("--verbose", action="store_true", help="print every tensor's difference")
    args = ap.parse_args()
    d = args.export_dir
    try:
        manifest, weights, activations = load_export(d)
        s = manifest["session"]
        check_session(s)
        vocab = manifest["vocab"]
        index = {t: i for i, t in enumerate(vocab)}
        if len(index) != len(vocab) or vocab[:3] != [PAD, BOS, EOS]:
            raise Refused("the vocabulary must list [PAD] [BOS] [EOS] first and each token once")
        src_tokens, tgt_tokens = manifest["tokens"]["source"], manifest["tokens"]["target"]
        unknown = [t for t in src_tokens + tgt_tokens if t not in index]
        if unknown:
            raise Refused(f"tokens not in the vocabulary: {unknown}")
        ref = Reference(s, weights)
        ref.run([index[t] for t in src_tokens], [index[t] for t in tgt_tokens])
    except Refused as e:
        print(f"reference_forward: {e}", file=sys.stderr)
        return 2

    failures = []
    exp_src, exp_tgt = expected_tokens(s)
    if exp_src != src_tokens or exp_tgt != tgt_tokens:
        failures.append(f"tokens: manifest has source {src_tokens} target {tgt_tokens}, expected {exp_src} {exp_tgt}")

    rows = compare(ref.out, d, activations, args.tol)
    families = {}
    for name, fam, diff, scale, problem in rows:
        families.setdefault(fam, []).append((name, diff, scale, problem))
        if problem:
            failures.append(f"{name}: {problem}")
        if args.verbose:
            print(f"  {name:55s} max|diff| {diff:.3e} (scale {scale:.3g}){'  ' + problem if problem else ''}")

    c = s["model"]
    print(f"{d}: {c['arch']}, L={c['layers']} d_model={c['d_model']} h={c['heads']}, {len(rows)} tensors checked "
          f"({len(activations) - len(set(activations) & set(ref.out))} exported activations not recomputed)")
    print(f"  {'family':46s} {'count':>5s} {'max|diff|':>10s} {'max rel':>10s}  worst tensor")
    worst = None
    for fam in sorted(families):
        items = [(diff / scale, diff, name) for name, diff, scale, _ in families[fam] if not math.isnan(diff)]
        if not items:
            print(f"  {fam:46s} {len(families[fam]):5d} {'-':>10s} {'-':>10s}  (not comparable)")
            continue
        rel, diff, name = max(items)
        print(f"  {fam:46s} {len(families[fam]):5d} {max(i[1] for i in items):10.3e} {rel:10.3e}  {name}")
        if worst is None or rel > worst[0]:
            worst = (rel, diff, name)
    if worst:
        print(f"  worst: {worst[2]} (max|diff| {worst[1]:.3e}, {worst[0]:.3e} of its scale; tolerance {args.tol:g})")
    if failures:
        print(f"FAILED: {len(failures)} problem(s)")
        for f in failures[:40]:
            print("  " + f)
        if len(failures) > 40:
            print(f"  ... and {len(failures) - 40} more")
        return 1
    print("all tensors agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
