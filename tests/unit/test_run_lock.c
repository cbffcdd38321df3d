/* mhim/run_lock.h: a second holder is refused with the first holder's pid, the lock is free again after release,
 * and a holder killed with SIGKILL leaves a lock file that no longer blocks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/run_lock.h"

int main(void) {
    int fails = 0;
    const char *tmp = getenv("MHIM_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/run_lock_%ld.lock", tmp ? tmp : "/tmp", (long)getpid());
    unlink(path);

    int a = -1, b = -1;
    fails += check_true("first holder takes the lock", mhim_run_lock_acquire(path, &a) == MHIM_OK && a >= 0);
    int rc = mhim_run_lock_acquire(path, &b);
    char want[64];
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    printf("second holder: %s\n", mhim_error());
    fails += check_true("second holder refused (MHIM_EINPUT, fd -1)", rc == MHIM_EINPUT && b == -1);
    fails += check_true("the message names the lock file and the holder's pid",
                        strstr(mhim_error(), path) != NULL && strstr(mhim_error(), want) != NULL);
    mhim_error_clear();
    mhim_run_lock_release(a);
    fails += check_true("free again after release", mhim_run_lock_acquire(path, &b) == MHIM_OK && b >= 0);
    mhim_run_lock_release(b);

    int ready[2];
    if (pipe(ready) != 0) return 1;
    pid_t child = fork();
    if (child == 0) { /* holds the lock until killed */
        int fd;
        char c = mhim_run_lock_acquire(path, &fd) == MHIM_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(1);
        for (;;) pause();
    }
    char c = 0;
    if (read(ready[0], &c, 1) != 1) c = 0;
    fails += check_true("a child process holds the lock", c == 'y');
    fails += check_true("held by the child: refused here", mhim_run_lock_acquire(path, &b) == MHIM_EINPUT);
    mhim_error_clear();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    fails += check_true("after SIGKILL of the holder the stale file does not block",
                        mhim_run_lock_acquire(path, &b) == MHIM_OK && b >= 0);
    mhim_run_lock_release(b);
    close(ready[0]);
    close(ready[1]);
    unlink(path);
    return fails ? 1 : 0;
}
