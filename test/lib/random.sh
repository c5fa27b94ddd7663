# shellcheck shell=bash
# Reproducible random test inputs: a 64-bit LCG seeded from LANZABOOTE_TEST_SEED (default 1), the seed printed
# so that a failing run can be repeated. The state lives in this shell: call rng directly, never in $(…),
# <(…) or a pipeline (a subshell's draws are lost to the parent, and bash reseeds $RANDOM there).

rng_init() {
	RNG_STATE=${LANZABOOTE_TEST_SEED:-1}
	[[ $RNG_STATE =~ ^[0-9]+$ ]] || { echo "LANZABOOTE_TEST_SEED must be a number" >&2; exit 1; }
	echo "random seed $RNG_STATE (LANZABOOTE_TEST_SEED=$RNG_STATE repeats this run's inputs)"
}

rng() { # VAR BOUND: a uniform-enough integer in [0, BOUND) into VAR
	RNG_STATE=$(((RNG_STATE * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff))
	printf -v "$1" '%d' $(((RNG_STATE >> 31) % $2))
}
