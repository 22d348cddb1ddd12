#!/usr/bin/python3
"""Independent NumPy (float64) forward pass of a Hugging Face GPT-2 or BERT model folder, checked against a
qkvlab-cli export of a run on that folder.

    /usr/bin/python3 tests/hf_reference.py DIR [--tol 1e-4] [--verbose] [--expect-model-defaults] [--min-tokens N]
    /usr/bin/python3 tests/hf_reference.py --self-test

DIR is what `qkvlab-cli run --model FOLDER --text ... --export DIR` wrote. Read from DIR/manifest.json:
  session.model_dir                 the checkpoint folder (absolute, or relative to the current directory or DIR)
  ids.source                        the token ids of sequence 0 (what the C++ tokenizer produced)
  session.model.{score_scale, temperature, residual, pe, projection, activation}, session.decoder_mask (GPT-2)
  or session.encoder_mask (BERT), session.ablations, session.padding_positions, session.custom_cells
  tensors[*].{name, file}           only to find the exported activations to compare with
From the model folder: config.json, model.safetensors (read here by our own reader: F32/F16/BF16/F64 parameters;
buffers of any dtype skipped) and vocab.txt / tokenizer.json (BERT: the [SEP] id, for the token types).
Nothing else of the export (no exported weight, no C++ name mapping) enters the computation: HF names are mapped
here, both prefix variants (`transformer.`, `bert.`) and both LayerNorm spellings (gamma/beta, weight/bias).

Compared, each tensor with |diff| <= tol·max(1, max|ref|), −∞ cells identical, no NaN:
  {stack}.{l}.self_attn.head.{i}.P   stack "decoder" (GPT-2) or "encoder" (BERT)
  {stack}.{l}.output                 the hidden state after block l
  output.logits                      GPT-2: ln_f(h)·wteᵀ (or lm_head); BERT: the MLM head
Prints one line per compared family; exits 0 when all agree, 1 on any disagreement, 2 on unusable input.
--expect-model-defaults also fails when the session's toggles are not the model's own (a run with no toggle
flags must carry the checkpoint's settings, e.g. GPT-2's gelu_new as "gelu-tanh").

The model (memo /work/issue13-research.md §1, §2, §6):
  GPT-2 (Pre-LN):  h = wte[ids] + wpe[0..n);  h += Attn(LN₁(h));  h += MLP(LN₂(h));  logits = LN_f(h)·Eᵀ
  BERT (Post-LN):  h = LN(word[ids] + pos[0..n) + type[tt]);  h = LN₁(h + Attn(h));  h = LN₂(h + FFN(h));
                   logits = LN_t(act(h·W_tᵀ + b_t))·Eᵀ + b   (act: the session's activation, as in the FFN)
  Attn: per head i, P_i = softmax(Q_i·K_iᵀ·scale + M), O_i = P_i·V_i, out = [O_0 … O_{h−1}]·W_O + b_O.
"""
import argparse
import contextlib
import copy
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

# The comparison of an exported tensor with its reference is shared with the toy models' reference; the forward
# pass below is this file's own.
from reference_forward import family, tensor_problems

NEG_INF = -np.inf
MAX_HEADER = 100_000_000  # the safetensors reference reader's limit (memo §3)


class Refused(Exception):
    """The input cannot be used: an unreadable export or model folder, or a session this reference does not cover."""


# [SECTION] safetensors reader (memo §3), written from the format, not from core/safetensors.cpp
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


class RawTensor:
    def __init__(self, name, dtype, shape, data):
        self.name, self.dtype, self.shape, self.data = name, dtype, tuple(shape), data


def read_safetensors(path):
    """name → RawTensor. Checks: N ≤ 100,000,000, the header inside the file, valid JSON, known dtypes, each
    tensor's byte size = numel·size, offsets contiguous (sorted by begin: begin = previous end), buffer covered."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise Refused(f"{path}: {len(blob)} bytes, truncated before the 8-byte header length")
    n = int.from_bytes(blob[:8], "little")
    if n > MAX_HEADER:
        raise Refused(f"{path}: header length {n} is too large (limit {MAX_HEADER})")
    if 8 + n > len(blob):
        raise Refused(f"{path}: truncated: the header needs {8 + n} bytes, the file has {len(blob)}")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Refused(f"{path}: the JSON header is invalid: {e}")
    if not isinstance(header, dict):
        raise Refused(f"{path}: the JSON header is not an object")
    header.pop("__metadata__", None)
    buffer = blob[8 + n:]
    spans = []
    for name, e in header.items():
        try:
            dtype, shape, (begin, end) = e["dtype"], [int(s) for s in e["shape"]], e["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise Refused(f"{path}: tensor {name} has no valid dtype/shape/data_offsets")
        if dtype not in DTYPE_BYTES:
            raise Refused(f"{path}: tensor {name} has unknown dtype {dtype}")
        if end - begin != math.prod(shape) * DTYPE_BYTES[dtype] or begin < 0:
            raise Refused(f"{path}: tensor {name}: offsets {begin}..{end} do not hold shape {shape} of {dtype}")
        spans.append((begin, end, name, dtype, shape))
    spans.sort()
    covered = 0
    for begin, end, name, _, _ in spans:
        if begin != covered:
            raise Refused(f"{path}: tensor {name} data offset {begin} != {covered} where the previous one ends "
                          f"({'overlap' if begin < covered else 'gap'})")
        covered = end
    if covered > len(buffer):
        raise Refused(f"{path}: truncated: the tensors need {covered} data bytes, the file has {len(buffer)}")
    if covered < len(buffer):
        raise Refused(f"{path}: {len(buffer) - covered} bytes after the last tensor")
    return {name: RawTensor(name, dtype, shape, buffer[b:e]) for b, e, name, dtype, shape in spans}


def f16_bits_to_float(h):
    """IEEE half bits (uint16) → float64: sign s, exponent e (bias 15), mantissa m (10 bits)."""
    h = np.asarray(h, dtype=np.uint32)
    s, e, m = (h & 0x8000) << 16, (h >> 10) & 0x1F, h & 0x3FF
    bits = np.where(e == 31, s | 0x7F800000 | (m << 13), s | ((e + 112) << 23) | (m << 13)).astype(np.uint32)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns stay NaN
        out = bits.view(np.float32).astype(np.float64)
    sub = e == 0  # zero and subnormals: ±m·2⁻²⁴
    out[sub] = np.copysign(m[sub] * 2.0 ** -24, np.where(s[sub] != 0, -1.0, 1.0))
    return out


def bf16_bits_to_float(b):
    """bfloat16 bits (uint16) → float64: the upper half of a float32."""
    with np.errstate(invalid="ignore"):
        return (np.asarray(b, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)


def as_float64(t):
    """A parameter tensor's values; refuses non-float dtypes (naming the tensor)."""
    if t.dtype == "F32":
        a = np.frombuffer(t.data, "<f4").astype(np.float64)
    elif t.dtype == "F64":
        a = np.frombuffer(t.data, "<f8").astype(np.float64)
    elif t.dtype == "F16":
        a = f16_bits_to_float(np.frombuffer(t.data, "<u2"))
    elif t.dtype == "BF16":
        a = bf16_bits_to_float(np.frombuffer(t.data, "<u2"))
    else:
        raise Refused(f"tensor {t.name} has dtype {t.dtype}; a parameter must be F32, F16, BF16 or F64")
    return a.reshape(t.shape)


