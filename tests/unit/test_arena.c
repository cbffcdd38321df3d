/* mhim/arena.h: 64-byte alignment, marks and resets, peak tracking, NaN poisoning, and the clear death of a
 * request that exceeds the reservation (checked in a child process). */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mhim/arena.h"

static int test_alignment_and_marks(void) {
    int fails = 0;
    mhim_arena a;
    mhim_arena_init(&a, "test", 1000);
    fails += check_true("capacity rounded up to 64 bytes", a.capacity == 1024);
    float *x = mhim_arena_floats(&a, 3);
    int64_t *k = mhim_arena_i64(&a, 5);
    void *z = mhim_arena_alloc(&a, 0);
    fails += check_true("blocks are 64-byte aligned",
                        (uintptr_t)x % 64 == 0 && (uintptr_t)k % 64 == 0 && (uintptr_t)z % 64 == 0);
    fails += check_true("blocks do not overlap and use whole 64-byte units",
                        (char *)k - (char *)x == 64 && (char *)z - (char *)k == 64 && a.used == 128);
    size_t mark = mhim_arena_mark(&a);
    float *big = mhim_arena_floats(&a, 200);
    fails += check_true("a block after the mark follows it", (size_t)((unsigned char *)big - a.base) == mark);
    mhim_arena_reset(&a, mark);
    float *again = mhim_arena_floats(&a, 10);
    fails += check_true("reset to a mark reuses the memory after it", again == big && a.peak == 128 + 832);
    mhim_arena_reset(&a, 0);
    fails += check_true("reset to 0 empties the arena", a.used == 0 && mhim_arena_floats(&a, 1) == x);
    fails += check_true("floats_size sums to the footprint", mhim_arena_floats_size(3) == 64 &&
                                                                mhim_arena_floats_size(16) == 64 &&
                                                                mhim_arena_floats_size(17) == 128 &&
                                                                mhim_arena_floats_size(0) == 0);
    /* Exactly full is fine. */
    mhim_arena_reset(&a, 0);
    mhim_arena_floats(&a, 256);
    fails += check_true("an arena can be filled exactly", a.used == a.capacity);
    mhim_arena_free(&a);
    mhim_arena_init(&a, "empty", 0);
    fails += check_true("a zero-capacity arena hands out empty blocks", mhim_arena_floats(&a, 0) != NULL);
    mhim_arena_free(&a);
    return fails;
}

static int test_poison(void) {
    int fails = 0;
    mhim_arena a;
    mhim_arena_init(&a, "poison", 256);
    mhim_arena_set_poison(&a, 1);
    size_t mark = mhim_arena_mark(&a);
    float *x = mhim_arena_floats(&a, 64);
    for (int i = 0; i < 64; i++) x[i] = (float)i;
    mhim_arena_reset(&a, mark);
    float *y = mhim_arena_floats(&a, 64);
    int all_nan = 1;
    for (int i = 0; i < 64; i++) all_nan &= isnan(y[i]);
    fails += check_true("released memory reads as NaN when poisoning is on", all_nan);
    mhim_arena_set_poison(&a, 0);
    for (int i = 0; i < 64; i++) y[i] = 1.0f;
    mhim_arena_reset(&a, 0);
    y = mhim_arena_floats(&a, 64);
    fails += check_true("released memory is kept when poisoning is off", y[0] == 1.0f && y[63] == 1.0f);
    mhim_arena_free(&a);
    setenv("MHIM_ARENA_POISON", "1", 1);
    mhim_arena_init(&a, "env", 128);
    float *w = mhim_arena_floats(&a, 32);
    fails += check_true("MHIM_ARENA_POISON=1 poisons from the start", a.poison == 1 && isnan(w[0]) && isnan(w[31]));
    mhim_arena_free(&a);
    setenv("MHIM_ARENA_POISON", "0", 1);
    mhim_arena_init(&a, "env-off", 128);
    fails += check_true("MHIM_ARENA_POISON=0 turns poisoning off", a.poison == 0);
    mhim_arena_free(&a);
    unsetenv("MHIM_ARENA_POISON");
    return fails;
}

/* A request beyond the reservation must abort the process with a message naming the arena. */
static int test_overflow_dies(void) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return check_true("pipe", 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        mhim_arena a;
        mhim_arena_init(&a, "activations", 128);
        mhim_arena_floats(&a, 16);
        mhim_arena_floats(&a, 17); /* 68 bytes > 64 left */
        _exit(0);                  /* not reached */
    }
    close(pipefd[1]);
    char msg[1024] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(pipefd[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child stderr: %s", msg);
    int fails = 0;
    fails += check_true("overflowing request aborts the process", WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    fails += check_true("message names the arena and the sizes",
                        strstr(msg, "arena 'activations'") && strstr(msg, "68 bytes") && strstr(msg, "128"));
    return fails;
}

int main(void) {
    int fails = test_alignment_and_marks() + test_poison() + test_overflow_dies();
    printf("%s: %d failure(s)\n", __FILE__, fails);
    return fails ? 1 : 0;
}
