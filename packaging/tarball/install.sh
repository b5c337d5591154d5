#!/usr/bin/env bash
# Install Elite Coding Assistant for this user, from the unpacked tarball (no root needed):
#   the application   ~/.local/lib/elite-coding-assistant/
#   the command       ~/.local/bin/elite-panel
#   the menu entry    ~/.local/share/applications/, its icons and AppStream metainfo
# PREFIX=... moves the first two, XDG_DATA_HOME the rest. Installing again upgrades (a
# running stack keeps running; the panel notices the new version). Your conversations,
# profiles and logs live elsewhere and are never touched: uninstall.sh leaves them too.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${PREFIX:-$HOME/.local}"
share="${XDG_DATA_HOME:-$HOME/.local/share}"
app="$prefix/lib/elite-coding-assistant"
entry=io.github.elitecoding.Assistant

[ -x "$here/app/elite-coding-assistant" ] || { echo "run install.sh from the unpacked tarball" >&2; exit 1; }
mkdir -p "$prefix/lib" "$prefix/bin" "$share/applications" "$share/metainfo"
# Copy beside, then swap: an interrupted install leaves the previous version whole.
rm -rf "$app.new"
cp -a "$here/app" "$app.new"
rm -rf "$app.old"
[ -d "$app" ] && mv "$app" "$app.old"
mv "$app.new" "$app"
rm -rf "$app.old"
ln -sfn "$app/elite-coding-assistant" "$prefix/bin/elite-panel"
sed "s|^Exec=.*|Exec=$prefix/bin/elite-panel|" "$here/share/applications/$entry.desktop" \
    > "$share/applications/$entry.desktop"
cp "$here/share/metainfo/$entry.metainfo.xml" "$share/metainfo/"
cp -r "$here/share/icons" "$share/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$share/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
echo "Installed $("$app/elite-coding-assistant" --version) in $app"
case ":$PATH:" in
    *":$prefix/bin:"*) echo "Run: elite-panel (or open Elite Coding Assistant from the menu)" ;;
    *) echo "Run: $prefix/bin/elite-panel ($prefix/bin is not on your PATH)" ;;
esac
