#!/usr/bin/env bash
# Add the panel to the desktop's application menu (per user, no root needed).
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$apps" "$icons"
exe="$(pwd)/.venv/bin/elite-panel"
sed "s|^Exec=.*|Exec=$exe|" resources/elite-coding-assistant.desktop > "$apps/elite-coding-assistant.desktop"
cp resources/icons/elite-coding-assistant.svg "$icons/"
echo "installed $apps/elite-coding-assistant.desktop"
