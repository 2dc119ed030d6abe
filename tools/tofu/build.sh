#!/usr/bin/env bash
# Provides OpenTofu and its OpenStack provider for the side-by-side benchmark (benchmarks/run.py
# --tools ...,tofu), built from the Go module proxy at the versions of tools/versions.env:
#
#   bin/tofu                      OpenTofu (wrapper module tools/tofu/tofu: OpenTofu's go.mod has a
#                                 replace directive, which `go install` refuses)
#   bin/tofu-plugins/...          terraform-provider-openstack, laid out as a filesystem mirror
#   bin/tofu.tfrc                 the CLI config (TF_CLI_CONFIG_FILE) that installs the provider
#                                 from that mirror only: `tofu init` fetches nothing
#
# Not part of `make setup` nor of the tests: only the benchmark needs it. Builds are cached per
# input hash (go.sum and versions.env) under ${XDG_CACHE_HOME:-~/.cache}/octavia-infra/tofu, so
# warm runs only copy files; a cold build takes some minutes.
#
# Usage: tools/tofu/build.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
modules=$root/tools/tofu
bin=$root/bin
cache=${XDG_CACHE_HOME:-$HOME/.cache}/octavia-infra/tofu
tag=tofu
# shellcheck source=../go_build.sh
source "$root/tools/go_build.sh"
mkdir -p "$bin"

require_pin tofu github.com/opentofu/opentofu "$OPENTOFU_VERSION"
require_pin provider github.com/terraform-provider-openstack/terraform-provider-openstack/v3 \
    "$TERRAFORM_PROVIDER_OPENSTACK_VERSION"

# The wrapper must carry OpenTofu's own replace directives, no more and no fewer.
replaces() { go mod edit -json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("Replace"))'; }
upstream=$(cd "$modules/tofu" && go mod download -json "github.com/opentofu/opentofu@v$OPENTOFU_VERSION" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')
if [ "$(replaces "$upstream")" != "$(replaces "$modules/tofu/go.mod")" ]; then
    log "tools/tofu/tofu/go.mod's replace directives differ from OpenTofu v$OPENTOFU_VERSION's ($upstream): copy them"
    exit 1
fi

cached_build tofu tofu github.com/opentofu/opentofu/cmd/tofu "-X github.com/opentofu/opentofu/version.dev=no" "$bin/tofu"
# The filesystem mirror's unpacked layout: HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION
platform=$(go env GOOS)_$(go env GOARCH)
mirror=$bin/tofu-plugins
provider_dir=$mirror/registry.opentofu.org/terraform-provider-openstack/openstack/$TERRAFORM_PROVIDER_OPENSTACK_VERSION/$platform
cached_build terraform-provider-openstack provider github.com/terraform-provider-openstack/terraform-provider-openstack/v3 "" \
    "$provider_dir/terraform-provider-openstack_v$TERRAFORM_PROVIDER_OPENSTACK_VERSION"

cat > "$bin/tofu.tfrc.tmp" <<EOF
# Written by tools/tofu/build.sh. OpenTofu installs providers from this mirror only.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/*/*"]
  }
}
EOF
mv "$bin/tofu.tfrc.tmp" "$bin/tofu.tfrc"

log "bin/: $(TF_CLI_CONFIG_FILE=$bin/tofu.tfrc "$bin/tofu" version | head -1), provider terraform-provider-openstack $TERRAFORM_PROVIDER_OPENSTACK_VERSION" \
    "($provider_dir), CLI config bin/tofu.tfrc"
