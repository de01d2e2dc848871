#!/usr/bin/env bash
# Vendor the Persian typeface into book/_static/fonts/ from the npm registry.
# Vazirmatn (SIL Open Font License 1.1), Non-Latin variable build: only the Arabic-script
# glyphs, so Latin words inside Persian text keep the theme's Latin typeface.
# The files are committed; this script records where they come from and refreshes them.
set -euo pipefail
version="33.0.3"
dest="$(cd "$(dirname "$0")/.." && pwd)/book/_static/fonts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "vazirmatn@${version}" >/dev/null && tar xzf "vazirmatn-${version}.tgz")
mkdir -p "$dest"
cp "$work/package/misc/Non-Latin/fonts/webfonts/Vazirmatn-NL[wght].woff2" "$dest/Vazirmatn-NL-Variable.woff2"
cp "$work/package/OFL.txt" "$dest/Vazirmatn-OFL.txt"
echo "vazirmatn ${version} -> ${dest}"
