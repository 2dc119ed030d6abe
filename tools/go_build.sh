# Sourced by tools/engine/build.sh and tools/tofu/build.sh: Go programs pinned in wrapper modules
# (one directory per module, its go.mod and go.sum committed), each built once per input hash into a
# cache and copied where it is used. The sourcing script sets: root (the project), modules (the
# directory of its module directories), cache, and tag (its log prefix).

# shellcheck source=versions.env
source "$root/tools/versions.env"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
mkdir -p "$cache"

log() { printf '[%s] %s\n' "$tag" "$*" >&2; }

# require_pin MODULE-DIR MODULE-PATH VERSION: the go.mod files are where Go pins live; refuse to
# build if one drifts from versions.env.
require_pin() {
    local pinned
    pinned=$(cd "$modules/$1" && go list -m -f '{{.Version}}' "$2")
    if [ "$pinned" != "v$3" ]; then
        log "${modules#"$root"/}/$1/go.mod pins $2 $pinned, tools/versions.env says v$3: make them agree"
        exit 1
    fi
}

# inputs_hash MODULE-DIR: the pins, the module files and any Go source of the wrapper itself.
inputs_hash() {
    (cd "$modules/$1" && cat "$root/tools/versions.env" $(ls go.mod go.sum ./*.go generated/* 2>/dev/null) \
        | sha256sum | cut -c1-16)
}

# cached_build NAME MODULE-DIR PACKAGE LDFLAGS DEST-FILE: go build into the cache unless it is
# there, then copy to DEST-FILE (atomically, and only when it differs).
cached_build() {
    local name=$1 dir=$2 package=$3 ldflags=$4 dest=$5
    local cached
    cached=$cache/$name-$(inputs_hash "$dir")
    if [ ! -x "$cached" ]; then
        log "building $name (cold builds take minutes; cache: $cache)"
        local start=$SECONDS
        (cd "$modules/$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$cached.tmp" "$package")
        mv "$cached.tmp" "$cached"
        log "built $name in $((SECONDS - start)) s"
    fi
    mkdir -p "$(dirname "$dest")"
    if ! cmp -s "$cached" "$dest"; then
        cp "$cached" "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
}
