#!/usr/bin/env bash
# Look at the built site in a real browser: headless Chromium screenshots of the API reference and of a
# rendered notebook (its figures). Run after the build:
#   python -m sphinx -W -b html docs docs/_build/html && docs/screenshots.sh
# Usage: docs/screenshots.sh [BUILD_DIR (docs/_build/html)] [OUT_DIR (docs/_build/screenshots)]
set -euo pipefail
build=${1:-docs/_build/html}
out=${2:-docs/_build/screenshots}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    echo "screenshots.sh: error: no Chromium found (Debian: apt-get install -y chromium)" >&2
    exit 2
fi
mkdir -p "$out"

# shot PAGE NAME HEIGHT: the page at 1280 pixels wide, HEIGHT tall. --no-sandbox: Chromium refuses to run
# as root otherwise (containers); the virtual time budget lets the page's fonts and images load.
shot() {
    local page="$build/$1"
    [ -f "${page%%#*}" ] || { echo "screenshots.sh: error: no page ${page%%#*} (build the site first)" >&2; exit 2; }
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 \
        --window-size=1280,"$3" --screenshot="$out/$2.png" "file://$(realpath "${page%%#*}")${page#"${page%%#*}"}" \
        2>/dev/null
    echo "$out/$2.png"
}

shot api/zoo.html api_zoo 1600
shot api/transfer.html api_transfer 1600
shot api/transfer.html api_transfer_first_screen 900   # what a new user sees first: the package and its first calls
shot _executed/07_inside_a_cnn.html notebook_07 3200
shot _executed/06_transfer_learning.html notebook_06 3200
shot models.html models 1400
