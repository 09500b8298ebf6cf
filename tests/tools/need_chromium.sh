#!/bin/sh
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The pages a person opens (the evidence page) are opened in a real browser in their tests (tests/browser.py):
# find Debian's headless Chromium, or install it as root; fail loudly otherwise.
set -eu

if chromium=$(command -v chromium || command -v chromium-browser); then
    echo "Chromium: $chromium"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Chromium not found: installing Debian's chromium package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; }
    command -v chromium >/dev/null || { echo "FAILED: chromium installed, but it is still not on PATH" >&2; exit 1; }
    echo "Chromium: $(command -v chromium)"
else
    echo "FAILED: the tests of the evidence page open it in a real browser and need Chromium: install the chromium" >&2
    echo "package (as root: apt-get install chromium) and run make test again" >&2
    exit 1
fi