# [SECTION] Model folders → one family-neutral Model (every W stored [in, out], so Y = X·W + b)
class Model:
    """family "gpt2" | "bert"; L layers, width d, h heads, V tokens, P positions, eps of every LayerNorm.
    E [V, d], pos [P, d], types [2, d] and emb_norm (BERT only); layers[l] holds W_Q, W_K, W_V, W_O [d, d],
    b_Q, b_K, b_V, b_O [d], norm1/norm2 (γ, β) [d], W_1 [d, d_ff], b_1, W_2 [d_ff, d], b_2.
    Output: W_out [V, d] (wte, lm_head or the MLM decoder); GPT-2 final_norm; BERT W_t [d, d], b_t, head_norm, b_out [V]."""
    @property
    def stack(self):  # the C++ side's name of the layer stack
        return "decoder" if self.family == "gpt2" else "encoder"


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise Refused(f"cannot read {path}: {e}")


class Params:
    """The file's tensors by name (one prefix stripped); take() pops a parameter, checking its shape."""

    def __init__(self, raw, prefix):
        self.t = {}
        for name, t in raw.items():
            key = name[len(prefix):] if name.startswith(prefix) else name
            if key in self.t:
                raise Refused(f"tensor {name} appears both with and without the prefix {prefix!r}")
            self.t[key] = t

    def has(self, key):
        return key in self.t

    def take(self, key, shape):
        if key not in self.t:
            raise Refused(f"tensor {key} is missing from model.safetensors")
        t = self.t.pop(key)
        if tuple(t.shape) != tuple(shape):
            raise Refused(f"tensor {key} has shape {list(t.shape)}, the config implies {list(shape)}")
        return as_float64(t)

    def take_any(self, keys, shape):  # the first of keys that exists (LayerNorm gamma or weight)
        return self.take(next((k for k in keys if k in self.t), keys[0]), shape)

    def drop(self, pattern):  # buffers and unused heads: removed, never converted
        for k in [k for k in self.t if re.fullmatch(pattern, k)]:
            del self.t[k]


def load_model(folder):
    cfg = read_json(os.path.join(folder, "config.json"))
    st = os.path.join(folder, "model.safetensors")
    if not os.path.exists(st):
        pickles = [f for f in ("pytorch_model.bin", "tf_model.h5") if os.path.exists(os.path.join(folder, f))]
        raise Refused(f"{folder} has no model.safetensors" + (f", only {pickles} (a pickle; not read)" if pickles else ""))
    family = cfg.get("model_type")
    if family not in ("gpt2", "bert"):
        raise Refused(f"model_type {family!r} is unsupported (gpt2 or bert)")
    raw = read_safetensors(st)
    m = gpt2_model(cfg, raw) if family == "gpt2" else bert_model(cfg, raw, folder)
    m.family, m.config, m.folder = family, cfg, folder
    return m


def gpt2_model(cfg, raw):
    m = Model()
    d, h, L, P, V = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["n_positions"], cfg["vocab_size"]
    f = cfg.get("n_inner") or 4 * d
    m.d, m.h, m.L, m.P, m.V, m.d_ff = d, h, L, P, V, f
    m.eps = float(cfg.get("layer_norm_epsilon", 1e-5))
    m.config_activation = {"gelu_new": "gelu-tanh", "gelu_pytorch_tanh": "gelu-tanh", "gelu_fast": "gelu-tanh",
                           "gelu": "gelu", "relu": "relu"}.get(cfg.get("activation_function", "gelu_new"))
    if m.config_activation is None:
        raise Refused(f"activation_function {cfg.get('activation_function')!r} is unsupported")
    p = Params(raw, "transformer.")
    p.drop(r"h\.\d+\.attn\.(bias|masked_bias)")  # buffers: the causal mask and −1e4
    m.E, m.pos, m.types, m.emb_norm = p.take("wte.weight", (V, d)), p.take("wpe.weight", (P, d)), None, None
    m.layers = []
    for l in range(L):
        q = f"h.{l}."
        c_attn, b_attn = p.take(q + "attn.c_attn.weight", (d, 3 * d)), p.take(q + "attn.c_attn.bias", (3 * d,))
        m.layers.append(dict(  # Conv1D is [in, out]: columns [W_Q | W_K | W_V], no transpose
            norm1=(p.take(q + "ln_1.weight", (d,)), p.take(q + "ln_1.bias", (d,))),
            W_Q=c_attn[:, :d], W_K=c_attn[:, d:2 * d], W_V=c_attn[:, 2 * d:],
            b_Q=b_attn[:d], b_K=b_attn[d:2 * d], b_V=b_attn[2 * d:],
            W_O=p.take(q + "attn.c_proj.weight", (d, d)), b_O=p.take(q + "attn.c_proj.bias", (d,)),
            norm2=(p.take(q + "ln_2.weight", (d,)), p.take(q + "ln_2.bias", (d,))),
            W_1=p.take(q + "mlp.c_fc.weight", (d, f)), b_1=p.take(q + "mlp.c_fc.bias", (f,)),
            W_2=p.take(q + "mlp.c_proj.weight", (f, d)), b_2=p.take(q + "mlp.c_proj.bias", (d,))))
    m.final_norm = (p.take("ln_f.weight", (d,)), p.take("ln_f.bias", (d,)))
    m.W_out = p.take("lm_head.weight", (V, d)) if p.has("lm_head.weight") else m.E  # [V, d]
    m.ignored = sorted(p.t)
    m.sep_id = m.pad_id = None
    return m


def bert_vocab_ids(folder):
    """token → id from vocab.txt (line index) or tokenizer.json (model.vocab); None when neither exists."""
    if os.path.exists(os.path.join(folder, "vocab.txt")):
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
            return {tok.rstrip("\r\n"): i for i, tok in enumerate(f)}
    if os.path.exists(os.path.join(folder, "tokenizer.json")):
        return read_json(os.path.join(folder, "tokenizer.json"))["model"]["vocab"]
    return None


