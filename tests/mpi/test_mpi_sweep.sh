#!/usr/bin/env bash
# Sweeps: a 6-point grid (YAML `sweep:` block, 3 x 2) run in one process, on 2 ranks and on 3 ranks gives the same
# sweep_results.csv; a TSV grid of the same points gives the same file; `mhim sweep-summary` rewrites it
# identically; --sweep_point runs one point only; a bad grid is refused with its file and key.
name=sweep
source "$(dirname "$0")/mpi_common.sh"
make_cohort "$tmp/coh"
cat >"$tmp/sweep.yaml" <<'YAML'
baseline: attn
sweep:
  mask_ratio_h: [0.01, 0.03, 0.05]
  lr: [2e-4, 1e-3]
YAML
printf 'mask_ratio_h\tlr\n' >"$tmp/grid.tsv"
for h in 0.01 0.03 0.05; do for lr in 2e-4 1e-3; do printf '%s\t%s\n' $h $lr >>"$tmp/grid.tsv"; done; done
args=(train --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --num_epoch 1 --cv_fold 2
      --threads 1 --quiet --cl_alpha 0.1 --log_level error)
run() { local t=$1; shift; "$@" >"$tmp/$t.out" 2>&1 || { bad "run $t"; cat "$tmp/$t.out"; exit 1; }; }
run one "$bin" "${args[@]}" -c "$tmp/sweep.yaml" --title one
run two mpi 2 "${args[@]}" -c "$tmp/sweep.yaml" --title two
run three mpi 3 "${args[@]}" -c "$tmp/sweep.yaml" --title three
run tsv "$bin" "${args[@]}" --baseline attn --sweep "$tmp/grid.tsv" --title tsv
m=$tmp/models/p
echo "--- sweep_results.csv (1 process)"; cat "$m/one/sweep_results.csv"
[ "$(grep -c '' "$m/one/sweep_results.csv")" -eq 7 ] && ok "6 points + header" || bad "expected 7 lines"
[ -d "$m/one/mask_ratio_h=0.03_lr=1e-3" ] && ok "point folder named by its values" || bad "point folder name"
same_file "sweep_results.csv, 2 ranks vs 1 process" "$m/one/sweep_results.csv" "$m/two/sweep_results.csv"
same_file "sweep_results.csv, 3 ranks vs 1 process" "$m/one/sweep_results.csv" "$m/three/sweep_results.csv"
same_file "sweep_results.csv, TSV vs YAML grid" "$m/one/sweep_results.csv" "$m/tsv/sweep_results.csv"
cp "$m/two/sweep_results.csv" "$tmp/before.csv"
"$bin" sweep-summary "$m/two" >"$tmp/summary.out" 2>&1 || bad "sweep-summary failed"
same_file "mhim sweep-summary rewrites the same file" "$tmp/before.csv" "$m/two/sweep_results.csv"
grep -q "mask_ratio_h=" "$tmp/summary.out" && ok "summary table printed" || bad "no summary table"
auc=$(awk -F, 'NR>1{print $6}' "$m/one/sweep_results.csv" | tr '\n' ' ')
sorted=$(awk -F, 'NR>1{print $6}' "$m/one/sweep_results.csv" | sort -gr | tr '\n' ' ')
[ "$auc" = "$sorted" ] && ok "rows sorted by mean AUC ($auc)" || bad "rows not sorted by auc_mean: $auc"
run point "$bin" "${args[@]}" -c "$tmp/sweep.yaml" --title point --sweep_point 4
[ "$(ls -d "$m"/point/*/ | wc -l)" -eq 1 ] && [ -f "$m/point/mask_ratio_h=0.05_lr=2e-4/results.csv" ] &&
    ok "--sweep_point 4 ran only mask_ratio_h=0.05_lr=2e-4" || bad "--sweep_point 4"
printf 'mask_ratio_h\tlrr\n0.1\t1\n' >"$tmp/bad.tsv"
"$bin" "${args[@]}" --sweep "$tmp/bad.tsv" --title bad >"$tmp/bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad.tsv: 'lrr' is not an option" "$tmp/bad.out" && ok "unknown sweep key refused (exit 2)" ||
    { bad "unknown sweep key: rc $rc"; cat "$tmp/bad.out"; }
exit $fail
