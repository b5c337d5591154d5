#!/usr/bin/env bash
# Add the panel of this checkout to the desktop's application menu (per user, no root
# needed). The tarball's install.sh and the .deb do the same for an installed app.
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$apps" "$icons"
exe="$(pwd)/.venv/bin/elite-panel"
entry=io.github.elitecoding.Assistant.desktop
sed "s|^Exec=.*|Exec=$exe|" "resources/$entry" > "$apps/$entry"
cp resources/icons/elite-coding-assistant.svg "$icons/"
echo "installed $apps/$entry"