def bert_model(cfg, raw, folder):
    m = Model()
    d, h, L, P, V = (cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"],
                     cfg["max_position_embeddings"], cfg["vocab_size"])
    f, n_types = cfg["intermediate_size"], cfg.get("type_vocab_size", 2)
    m.d, m.h, m.L, m.P, m.V, m.d_ff = d, h, L, P, V, f
    m.eps = float(cfg.get("layer_norm_eps", 1e-12))
    if cfg.get("position_embedding_type", "absolute") != "absolute" or cfg.get("is_decoder"):
        raise Refused("only absolute positions and an encoder are supported for BERT")
    m.config_activation = {"gelu": "gelu", "gelu_new": "gelu-tanh", "relu": "relu"}.get(cfg.get("hidden_act", "gelu"))
    if m.config_activation is None:
        raise Refused(f"hidden_act {cfg.get('hidden_act')!r} is unsupported")
    p = Params(raw, "bert.")
    p.drop(r"embeddings\.position_ids|pooler\.dense\.(weight|bias)|cls\.seq_relationship\.(weight|bias)")

    def norm(q):  # bert-base-uncased: gamma/beta; newer files: weight/bias
        return (p.take_any([q + ".LayerNorm.gamma", q + ".LayerNorm.weight"], (d,)),
                p.take_any([q + ".LayerNorm.beta", q + ".LayerNorm.bias"], (d,)))

    def linear(q, n_in, n_out):  # nn.Linear stores [out, in]: W = weightᵀ [in, out]
        return p.take(q + ".weight", (n_out, n_in)).T, p.take(q + ".bias", (n_out,))

    e = "embeddings."
    m.E = p.take(e + "word_embeddings.weight", (V, d))
    m.pos = p.take(e + "position_embeddings.weight", (P, d))
    m.types = p.take(e + "token_type_embeddings.weight", (n_types, d))
    m.emb_norm = norm("embeddings")
    m.layers = []
    for l in range(L):
        q = f"encoder.layer.{l}."
        (W_Q, b_Q), (W_K, b_K), (W_V, b_V) = (linear(q + "attention.self." + x, d, d) for x in ("query", "key", "value"))
        W_O, b_O = linear(q + "attention.output.dense", d, d)
        W_1, b_1 = linear(q + "intermediate.dense", d, f)
        W_2, b_2 = linear(q + "output.dense", f, d)
        m.layers.append(dict(W_Q=W_Q, W_K=W_K, W_V=W_V, b_Q=b_Q, b_K=b_K, b_V=b_V, W_O=W_O, b_O=b_O,
                             norm1=norm(q + "attention.output"), W_1=W_1, b_1=b_1, W_2=W_2, b_2=b_2,
                             norm2=norm(q + "output")))
    m.final_norm = None
    m.W_t, m.b_t = linear("cls.predictions.transform.dense", d, d)
    m.head_norm = norm("cls.predictions.transform")
    m.b_out = p.take("cls.predictions.bias", (V,))
    m.W_out = p.take("cls.predictions.decoder.weight", (V, d)) if p.has("cls.predictions.decoder.weight") else m.E
    if p.has("cls.predictions.decoder.bias"):
        m.b_out = p.take("cls.predictions.decoder.bias", (V,))
    m.ignored = sorted(p.t)
    vocab = bert_vocab_ids(folder)
    m.sep_id = vocab.get("[SEP]") if vocab else None
    m.pad_id = cfg.get("pad_token_id")
    return m


# [SECTION] Building blocks
def layer_norm(X, gamma_beta, eps):
    """(X − μ)/√(σ² + ε)·γ + β per row, σ² the biased variance. X: [n, d]."""
    gamma, beta = gamma_beta
    mu = X.mean(axis=1, keepdims=True)
    var = ((X - mu) ** 2).mean(axis=1, keepdims=True)
    return (X - mu) / np.sqrt(var + eps) * gamma + beta


def softmax_rows(Z):
    """Row softmax of Z [n, m] holding −∞ (exp → 0); a row with every cell −∞ becomes zeros."""
    P = np.zeros_like(Z)
    for i, z in enumerate(Z):
        top = np.max(z)
        if top == NEG_INF:
            continue
        e = np.where(z == NEG_INF, 0.0, np.exp(z - top))
        P[i] = e / e.sum()
    return P


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_erf(X):  # BERT's "gelu": x·Φ(x)
    return 0.5 * X * (1.0 + _erf(X / math.sqrt(2.0)))


def gelu_tanh(X):  # GPT-2's "gelu_new"
    return 0.5 * X * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (X + 0.044715 * X ** 3)))


ACTIVATIONS = {"gelu": gelu_erf, "gelu-tanh": gelu_tanh, "relu": lambda X: np.maximum(X, 0.0)}


def token_types(ids, sep_id):
    """BERT segments: 0 up to and including the first [SEP], 1 after it."""
    out, after = [], False
    for t in ids:
        out.append(1 if after else 0)
        after = after or t == sep_id
    return np.array(out, dtype=int)


def build_mask(flags, n, pad_keys, cells):
    """M [n, n]: 0 allowed, −∞ masked (causal: key j > query i; padding: key columns; custom: listed cells)."""
    M = np.zeros((n, n))
    if "causal" in flags:
        M[np.triu(np.ones((n, n), dtype=bool), k=1)] = NEG_INF
    if "padding" in flags:
        M[:, np.asarray(pad_keys, dtype=bool)] = NEG_INF
    if "custom" in flags:
        for i, j in cells:
            if 0 <= i < n and 0 <= j < n:
                M[i, j] = NEG_INF
    return M


def ablate(X, kind):
    """zero: X → 0; mean: every row → the mean of X over positions (rows); None: X unchanged."""
    if kind == "zero":
        return np.zeros_like(X)
    if kind == "mean":
        return np.broadcast_to(X.mean(axis=0, keepdims=True), X.shape).copy()
    return X


# [SECTION] Teaching toggles (manifest["session"])
class Toggles:
    def __init__(self, m, session):
        s, c = session, session.get("model", {})
        d_k = m.d // m.h
        tau = float(c.get("temperature", 1.0))
        self.score_scale, self.temperature = c.get("score_scale", "sqrt-dk"), tau
        if self.score_scale not in ("sqrt-dk", "none") or not tau > 0:
            raise Refused(f"score_scale {self.score_scale!r} / temperature {tau} not covered")
        self.scale = 1.0 / ((math.sqrt(d_k) if self.score_scale == "sqrt-dk" else 1.0) * tau)
        self.activation = c.get("activation", m.config_activation)
        self.residual = bool(c.get("residual", True))
        self.pe, self.projection = c.get("pe", "learned"), c.get("projection", "learned")
        if self.activation not in ACTIVATIONS or self.pe not in ("learned", "none") or \
                self.projection not in ("learned", "tied-qk"):
            raise Refused(f"activation {self.activation!r}, pe {self.pe!r} or projection {self.projection!r} not covered")
        default_mask = "causal+padding" if m.family == "gpt2" else "padding"
        self.mask = s.get("decoder_mask" if m.family == "gpt2" else "encoder_mask", default_mask)
        self.mask_flags = set()
        for part in re.split(r"[+,]", self.mask):
            if part.strip() not in ("causal", "padding", "custom", "none"):
                raise Refused(f"unknown mask {self.mask!r}")
            self.mask_flags.add(part.strip())
        self.padding_positions = set(s.get("padding_positions", []))
        self.cells = [tuple(cell) for cell in s.get("custom_cells", [])]
        self.head_ablations, self.layer_ablations = {}, {}  # (l, i) → kind, l → kind
        for a in s.get("ablations", []):
            target, kind = a.get("target", ""), a.get("kind", "zero")
            hit = re.fullmatch(r"(encoder|decoder)\.(\d+)(?:\.self_attn\.head\.(\d+))?", target)
            if kind not in ("zero", "mean") or not hit or hit[1] != m.stack or int(hit[2]) >= m.L or \
                    (hit[3] is not None and int(hit[3]) >= m.h):
                raise Refused(f"ablation {a} does not name a {m.stack} layer or head of this model")
            if hit[3] is None:
                self.layer_ablations[int(hit[2])] = kind
            else:
                self.head_ablations[(int(hit[2]), int(hit[3]))] = kind

    def differences_from_model(self, m):
        """Toggles that differ from the checkpoint's own behaviour (for --expect-model-defaults)."""
        want = dict(score_scale="sqrt-dk", temperature=1.0, activation=m.config_activation, residual=True,
                    pe="learned", projection="learned", mask="causal+padding" if m.family == "gpt2" else "padding")
        out = [f"{k} = {getattr(self, k)!r}, the model's own is {v!r}" for k, v in want.items() if getattr(self, k) != v]
        if self.head_ablations or self.layer_ablations:
            out.append("ablations present")
        return out


