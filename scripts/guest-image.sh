#!/usr/bin/env bash
# Build (or reuse) the Debian 12 disk image of the QEMU guest hosts that the system tests
# (tests/guests/) provision with the collection's roles.
#
#   scripts/guest-image.sh            build when absent, print the image directory last
#   scripts/guest-image.sh --id       print the image's cache key only
#
# The image is content-addressed: its directory is $ICPERF_GUEST_CACHE/<sha256>, where the
# hash covers the package lists, the suite, the mirror and this script. A change to any of
# them builds a new image; an unchanged recipe reuses the cached one in well under a second.
# The directory holds:
#   disk.qcow2       the guest's disk (MBR, GRUB for BIOS boot, one ext4 partition)
#   id_ed25519[.pub] the key root's authorized_keys holds
#   known_hosts      the guests' SSH host key, under the alias icperf-guest
#   image.json       packages, kernel, build time
#
# Guests have no network beyond this machine, so every package a role installs on a lab
# host is installed here already (the roles then find it present), and what a system test
# installs later (a second kernel and its headers, from $suite-backports) waits in a local
# apt repository inside the image, /srv/icperf-apt, the guests' only apt source. No loop devices, mounts
# of the image or VM are needed: the file system is written with mkfs.ext4 -d and GRUB's
# core image, made by the guest's own grub-mkimage, is written into the gap before the
# partition.
set -euo pipefail

cache="${ICPERF_GUEST_CACHE:-/var/cache/icperf/guests}"
suite="${ICPERF_GUEST_SUITE:-bookworm}"
mirror="${ICPERF_GUEST_MIRROR:-http://deb.debian.org/debian}"
disk_size_mb="${ICPERF_GUEST_DISK_MB:-8192}"
self="${BASH_SOURCE[0]}"

# What debootstrap installs: a bootable Debian host reachable over SSH and manageable by
# Ansible (python3, python3-apt for the apt module).
base_packages=(
    linux-image-amd64 grub-pc initramfs-tools zstd systemd-sysv udev kmod dbus
    openssh-server python3 python3-apt iproute2 iputils-ping pciutils procps ethtool
)
# What the roles install on a lab host (scripts/setup.sh's list, without the controller's
# Python tools: the native role's build tools with libxdp, libbpf and clang for the AF_XDP
# transport), plus driverctl for the vfio role, and DKMS with Debian's igb_uio
# (dpdk-kmods-dkms) and the running kernel's headers for the reprovision role.
lab_packages=(
    build-essential pkg-config make rsync libxdp-dev libbpf-dev clang
    lxc python3-lxc busybox-static
    dpdk dpdk-dev libdpdk-dev openvswitch-switch-dpdk
    iperf3 sockperf netsniff-ng driverctl
    dkms dpdk-kmods-dkms linux-headers-amd64
)
# Downloaded from $suite-backports into the image's local apt repository, not installed:
# the kernel upgrade of the reprovisioning test (tests/guests/test_system_reprovision.py).
# The cloud flavour has vfio-pci, the Intel IOMMU and hugetlbfs in 1137 modules (no igb):
# under TCG, depmod over them, the initramfs and DKMS take minutes less than the generic one's.
upgrade_packages=(linux-image-cloud-amd64 linux-headers-cloud-amd64)

log() { printf 'guest-image: %s\n' "$*" >&2; }

image_id() {
    {
        printf 'suite %s\nmirror %s\ndisk %s\n' "$suite" "$mirror" "$disk_size_mb"
        printf 'base %s\n' "$(printf '%s\n' "${base_packages[@]}" | sort | tr '\n' ' ')"
        printf 'lab %s\n' "$(printf '%s\n' "${lab_packages[@]}" | sort | tr '\n' ' ')"
        printf 'upgrade %s\n' "${upgrade_packages[*]}"
        cat "$self"
    } | sha256sum | cut -c1-16
}

id="$(image_id)"
if [[ "${1:-}" == "--id" ]]; then
    echo "$id"
    exit 0
