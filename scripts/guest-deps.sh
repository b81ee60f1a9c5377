#!/usr/bin/env bash
# Install what the guest-host harness (tests/guests/) needs on this machine: QEMU 10 from
# bookworm-backports (Debian 12's QEMU 7.2 has no igb device), debootstrap to build the
# guest image, and the tools that assemble a bootable disk without loop devices.
# Idempotent: a second run only checks. Run as root.
set -euo pipefail

log() { printf 'guest-deps: %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
    echo "guest-deps: run as root (installs Debian packages)" >&2
    exit 1
fi

codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
backports="${codename}-backports"
export DEBIAN_FRONTEND=noninteractive

installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# Tools from the release itself.
packages=(debootstrap e2fsprogs fdisk qemu-utils zstd openssh-client ca-certificates)
# QEMU from backports on Debian 12; later releases carry QEMU >= 8 with igb themselves.
qemu_packages=(qemu-system-x86 ipxe-qemu seabios)

need_update=0
if [[ "$codename" == "bookworm" ]] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list \
        /etc/apt/sources.list.d/; then
    log "adding the $backports apt source"
    cat >/etc/apt/sources.list.d/icperf-backports.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    need_update=1
fi

missing=()
for pkg in "${packages[@]}" "${qemu_packages[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
qemu_major() { qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p'; }
if installed qemu-system-x86 && [[ "$(qemu_major)" -lt 8 ]]; then
    missing+=(qemu-system-x86)
fi

if ((${#missing[@]})) || ((need_update)); then
    apt-get update -q
fi
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    if [[ "$codename" == "bookworm" ]]; then
        apt-get install -y -q --no-install-recommends "${packages[@]}"
        apt-get install -y -q --no-install-recommends -t "$backports" \
            "${qemu_packages[@]}" qemu-utils
    else
        apt-get install -y -q --no-install-recommends "${packages[@]}" "${qemu_packages[@]}"
    fi
else
    log "packages present"
fi

log "$(qemu-system-x86_64 --version | head -n1)"
if ! qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
    echo "guest-deps: this QEMU has no igb device (need QEMU >= 8)" >&2
    exit 1
fi
log "done"
