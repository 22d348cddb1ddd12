# Shared by scripts/run.sh and scripts/test.sh: install what is missing, configure and build.
# Idempotent: a second run installs nothing, reconfigures nothing, and rebuilds only what changed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${QKVLAB_BUILD_DIR:-$ROOT/build}

# Debian 12 packages. Build: compiler, CMake, the libraries; GUI: ImGui, GLFW, GL, glad, fonts (DejaVu for the
# maths symbols, WenQuanYi Micro Hei for Chinese); tests: GoogleTest,
# Google Benchmark, numpy (the CLI test loads exports with numpy.load), Xvfb for the GUI tests.
BUILD_PACKAGES=(g++ cmake ninja-build pkg-config git libeigen3-dev nlohmann-json3-dev libfmt-dev libcli11-dev libstb-dev libicu-dev
  libimgui-dev libglfw3-dev libgl-dev libegl-dev python3-glad python3-jinja2 fonts-dejavu-core fonts-wqy-microhei)
TEST_PACKAGES=(libgtest-dev libgmock-dev libbenchmark-dev python3 python3-numpy python3-pil xvfb xauth time)
# The sanitizer and fuzz builds (scripts/sanitize.sh): clang, its ASan/UBSan/TSan/libFuzzer runtime, its OpenMP,
# and llvm-symbolizer for readable stacks. (GNU time, in TEST_PACKAGES, measures the CLI test's peak memory.)
SANITIZE_PACKAGES=(clang libclang-rt-14-dev libomp-14-dev llvm)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "qkvlab: need root or sudo to install: $*" >&2; return 1; fi
}

install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "qkvlab: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  local tests=$1
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQKVLAB_BUILD_TESTS="$tests" -DQKVLAB_BUILD_BENCH="$tests"
  elif [ "$tests" = ON ]; then
    cmake "$BUILD_DIR" -DQKVLAB_BUILD_TESTS=ON -DQKVLAB_BUILD_BENCH=ON >/dev/null
  fi
  cmake --build "$BUILD_DIR" --parallel "$(nproc)"
}
