#!/usr/bin/env bash
# Vendor the Persian typeface into book/_static/fonts/ from the npm registry.
# Vazirmatn (SIL Open Font License 1.1), Non-Latin build: only the Arabic-script glyphs,
# so Latin words inside Persian text keep the theme's Latin typeface. The static Regular
# and Bold files, not the variable one: Chromium embeds a variable font in a PDF as
# unnamed Type 3 glyphs, a static one as the font itself (tools/build_pdf.py).
# The files are committed; this script records where they come from and refreshes them.
set -euo pipefail
version="33.0.3"
dest="$(cd "$(dirname "$0")/.." && pwd)/book/_static/fonts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "vazirmatn@${version}" >/dev/null && tar xzf "vazirmatn-${version}.tgz")
mkdir -p "$dest"
for weight in Regular Bold; do
  cp "$work/package/misc/Non-Latin/fonts/webfonts/Vazirmatn-NL-${weight}.woff2" "$dest/"
done
cp "$work/package/OFL.txt" "$dest/Vazirmatn-OFL.txt"
echo "vazirmatn ${version} -> ${dest}"
