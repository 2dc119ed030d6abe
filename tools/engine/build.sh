#!/usr/bin/env bash
# Provides the Pulumi engine in bin/: the pulumi CLI, the Python language host (with the SDK's
# executor and dynamic-provider scripts) and the OpenStack resource plugin, built from the Go
# module proxy at the versions of tools/versions.env.
#
# Builds are cached per input hash under ${XDG_CACHE_HOME:-~/.cache}/octavia-infra/engine, so a
# fresh clone on a machine that built them once only copies files; a clean machine builds
# everything (about 30 minutes on 2 cores).
#
# Usage: tools/engine/build.sh PYTHON   (PYTHON: the project's virtualenv interpreter)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
python=${1:?usage: build.sh PYTHON}
modules=$root/tools/engine
bin=$root/bin
cache=${XDG_CACHE_HOME:-$HOME/.cache}/octavia-infra/engine
tag=engine
# shellcheck source=../go_build.sh
source "$root/tools/go_build.sh"
mkdir -p "$bin"

require_pin cli github.com/pulumi/pulumi/pkg/v3 "$PULUMI_CLI_VERSION"
require_pin langhost github.com/pulumi/pulumi/sdk/v3 "$PULUMI_CLI_VERSION"
require_pin provider github.com/terraform-provider-openstack/terraform-provider-openstack/v3 \
    "$TERRAFORM_PROVIDER_OPENSTACK_VERSION"
require_pin provider github.com/pulumi/pulumi-terraform-bridge/v3 "$PULUMI_TERRAFORM_BRIDGE_VERSION"

# The provider answers to the tokens of the installed SDK: generate them before hashing inputs.
"$python" "$modules/provider/sdk_tokens.py" >&2

# build NAME MODULE-DIR PACKAGE LDFLAGS [DEST-DIR]: into DEST-DIR/NAME (default bin/).
build() { cached_build "$1" "$2" "$3" "$4" "${5:-$bin}/$1"; }

version_flag="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_CLI_VERSION"

# An installed pulumi of exactly the pinned version is used as it is.
ambient=$(command -v pulumi || true)
if [ -n "$ambient" ] && [ "$ambient" != "$bin/pulumi" ] \
    && [ "$("$ambient" version 2>/dev/null)" = "v$PULUMI_CLI_VERSION" ]; then
    log "using $ambient (v$PULUMI_CLI_VERSION)"
    ln -sf "$ambient" "$bin/pulumi"
else
    build pulumi cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$version_flag"
fi
build pulumi-language-python langhost . "$version_flag"
# Kept off PATH: the engine would take it as an "ambient" plugin; setup installs it as a plugin.
build pulumi-resource-openstack provider . "-X main.version=$PULUMI_OPENSTACK_VERSION" "$bin/plugins"

# The language host runs programs through the SDK's executor script, found next to it; dynamic
# providers run through pulumi-resource-pulumi-python. Both ship in the sdk/v3 module.
sdk=$(cd "$modules/langhost" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin/"

log "bin/: $("$bin/pulumi" version), language host $("$bin/pulumi-language-python" -version)," \
    "openstack plugin $("$bin/plugins/pulumi-resource-openstack" -version)"
