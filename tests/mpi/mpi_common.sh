# Shared set-up of the MPI tests (sourced): skip without mpirun, MPI as root on few cores, a tiny cohort,
# ok/bad reporting. Each test sets `name` before sourcing.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
command -v mpirun >/dev/null || { echo "SKIP: mpirun not found"; exit 77; }
[ "${MHIM_WITH_MPI:-1}" = 1 ] || { echo "SKIP: this mhim was built with -DMHIM_USE_MPI=OFF"; exit 77; }
tmp=${MHIM_TEST_TMP:-/tmp}/mpi_$name
rm -rf "$tmp" && mkdir -p "$tmp/models"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_WAIT_POLICY=passive
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
# Sanitizer builds: Open MPI's own allocations are suppressed (full stacks needed to see them), mhim's stay checked.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan_mpi.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
mpi() { local n=$1; shift; mpirun -n "$n" --bind-to none "$bin" "$@"; }

# make_cohort DIR: 18 slides of 20-120 instances, 32 features
make_cohort() {
    "$bin" synth --out "$1" --n_slides 18 --mean_instances 60 --min_instances 20 --max_instances 120 \
        --feature_dim 32 --seed 3 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
}

# kill_session SID: SIGKILL every process of session SID (a launcher started with setsid, and its ranks: Open MPI
# puts each rank in a process group of its own, so killing the launcher's group leaves them running), then wait
# until none is left.
kill_session() {
    local sid=$1 pids p st f
    for _ in $(seq 1 100); do
        pids=""
        for p in /proc/[0-9]*; do
            st=$(cat "$p/stat" 2>/dev/null) || continue
            read -r -a f <<<"${st##*) }" # state ppid pgrp session ... (after the command name)
            [ "${f[3]:-}" = "$sid" ] && pids="$pids ${p#/proc/}"
        done
        [ -z "$pids" ] && return 0
        kill -9 $pids 2>/dev/null
        sleep 0.05
    done
    echo "FAIL processes of session $sid survived SIGKILL:$pids"; exit 1
}

# same_file WHAT A B: byte-identical files
same_file() {
    if cmp -s "$2" "$3"; then ok "$1: identical"; else bad "$1: $2 and $3 differ"; diff "$2" "$3" | head -5; fi
}

# same_weights WHAT A.h5 B.h5 TOL: the model (and teacher) tensors equal within absolute TOL
same_weights() {
    local g out
    for g in model teacher; do
        out=$(h5diff -d "$4" "$2" "$3" "/$g" "/$g" 2>&1)
        if [ $? -eq 0 ]; then ok "$1 /$g equal within $4"; else bad "$1 /$g differ beyond $4: $(echo "$out" | tail -1)"; fi
    done
}
