#!/usr/bin/env bash
# Add Monoscope to the desktop menu of the current user: the .desktop entry and the icons.
#   bash packaging/install_desktop.sh [PATH/TO/monoscope]   # default: dist/monoscope/monoscope
# Writes under ${XDG_DATA_HOME:-~/.local/share}: applications/monoscope.desktop and
# icons/hicolor/{16x16..512x512,scalable}/apps/monoscope.{png,svg}.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
exe=$(realpath "${1:-$here/dist/monoscope/monoscope}")
[ -x "$exe" ] || { echo "install_desktop: $exe is not an executable" >&2; exit 1; }
data=${XDG_DATA_HOME:-$HOME/.local/share}
icons=$here/resources/icons
mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
for s in 16 32 48 64 128 256 512; do
  mkdir -p "$data/icons/hicolor/${s}x${s}/apps"
  cp "$icons/monoscope-$s.png" "$data/icons/hicolor/${s}x${s}/apps/monoscope.png"
done
cp "$icons/monoscope.svg" "$data/icons/hicolor/scalable/apps/monoscope.svg"
sed -e "s|^Exec=monoscope|Exec=\"$exe\"|" -e "s|^TryExec=monoscope|TryExec=$exe|" \
  "$here/packaging/monoscope.desktop" > "$data/applications/monoscope.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
echo "installed $data/applications/monoscope.desktop (runs $exe)"
