#!/usr/bin/env bash
# The Flight front tests (ttp_assets_tests/flight/test_dos.py) run the real nginx of
# deploy/flight-front in front of a gateway. Install nginx when it is missing; nothing is started
# or configured here: the package's service is kept from starting (policy-rc.d), so a fresh
# Debian machine or CI container does not end up with nginx serving port 80.
set -euo pipefail
# An executable regular file (bash's command -v also names files it could not run).
for candidate in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
  if [ -n "$candidate" ] && [ -f "$candidate" ] && [ -x "$candidate" ]; then
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "nginx is missing and this is not root: install it (Debian: sudo apt-get install nginx)" >&2
  exit 1
fi
echo "installing nginx (apt-get install nginx) ..." >&2
export DEBIAN_FRONTEND=noninteractive
# invoke-rc.d asks policy-rc.d whether a package may start its service; 101 means no.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=true
fi
cleanup() { if [ "$created_policy" = true ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx; } \
     >/tmp/ttp-nginx-install.log 2>&1; then
  cat /tmp/ttp-nginx-install.log >&2
  exit 1
fi
