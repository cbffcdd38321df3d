# Shared part of the mhim batch scripts (sourced, not submitted): site set-up from environment variables, the
# options every `mhim train` step gets, and a step runner that forwards the batch shell's signals.
# Every variable below has a default; set it in the submitting shell (sbatch exports the environment) or in the
# file named by MHIM_SETUP. slurm/README.md documents each one.

mhim_die() { echo "mhim-slurm: error: $*" >&2; exit 2; }
mhim_note() { echo "mhim-slurm: $*" >&2; }

[ -n "${SLURM_JOB_ID:-}" ] || mhim_die "not inside a Slurm job: submit this script with sbatch"

# Site set-up: modules first, then a file of site commands (a virtual environment, PATH, licences ...).
if [ -n "${MHIM_MODULES:-}" ]; then
    command -v module >/dev/null 2>&1 || mhim_die "MHIM_MODULES='$MHIM_MODULES' but the 'module' command is missing" \
        "on $(hostname): unset MHIM_MODULES or load the modules in MHIM_SETUP"
    # shellcheck disable=SC2086  # a space-separated list of module names
    module load $MHIM_MODULES || mhim_die "module load $MHIM_MODULES failed"
fi
if [ -n "${MHIM_SETUP:-}" ]; then
    [ -r "$MHIM_SETUP" ] || mhim_die "MHIM_SETUP=$MHIM_SETUP: file not readable (a shell file sourced before mhim runs)"
    # shellcheck disable=SC1090
    source "$MHIM_SETUP"
fi

MHIM_BIN=${MHIM_BIN:-mhim}
command -v "$MHIM_BIN" >/dev/null 2>&1 || mhim_die "MHIM_BIN=$MHIM_BIN: no such executable (set MHIM_BIN to the" \
    "path of mhim, or put it on PATH through MHIM_MODULES / MHIM_SETUP)"
MHIM_RUNS=${MHIM_RUNS:-${SLURM_SUBMIT_DIR:-$PWD}/runs}
MHIM_PROJECT=${MHIM_PROJECT:-mhim}
MHIM_TITLE=${MHIM_TITLE:-${SLURM_JOB_NAME:-run}}
MHIM_THREADS=${MHIM_THREADS:-${SLURM_CPUS_PER_TASK:-0}}
MHIM_MPI=${MHIM_MPI:-pmix}
MHIM_RUN_DIR=$MHIM_RUNS/$MHIM_PROJECT/$MHIM_TITLE
mkdir -p "$MHIM_RUNS" || mhim_die "MHIM_RUNS=$MHIM_RUNS: cannot create the folder (it must be on a shared filesystem)"

# mhim_train_args: fills the array MHIM_TRAIN_ARGS with `train` and the options of every script, in this order:
# -c MHIM_CONFIG, --dataset_root MHIM_DATA, --sweep MHIM_SWEEP, the run folder, --threads, --resume (MHIM_RESUME=1),
# MHIM_ARGS.
# Options given later on the command line win, so a script's own options come after these.
mhim_train_args() {
    MHIM_TRAIN_ARGS=(train)
    if [ -n "${MHIM_CONFIG:-}" ]; then
        [ -r "$MHIM_CONFIG" ] || mhim_die "MHIM_CONFIG=$MHIM_CONFIG: file not readable (a YAML recipe for mhim train -c)"
        MHIM_TRAIN_ARGS+=(-c "$MHIM_CONFIG")
    fi
    [ -n "${MHIM_DATA:-}" ] && MHIM_TRAIN_ARGS+=(--dataset_root "$MHIM_DATA")
    [ -n "${MHIM_SWEEP:-}" ] && MHIM_TRAIN_ARGS+=(--sweep "$MHIM_SWEEP")
    MHIM_TRAIN_ARGS+=(--model_path "$MHIM_RUNS" --project "$MHIM_PROJECT" --title "$MHIM_TITLE" --threads "$MHIM_THREADS")
    [ "${MHIM_RESUME:-0}" = 1 ] && MHIM_TRAIN_ARGS+=(--resume)
    # shellcheck disable=SC2206  # MHIM_ARGS is a space-separated option list by design
    [ -n "${MHIM_ARGS:-}" ] && MHIM_TRAIN_ARGS+=($MHIM_ARGS)
    return 0
}

# mhim_run_step CMD...: runs CMD (an srun step) in the background and waits for it; SIGUSR1 / SIGTERM sent to the
# batch shell (`--signal=B:USR1@120`, `scancel --batch`) are forwarded to it, so mhim writes its checkpoint and
# exits 0. Returns CMD's exit status.
mhim_forward() {
    MHIM_STEP_SIGNALLED=1
    mhim_note "$1 received: forwarding it to the step (pid $MHIM_STEP_PID)"
    kill -"$1" "$MHIM_STEP_PID" 2>/dev/null
}
mhim_run_step() {
    local rc last=0
    "$@" &
    MHIM_STEP_PID=$!
    trap 'mhim_forward USR1' USR1
    trap 'mhim_forward TERM' TERM
    while :; do
        MHIM_STEP_SIGNALLED=0
        wait "$MHIM_STEP_PID"
        rc=$?
        # a trap ends `wait` early with 128+signal; the step's own status is still to be collected, so wait again
        # (127 = already collected: keep the status seen before)
        [ "$rc" -eq 127 ] && [ "$last" -ne 0 ] && rc=$last
        [ "$MHIM_STEP_SIGNALLED" = 1 ] && [ "$rc" -gt 128 ] && [ "$rc" -ne 127 ] && { last=$rc; continue; }
        break
    done
    trap - USR1 TERM
    return "$rc"
}

mhim_note "job $SLURM_JOB_ID on $(hostname): run folder $MHIM_RUN_DIR, mhim = $(command -v "$MHIM_BIN")"
