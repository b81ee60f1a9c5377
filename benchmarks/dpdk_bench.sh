#!/usr/bin/env bash
# Receive rate through the DPDK switches as the roles set them up: testpmd txonly ->
# switch -> testpmd rxonly, one pair, 64-byte frames, for every switch (vswitch_basicfwd,
# vswitch_ovs) and every number of switch cores, interleaved round by round (A B A B ...)
# because the machine is noisy. The switch runs on the cores the lab allocation gives it
# (icperf.lab.vswitch_cores); the ends run on -p CPUs (default: both on CPU 0, so on a
# 2-CPU host the rate also depends on how the scheduler splits CPU 0 between sender and
# receiver: compare switches within one run only). Endpoints' memory: 2 MB hugepages,
# --in-memory --single-file-segments --iova-mode=va (what the applets use).
#
#   benchmarks/dpdk_bench.sh [-s SECONDS] [-r ROUNDS] [-w "basicfwd ovs"] [-c "1 2"] [-p "TX RX"]
#
# Prints one CSV line per run (switch,cores,round,rx_mpps) and the median per switch and
# core count. The rate is the median of testpmd's per-second Rx-pps over the steady
# seconds (the first two and the last are left out). Run as root from the repository.
# Everything is named icpd-bench: sockets under /run/icperf-bench-icpd, bridge icpd-bench.
set -euo pipefail

seconds=8
rounds=3
switches="basicfwd ovs"
core_counts="1"
end_cpus="0 0"
while getopts "s:r:w:c:p:h" opt; do
    case $opt in
        s) seconds=$OPTARG ;;
        r) rounds=$OPTARG ;;
        w) switches=$OPTARG ;;
        c) core_counts=$OPTARG ;;
        p) end_cpus=$OPTARG ;;
        *) sed -n '2,16p' "$0"; exit 2 ;;
    esac
done
for value in "$seconds" "$rounds"; do
    [[ $value =~ ^[0-9]+$ ]] || { echo "dpdk_bench: -s and -r take whole numbers (got '$value')" >&2; exit 2; }
done
((seconds >= 5)) || { echo "dpdk_bench: -s must be >= 5 (two warm-up seconds, one trailing)" >&2; exit 2; }
for name in $switches; do
    [[ $name == basicfwd || $name == ovs ]] || { echo "dpdk_bench: -w: unknown switch '$name' (basicfwd, ovs)" >&2; exit 2; }
