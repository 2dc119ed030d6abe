# Environment for running this project's pulumi commands; `source tools/env.sh` from any shell.
# The Makefile, the tests and CI use it too, so this is the one place these settings live.
_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PATH="$_root/bin:$_root/.venv/bin:$PATH"
# Never reach for pulumi.com: no update check, no plugin downloads (tools/setup.sh installs them).
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=false
# The program and the PKI's dynamic provider import this project's modules on every run; their cached
# bytecode spares compiling them each time (0.4 s of CPU per preview), so a shell's
# PYTHONDONTWRITEBYTECODE does not reach them.
unset PYTHONDONTWRITEBYTECODE
# State in a file backend inside the project unless the user chose another (see README, "State").
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_root/.state}"
# OpenStack credentials the user has (OS_CLOUD, OS_AUTH_URL or OS_CLIENT_CONFIG_FILE set) are never
# touched: every OS_* stays as it is. Only without any, and once the devcloud exists, the devcloud's
# clouds.yaml and its service-project cloud (an admin scoped to the project Octavia's images belong
# to; the amphora keypair belongs to a user, so the stack creates it for Octavia's service user).
if [ -z "${OS_CLOUD:-}${OS_AUTH_URL:-}${OS_CLIENT_CONFIG_FILE:-}" ] && [ -f "$_root/.devcloud/clouds.yaml" ]; then
  export OS_CLIENT_CONFIG_FILE="$_root/.devcloud/clouds.yaml" OS_CLOUD=devcloud-service
fi
mkdir -p "$_root/.state"
unset _root
