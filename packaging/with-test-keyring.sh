#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked GNOME Keyring (the real
# Secret Service), as on a desktop. Used by `bootstrap.sh test`; the keyring's files live
# in a temporary folder removed afterwards.
#
#   bash packaging/with-test-keyring.sh COMMAND [ARGS...]
set -euo pipefail
if [ "${1:-}" = "--inside" ]; then
    shift
    # The daemon prompts for a password it is not given; give it one on stdin.
    printf 'elite-test-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec "$@"
fi
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
mkdir -p "$keyring_home/keyrings"
XDG_DATA_HOME="$keyring_home" dbus-run-session -- bash "$0" --inside "$@"
