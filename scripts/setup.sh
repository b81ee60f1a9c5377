#!/usr/bin/env bash
# Prepare this machine to run icperf from the checkout: Debian packages, the Python virtual
# environment (.venv) from requirements.txt, the analysis package, and the collection link
# that lets Ansible resolve icperf.lab.* from this checkout. Idempotent: every step is skipped
# when its result is already in place, so a second run takes a second or two.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
python="${ICPERF_PYTHON:-}"

log() { printf 'setup: %s\n' "$*"; }

# Debian packages: build tools for native/ (libxdp, libbpf and clang for its AF_XDP
# transport), LXC with its Python bindings and the static busybox for the containers'
# shared rootfs, the DPDK/OVS switches, reference tools, and sshd (the tests reach a second
# lab host on this machine over SSH, through an sshd of their own; the service is not started).
packages=(
    build-essential pkg-config make rsync python3 python3-venv
    libxdp-dev libbpf-dev clang
    lxc python3-lxc busybox-static iproute2 kmod
    dpdk dpdk-dev libdpdk-dev openvswitch-switch-dpdk
    iperf3 sockperf netsniff-ng
    openssh-client openssh-server
)

missing=()
for pkg in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "setup: missing Debian packages (${missing[*]}); run as root to install them" >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "Debian packages present"
fi

# ansible-core 2.19 needs Python >= 3.11; Debian 12's python3 is 3.11.
if [[ -z "$python" ]]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            python="$(command -v "$candidate")"
            break
        fi
    done
fi
if [[ -z "$python" ]]; then
    echo "setup: no Python >= 3.11 found (set ICPERF_PYTHON)" >&2
    exit 1
fi

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv with $python"
    "$python" -m venv "$venv"
fi

# Reinstall only when requirements.txt (or the analysis package's metadata) changed.
stamp="$venv/.icperf-requirements.sha256"
want="$(cat "$repo/requirements.txt" \
    "$( [[ -f "$repo/analysis/pyproject.toml" ]] && echo "$repo/analysis/pyproject.toml" \
        || echo /dev/null)" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "installing Python requirements"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$repo/requirements.txt"
    if [[ -f "$repo/analysis/pyproject.toml" ]]; then
        "$venv/bin/python" -m pip install -q -e "$repo/analysis"
    fi
    echo "$want" >"$stamp"
else
    log "Python requirements up to date"
fi

# The collection: ansible.cfg puts .venv/collections on collections_path.
collections="$venv/collections/ansible_collections/icperf"
mkdir -p "$collections"
if [[ "$(readlink "$collections/lab" 2>/dev/null || true)" != "$repo" ]]; then
    ln -sfn "$repo" "$collections/lab"
    log "linked $collections/lab -> $repo"
fi

log "done"
