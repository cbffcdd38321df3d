/* One writer per run folder (mhim/run_lock.h): flock(2) on a lock file that records the holder's pid. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/run_lock.h"

/* The pid written by the lock's holder, or 0 when the file holds none. */
static long holder_pid(int fd) {
    char text[32] = {0};
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    long pid = 0;
    if (n > 0 && sscanf(text, "%ld", &pid) != 1) pid = 0;
    return pid;
}

int mhim_run_lock_acquire(const char *path, int *fd) {
    *fd = -1;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0) return mhim_fail("%s: cannot create the run's lock file: %s (is the run folder writable?)", path,
                                strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            long pid = holder_pid(f);
            close(f);
            return mhim_fail("%s: another mhim process (pid %ld) is training into this run folder; wait for it to "
                             "end or stop it before --resume, or give this run another --title",
                             path, pid);
        }
        close(f);
        MHIM_WARN("%s: the file system does not lock files (%s); nothing stops a second run from writing here",
                  path, strerror(err));
        return MHIM_OK;
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)len, 0) != len)
        MHIM_WARN("%s: could not record this process's pid in the lock file: %s", path, strerror(errno));
    *fd = f;
    return MHIM_OK;
}

void mhim_run_lock_release(int fd) {
    if (fd >= 0) close(fd); /* closing drops the flock */
}
