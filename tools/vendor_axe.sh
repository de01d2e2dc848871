#!/usr/bin/env bash
# Vendor axe-core, the accessibility engine the browser tests run on every page, from the
# npm registry into tests/_vendor/axe-core/ (Mozilla Public License 2.0, see LICENSE there).
# The files are committed; this script records where they come from and refreshes them.
set -euo pipefail
version="4.14.1"
dest="$(cd "$(dirname "$0")/.." && pwd)/tests/_vendor/axe-core"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@${version}" >/dev/null && tar xzf "axe-core-${version}.tgz")
mkdir -p "$dest"
cp "$work/package/axe.min.js" "$work/package/LICENSE" "$dest/"
echo "axe-core ${version} -> ${dest}"
