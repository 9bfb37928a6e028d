#!/usr/bin/env bash
# Headless Chromium and CJK fonts for the case-page tests (Debian packages).
set -euo pipefail
if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
else
  echo "install chromium and fonts-noto-cjk (the case-page tests need a real headless browser)" >&2
  exit 1
fi
