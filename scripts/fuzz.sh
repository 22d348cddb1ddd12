#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (one per parser of untrusted input) for a while each, and prints a table: the
# executions, their rate, the corpus and the peak memory of each. Any crash, leak, timeout (10 s) or OOM (2 GB) fails
# the run and names the input libFuzzer kept (under <build>/fuzz-artifacts/); add it to fuzz/regressions/<target>/
# once fixed, where the normal test suite replays it.
#
#   scripts/fuzz.sh [--seconds N] [--runs N] [--jobs J] [--build DIR] [target ...]
#
# --seconds: per target (default 60, the smoke run of scripts/sanitize.sh); --runs: stop a target after this many
# executions instead (--seconds then caps it, e.g. --runs 1000000 --seconds 1800); --jobs: targets at once (default: the
# cores); --build: a QKVLAB_FUZZ=ON build (default: build-sanitize, which scripts/sanitize.sh makes). The corpus of
# each target grows in <build>/fuzz-corpus/<target>/ from run to run, seeded from the shipped assets and fuzz/seeds/.
# A campaign: scripts/fuzz.sh --seconds 1800 (README, "Fuzzing").
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=60
runs=-1
jobs=$(nproc)
build=${QKVLAB_BUILD_DIR:-$ROOT/build}-sanitize
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(session_json session_patch lesson safetensors trained_weights npy tokenizer pretrained_tokenizer model_folder)
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# Seeds per target (as CMakeLists.txt gives the replay tests), the dictionary and the largest input.
seeds_of() {
  case $1 in
    lesson) echo "$ROOT/assets/lessons" ;;
    safetensors) echo "$ROOT/fuzz/seeds/safetensors $ROOT/fuzz/seeds/trained_weights $ROOT/assets/weights" ;;
    trained_weights) echo "$ROOT/fuzz/seeds/trained_weights $ROOT/assets/weights" ;;
    tokenizer) echo "$ROOT/fuzz/seeds/tokenizer $ROOT/assets/lessons" ;;
    *) echo "$ROOT/fuzz/seeds/$1" ;;
  esac
}
flags_of() {
  case $1 in
    session_json|session_patch|lesson) echo "-dict=$ROOT/fuzz/json.dict -max_len=16384" ;;
    safetensors|trained_weights) echo "-max_len=16384" ;;
    tokenizer) echo "-max_len=1024" ;;  # a UTF-8 defect shows in a few bytes; long texts only slow each run
    *) echo "-max_len=4096" ;;
  esac
}

logs=$build/fuzz-logs
mkdir -p "$logs"
run_one() {
  local t=$1 bin=$build/qkvlab_fuzz_$1
  if [ ! -x "$bin" ]; then echo "fuzz.sh: $bin is missing (configure $build with -DQKVLAB_FUZZ=ON)" > "$logs/$t.log"; return 3; fi
  mkdir -p "$build/fuzz-corpus/$t" "$build/fuzz-artifacts/$t"
  # shellcheck disable=SC2046
  ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t/" $(flags_of "$t") \
    "$build/fuzz-corpus/$t" $(seeds_of "$t") > "$logs/$t.log" 2>&1
}

status=0
declare -A pid_of
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$t" &
  pid_of[$t]=$!
done
declare -A result
for t in "${targets[@]}"; do
  if wait "${pid_of[$t]}"; then result[$t]=ok; else result[$t]=FAILED; status=1; fi
done

printf '%-16s %14s %10s %8s %9s  %s\n' target executions "exec/s" corpus "peak RSS" result
for t in "${targets[@]}"; do
  log=$logs/$t.log
  stat() { grep -o "stat::$1: *[0-9]*" "$log" | tail -1 | grep -o '[0-9]*$' || echo "?"; }
  corpus=$(find "$build/fuzz-corpus/$t" -type f 2>/dev/null | wc -l)
  printf '%-16s %14s %10s %8s %6s MB  %s\n' "$t" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "$corpus" \
    "$(stat peak_rss_mb)" "${result[$t]}"
done
for t in "${targets[@]}"; do
  if [ "${result[$t]}" != ok ]; then
    echo "--- $t: the end of $logs/$t.log"
    tail -40 "$logs/$t.log"
  fi
done
exit $status
