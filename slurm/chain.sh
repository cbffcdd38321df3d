#!/usr/bin/env bash
# Runs a training longer than the partition's time limit as a chain of jobs (run on the login node):
#   slurm/chain.sh [-n LINKS] SCRIPT.sbatch [sbatch options...]
# Submits LINKS jobs (default MHIM_CHAIN_LINKS, else 3) of SCRIPT with the given sbatch options, each link starting
# after the previous one ends (--dependency=afterany), all with --signal=B:USR1@MHIM_CHAIN_LEAD (default 120 s
# before the time limit) and MHIM_RESUME=1 in their environment. A link that reaches its limit receives USR1, the
# script forwards it to mhim, mhim writes its checkpoint and exits 0, and the next link continues with --resume
# from that checkpoint; once the run is finished, the remaining links find nothing left to do and end at once.
# Every link must write the same run folder: keep MHIM_TITLE (default: the job name) the same for all of them.
# Prints the job ids, one per line (the last one ends the chain); exits 2 on a usage error, 1 if sbatch fails.
#   slurm/chain.sh -n 4 slurm/train_folds.sbatch --time=24:00:00
#   MHIM_CONFIG=configs/sweep.yaml slurm/chain.sh slurm/sweep_array.sbatch --array=0-17
set -uo pipefail
usage() { echo "usage: chain.sh [-n LINKS] SCRIPT.sbatch [sbatch options...]" >&2; exit 2; }
links=${MHIM_CHAIN_LINKS:-3}
lead=${MHIM_CHAIN_LEAD:-120}
if [ "${1:-}" = -n ]; then
    [ $# -ge 2 ] || usage
    links=$2
    shift 2
fi
[ $# -ge 1 ] || usage
script=$1
shift
[[ "$links" =~ ^[1-9][0-9]*$ ]] || { echo "chain.sh: -n / MHIM_CHAIN_LINKS '$links': expected a count >= 1" >&2; exit 2; }
[[ "$lead" =~ ^[0-9]+$ ]] || { echo "chain.sh: MHIM_CHAIN_LEAD '$lead': expected seconds" >&2; exit 2; }
[ -r "$script" ] || { echo "chain.sh: $script: no such batch script" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "chain.sh: sbatch not found (run this on a Slurm login node)" >&2; exit 2; }

export MHIM_RESUME=1
# the scripts find mhim_env.sh next to themselves; tell them where, in case the spooled copy hides it
export MHIM_SLURM_DIR=${MHIM_SLURM_DIR:-$(cd "$(dirname "$script")" && pwd)}
dependency=()
for ((i = 1; i <= links; i++)); do
    id=$(sbatch --parsable --signal="B:USR1@$lead" "${dependency[@]}" "$@" "$script") ||
        { echo "chain.sh: sbatch of link $i failed" >&2; exit 1; }
    id=${id%%;*} # --parsable prints "id;cluster" on multi-cluster sites
    echo "chain.sh: link $i/$links is job $id" >&2
    echo "$id"
    dependency=(--dependency="afterany:$id")
done
