# Environment for running this project's pulumi commands; `source tools/env.sh` from any shell.
# The Makefile, the tests and CI use it too, so this is the one place these settings live.
_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PATH="$_root/bin:$_root/.venv/bin:$PATH"
# Never reach for pulumi.com: no update check, no plugin downloads (tools/setup.sh installs them).
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=false
# State in a file backend inside the project unless the user chose another (see README, "State").
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$_root/.state}"
# The devcloud's clouds.yaml and its service-project cloud (an admin scoped to the project Octavia's
# images belong to; the amphora keypair belongs to a user, so the stack creates it for Octavia's
# service user), unless the user points at another cloud.
export OS_CLIENT_CONFIG_FILE="${OS_CLIENT_CONFIG_FILE:-$_root/.devcloud/clouds.yaml}"
export OS_CLOUD="${OS_CLOUD:-devcloud-service}"
mkdir -p "$_root/.state"
unset _root