# [SECTION] The forward pass
def self_attention(m, lw, X, M, tg, l, out):
    """X: [n, d] → [n, d]. Q = X·W_Q + b_Q, K = X·W_K + b_K (tied-qk: X·W_Q + b_K), V = X·W_V + b_V: [n, d];
    head i uses columns [i·d_k, (i+1)·d_k)."""
    d_k, p = m.d // m.h, f"{m.stack}.{l}.self_attn"
    Q = X @ lw["W_Q"] + lw["b_Q"]
    K = X @ (lw["W_Q"] if tg.projection == "tied-qk" else lw["W_K"]) + lw["b_K"]
    V = X @ lw["W_V"] + lw["b_V"]
    heads = []
    for i in range(m.h):
        cols = slice(i * d_k, (i + 1) * d_k)
        S = Q[:, cols] @ K[:, cols].T * tg.scale + M  # S: [n, n]
        P = softmax_rows(S)                           # P: [n, n]
        O = ablate(P @ V[:, cols], tg.head_ablations.get((l, i)))  # O: [n, d_k]
        for name, value in (("Q", Q[:, cols]), ("K", K[:, cols]), ("P", P), ("O", O)):
            out[f"{p}.head.{i}.{name}"] = value
        heads.append(O)
    return np.concatenate(heads, axis=1) @ lw["W_O"] + lw["b_O"]  # [n, h·d_k]·[d, d] → [n, d]


def feed_forward(lw, X, act):
    """act(X·W_1 + b_1)·W_2 + b_2. X: [n, d], hidden: [n, d_ff]."""
    return act(X @ lw["W_1"] + lw["b_1"]) @ lw["W_2"] + lw["b_2"]


def forward(m, ids, tg):
    """name → float64 array: the compared tensors (P, output, logits) and a few internal ones (Q, K, O, input)."""
    ids = np.asarray(ids, dtype=int)
    n, out = len(ids), {}
    if n == 0 or ids.min() < 0 or ids.max() >= m.V:
        raise Refused(f"token ids {ids.tolist()} are empty or outside the vocabulary (size {m.V})")
    if tg.pe == "learned" and n > m.P:
        raise Refused(f"{n} tokens but only {m.P} positions")
    H = m.E[ids]                                        # [n, d]
    if tg.pe == "learned":
        H = H + m.pos[:n]
    if m.family == "bert":
        tt = token_types(ids, m.sep_id)
        if tt.max() >= len(m.types):
            raise Refused("a second segment but type_vocab_size < 2")
        H = layer_norm(H + m.types[tt], m.emb_norm, m.eps)
    pad_keys = [k in tg.padding_positions or (m.pad_id is not None and t == m.pad_id) for k, t in enumerate(ids)]
    M = build_mask(tg.mask_flags, n, pad_keys, tg.cells)  # [n, n]
    act = ACTIVATIONS[tg.activation]
    for l, lw in enumerate(m.layers):
        out[f"{m.stack}.{l}.input"] = H
        layer_kind = tg.layer_ablations.get(l)
        if m.family == "gpt2":  # Pre-LN: h = h + F(LN(h)), or h = F(LN(h)) without residuals
            A = ablate(self_attention(m, lw, layer_norm(H, lw["norm1"], m.eps), M, tg, l, out), layer_kind)
            H = H + A if tg.residual else A
            F = ablate(feed_forward(lw, layer_norm(H, lw["norm2"], m.eps), act), layer_kind)
            H = H + F if tg.residual else F
        else:                   # Post-LN: h = LN(h + F(h)), or h = LN(F(h)) without residuals
            A = ablate(self_attention(m, lw, H, M, tg, l, out), layer_kind)
            H = layer_norm(H + A if tg.residual else A, lw["norm1"], m.eps)
            F = ablate(feed_forward(lw, H, act), layer_kind)
            H = layer_norm(H + F if tg.residual else F, lw["norm2"], m.eps)
        out[f"{m.stack}.{l}.output"] = H
    if m.family == "gpt2":
        out["output.logits"] = layer_norm(H, m.final_norm, m.eps) @ m.W_out.T  # [n, d]·[d, V]
    else:
        T = layer_norm(act(H @ m.W_t + m.b_t), m.head_norm, m.eps)
        out["output.logits"] = T @ m.W_out.T + m.b_out
    return out


COMPARED = re.compile(r"(encoder|decoder)\.\d+\.(self_attn\.head\.\d+\.P|output)|output\.logits")


# [SECTION] The export: load, compute, compare
def resolve_model_dir(export_dir, model_dir):
    for candidate in (model_dir, os.path.join(export_dir, model_dir)):
        if os.path.isdir(candidate):
            return candidate
    raise Refused(f"session.model_dir {model_dir!r} is not a folder (tried it as is and relative to {export_dir})")


def check_session(s):
    if s.get("mode", "eval") != "eval":
        raise Refused(f"mode = {s['mode']!r}: this reference covers eval only (no dropout)")
    if s.get("extra_batch"):
        raise Refused("a batch: this reference covers a single sequence")
    if s.get("decode_steps", 0):
        raise Refused("decode_steps > 0: this reference covers the parallel pass only")


def compare(ref, export_dir, entries, tol):
    """[(name, max |diff|, scale, problem or None)] for every compared reference tensor."""
    rows = []
    for name in sorted(n for n in ref if COMPARED.fullmatch(n)):
        r, entry = ref[name], entries.get(name)
        if entry is None:
            rows.append((name, math.nan, math.nan, "missing from the export"))
            continue
        try:
            a = np.load(os.path.join(export_dir, entry["file"])).astype(np.float64)
        except (OSError, ValueError, KeyError) as e:
            rows.append((name, math.nan, math.nan, f"cannot read its file: {e}"))
            continue
        if a.shape != r.shape:
            rows.append((name, math.nan, math.nan, f"shape {a.shape}, expected {r.shape}"))
            continue
        diff, scale, problems = tensor_problems(a, r, tol)
        rows.append((name, diff, scale, "; ".join(problems) or None))
    return rows


