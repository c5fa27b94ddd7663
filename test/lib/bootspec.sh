# shellcheck shell=bash
# Bootspec v1 documents for test generations, as nixpkgs writes them (formats.md §5).

# bootspec_json KERNEL INITRD TOPLEVEL PARAMS [SPECIALISATIONS_JSON]; $SYSTEM: "system" (x86_64-linux)
bootspec_json() {
	cat <<JSON
{
  "org.nix-community.lanzaboote": { "sort_key": "lanza" },
  "org.nixos.bootspec.v1": {
    "init": "$3/init",
    "initrd": "$2",
    "kernel": "$1",
    "kernelParams": [$4],
    "label": "NixOS Test 26.05 (Linux 6.1.0)",
    "system": "${SYSTEM:-x86_64-linux}",
    "toplevel": "$3"
  },
  "org.nixos.specialisation.v1": {${5:-}}
}
JSON
}

# mk_file PATH SIZE SEED: deterministic content standing in for a kernel or initrd
mk_file() {
	mkdir -p "$(dirname "$1")"
	head -c "$2" /dev/zero | openssl enc -aes-128-ctr -nosalt -pass "pass:$3" -pbkdf2 2>/dev/null >"$1"
}

# mk_kernel PATH SIZE SEED: like mk_file, with the headers of an EFI kernel the stub accepts (install
# refuses kernels the stub could not start)
mk_kernel() {
	mk_file "$@"
	python3 "$(dirname "${BASH_SOURCE[0]}")/mk-kernel.py" "$1"
}

# mk_generation N [KERNEL_SEED] [SPECIALISATION...]: $GEN_ROOT/profiles/system-N-link -> a toplevel with boot.json;
# generations with the same KERNEL_SEED share kernel and initrd. KERNEL/INITRD override the files.
mk_generation() {
	local n=$1 seed=${2:-k1} top=$GEN_ROOT/store/top$1-nixos-system kdir=$GEN_ROOT/store/${2:-k1}-linux-6.1.0 spec specs=''
	local kernel=${KERNEL:-$kdir/bzImage} initrd=${INITRD:-$kdir/initrd}
	[[ -n ${KERNEL:-} || -f $kernel ]] || mk_kernel "$kernel" 300000 "$seed-kernel"
	[[ -n ${INITRD:-} || -f $initrd ]] || mk_file "$initrd" 200000 "$seed-initrd"
	shift 2 || shift $#
	for spec; do
		mkdir -p "$top/specialisation/$spec"
		specs+="${specs:+,}\"$spec\": $(bootspec_json "$kernel" "$initrd" "$top/specialisation/$spec" "${PARAMS:-\"quiet\"}, \"spec=$spec\"")"
	done
	mkdir -p "$top"
	bootspec_json "$kernel" "$initrd" "$top" "${PARAMS:-\"quiet\"}" "$specs" >"$top/boot.json"
	mkdir -p "$GEN_ROOT/profiles"
	ln -sfn "$top" "$GEN_ROOT/profiles/system-$n-link"
	touch -h -d "2026-11-0$((n % 9 + 1)) 12:00 UTC" "$GEN_ROOT/profiles/system-$n-link"
}