fi

dir="$cache/$id"
if [[ -f "$dir/image.json" ]]; then
    log "reusing $dir"
    echo "$dir"
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "guest-image: building the image needs root (debootstrap); run scripts/guest-deps.sh first" >&2
    exit 1
fi
for tool in debootstrap mkfs.ext4 sfdisk qemu-img ssh-keygen zstd; do
    command -v "$tool" >/dev/null || {
        echo "guest-image: $tool missing; run scripts/guest-deps.sh" >&2
        exit 1
    }
done

mkdir -p "$cache"
# One build at a time; a second caller waits, then finds the image.
exec 9>"$cache/.lock"
flock 9
if [[ -f "$dir/image.json" ]]; then
    log "reusing $dir (built while waiting)"
    echo "$dir"
    exit 0
fi

work="$cache/.build-$id"
rm -rf "$work"
mkdir -p "$work"
rootfs="$work/rootfs"
cleanup() {
    # A failed build leaves nothing behind but the lock file.
    rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s)
join() { local IFS=,; echo "$*"; }

log "debootstrap $suite ($mirror): ${#base_packages[@]} base packages"
debootstrap --variant=minbase --include="$(join "${base_packages[@]}")" \
    "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
}

# The lab packages through apt inside the root file system, in a private mount namespace so
# that /proc, /sys and /dev disappear with it. policy-rc.d keeps their services from starting
# on this machine.
log "installing ${#lab_packages[@]} lab packages"
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
unshare --mount --propagation private bash -euo pipefail -c '
    rootfs="$1"; shift
    mount -t proc proc "$rootfs/proc"
    mount -t sysfs sysfs "$rootfs/sys"
    mount --rbind /dev "$rootfs/dev"
    export DEBIAN_FRONTEND=noninteractive LC_ALL=C
    chroot "$rootfs" apt-get update -q
    chroot "$rootfs" apt-get -y -q dist-upgrade
    chroot "$rootfs" apt-get install -y -q --no-install-recommends "$@"
    chroot "$rootfs" apt-get clean
' bash "$rootfs" "${lab_packages[@]}" >"$work/apt.log" 2>&1 || {
    tail -n 30 "$work/apt.log" >&2
    exit 1
}

kernel="$(basename "$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -n1)")"
kver="${kernel#vmlinuz-}"
[[ -f "$rootfs/boot/initrd.img-$kver" ]] || {
    echo "guest-image: no initrd for $kver" >&2
    exit 1
}
# One kernel: debootstrap's, when dist-upgrade brought a newer one, only slows down every
# update-grub in the guests.
old_kernels="$(chroot "$rootfs" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' \
    'linux-image-[0-9]*' | awk -v keep="linux-image-$kver" \
    '$1 == "ii" && $2 != keep && $2 != keep "-unsigned" { print $2 }')"
[[ -z "$old_kernels" ]] || log "removing $(echo $old_kernels)"

