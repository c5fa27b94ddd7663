#!/bin/bash
# Install benchmark (issue 17): a fixture of generations sharing kernels, then, in the same run,
#   floor: cp + sha256sum + sync of the distinct kernel and initrd bytes into an empty directory,
#   cold:  lanzatool install of every generation onto an empty ESP with an empty state directory,
#   warm:  the same install again, nothing to do (the best of five runs; wall clock, and CPU time).
# Prints "cold/floor", "warm ms" and "warm/cold". Full mode (the default: 40 generations, 4 kernels of
# 8 MiB, 40 initrds of 16 MiB) fails when warm > 50 ms or cold > 0.9 x floor; --quick (10 generations,
# 2 kernels of 2 MiB, 10 initrds of 4 MiB) only prints. Runs on a directory ESP
# (LANZATOOL_RELAX_ESP_CHECKS) in $TMPDIR; the page cache is warm for all three, as for nixos-rebuild.
# Env: LANZATOOL, LANZABOOTE_STUB (meson sets both); fixtures from test/install/lib.sh.
set -euo pipefail

gens=40 kernels=4 kernel_mib=8 initrd_mib=16 quick=0
if [[ ${1:-} == --quick ]]; then
	gens=10 kernels=2 kernel_mib=2 initrd_mib=4 quick=1
elif [[ -n ${1:-} ]]; then
	echo "usage: $0 [--quick]" >&2
	exit 2
fi

# $T, a test PKI in $T/pki, a directory ESP, no firmware variables, a state directory in $T/state.
# shellcheck source=test/install/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../test/install/lib.sh"
mkdir -p "$T/profiles"

distinct=()
for ((k = 0; k < kernels; k++)); do
	mk_kernel "$T/store/k$k-linux-6.1.$k/bzImage" $((kernel_mib << 20)) "bench-kernel-$k"
	distinct+=("$T/store/k$k-linux-6.1.$k/bzImage")
done
args=()
for ((g = 1; g <= gens; g++)); do
	k=$((g % kernels))
	initrd=$T/store/i$g-initrd-linux-6.1.$k/initrd
	mk_file "$initrd" $((initrd_mib << 20)) "bench-initrd-$g"
	distinct+=("$initrd")
	top=$T/store/top$g-nixos-system
	mkdir -p "$top"
	bootspec_json "$T/store/k$k-linux-6.1.$k/bzImage" "$initrd" "$top" '"quiet"' >"$top/boot.json"
	ln -sfn "$top" "$T/profiles/system-$g-link"
	args+=("$T/profiles/system-$g-link")
done
bytes=$(cat "${distinct[@]}" | wc -c)

now_ns() { date +%s%N; }

# The floor: what any installer must do at least.
mkdir "$T/floor"
t0=$(now_ns)
i=0
for f in "${distinct[@]}"; do
	cp "$f" "$T/floor/$((i++))"
done
sha256sum "$T"/floor/* >/dev/null
sync
floor_ns=$(($(now_ns) - t0))

install() {
	"$LANZATOOL" -q --esp-path="$T/esp" --pki-bundle="$T/pki" --stub="$LANZABOOTE_STUB" \
		--state-dir="$T/state" --no-variables --timeout=0 install "${args[@]}"
}

mkdir -p "$T/esp" "$T/state"
t0=$(now_ns)
install
cold_ns=$(($(now_ns) - t0))

# Warm: the best of five, wall clock and CPU (user + system) separately; the machine may be shared.
warm_ns='' warm_cpu_ms=''
TIMEFORMAT='%3U %3S'
for _ in 1 2 3 4 5; do
	t0=$(now_ns)
	{ time install; } 2>"$T/cpu"
	t=$(($(now_ns) - t0))
	cpu=$(awk '{ printf "%d", ($1 + $2) * 1000 }' "$T/cpu")
	[[ -z $warm_ns || $t -lt $warm_ns ]] && warm_ns=$t
	[[ -z $warm_cpu_ms || $cpu -lt $warm_cpu_ms ]] && warm_cpu_ms=$cpu
done

# What any run of lanzatool costs on this machine now (exec, dynamic linking, OpenSSL): the best of five.
start_ns=''
for _ in 1 2 3 4 5; do
	t0=$(now_ns)
	"$LANZATOOL" --version >/dev/null
	t=$(($(now_ns) - t0))
	[[ -z $start_ns || $t -lt $start_ns ]] && start_ns=$t
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
printf 'fixture: %d generations, %d kernels x %d MiB, %d initrds x %d MiB: %d MiB distinct\n' \
	"$gens" "$kernels" "$kernel_mib" "$gens" "$initrd_mib" $((bytes >> 20))
printf 'floor ms %d\ncold ms %d\nwarm ms %d\nwarm cpu ms %d\nlanzatool --version ms %d\n' \
	$((floor_ns / 1000000)) $((cold_ns / 1000000)) $((warm_ns / 1000000)) "$warm_cpu_ms" $((start_ns / 1000000))
printf 'cold/floor %s\nwarm/cold %s\n' "$(ratio "$cold_ns" "$floor_ns")" "$(ratio "$warm_ns" "$cold_ns")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

((quick)) && exit 0
rc=0
if ((warm_ns > 50000000)); then
	echo "FAIL: warm install took $((warm_ns / 1000000)) ms, the target is 50 ms"
	rc=1
fi
if awk -v a="$cold_ns" -v b="$floor_ns" 'BEGIN { exit !(a > 0.9 * b) }'; then
	echo "FAIL: cold install took $(ratio "$cold_ns" "$floor_ns") x the floor, the target is 0.9"
	rc=1
fi
exit $rc
