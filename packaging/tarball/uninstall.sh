#!/usr/bin/env bash
# Remove what install.sh installed (same PREFIX and XDG_DATA_HOME). Your conversations,
# profiles, backups and logs are kept; the last lines say where they are.
set -euo pipefail
prefix="${PREFIX:-$HOME/.local}"
share="${XDG_DATA_HOME:-$HOME/.local/share}"
app="$prefix/lib/elite-coding-assistant"
entry=io.github.elitecoding.Assistant
paths=""
if [ -x "$app/elite-coding-assistant" ]; then
    "$app/elite-coding-assistant" stack down >/dev/null 2>&1 || true  # no orphans left running
    paths="$("$app/elite-coding-assistant" --paths 2>/dev/null || true)"
fi
rm -rf "$app" "$app.new" "$app.old"
[ -L "$prefix/bin/elite-panel" ] && rm -f "$prefix/bin/elite-panel"
rm -f "$share/applications/$entry.desktop" "$share/metainfo/$entry.metainfo.xml"
find "$share/icons/hicolor" -name 'elite-coding-assistant.*' -delete 2>/dev/null || true
command -v update-desktop-database >/dev/null && update-desktop-database -q "$share/applications" || true
echo "Removed Elite Coding Assistant. Your data is kept; delete it yourself if you wish:"
echo "${paths:-  (see the folders elite-coding-assistant under ~/.config, ~/.local/share and ~/.local/state)}"
