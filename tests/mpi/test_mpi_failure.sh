#!/usr/bin/env bash
# Failure behaviour: a corrupt bag read by one rank of a data-parallel group ends the whole job within 10 s with
# that rank's message and a non-zero exit (no rank waits forever in a collective); a group size that does not
# divide the world is refused with exit 2 on every rank.
name=failure
source "$(dirname "$0")/mpi_common.sh"
make_cohort "$tmp/coh"
echo "not an hdf5 file" >"$tmp/coh/h5_files/$(ls "$tmp/coh/h5_files" | sed -n 3p)"
args=(train --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --baseline attn --num_epoch 2
      --cv_fold 2 --threads 1 --quiet --log_level error)
start=$(date +%s%N)
timeout 60 mpirun -n 2 --bind-to none "$bin" "${args[@]}" --title bad --group_size 2 >"$tmp/bad.out" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "exit $rc after $ms ms"; grep "mhim: error" "$tmp/bad.out"
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok "non-zero exit ($rc)" || bad "exit status $rc"
[ $ms -lt 10000 ] && ok "ended in $ms ms (< 10 s)" || bad "took $ms ms"
grep -q "mhim: error: rank [01]: .*not an HDF5 file" "$tmp/bad.out" && ok "the failing rank's message" ||
    { bad "message missing"; cat "$tmp/bad.out"; }
timeout 60 mpirun -n 3 --bind-to none "$bin" "${args[@]}" --dataset_root "$tmp/none" --title g --group_size 2 \
    >"$tmp/group.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "group_size=2: the 3 MPI ranks" "$tmp/group.out" && ok "--group_size 2 on 3 ranks refused" ||
    { bad "group size check: rc $rc"; cat "$tmp/group.out"; }
exit $fail
