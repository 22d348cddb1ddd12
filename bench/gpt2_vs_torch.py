#!/usr/bin/python3
"""GPT-2-small shape: `qkvlab-cli run` as a whole process against PyTorch's forward of the same stack, side by
side on this machine, with the targets of issue 10.

  (a) qkvlab-cli run (weights seeded, full trace) at n = 512 and 1024: wall time (median of --reps) and peak RSS
  (b) PyTorch forward of the same stack (float32, every attention matrix P kept, no_grad), same n: median
  (c) forward + backward at n = 128: qkvlab-cli run --gradients (whole process) and PyTorch forward + loss.backward
  (d) the app's teaching-size model (encoder-only, L 2, d_model 32, h 4, d_ff 128) at 10,000 tokens: peak RSS

The stack: decoder-only, 12 layers, d_model 768, 12 heads (d_k 64), d_ff 3072, causal, GELU, Pre-Norm LayerNorm,
learned positions, biases, final LayerNorm, output projection tied to the embedding. The text is "w0 w1 … w499 w0 …"
(a 500-word vocabulary, as bench/forward_bench.cpp), so the output projection is small in both.

  /usr/bin/python3 bench/gpt2_vs_torch.py [--cli build/qkvlab-cli] [--reps 3] [--quick] [--json out.json]

PyTorch is Debian's python3-torch, run in a child process with OpenBLAS when libopenblas0-pthread is installed
(Debian's torch otherwise multiplies with the reference BLAS; QKVLAB_BENCH_SYSTEM_BLAS=1 keeps the system's); without it the script says "torch not installed: ratio skipped" and still
reports our figures. Children of (d) run under an address-space cap (--mem-cap-gb) so a runaway model fails
instead of taking a shared machine's memory; a capped run is reported as "> cap".
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# One place for the shape, shared by both sides.
GPT2 = dict(layers=12, d_model=768, heads=12, d_ff=3072, max_len=1024, vocab_words=500)
GPT2_FLAGS = ["--arch", "decoder-only", "--layers", "12", "--d-model", "768", "--heads", "12", "--d-ff", "3072",
              "--pe", "learned", "--placement", "pre", "--norm", "layernorm", "--activation", "gelu", "--mask", "causal",
              "--max-len", "1024", "--seed", "42"]
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"  # Debian's libopenblas0-pthread
TEACHING_FLAGS = ["--seed", "42"]  # the app's default model (see core/config.h); --max-len is added per n

# Issue 10's targets.
TARGET_RATIO_FWD_512 = 0.7
TARGET_RSS_1024_MB = 700
TARGET_RATIO_FWD_BWD_128 = 1.0
TARGET_RSS_LONG_MB = 1024


def words(n):
    return " ".join(f"w{i % GPT2['vocab_words']}" for i in range(n))


def run_child(argv, mem_cap_bytes=None):
    """Runs argv to completion; returns (seconds, peak RSS in MB, exit code, stderr tail)."""
    def cap():
        if mem_cap_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_cap_bytes, mem_cap_bytes))
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=cap)
    # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux), not the sum over every child so far.
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    err = child.stderr.read().decode(errors="replace").strip().splitlines()
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024.0, code, (err[-1] if err else "")


def measure_cli(cli, flags, n, reps, extra=(), mem_cap_bytes=None):
    """Median wall time and the largest peak RSS of `reps` runs, or an error string."""
    times, rss = [], []
    for _ in range(reps):
        seconds, peak, code, err = run_child([cli, "run", *flags, "--text", words(n), *extra], mem_cap_bytes)
        if code != 0:
            return {"error": f"exit {code}: {err or 'no message'}", "rss_mb": peak}
        times.append(seconds)
        rss.append(peak)
    return {"seconds": statistics.median(times), "rss_mb": max(rss), "all": times}


# [SECTION] PyTorch side

def torch_model(torch):
    nn, F = torch.nn, torch.nn.functional
    L, d, h, d_ff, max_len = GPT2["layers"], GPT2["d_model"], GPT2["heads"], GPT2["d_ff"], GPT2["max_len"]
    V = GPT2["vocab_words"] + 3  # [PAD] [BOS] [EOS] + the words, as core/tokenizer's Vocab

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, d_ff), nn.Linear(d_ff, d)

        # x: [n, d] → [n, d]; appends each head's P [n, n] to `kept`.
        def forward(self, x, mask, kept):
            n = x.shape[0]
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=1)
            q, k, v = (t.view(n, h, d // h).transpose(0, 1) for t in (q, k, v))  # [h, n, d_k]
            S = q @ k.transpose(1, 2) / math.sqrt(d // h) + mask                 # [h, n, n]
            P = torch.softmax(S, dim=-1)
            kept.append(P)
            O = (P @ v).transpose(0, 1).reshape(n, d)
            x = x + self.proj(O)
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class Gpt2(nn.Module):
        def __init__(self):
            super().__init__()
            self.E, self.pos = nn.Embedding(V, d), nn.Embedding(max_len, d)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, ids, kept):
            n = ids.shape[0]
            mask = torch.full((n, n), float("-inf")).triu(1)
            x = self.E(ids) * math.sqrt(d) + self.pos(torch.arange(n))
            for block in self.blocks:
                x = block(x, mask, kept)
            return self.ln_f(x) @ self.E.weight.T  # logits [n, V]

    return Gpt2().float(), V


def median_seconds(fn, reps):
    fn()  # warm-up: first-touch allocations, thread pool start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def blas_in_use():
    """The BLAS library this process has mapped (torch's matrix products go through it: BLAS_INFO=generic)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(paths)) or "none mapped"


def measure_torch_here(ns, grad_n, reps):
    """Runs in the child: PyTorch forward at each n, forward + backward at grad_n; prints one JSON object."""
    import torch
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    model, V = torch_model(torch)
    ids_of = lambda n: torch.arange(n) % GPT2["vocab_words"] + 3
    out = {"version": torch.__version__, "threads": torch.get_num_threads()}

    def forward(n):
        kept = []
        with torch.no_grad():
            logits = model(ids_of(n), kept)
        assert len(kept) == GPT2["layers"] and kept[0].shape == (GPT2["heads"], n, n)
        return logits

    for n in ns:
        out[f"fwd_{n}"] = median_seconds(lambda: forward(n), reps)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        ids = ids_of(grad_n)
        logits = model(ids, [])
        loss = torch.nn.functional.cross_entropy(logits[:-1], ids[1:])  # next-token, as --loss auto for decoder-only
        loss.backward()

    out[f"fwd_bwd_{grad_n}"] = median_seconds(forward_backward, reps)
    out["blas"] = blas_in_use()
    print(json.dumps(out))


def measure_torch(ns, grad_n, reps):
    """PyTorch's figures from a child process, or (None, why they are skipped).

    Debian's torch multiplies through libblas.so.3, which is the netlib reference BLAS unless an optimised one is
    the system's choice; the child prefers OpenBLAS (libopenblas0-pthread) when it is installed, so the ratio is
    against a fast PyTorch, and says which BLAS it used."""
    try:
        import torch  # noqa: F401  (only to know whether it is there)
    except ImportError:
        return None, "torch not installed: ratio skipped (Debian: apt-get install python3-torch)"
    env = dict(os.environ)
    if os.path.isdir(OPENBLAS_DIR) and "QKVLAB_BENCH_SYSTEM_BLAS" not in env:
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + os.pathsep + env.get("LD_LIBRARY_PATH", "")
        env.setdefault("OPENBLAS_NUM_THREADS", str(os.cpu_count()))
    argv = [sys.executable, os.path.abspath(__file__), "--torch-child", ",".join(map(str, ns)), str(grad_n), str(reps)]
    child = subprocess.run(argv, env=env, capture_output=True, text=True)
    if child.returncode != 0:
        return None, f"torch run failed: ratio skipped ({(child.stderr.strip().splitlines() or ['no message'])[-1]})"
    return json.loads(child.stdout.strip().splitlines()[-1]), None


# [SECTION] Report

def fmt_s(r):
    return f"{r['seconds']:.3f} s" if "seconds" in r else "failed"


def verdict(value, target, lower_is_better=True):
    if value is None:
        return "n/a"
    return "meets" if (value <= target if lower_is_better else value >= target) else f"misses ({value / target:.2f}× the target)"


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--torch-child":
        return measure_torch_here([int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "qkvlab-cli"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ns", default="512,1024", help="forward lengths (comma-separated)")
    ap.add_argument("--grad-n", type=int, default=128)
    ap.add_argument("--long-n", type=int, default=10000, help="tokens of the teaching-size run (d)")
    ap.add_argument("--mem-cap-gb", type=float, default=4.0, help="address-space cap of the (d) run")
    ap.add_argument("--no-torch", action="store_true", help="our figures only")
    ap.add_argument("--quick", action="store_true", help="n = 128 and 256, 1 rep, long n = 2000: checks the script")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    if args.quick:
        args.ns, args.reps, args.grad_n, args.long_n = "128,256", 1, 64, 2000
    ns = [int(x) for x in args.ns.split(",")]
    if not os.access(args.cli, os.X_OK):
        sys.exit(f"error: {args.cli} is not an executable qkvlab-cli (build it: cmake --build build --target qkvlab-cli)")

    print(f"machine: {os.cpu_count()} cores; qkvlab-cli: {args.cli}; median of {args.reps}", flush=True)
    ours = {}
    ours["startup"] = measure_cli(args.cli, GPT2_FLAGS, 1, args.reps)  # process start + seeding, a 1-token forward
    for n in ns:
        ours[f"fwd_{n}"] = measure_cli(args.cli, GPT2_FLAGS, n, args.reps)
        print(f"  ours n={n}: {fmt_s(ours[f'fwd_{n}'])}", flush=True)
    ours[f"fwd_bwd_{args.grad_n}"] = measure_cli(args.cli, GPT2_FLAGS, args.grad_n, args.reps, ["--gradients"])
    cap = int(args.mem_cap_gb * 2**30)
    ours["long"] = measure_cli(args.cli, TEACHING_FLAGS + ["--max-len", str(args.long_n)], args.long_n, 1, mem_cap_bytes=cap)

    theirs, why = (None, "--no-torch: ratio skipped") if args.no_torch else measure_torch(ns, args.grad_n, args.reps)

    print()
    if why:
        print(why)
    else:
        print(f"torch {theirs['version']}, {theirs['threads']} threads, float32, every P kept; BLAS: {theirs['blas']}")
    start = ours["startup"]
    print(f"process start + seeding 85 M weights (qkvlab-cli run, n = 1): {fmt_s(start)}, peak RSS {start['rss_mb']:.0f} MB")
    print()
    print(f"{'measure':<34} {'ours':>10} {'torch':>10} {'ours/torch':>11} {'peak RSS':>10}   target")
    rows = []

    def row(label, key, target_text, ratio_target=None, rss_target=None):
        r = ours[key]
        t = theirs.get(key) if theirs else None
        ratio = r["seconds"] / t if (t and "seconds" in r) else None
        ratio_s = f"{ratio:.2f}×" if ratio is not None else "skipped"
        checks = []
        if ratio_target is not None:
            checks.append(f"ratio {verdict(ratio, ratio_target)}")
        if rss_target is not None:
            checks.append(f"RSS {verdict(r['rss_mb'], rss_target)}")
        torch_s = f"{t:.3f} s" if t else "-"
        print(f"{label:<34} {fmt_s(r):>10} {torch_s:>10} {ratio_s:>11} {r['rss_mb']:>7.0f} MB   {target_text}: {', '.join(checks) or '-'}")
        if "error" in r:
            print(f"    ours failed: {r['error']}")
        rows.append({"measure": label, "ours_s": r.get("seconds"), "torch_s": t, "ratio": ratio, "rss_mb": r["rss_mb"], "error": r.get("error")})

    for n in ns:
        if n == 512:
            row(f"forward n={n}", f"fwd_{n}", f"≤ {TARGET_RATIO_FWD_512}×", ratio_target=TARGET_RATIO_FWD_512)
        elif n == 1024:
            row(f"forward n={n}", f"fwd_{n}", f"RSS ≤ {TARGET_RSS_1024_MB} MB", rss_target=TARGET_RSS_1024_MB)
        else:
            row(f"forward n={n}", f"fwd_{n}", "(no target)")
    row(f"forward+backward n={args.grad_n}", f"fwd_bwd_{args.grad_n}", f"≤ {TARGET_RATIO_FWD_BWD_128}×", ratio_target=TARGET_RATIO_FWD_BWD_128)
    long = ours["long"]
    label = f"teaching size, n={args.long_n}"
    if "error" in long:
        print(f"{label:<34} {'failed':>10} {'-':>10} {'-':>11} {'>' if long['rss_mb'] >= 0.9 * cap / 2**20 else ' ':>1}{long['rss_mb']:>6.0f} MB"
              f"   RSS ≤ {TARGET_RSS_LONG_MB} MB: misses (cap {args.mem_cap_gb:g} GB; {long['error']})")
    else:
        print(f"{label:<34} {fmt_s(long):>10} {'-':>10} {'-':>11} {long['rss_mb']:>7.0f} MB   RSS ≤ {TARGET_RSS_LONG_MB} MB: "
              f"RSS {verdict(long['rss_mb'], TARGET_RSS_LONG_MB)}")
    rows.append({"measure": label, "ours_s": long.get("seconds"), "rss_mb": long["rss_mb"], "error": long.get("error")})
    print("\nours = the whole process (start, seeding, forward, full trace); torch = the forward (or forward+backward) only.")
    if "seconds" in start:
        spent = ", ".join(f"{r['measure']}: {r['ours_s'] - start['seconds']:.3f} s" for r in rows[:-1] if r["ours_s"] is not None)
        print(f"ours less the n = 1 run (process start + seeding): {spent}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ours": ours, "torch": theirs, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
