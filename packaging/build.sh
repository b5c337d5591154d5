#!/usr/bin/env bash
# Build every artifact into dist/ (run after `bash packaging/bootstrap.sh`, which makes .venv):
#   elite_coding_assistant-<v>-py3-none-any.whl and .tar.gz   the panel (wheel, sdist)
#   elite_assistant_server-<v>-py3-none-any.whl and .tar.gz   the server's own
#   elite-coding-assistant-<v>-linux-x86_64.tar.gz            frozen app + install.sh
#   elite-coding-assistant_<v>_amd64.deb                      frozen app under /opt
#   GLIBC                                                     the oldest glibc they run on
# The frozen app (PyInstaller, one folder) is built from .venv with the built-in runner and
# its bundled model; it needs no Python on the target machine. About 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
[ -x "$PY" ] || { echo "no $VENV: run bash packaging/bootstrap.sh first" >&2; exit 1; }
export QT_QPA_PLATFORM=offscreen
VERSION=$("$PY" -c "import elite_panel; print(elite_panel.__version__)")
NAME=elite-coding-assistant
ID=io.github.elitecoding.Assistant
step() { echo "== $*"; }

# twine 7 wants packaging >= 26, which the Redis client (coredis) refuses: twine 6.
"$PY" -m pip install -q "pyinstaller==6.*" "build==1.*" "twine==6.*" "packaging<26"
rm -rf dist build/frozen build/stage
mkdir -p dist build

step "wheels and sdists"
"$PY" -m build --outdir dist . >/dev/null
"$PY" -m build --outdir dist embedded_server >/dev/null
rm -rf embedded_server/build  # setuptools' copies of the sources: not for the checkers
"$PY" -m twine check --strict dist/*.whl dist/elite_*.tar.gz

step "frozen application (PyInstaller)"
"$VENV/bin/pyinstaller" --noconfirm --log-level WARN --distpath build/frozen \
    --workpath build/pyinstaller packaging/pyinstaller/$NAME.spec
frozen=build/frozen/$NAME
"$frozen/$NAME" --version

# The oldest glibc the bundle runs on: the newest symbol version its binaries ask for.
glibc=$(find "$frozen" -type f \( -name '*.so*' -o -name "$NAME" \) -print0 |
    xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' |
    sort -V | tail -1)
echo "$glibc" > dist/GLIBC
echo "needs glibc >= $glibc"

step "icons"
"$PY" packaging/render_icons.py build/stage/icons

step "tarball"
tar_root=build/stage/$NAME-$VERSION-linux-x86_64
mkdir -p "$tar_root/share/applications" "$tar_root/share/metainfo"
cp -a "$frozen" "$tar_root/app"
cp "resources/$ID.desktop" "$tar_root/share/applications/"
cp "resources/$ID.metainfo.xml" "$tar_root/share/metainfo/"
cp -r build/stage/icons "$tar_root/share/icons"
cp packaging/tarball/install.sh packaging/tarball/uninstall.sh "$tar_root/"
tar -C build/stage -czf "dist/$NAME-$VERSION-linux-x86_64.tar.gz" "$(basename "$tar_root")"

step ".deb"
deb=build/stage/deb
mkdir -p "$deb/DEBIAN" "$deb/opt" "$deb/usr/bin" "$deb/usr/share/applications" \
    "$deb/usr/share/metainfo"
cp -a "$frozen" "$deb/opt/$NAME"
ln -s "/opt/$NAME/$NAME" "$deb/usr/bin/elite-panel"
cp "resources/$ID.desktop" "$deb/usr/share/applications/"
cp "resources/$ID.metainfo.xml" "$deb/usr/share/metainfo/"
cp -r build/stage/icons "$deb/usr/share/icons"
size=$(du -sk --exclude=DEBIAN "$deb" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size/" -e "s/@GLIBC@/$glibc/" \
    packaging/deb/control.in > "$deb/DEBIAN/control"
install -m 755 packaging/deb/postrm "$deb/DEBIAN/postrm"
dpkg-deb --root-owner-group -Zzstd --build "$deb" "dist/${NAME}_${VERSION}_amd64.deb" >/dev/null

step "dist/"
ls -l dist