# DKMS builds igb_uio for the kernels whose headers it finds; make sure the image's kernel
# has it, as a lab host provisioned before a kernel upgrade would.
log "DKMS modules for $kver; ${upgrade_packages[*]} from $suite-backports into /srv/icperf-apt"
unshare --mount --propagation private bash -euo pipefail -c '
    rootfs="$1" kver="$2" mirror="$3" suite="$4" old_kernels="$5"; shift 5
    mount -t proc proc "$rootfs/proc"
    mount -t sysfs sysfs "$rootfs/sys"
    mount --rbind /dev "$rootfs/dev"
    export DEBIAN_FRONTEND=noninteractive LC_ALL=C
    if [[ -n "$old_kernels" ]]; then
        # shellcheck disable=SC2086
        chroot "$rootfs" apt-get purge -y -q $old_kernels
    fi
    chroot "$rootfs" dkms autoinstall -k "$kver"
    chroot "$rootfs" dkms status -k "$kver" | grep ": installed" >/dev/null || {
        echo "no DKMS module installed for $kver" >&2
        exit 1
    }
    # The packages of the later upgrade and what they need beyond the image: downloaded,
    # not installed, with backports visible for this step only. Not the newer versions of
    # installed packages built from the same sources (apt would upgrade the generic
    # kernel metapackages along): the guests could not upgrade what is not there.
    echo "deb $mirror $suite-backports main" >"$rootfs/etc/apt/sources.list.d/backports.list"
    chroot "$rootfs" apt-get update -q
    chroot "$rootfs" apt-get install -y -q --no-install-recommends --download-only \
        -o APT::Get::Upgrade-By-Source-Package=false -t "$suite-backports" "$@"
    rm "$rootfs/etc/apt/sources.list.d/backports.list"
    mkdir -p "$rootfs/srv/icperf-apt"
    mv "$rootfs"/var/cache/apt/archives/*.deb "$rootfs/srv/icperf-apt/"
    chroot "$rootfs" apt-get clean
    cd "$rootfs/srv/icperf-apt"
    chroot "$rootfs" sh -c "cd /srv/icperf-apt && dpkg-scanpackages -m . 2>/dev/null" >Packages
    gzip -9 -k -n Packages
    {
        echo "Origin: icperf"
        echo "Label: icperf guest packages"
        echo "Suite: icperf"
        echo "Codename: icperf"
        echo "Date: $(date -Ru)"
        echo "SHA256:"
        for file in Packages Packages.gz; do
            echo " $(sha256sum "$file" | cut -d" " -f1) $(stat -c %s "$file") $file"
        done
    } >Release
    # The guests reach no mirror: this repository is their only apt source, so apt-get
    # update works in a guest, and what the image has installed stays as it is.
    cat >"$rootfs/etc/apt/sources.list" <<SRC
# Guests reach no mirror. The image has every package a role installs; this repository
# holds what the system tests install later ($suite-backports kernel and headers).
deb [trusted=yes] file:/srv/icperf-apt ./
SRC
    rm -rf "$rootfs"/var/lib/apt/lists/*
    chroot "$rootfs" apt-get update -q
' bash "$rootfs" "$kver" "$mirror" "$suite" "$old_kernels" "${upgrade_packages[@]}" \
    >"$work/upgrade.log" 2>&1 || {
    tail -n 30 "$work/upgrade.log" >&2
    exit 1
}
upgrade_debs="$(cd "$rootfs/srv/icperf-apt" && ls -- *.deb | tr '\n' ' ')"
rm -f "$rootfs/usr/sbin/policy-rc.d"
: >"$rootfs/etc/resolv.conf"
uuid="$(cat /proc/sys/kernel/random/uuid)"

log "configuring the guest (kernel $kver)"
echo icperf-guest >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1 localhost
127.0.1.1 icperf-guest
EOF
cat >"$rootfs/etc/fstab" <<EOF
UUID=$uuid / ext4 errors=remount-ro 0 1
EOF
# Packages a guest installs (the kernel upgrade): the initramfs holds the modules this
# machine boots with, not all of them (MODULES=dep), compressed fast (zstd -1), and dpkg
# skips its fsyncs (the guests' disks are thrown away): all slow under TCG.
printf 'MODULES=dep\nCOMPRESSLEVEL=1\n' >"$rootfs/etc/initramfs-tools/conf.d/icperf-guest.conf"
echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/icperf-guest"
# Each guest gets its own machine-id at first boot.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"

# Management network: DHCP on the virtio NIC only (QEMU user networking). NICs added for the
# lab (igb) stay unconfigured for the roles. Nothing waits for network-online.
mkdir -p "$rootfs/etc/systemd/network"
cat >"$rootfs/etc/systemd/network/10-mgmt.network" <<'EOF'
[Match]
Driver=virtio_net

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
chroot "$rootfs" systemctl enable systemd-networkd.service >/dev/null 2>&1
# Timers and waits that only slow down a guest that runs for minutes.
for unit in systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer; do
    ln -sfn /dev/null "$rootfs/etc/systemd/system/$unit"
done

# SSH: root logs in with the image's key only.
ssh-keygen -q -t ed25519 -N '' -C icperf-guest -f "$work/id_ed25519"
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
[[ -f "$rootfs/etc/ssh/ssh_host_ed25519_key" ]] ||
    chroot "$rootfs" ssh-keygen -q -A
printf 'icperf-guest %s\n' "$(cut -d' ' -f1-2 "$rootfs/etc/ssh/ssh_host_ed25519_key.pub")" \
    >"$work/known_hosts"
cat >"$rootfs/etc/ssh/sshd_config.d/icperf.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
EOF

# GRUB for BIOS boot on the serial console. /etc/default/grub is the image's own; the
# kernel_cmdline role adds its drop-in in /etc/default/grub.d/ and runs update-grub.
cat >"$rootfs/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF
echo "grub-pc grub-pc/install_devices multiselect /dev/vda" | chroot "$rootfs" debconf-set-selections
mkdir -p "$rootfs/boot/grub/i386-pc"
cp "$rootfs"/usr/lib/grub/i386-pc/*.mod "$rootfs"/usr/lib/grub/i386-pc/*.lst "$rootfs/boot/grub/i386-pc/"
# The first boot's menu, written by hand (grub-mkconfig cannot probe a chroot); the first
# update-grub inside the guest replaces it with the generated one.
cat >"$rootfs/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
menuentry 'Debian GNU/Linux (icperf guest image)' {
    insmod part_msdos
    insmod ext2
    search --no-floppy --fs-uuid --set=root $uuid
    linux /boot/vmlinuz-$kver root=UUID=$uuid ro console=ttyS0,115200n8
    initrd /boot/initrd.img-$kver
}
EOF
chroot "$rootfs" grub-mkimage -O i386-pc -o /tmp/core.img -p '(hd0,msdos1)/boot/grub' \
    biosdisk part_msdos ext2 search search_fs_uuid normal serial terminal
mv "$rootfs/tmp/core.img" "$work/core.img"
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
((core_sectors < 2047)) || {
    echo "guest-image: GRUB core image too large ($core_sectors sectors)" >&2
    exit 1
}

log "assembling the disk (${disk_size_mb} MB, sparse)"
raw="$work/disk.raw"
truncate -s "${disk_size_mb}M" "$raw"
echo 'start=2048, type=83, bootable' | sfdisk -q "$raw"
mkfs.ext4 -q -F -L icperf-root -U "$uuid" -E offset=1048576 -d "$rootfs" "$raw" \
    "$(( (disk_size_mb - 1) * 1024 ))k"
# MBR boot code (first 440 bytes, keeping the partition table) and core.img from sector 1;
# boot.img loads sector 1 and core.img's blocklist its remaining sectors.
dd if="$rootfs/usr/lib/grub/i386-pc/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
qemu-img convert -O qcow2 "$raw" "$work/disk.qcow2"
rm -f "$raw"

seconds=$(( $(date +%s) - start ))
cat >"$work/image.json" <<EOF
{
  "id": "$id",
  "suite": "$suite",
  "kernel": "$kver",
  "root_uuid": "$uuid",
  "base_packages": "$(echo "${base_packages[*]}")",
  "lab_packages": "$(echo "${lab_packages[*]}")",
  "local_repo_debs": "${upgrade_debs% }",
  "build_seconds": $seconds,
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
rm -rf "$rootfs"
mkdir -p "$dir.tmp"
mv "$work/disk.qcow2" "$work/id_ed25519" "$work/id_ed25519.pub" "$work/known_hosts" \
    "$work/image.json" "$dir.tmp/"
mv "$dir.tmp" "$dir"
log "built $dir in ${seconds} s ($(du -h "$dir/disk.qcow2" | cut -f1))"
echo "$dir"