done
read -r tx_cpu rx_cpu <<< "$end_cpus"
[[ $tx_cpu =~ ^[0-9]+$ && $rx_cpu =~ ^[0-9]+$ ]] || { echo "dpdk_bench: -p takes two CPU numbers (got '$end_cpus')" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "dpdk_bench: run as root" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
playbooks=$repo/tests/integration/dpdk_playbooks
work=$(mktemp -d /tmp/icpd-bench.XXXXXX)
sock_dir=/run/icperf-bench-icpd
testpmd=/usr/bin/dpdk-testpmd
queue=16384
lock=/run/lock/icperf-test-icpd.lock  # shared with the tests that drive the DPDK switches

mkdir -p "$work/ansible_collections/icperf" "$sock_dir"
ln -s "$repo" "$work/ansible_collections/icperf/lab"
vars=$work/vars.json
cat > "$vars" <<EOF
{"icpd_socket_dir": "$sock_dir", "ansible_python_interpreter": "$repo/.venv/bin/python",
 "hugepages_count": 1024, "hugepages_mount": "/mnt/icpd-bench-huge",
 "hugepages_state_file": "$sock_dir/hugepages.json",
 "vswitch_basicfwd_file_prefix": "icpd-bench-fwd", "vswitch_basicfwd_pid_file": "$sock_dir/basicfwd.pid",
 "vswitch_basicfwd_state_file": "$sock_dir/basicfwd.json", "vswitch_basicfwd_log_file": "$work/basicfwd.log",
 "vswitch_ovs_bridge": "icpd-bench", "vswitch_ovs_state_file": "$sock_dir/ovs.json",
 "vswitch_ovs_file_prefix": "icpd-bench-ovs"}
EOF

play() {
    (cd "$work" && ANSIBLE_COLLECTIONS_PATH=$work ANSIBLE_NOCOLOR=1 \
        "$repo/.venv/bin/ansible-playbook" -i localhost, "$playbooks/$1" -e "@$vars" "${@:2}") \
        > "$work/play.log" 2>&1 || { tail -n 30 "$work/play.log" >&2; return 1; }
}

endpoints=()
cleanup() {
    local pid
    for pid in "${endpoints[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for name in basicfwd ovs; do
        [[ -e $sock_dir/$name.json ]] && play switch.yml -e icpd_vswitch=$name -e icpd_action=stop || true
    done
    play hugepages.yml -e icpd_action=restore || true
    rm -rf "$sock_dir" /var/run/dpdk/icpd-bench-*
    rm -rf "$work"
}
trap cleanup EXIT

# endpoint NAME CPU SOCK MAC MODE [server=1] -> pid; per-second statistics in $work/NAME.log
endpoint() {
    local vdev="net_virtio_user0,path=$3,queue_size=$queue,mac=$4${6:+,$6}"
    stdbuf -oL "$testpmd" --lcores="0@$2,1@$2" --main-lcore=0 --no-pci --in-memory --single-file-segments \
        --iova-mode=va -m 256 --file-prefix="icpd-bench-$1" --vdev="$vdev" -- --forward-mode="$5" --auto-start \
        --stats-period=1 --rxd=$queue --txd=$queue --total-num-mbufs=40000 \
        --eth-peer=0,02:00:00:00:03:0b > "$work/$1.log" 2>&1 &
    endpoints+=($!)
}

median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Median of the steady per-second receive rates (all but the first two and the last), Mpps.
steady_mpps() {
    { grep -o 'Rx-pps: *[0-9]*' "$1" || true; } | awk '{ print $2 }' | sed '1,2d;$d' | median \
        | awk '$1 == "nan" { print; next } { printf "%.3f\n", $1 / 1e6 }'
}

exec 9> "$lock"
flock -w 900 9 || { echo "dpdk_bench: $lock busy for 900 s" >&2; exit 1; }
play hugepages.yml -e icpd_action=apply
echo "switch,cores,round,rx_mpps"
declare -A results
for ((round = 1; round <= rounds; round++)); do
    for name in $switches; do
        for cores in $core_counts; do
            play switch.yml -e icpd_vswitch="$name" -e icpd_action=start -e icpd_switch_cores="$cores" \
                -e icpd_report="$work/report.json"
            server=""
            [[ $name == ovs ]] && server="server=1"
            endpoint rx "$rx_cpu" "$sock_dir/icp1.sock" 02:00:00:00:03:0b rxonly $server
            endpoint tx "$tx_cpu" "$sock_dir/icp0.sock" 02:00:00:00:03:0a txonly $server
            sleep "$seconds"
            kill -INT "${endpoints[@]}"
            wait "${endpoints[@]}" || true
            endpoints=()
            rm -rf /var/run/dpdk/icpd-bench-rx /var/run/dpdk/icpd-bench-tx
            play switch.yml -e icpd_vswitch="$name" -e icpd_action=stop
            rate=$(steady_mpps "$work/rx.log")
            if [[ $rate == nan ]]; then
                echo "dpdk_bench: no steady receive rate through $name; end of the logs:" >&2
                head -n 12 "$work/rx.log" "$work/tx.log" >&2
            fi
            echo "$name,$cores,$round,$rate"
            results[$name,$cores]+="$rate "
        done
    done
done
echo "# median over $rounds rounds (Mpps received)"
for key in "${!results[@]}"; do
    printf '# %s: %s\n' "$key" "$(tr ' ' '\n' <<< "${results[$key]}" | grep -v '^$' | median)"
done