def check_export(export_dir, tol=1e-4, verbose=False, expect_model_defaults=False, min_tokens=1):
    """Exit code: 0 all agree, 1 a disagreement, 2 unusable input. Prints a per-family report."""
    try:
        manifest = read_json(os.path.join(export_dir, "manifest.json"))
        s = manifest.get("session")
        if not isinstance(s, dict) or not s.get("model_dir"):
            raise Refused("the manifest has no session.model_dir (not a run on a model folder)")
        check_session(s)
        ids = (manifest.get("ids") or {}).get("source")
        if isinstance(ids, list) and ids and isinstance(ids[0], list):  # one list per sequence: take sequence 0
            ids = ids[0]
        if not isinstance(ids, list) or not all(isinstance(t, int) for t in ids):
            raise Refused("the manifest has no ids.source (the token ids of sequence 0)")
        m = load_model(resolve_model_dir(export_dir, s["model_dir"]))
        tg = Toggles(m, s)
        ref = forward(m, ids, tg)
        entries = {t["name"]: t for t in manifest.get("tensors", [])}
    except Refused as e:
        print(f"hf_reference: {e}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError) as e:
        print(f"hf_reference: unusable input: {type(e).__name__}: {e}", file=sys.stderr)
        return 2

    failures = []
    if expect_model_defaults:
        failures += [f"session toggle {x}" for x in tg.differences_from_model(m)]
    if len(ids) < min_tokens:
        failures.append(f"ids.source has {len(ids)} tokens, fewer than the {min_tokens} this case needs")
    rows = compare(ref, export_dir, entries, tol)
    families = {}
    for name, diff, scale, problem in rows:
        families.setdefault(family(name), []).append((name, diff, scale))
        if problem:
            failures.append(f"{name}: {problem}")
        if verbose:
            print(f"  {name:45s} max|diff| {diff:.3e} (scale {scale:.3g}){'  ' + problem if problem else ''}")
    print(f"{export_dir}: {m.family} L={m.L} d={m.d} h={m.h} V={m.V}, {len(ids)} tokens, scale {tg.scale:.4g}, "
          f"{tg.activation}, mask {tg.mask}, residual {tg.residual}, pe {tg.pe}, {tg.projection}, "
          f"{len(tg.head_ablations) + len(tg.layer_ablations)} ablation(s); {len(rows)} tensors compared"
          + (f"; ignored tensors {m.ignored}" if m.ignored else ""))
    c = s.get("model", {})
    for key, value in (("layers", m.L), ("d_model", m.d), ("heads", m.h), ("d_ff", m.d_ff)):
        if key in c and c[key] != value:
            print(f"  note: session.model.{key} = {c[key]}, the checkpoint has {value}")
    for fam in sorted(families):
        items = [(diff / scale, diff, name) for name, diff, scale in families[fam] if not math.isnan(diff)]
        if items:
            rel, diff, name = max(items)
            print(f"  {fam:38s} {len(families[fam]):4d} tensors  max|diff| {diff:.3e}  max rel {rel:.3e}  worst {name}")
        else:
            print(f"  {fam:38s} {len(families[fam]):4d} tensors  not comparable")
    if failures:
        print(f"FAILED: {len(failures)} problem(s)")
        for f in failures[:40]:
            print("  " + f)
        if len(failures) > 40:
            print(f"  ... and {len(failures) - 40} more")
        return 1
    print(f"all tensors agree (tolerance {tol:g}·max(1, max|ref|))")
    return 0


# [SECTION] Self-test: our own maths, without the C++ side
HERE = os.path.dirname(os.path.abspath(__file__))
MAKER = os.path.join(HERE, "..", "scripts", "make_tiny_checkpoint.py")


def make_folder(tmp, label, *args):
    out = os.path.join(tmp, label)
    subprocess.run([sys.executable, MAKER, "--out", out, *args], check=True)
    return out


def default_session(m, model_dir, **model):
    c = dict(score_scale="sqrt-dk", temperature=1.0, residual=True, pe="learned", projection="learned",
             activation=m.config_activation, layers=m.L, d_model=m.d, heads=m.h, d_ff=m.d_ff)
    c.update(model)
    return {"model": c, "model_dir": model_dir, "decoder_mask": "causal+padding", "encoder_mask": "padding",
            "ablations": [], "padding_positions": [], "custom_cells": [], "mode": "eval", "extra_batch": [], "decode_steps": 0}


def write_fake_export(export_dir, session, ids, ref):
    """What qkvlab-cli would write if it agreed with us: float32 .npy files and a manifest naming them."""
    os.makedirs(export_dir, exist_ok=True)
    tensors = []
    for name, value in ref.items():
        np.save(os.path.join(export_dir, name + ".npy"), value.astype(np.float32))
        tensors.append({"name": name, "file": name + ".npy", "shape": list(value.shape), "dtype": "float32", "kind": "activation"})
    with open(os.path.join(export_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"format": "qkvlab-export-1", "ids": {"source": [int(t) for t in ids]}, "session": session,
                   "tensors": tensors}, f)


class SelfTest:
    def __init__(self):
        self.failures = 0

    def check(self, label, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {label}" + (f": {detail}" if detail and not ok else ""))
        self.failures += 0 if ok else 1


def run_quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()) as so, contextlib.redirect_stderr(io.StringIO()) as se:
        code = fn(*args, **kwargs)
    return code, so.getvalue() + se.getvalue()


def self_test_numbers(t):
    f16 = {0x0000: 0.0, 0x3C00: 1.0, 0xC000: -2.0, 0x7BFF: 65504.0, 0x0400: 2.0 ** -14, 0x0001: 2.0 ** -24,
           0x03FF: 1023 * 2.0 ** -24, 0x3555: 0.333251953125, 0x7C00: math.inf, 0xFC00: -math.inf}
    got = f16_bits_to_float(np.array(list(f16), dtype=np.uint16))
    t.check("F16 bits → float: 1, −2, 65504, 2⁻¹⁴, 2⁻²⁴ (subnormal), 1/3, ±inf", np.array_equal(got, list(f16.values())), str(got))
    t.check("F16 −0 keeps its sign, 0x7E00 is NaN",
            np.signbit(f16_bits_to_float([0x8000])[0]) and np.isnan(f16_bits_to_float([0x7E00])[0]))
    every = np.arange(65536, dtype=np.uint16)
    ours, numpy = f16_bits_to_float(every), every.view(np.float16).astype(np.float64)
    t.check("F16: all 65,536 bit patterns equal numpy's float16", np.array_equal(ours, numpy, equal_nan=True))
    bf = {0x3F80: 1.0, 0xC040: -3.0, 0x4049: 3.140625, 0x7F80: math.inf, 0x0001: 2.0 ** -133}
    t.check("BF16 bits → float: 1, −3, 3.140625, inf, 2⁻¹³³",
            np.array_equal(bf16_bits_to_float(np.array(list(bf), dtype=np.uint16)), list(bf.values())))
    x = np.array([1.0, -1.0, -2.7])
    t.check("gelu(1) = 0.8413447, gelu_tanh(1) = 0.8411920, |gelu − gelu_tanh|(−2.7) ≈ 4.7e-4",
            abs(gelu_erf(x)[0] - 0.8413447460685429) < 1e-12 and abs(gelu_tanh(x)[0] - 0.8411919906082768) < 1e-12
            and 4.6e-4 < abs(gelu_erf(x)[2] - gelu_tanh(x)[2]) < 4.8e-4)
    X = np.random.default_rng(3).normal(2.0, 3.0, (5, 16))
    Y = layer_norm(X, (np.ones(16), np.zeros(16)), 1e-12)
    t.check("LayerNorm (γ=1, β=0): row means ≈ 0, biased variances ≈ 1",
            np.abs(Y.mean(1)).max() < 1e-12 and np.abs((Y ** 2).mean(1) - 1).max() < 1e-10)
    P = softmax_rows(np.array([[0.0, NEG_INF], [NEG_INF, NEG_INF]]))
    t.check("softmax: −∞ → 0, a fully masked row → zeros", np.array_equal(P, [[1.0, 0.0], [0.0, 0.0]]))
    t.check("token types of [CLS] a b [SEP] c d [SEP]: 0 0 0 0 1 1 1",
            token_types([7, 1, 2, 8, 3, 4, 8], 8).tolist() == [0, 0, 0, 0, 1, 1, 1])


def greedy_ids(text, vocab):
    """Longest-match ids of text's byte symbols (GPT-2's byte → character table): valid ids for the tests,
    not GPT-2's merge order (tokenizing is the C++ side's job; the reference reads its ids)."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table = {b: chr(b) for b in printable}
    table.update({b: chr(256 + k) for k, b in enumerate(b for b in range(256) if b not in printable)})
    symbols, ids = "".join(table[b] for b in text.encode("utf-8")), []
    while symbols:
        piece = max((tok for tok in vocab if symbols.startswith(tok)), key=len)
        ids.append(vocab[piece])
        symbols = symbols[len(piece):]
    return ids


def self_test_gpt2(t, tmp):
    base = make_folder(tmp, "gpt2", "--family", "gpt2", "--seed", "1")
    m = load_model(base)
    vocab = read_json(os.path.join(base, "vocab.json"))
    with open(os.path.join(base, "merges.txt"), encoding="utf-8") as f:
        merges = f.read().splitlines()
    t.check("GPT-2 vocab: ids 0–255 in bytes_to_unicode order (! 0, Ā 188, Ċ 198, Ġ 220), <|endoftext|> last = bos/eos",
            vocab["!"] == 0 and vocab["Ā"] == 188 and vocab["Ċ"] == 198 and vocab["Ġ"] == 220
            and vocab["<|endoftext|>"] == len(vocab) - 1 == m.config["eos_token_id"] == m.config["bos_token_id"]
            and len(vocab) == m.V)
    t.check("GPT-2 merges.txt: '#version: 0.2', then one merge per vocab entry 256…V−2, each result in order",
            merges[0] == "#version: 0.2" and len(merges) - 1 == m.V - 257 and 50 <= len(merges) - 1 <= 70
            and all(vocab[a + b] == 256 + k for k, (a, b) in enumerate(line.split(" ") for line in merges[1:])))
    ids = greedy_ids("The cat sat on the mat! Attention, heads.", vocab)
    s = default_session(m, base)
    ref = forward(m, ids, Toggles(m, s))
    d_k, worst = m.d // m.h, 0.0
    for l in range(m.L):
        for i in range(m.h):
            p = f"decoder.{l}.self_attn.head.{i}."
            Q, K, P = ref[p + "Q"], ref[p + "K"], ref[p + "P"]
            for r in range(len(ids)):  # row r by hand: s_j = q_r·k_j/√d_k for j ≤ r, then softmax
                z = [sum(Q[r, c] * K[j, c] for c in range(d_k)) / math.sqrt(d_k) for j in range(r + 1)]
                e = [math.exp(v - max(z)) for v in z]
                row = [v / sum(e) for v in e] + [0.0] * (len(ids) - r - 1)
                worst = max(worst, float(np.abs(P[r] - row).max()))
                if P[r, r + 1:].any():
                    worst = math.inf
    t.check("GPT-2 causal P: every row equals a per-row softmax over keys j ≤ i, exact zeros above the diagonal",
            worst < 1e-12, f"worst {worst}")
    raw = read_safetensors(os.path.join(base, "model.safetensors"))
    c_attn = as_float64(raw["h.0.attn.c_attn.weight"])  # [d, 3d]
    X0 = layer_norm(m.E[ids] + m.pos[:len(ids)], m.layers[0]["norm1"], 1e-5)
    t.check("GPT-2 Q of layer 0, head 1 = LN₁(wte + wpe)·c_attn[:, d_k:2d_k] + bias (Conv1D [in, out])",
            np.allclose(ref["decoder.0.self_attn.head.1.Q"],
                        X0 @ c_attn[:, d_k:2 * d_k] + as_float64(raw["h.0.attn.c_attn.bias"])[d_k:2 * d_k], atol=1e-12))
    spread = max(float(ref[f"decoder.0.self_attn.head.{i}.P"][len(ids) - 1].max()) for i in range(m.h))
    t.check("the random weights make attention non-uniform (a last-row maximum > 2/n)", spread > 2.0 / len(ids), f"{spread}")

    logits = ref["output.logits"]
    for label, args in (("--prefix (transformer. + masked_bias)", ["--prefix"]), ("BOOL attn.bias", ["--variant", "bool-bias"]),
                        ("no buffers", ["--variant", "no-buffers"]), ("lm_head = wte", ["--variant", "lm-head"]),
                        ("tokenizer.json only", ["--tokenizer-json"]), ("prefix + lm_head", ["--prefix", "--variant", "lm-head"])):
        other = load_model(make_folder(tmp, "gpt2-" + label.split()[0].strip("-"), "--family", "gpt2", "--seed", "1", *args))
        same = np.array_equal(forward(other, ids, Toggles(other, s))["output.logits"], logits)
        t.check(f"GPT-2 {label}: logits identical to the plain file", same)
    tj = read_json(os.path.join(tmp, "gpt2-tokenizer.json", "tokenizer.json"))
    t.check("GPT-2 tokenizer.json: BPE model with the same vocab and merges, <|endoftext|> special",
            tj["model"]["type"] == "BPE" and tj["model"]["vocab"] == vocab and tj["model"]["merges"] == merges[1:]
            and tj["added_tokens"][0]["content"] == "<|endoftext|>" and tj["pre_tokenizer"]["type"] == "ByteLevel"
            and not os.path.exists(os.path.join(tmp, "gpt2-tokenizer.json", "vocab.json")))
    untied = load_model(make_folder(tmp, "gpt2-untied", "--family", "gpt2", "--seed", "1", "--variant", "untied-lm-head"))
    t.check("GPT-2 untied lm_head: used for the logits (they differ from wte's)",
            not np.allclose(forward(untied, ids, Toggles(untied, s))["output.logits"], logits))
    for dtype, exact in (("F16", True), ("BF16", False)):
        low = load_model(make_folder(tmp, "gpt2-" + dtype, "--family", "gpt2", "--seed", "1", "--dtype", dtype))
        ok = True
        for a, b in ((low.layers[1]["W_1"], m.layers[1]["W_1"]), (low.E, m.E), (low.final_norm[0], m.final_norm[0])):
            if exact:  # F16 = the F32 value rounded to nearest half
                ok = ok and np.array_equal(a, b.astype(np.float16).astype(np.float64))
            else:      # BF16 keeps 8 significant bits: within half an ulp, ≤ 2⁻⁸ relative
                ok = ok and bool(np.all(np.abs(a - b) <= np.abs(b) * 2.0 ** -8)) and not np.array_equal(a, b)
        t.check(f"GPT-2 {dtype} file: parameters = the F32 file's rounded to {dtype}", ok)

    def run(**kw):
        ablations = kw.pop("ablations", [])
        mask = kw.pop("mask", "causal+padding")
        sess = default_session(m, base, **kw)
        sess["ablations"], sess["decoder_mask"] = ablations, mask
        return forward(m, ids, Toggles(m, sess))

    plain = ref
    off = run(ablations=[{"target": "decoder.1", "kind": "zero"}])
    t.check("GPT-2 layer 1 zero-ablated (residuals on): its output equals its input",
            np.array_equal(off["decoder.1.output"], off["decoder.1.input"]))
    head = run(ablations=[{"target": "decoder.0.self_attn.head.2", "kind": "mean"}])
    O = plain["decoder.0.self_attn.head.2.O"]
    t.check("GPT-2 head mean-ablated: every row of O is O's mean over positions; that head's P unchanged",
            np.allclose(head["decoder.0.self_attn.head.2.O"], O.mean(0)[None, :], atol=1e-15)
            and np.array_equal(head["decoder.0.self_attn.head.2.P"], plain["decoder.0.self_attn.head.2.P"])
            and not np.allclose(head["output.logits"], plain["output.logits"]))
    tied = run(projection="tied-qk")
    b = m.layers[0]
    cols = [slice(i * d_k, (i + 1) * d_k) for i in range(m.h)]
    t.check("GPT-2 tied Q=K: K − b_K = Q − b_Q in every head",
            all(np.allclose(tied[f"decoder.0.self_attn.head.{i}.K"] - b["b_K"][c],
                            tied[f"decoder.0.self_attn.head.{i}.Q"] - b["b_Q"][c], atol=1e-12) for i, c in enumerate(cols)))
    alt = run(score_scale="none", temperature=float(math.sqrt(d_k)))
    t.check("scale: (√d_k on, τ = 1) and (off, τ = √d_k) give the same P",
            all(np.allclose(alt[k], plain[k], atol=1e-12) for k in plain if k.endswith(".P")))
    a = run(pe="none", mask="none")
    sess = default_session(m, base, pe="none")
    sess["decoder_mask"] = "none"
    b = forward(m, ids[::-1], Toggles(m, sess))
    t.check("positions off, mask none: reversing the tokens reverses every hidden state (no position information)",
            np.allclose(a["decoder.1.output"][::-1], b["decoder.1.output"], atol=1e-12))
    shifted = copy.copy(m)
    shifted.E = m.E + 0.7  # every embedding row moved along (1, …, 1): LN₁ removes it, a residual keeps it
    sess = default_session(m, base, residual=False)
    t.check("GPT-2 residuals off (h = F(LN(h))): hidden states blind to a per-row constant shift of the input",
            np.allclose(forward(shifted, ids, Toggles(m, sess))["decoder.1.output"], run(residual=False)["decoder.1.output"],
                        atol=1e-9)
            and not np.allclose(forward(shifted, ids, Toggles(m, s))["decoder.1.output"], plain["decoder.1.output"], atol=1e-3))
    return m, base, ids


def self_test_bert(t, tmp):
    base = make_folder(tmp, "bert", "--family", "bert", "--seed", "2")
    m = load_model(base)
    vocab = bert_vocab_ids(base)
    t.check("BERT vocab.txt: [PAD] 0, [UNK] [CLS] [SEP] [MASK], 'the', '##ing', CJK; each token once; V = vocab_size",
            vocab["[PAD]"] == 0 and all(x in vocab for x in ("[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##ing", "世"))
            and len(vocab) == m.V and m.sep_id == vocab["[SEP]"])
    words = "[CLS] the cat sat on the [MASK] . [SEP]".split()
    ids = [vocab[w] for w in words]
    s = default_session(m, base)
    ref = forward(m, ids, Toggles(m, s))
    raw = read_safetensors(os.path.join(base, "model.safetensors"))
    X0 = ref["encoder.0.input"]
    query = "bert.encoder.layer.0.attention.self.query."
    Wq, bq = as_float64(raw[query + "weight"]), as_float64(raw[query + "bias"])  # [out, in], [out]
    t.check("BERT Q of layer 0, head 0 = X·query.weightᵀ + bias (nn.Linear [out, in])",
            np.allclose(ref["encoder.0.self_attn.head.0.Q"], (X0 @ Wq.T + bq)[:, :m.d // m.h], atol=1e-12))
    Z = (X0 - m.emb_norm[1]) / m.emb_norm[0]  # undo γ, β of the embedding LayerNorm
    t.check("BERT embeddings LayerNorm: (X − β)/γ has row means 0 and variances 1",
            np.abs(Z.mean(1)).max() < 1e-12 and np.abs((Z ** 2).mean(1) - 1).max() < 1e-9)
    t.check("BERT: no mask by default, P rows sum to 1 and no zero cell", all(
        np.allclose(ref[k].sum(1), 1) and (ref[k] > 0).all() for k in ref if k.endswith(".P")))
    for label, args in (("weight/bias, no prefix", ["--variant", "weight-bias", "--no-prefix"]),
                        ("with decoder tensors", ["--variant", "decoder"]), ("tokenizer.json only", ["--tokenizer-json"])):
        other = load_model(make_folder(tmp, "bert-" + label.split()[0].strip("/,"), "--family", "bert", "--seed", "2", *args))
        t.check(f"BERT {label}: logits identical to the gamma/beta bert.-prefixed file",
                np.array_equal(forward(other, ids, Toggles(other, s))["output.logits"], ref["output.logits"]))
    tj = read_json(os.path.join(tmp, "bert-tokenizer.json", "tokenizer.json"))
    t.check("BERT tokenizer.json: WordPiece, BertNormalizer lowercase, same vocab",
            tj["model"]["type"] == "WordPiece" and tj["normalizer"]["lowercase"] is True and tj["model"]["vocab"] == vocab)
    pair = [vocab[w] for w in "[CLS] a b [SEP] c d [SEP]".split()]
    one = forward(m, pair, Toggles(m, s))
    m2 = load_model(base)
    m2.types = m2.types[:1].repeat(2, 0)  # both segments embedded as type 0
    t.check("BERT two segments: tokens after the first [SEP] get type 1 (changes the output)",
            not np.allclose(one["output.logits"], forward(m2, pair, Toggles(m2, s))["output.logits"]))
    f16 = load_model(make_folder(tmp, "bert-F16", "--family", "bert", "--seed", "2", "--dtype", "F16"))
    t.check("BERT F16 file: parameters = the F32 file's rounded to F16",
            np.array_equal(f16.layers[0]["W_Q"], m.layers[0]["W_Q"].astype(np.float16).astype(np.float64)))
    return m, base, ids


def self_test_export(t, tmp, model, base, ids, label):
    """A fake export from our own output passes; a perturbed one fails; a broken one is refused."""
    s = default_session(model, base)
    ref = forward(model, ids, Toggles(model, s))
    good = os.path.join(tmp, f"export-{label}")
    write_fake_export(good, s, ids, ref)
    code, text = run_quiet(check_export, good, expect_model_defaults=True)
    t.check(f"{label}: a faithful float32 export agrees (exit 0)", code == 0, text)
    t.check(f"{label}: the report has one line per family (P, output, logits)",
            all(f in text for f in (f"{model.stack}.*.self_attn.head.*.P", f"{model.stack}.*.output", "output.logits")), text)
    stack = model.stack

    def variant(name, change):
        d = os.path.join(tmp, f"export-{label}-{name}")
        subprocess.run(["cp", "-r", good, d], check=True)
        change(d)
        return run_quiet(check_export, d)[0]

    def bump(file, cell, by):
        def change(d):
            a = np.load(os.path.join(d, file))
            a[cell] += by
            np.save(os.path.join(d, file), a)
        return change

    def edit_manifest(fn):
        def change(d):
            path = os.path.join(d, "manifest.json")
            man = read_json(path)
            fn(man)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(man, f)
        return change

    t.check(f"{label}: a P cell off by 1e-3 fails (exit 1)",
            variant("p", bump(f"{stack}.1.self_attn.head.2.P.npy", (2, 1), 1e-3)) == 1)
    scale = max(1.0, float(np.abs(ref["output.logits"]).max()))
    t.check(f"{label}: a logit off by 1e-3·scale fails", variant("logit", bump("output.logits.npy", (1, 5), 1e-3 * scale)) == 1)
    t.check(f"{label}: a logit off by 2e-5·scale passes", variant("small", bump("output.logits.npy", (1, 5), 2e-5 * scale)) == 0)
    t.check(f"{label}: a −∞ where the reference has none fails",
            variant("inf", bump(f"{stack}.0.output.npy", (0, 0), -np.inf)) == 1)
    t.check(f"{label}: a missing P fails", variant("missing", edit_manifest(
        lambda man: man.__setitem__("tensors", [x for x in man["tensors"] if x["name"] != f"{stack}.0.self_attn.head.0.P"]))) == 1)
    t.check(f"{label}: a session with the causal mask removed disagrees", variant("mask", edit_manifest(
        lambda man: man["session"].__setitem__("decoder_mask" if stack == "decoder" else "encoder_mask",
                                               "none" if stack == "decoder" else "causal"))) == 1)
    t.check(f"{label}: no ids.source → unusable (exit 2)", variant("noids", edit_manifest(lambda man: man.pop("ids"))) == 2)
    t.check(f"{label}: a model_dir that does not exist → unusable (exit 2)", variant("nodir", edit_manifest(
        lambda man: man["session"].__setitem__("model_dir", "/nonexistent/model"))) == 2)
    d = os.path.join(tmp, f"export-{label}-toggles")
    s2 = default_session(model, base, temperature=0.5)
    s2["ablations"] = [{"target": f"{stack}.0.self_attn.head.1", "kind": "zero"}]
    write_fake_export(d, s2, ids, forward(model, ids, Toggles(model, s2)))
    t.check(f"{label}: τ = 0.5 + an ablation: agrees, but fails --expect-model-defaults",
            run_quiet(check_export, d)[0] == 0 and run_quiet(check_export, d, expect_model_defaults=True)[0] == 1)


BAD_WORDS = {"truncated": "truncated", "header-too-large": "too large", "wrong-dtype": "dtype", "missing-tensor": "missing",
             "shape-mismatch": "shape", "config-mismatch": "shape", "unsupported-family": "unsupported",
             "pickle-only": "pickle", "overlapping-offsets": "offset", "bad-json-header": "json"}


def self_test_bad(t, tmp):
    for family in ("gpt2", "bert"):
        for kind, word in BAD_WORDS.items():
            folder = make_folder(tmp, f"bad-{family}-{kind}", "--family", family, "--bad", kind)
            try:
                load_model(folder)
                t.check(f"{family} --bad {kind}: refused", False, "loaded without complaint")
            except Refused as e:
                t.check(f"{family} --bad {kind}: refused, naming '{word}'", word in str(e).lower(), str(e))
    code = subprocess.run([sys.executable, MAKER, "--family", "gpt2", "--out", os.path.join(tmp, "x"), "--variant", "decoder"],
                          capture_output=True).returncode
    t.check("the maker refuses a variant of the other family (non-zero exit)", code != 0)


def self_test():
    t = SelfTest()
    with tempfile.TemporaryDirectory() as tmp:
        self_test_numbers(t)
        gpt2 = self_test_gpt2(t, tmp)
        bert = self_test_bert(t, tmp)
        self_test_export(t, tmp, *gpt2, "GPT-2")
        self_test_export(t, tmp, *bert, "BERT")
        self_test_bad(t, tmp)
    print(f"{'all self-tests passed' if not t.failures else f'{t.failures} self-test(s) FAILED'}")
    return 1 if t.failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export_dir", nargs="?")
    ap.add_argument("--tol", type=float, default=1e-4, help="allowed |diff| per unit of max(1, max|ref|) (1e-4)")
    ap.add_argument("--verbose", action="store_true", help="print every tensor's difference")
    ap.add_argument("--expect-model-defaults", action="store_true",
                    help="also fail when the session's toggles differ from the checkpoint's own settings")
    ap.add_argument("--min-tokens", type=int, default=1, help="also fail when sequence 0 has fewer tokens")
    ap.add_argument("--self-test", action="store_true", help="check this file's maths (no export needed)")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.export_dir:
        ap.error("give an export folder or --self-test")
    return check_export(a.export_dir, a.tol, a.verbose, a.expect_model_defaults, a.min_tokens)


if __name__ == "__main__":
    sys.exit(main())
