#!/usr/bin/env bash
# One-command set-up: the Python virtualenv (.venv, pinned requirements) and the Pulumi engine
# (bin/, see tools/engine/build.sh) with the OpenStack plugin installed. Warm re-runs do nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source tools/versions.env

log() { printf '[setup] %s\n' "$*" >&2; }
start=$SECONDS

# Python: reinstall only when requirements.txt changed since the last install.
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating .venv from requirements.txt"
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    echo "$want" > "$stamp"
fi

tools/engine/build.sh .venv/bin/python

source tools/env.sh
plugin=bin/plugins/pulumi-resource-openstack
if ! pulumi plugin ls 2>/dev/null | grep -qE "^openstack\s+resource\s+$PULUMI_OPENSTACK_VERSION\b" \
    || ! cmp -s "$plugin" "${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-openstack-v$PULUMI_OPENSTACK_VERSION/pulumi-resource-openstack"; then
    log "installing resource plugin openstack $PULUMI_OPENSTACK_VERSION from $plugin"
    pulumi plugin install resource openstack "$PULUMI_OPENSTACK_VERSION" --file "$plugin" --reinstall >&2
fi
log "ready in $((SECONDS - start)) s: $(pulumi version), plugin openstack $PULUMI_OPENSTACK_VERSION"
