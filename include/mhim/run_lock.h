/* mhim/run_lock.h — one writer per run folder (or per fold unit of an MPI sweep).
 *
 * A training run holds an exclusive flock(2) on "<ckp>.lock" (e.g. run/ckp.h5.lock, or ckp_fold_k.h5.lock for an
 * MPI unit) for as long as it writes there. A second run on the same files (a resubmitted job while the first is
 * still running, ranks of a killed launcher that are still alive) is refused with one message instead of both
 * writing checkpoints and logs over each other. The kernel drops the lock when the holder exits, however it ends
 * (SIGKILL included), so a stale lock file never blocks a later --resume. The file stays behind, holding the last
 * holder's pid (removing it would let two processes lock two different files of the same name).
 *
 * File systems without flock support (some parallel file systems mounted without it) are accepted with a warning:
 * the run goes on unprotected. */
#ifndef MHIM_RUN_LOCK_H
#define MHIM_RUN_LOCK_H

/* Take the lock on `path` (created if missing). Returns MHIM_OK and a descriptor in *fd (-1 when the file system has
 * no locks), or MHIM_EINPUT naming the lock file and the holder's pid when another process holds it. */
int mhim_run_lock_acquire(const char *path, int *fd);
/* Drop a lock taken by mhim_run_lock_acquire (fd -1: nothing to do). */
void mhim_run_lock_release(int fd);

#endif
