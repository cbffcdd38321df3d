#!/usr/bin/env bash
# Data-loading benchmark: one synthetic cohort stored as CLAM .h5 and as torch.save .pt, loaded by the
# bag store (mhim_bench_load, fp32 and fp16), by the usual Python loaders (h5py, torch.load) and by
# `cat` (the read-bandwidth ceiling), each from a warm page cache and from a cold one (pages dropped
# with posix_fadvise). Prints the median GB/s (wall clock, and per CPU-second of all the loader's
# threads) of REPEATS runs as a markdown table.
#
#   BUILD=build bench/bench_load.sh            (env: WORK, N_SLIDES, MEAN, DIM, REPEATS, KEEP, LAYOUT)
# LAYOUT=clam (default): the .h5 files as `mhim synth` writes them, the current CLAM layout (chunks of 32 rows);
# LAYOUT=trident: rewritten with one chunk per row and int64 coords, as TRIDENT and CLAM 2021-2023 write them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-build}
WORK=${WORK:-/tmp/mhim_bench_load}
N_SLIDES=${N_SLIDES:-100}
MEAN=${MEAN:-9000}
DIM=${DIM:-1024}
REPEATS=${REPEATS:-3}
PY=/usr/bin/python3
bench="$BUILD/bench/mhim_bench_load"
[ -x "$bench" ] && [ -x "$BUILD/mhim" ] || { echo "build first: $bench / $BUILD/mhim missing" >&2; exit 2; }

rm -rf "$WORK"
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
"$BUILD/mhim" synth --out "$WORK/cohort" --n_slides "$N_SLIDES" --mean_instances "$MEAN" --feature_dim "$DIM"
[ "${LAYOUT:-clam}" = clam ] || $PY "$here/bench_load.py" "$LAYOUT" "$WORK/cohort/h5_files" || exit 2
$PY "$here/bench_load.py" make-pt "$WORK/cohort/h5_files" "$WORK/cohort/pt_files"
results="$WORK/results.txt"
: >"$results"

gbps() { sed -n 's/.*gb_per_s=\([0-9.]*\).*gb_per_cpu_s=\([0-9.]*\).*/\1 \2/p'; }
timed_cat() { # GB/s of `cat DIR/* > /dev/null`
    local bytes start end
    bytes=$(cat "$1"/* | wc -c)
    start=$(date +%s.%N)
    cat "$1"/* >/dev/null
    end=$(date +%s.%N)
    awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", b / (e - s) / 1e9 }'
}
run_case() { # run_case CACHE EXT LOADER: one measurement appended to the results
    local cache=$1 ext=$2 loader=$3 dir="$WORK/cohort/${2}_files" value
    if [ "$cache" = cold ]; then $PY "$here/bench_load.py" evict "$dir"; else cat "$dir"/* >/dev/null; fi
    case $loader in
        cat) value="$(timed_cat "$dir") -" ;;
        mhim_fp32) value=$("$bench" --ext "$ext" --dtype fp32 "$dir" 2>/dev/null | gbps) ;;
        mhim_fp16) value=$("$bench" --ext "$ext" --dtype fp16 "$dir" 2>/dev/null | gbps) ;;
        python) value=$($PY "$here/bench_load.py" load "$ext" "$dir" | gbps) ;;
    esac
    echo "$cache $ext $loader $value" | tee -a "$results"
}

for rep in $(seq "$REPEATS"); do
    for cache in warm cold; do
        for ext in h5 pt; do
            for loader in cat mhim_fp32 mhim_fp16 python; do run_case "$cache" "$ext" "$loader"; done
        done
    done
done

echo
echo "cohort: $N_SLIDES slides, mean $MEAN instances, D=$DIM, ${LAYOUT:-clam} layout; $(du -sh "$WORK/cohort/h5_files" | cut -f1) as .h5," \
     "$(du -sh "$WORK/cohort/pt_files" | cut -f1) as .pt; median GB/s of $REPEATS runs"
echo
echo "| cache | format | cat | bag store fp32 | bag store fp16 | Python (h5py / torch.load) | store fp32 / Python | cat / store fp32 | store fp32, GB per CPU-s | Python, GB per CPU-s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
median() { grep "^$1 $2 $3 " "$results" | awk -v k="$4" '{print $k}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for cache in warm cold; do
    for ext in h5 pt; do
        c=$(median $cache $ext cat 4); f=$(median $cache $ext mhim_fp32 4); h=$(median $cache $ext mhim_fp16 4)
        p=$(median $cache $ext python 4); fc=$(median $cache $ext mhim_fp32 5); pc=$(median $cache $ext python 5)
        awk -v c="$c" -v f="$f" -v h="$h" -v p="$p" -v fc="$fc" -v pc="$pc" -v cache=$cache -v ext=$ext \
            'BEGIN { printf "| %s | .%s | %.2f | %.2f | %.2f | %.2f | %.1fx | %.1fx | %.2f | %.2f |\n",
                     cache, ext, c, f, h, p, f / p, c / f, fc, pc }'
    done
done
