#!/usr/bin/env sh
# Debian packages the tests use, installed only where missing: prometheus (server and
# promtool) for the alert-rule and Prometheus tests, chromium for the report tests (driven by
# Playwright with executable_path: no browser download).
set -eu
missing=""
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing="prometheus"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -n "$missing" ] || exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing Debian's$missing for the tests" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
