#!/usr/bin/env python3
"""Golden values of core/rng's counter-based normal_matrix, written from the formula in core/rng.h alone
(plain Python integers and math, no project code), for tests/rng_test.cpp.

    python3 tests/rng_golden.py        # prints the C++ literals pasted into RngCounter.GoldenValues...
"""
import math
import struct

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def stream_seed(seed, name):
    return mix(((seed ^ fnv1a(name)) + GAMMA) & MASK)


def counter_u64(key, i):
    return mix((key + (i + 1) * GAMMA) & MASK)


def unit(x):
    return (x >> 11) * 2.0 ** -53


def counter_normal(key, k):
    j = k // 2
    u1 = unit(counter_u64(key, 2 * j))
    if u1 <= 0.0:
        u1 = 2.0 ** -54
    u2 = unit(counter_u64(key, 2 * j + 1))
    r = math.sqrt(-2.0 * math.log(u1))
    theta = 2.0 * math.pi * u2
    return r * math.cos(theta) if k % 2 == 0 else r * math.sin(theta)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def cpp_float(x):
    """A C++ hexadecimal float literal, exact: -0x1.a21fd8p+0f."""
    mantissa, exponent = x.hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def entry(seed, name, k, std):
    # float(normal)·std, both rounded to float32 as the C++ multiplies two floats
    return f32(f32(counter_normal(stream_seed(seed, name), k)) * f32(std))


def main():
    print(f"stream_seed(42, \"W_Q\") = {stream_seed(42, 'W_Q'):#018x}")
    key = stream_seed(42, "W_Q")
    for i in (0, 1, 1_000_000):
        print(f"counter_u64(stream_seed(42, \"W_Q\"), {i}) = {counter_u64(key, i):#018x}")
    print("normal_matrix(42, \"W_Q\", 2, 3, 1.0f):", ", ".join(cpp_float(entry(42, "W_Q", k, 1.0)) for k in range(6)))
    big = (0, 1, 1_000_001, 768 * 3072 - 1)
    print(f"normal_matrix(7, \"decoder.3.ffn.W_1\", 768, 3072, 0.036f) at k = {big}:",
          ", ".join(cpp_float(entry(7, "decoder.3.ffn.W_1", k, 0.036)) for k in big))
    print("normal_matrix(7, \"w_a\", 3, 5, 2.0f) at k = 14 (odd size: the cosine of pair 7):", cpp_float(entry(7, "w_a", 14, 2.0)))
    print("counter_normal(stream_seed(42, \"W_Q\"), 1000001) =", repr(counter_normal(key, 1_000_001)))


if __name__ == "__main__":
    main()
