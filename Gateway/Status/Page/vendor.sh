#!/usr/bin/env bash
# Fetches the status page's charting library (uPlot, MIT) with npm, at the version package-lock.json pins, and copies
# the files the page serves, with the licence, into vendor/. The result is committed: building, running and testing
# the tracker need neither npm nor a network. Run again after changing the version in package.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts >/dev/null 2>&1 || npm install --no-audit --no-fund --ignore-scripts >/dev/null
version=$(node -p 'require("./node_modules/uplot/package.json").version')
cp node_modules/uplot/dist/uPlot.iife.min.js vendor/uPlot.iife.min.js
cp node_modules/uplot/dist/uPlot.min.css vendor/uPlot.min.css
cp node_modules/uplot/LICENSE vendor/LICENSE.uPlot
echo "uPlot $version (MIT, https://github.com/leeoniya/uPlot), copied from npm by vendor.sh" > vendor/README
rm -rf node_modules
echo "vendored uPlot $version into $(pwd)/vendor"
