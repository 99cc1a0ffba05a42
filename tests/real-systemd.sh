#!/bin/sh
# Runs the opt-in test `real_systemd_user_manager` against a real `systemd --user`.
#
# Where systemd is not running (a container, this project's build machines), it starts a user
# manager for the test in a private mount namespace, with a fake /run/systemd/system so that the
# manager agrees to start; nothing outside the namespace sees it. Needs root (for unshare) and
# the `systemd` package. Usage: tests/real-systemd.sh   (from the repository root)
set -eu
if [ "${1:-}" != "--inside" ]; then
    cargo test --test service --no-run
    work=$(mktemp -d /tmp/ocn-real-systemd.XXXXXX)
    status=0
    unshare --mount --propagation private "$0" --inside "$work" || status=$?
    rm -rf "$work"
    exit "$status"
fi
work=$2
mkdir -p "$work/run" "$work/runtime" "$work/config"
chmod 700 "$work/runtime"
mount --bind "$work/run" /run/systemd
mkdir -p /run/systemd/system
export XDG_RUNTIME_DIR="$work/runtime" XDG_CONFIG_HOME="$work/config"
/lib/systemd/systemd --user >"$work/manager.log" 2>&1 &
manager=$!
trap 'kill "$manager" 2>/dev/null; wait "$manager" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    [ -S "$XDG_RUNTIME_DIR/systemd/private" ] && break
    sleep 0.1
done
OPENCLAW_NODE_TEST_REAL_SYSTEMD=1 cargo test --test service real_systemd_user_manager -- --ignored --nocapture
