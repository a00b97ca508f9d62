#!/bin/sh
# Install the system tools RedStar needs beyond Python packages. Idempotent: safe to run again.
#
# - bubblewrap (`bwrap`): redstar-code runs model-written programs inside it (user, PID, network
#   and mount namespaces; see docs/code.md). Without it code verification refuses to run rather
#   than run untrusted code unsandboxed.
#
# Run as root on Debian/Ubuntu (README set-up, .ci/run). Does nothing when bwrap is on PATH.
set -eu

if command -v bwrap >/dev/null 2>&1; then
    echo "bubblewrap already installed: $(command -v bwrap)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "error: bubblewrap (bwrap) is missing; run this script as root or install it with" >&2
    echo "       'sudo apt-get install -y bubblewrap' (Fedora: 'sudo dnf install bubblewrap')" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no apt-get here; install the 'bubblewrap' package with your system's package manager" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap
echo "installed bubblewrap: $(command -v bwrap)"
