#!/usr/bin/env bash
# The browser test (ttp_assets_tests/ui) drives Debian's Chromium through Playwright for Python
# (the dev extra). Install Chromium when it is missing; Playwright's own browser downloads
# (`playwright install`) are never used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium (/usr/bin/chromium) is missing and this is not root:" \
       "install it (Debian: sudo apt-get install chromium)" >&2
  exit 1
fi
echo "installing Chromium (apt-get install chromium) ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } \
     >/tmp/ttp-chromium-install.log 2>&1; then
  cat /tmp/ttp-chromium-install.log >&2
  exit 1
fi
