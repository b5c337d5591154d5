#!/usr/bin/env bash
# Install and run Elite Coding Assistant from a source checkout on Debian/Ubuntu.
#
#   bash packaging/bootstrap.sh run     install (system packages, .venv, built-in runner and
#                                       its bundled model) and open the panel
#   bash packaging/bootstrap.sh test    install what the tests need and run the whole suite
#   bash packaging/bootstrap.sh bench   install, then print the benchmark figures
#
# System packages are installed with apt-get (through sudo when not root) only when missing.
# The virtual environment is ./.venv (override with VENV=...). The first install compiles
# llama.cpp (llama-cpp-python): a few minutes; pip caches the wheel for later installs.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
action=${1:-run}

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for pkg in "$@"; do have_pkg "$pkg" || need_apt+=("$pkg"); done; }

system_packages() {
    command -v dpkg-query >/dev/null || return 0   # not Debian-like: install these yourself
    # venv and pip, a compiler and cmake for llama.cpp, the libraries Qt's plugins load.
    want python3-venv python3-dev build-essential cmake \
        libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
        libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
        libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libxcb-xfixes0 fonts-dejavu-core
    if ((${#need_apt[@]})); then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "Installing system packages: ${need_apt[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
    fi
}

python_env() {
    local extras=$1
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "Python >= 3.11 is required (found $("$PYTHON" --version))" >&2; exit 1; }
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[$extras]"
}

case "$action" in
    run)
        system_packages
        python_env local
        exec "$VENV/bin/elite-panel" "${@:2}"
        ;;
    test)
        system_packages
        python_env local,dev
        export QT_QPA_PLATFORM=offscreen   # GUI tests need no display
        export ELITE_REQUIRE_MODEL=1       # a missing model is a failure, not a skip
        "$VENV/bin/ruff" check src embedded_server tests
        "$VENV/bin/mypy"
        exec "$VENV/bin/python" -m pytest "${@:2}"
        ;;
    bench)
        system_packages
        python_env local,dev
        exec "$VENV/bin/python" -m tests.benchmarks.bench_stack
        ;;
    *)
        echo "usage: $0 run|test|bench" >&2
        exit 2
        ;;
esac
