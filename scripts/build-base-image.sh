#!/usr/bin/env bash
# Build the sandbox base image offline: a minimal Debian 12 root file system
# made with debootstrap from the host's own package mirror, then imported.
#
# No image registry is needed: the packages come from the Debian mirror that
# apt on this host already uses. The image carries Debian's Python 3.11 with
# numpy, scipy, scikit-learn and Pillow, pip for installing allowed wheels
# offline into derived images, and a non-root user `sandbox` (uid and gid
# 1000) for submitted code.
#
# Idempotent: when an image with this tag and the same recipe hash exists,
# exits at once. Needs root. Starts the engine (scripts/docker-engine.sh) if
# none answers.
#
# Environment:
#   HARNESS_DEBIAN_MIRROR  mirror to bootstrap from (default: the first apt
#                          source of this host that serves the suite)
#   HARNESS_BUILD_DIR      scratch folder for the root file system
#                          (default /var/tmp/harness-base-build; removed after)
#   HARNESS_FORCE_BUILD=1  rebuild even when the image is current
set -euo pipefail

# The tag is the name the `docker` sandbox plugin uses by default; bump the
# revision when the recipe changes in a way users should notice.
image="harness-base:bookworm-r1"
suite="bookworm"
variant="minbase"
packages="python3,python3-numpy,python3-scipy,python3-sklearn,python3-pil,python3-pip"
sandbox_uid=1000
# Folders the sandbox mounts over; present in the image so that a read-only
# root file system never needs mount points created at run time.
mount_points="submission inputs output harness"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${HARNESS_BUILD_DIR:-/var/tmp/harness-base-build}"

say() { printf 'build-base-image: %s\n' "$*" >&2; }

# Everything that decides the image's content, hashed; the mirror is left out
# because any mirror of the suite serves the same packages.
recipe="suite=$suite variant=$variant packages=$packages uid=$sandbox_uid"
recipe="$recipe mounts=$mount_points cleanup=docs,man,apt-lists layout=1"
recipe_hash="$(printf '%s' "$recipe" | sha256sum | cut -c1-16)"

bash "$here/docker-engine.sh"

current="$(docker image inspect "$image" \
    --format '{{index .Config.Labels "org.harness.recipe"}}' 2>/dev/null || true)"
previous_id="$(docker image inspect "$image" --format '{{.Id}}' 2>/dev/null || true)"
if [ "$current" = "$recipe_hash" ] && [ "${HARNESS_FORCE_BUILD:-0}" != 1 ]; then
    say "$image is current (recipe $recipe_hash)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "building $image needs root (debootstrap)"
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq debootstrap >/dev/null
fi

find_mirror() {
    # Reads apt's one-line (*.list) and deb822 (*.sources) files, the only
    # names apt itself reads, and prints the first URI that serves $suite.
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas are separated by blank lines.
        awk -v suite="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" \
                    && (" " suites " ") ~ (" " suite " ")) {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = ""; uris = ""; suites = ""; enabled = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "uris:" { $1 = ""; uris = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { if (!found) flush() }' "$f"
    done
}

mirror="${HARNESS_DEBIAN_MIRROR:-$(find_mirror | head -n 1)}"
if [ -z "$mirror" ]; then
    say "no apt source of this host serves '$suite'; set HARNESS_DEBIAN_MIRROR"
    exit 1
fi

rootfs="$build_dir/rootfs"
rm -rf "$build_dir"
mkdir -p "$rootfs"
trap 'rm -rf "$build_dir"' EXIT

say "bootstrapping $suite ($variant) from $mirror"
start=$SECONDS
debootstrap --variant="$variant" --include="$packages" "$suite" "$rootfs" "$mirror" \
    >"$build_dir/debootstrap.log" 2>&1 || {
    say "debootstrap failed; last lines of its log:"
    tail -n 30 "$build_dir/debootstrap.log" >&2
    exit 1
}
say "bootstrap took $((SECONDS - start))s"

# The non-root account submitted code runs as. Written directly because the
# minimal variant does not carry the useradd tool.
printf 'sandbox:x:%d:%d:sandbox:/home/sandbox:/usr/sbin/nologin\n' \
    "$sandbox_uid" "$sandbox_uid" >>"$rootfs/etc/passwd"
printf 'sandbox:x:%d:\n' "$sandbox_uid" >>"$rootfs/etc/group"
printf 'sandbox:*:19000:0:99999:7:::\n' >>"$rootfs/etc/shadow"
mkdir -p "$rootfs/home/sandbox"
chown "$sandbox_uid:$sandbox_uid" "$rootfs/home/sandbox"
for d in $mount_points; do
    mkdir -p "$rootfs/$d"
done

# Nothing in the sandbox reads these; dropping them keeps the image smaller.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*

say "importing as $image"
start=$SECONDS
tar -C "$rootfs" -c . | docker import \
    --change "LABEL org.harness.recipe=$recipe_hash" \
    --change "LABEL org.harness.base=$image" \
    --change "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8" \
    --change "USER $sandbox_uid:$sandbox_uid" \
    --change "WORKDIR /tmp" \
    --change 'CMD ["python3"]' \
    - "$image" >/dev/null
say "import took $((SECONDS - start))s"

# The image this one replaces would otherwise linger untagged; it stays when
# images derived from it (requirements images) still need it.
if [ -n "$previous_id" ] \
    && [ "$previous_id" != "$(docker image inspect "$image" --format '{{.Id}}')" ]; then
    docker rmi "$previous_id" >/dev/null 2>&1 || true
fi

check='import sys, numpy, scipy, sklearn, PIL
print(sys.version.split()[0], numpy.__version__, sklearn.__version__)'
docker run --rm --network none "$image" python3 -c "$check" \
    | sed 's/^/build-base-image: python, numpy, scikit-learn: /' >&2
