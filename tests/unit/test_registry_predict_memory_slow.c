/* Peak memory of `mhim predict` on a 100,000-instance TransMIL bag (D_in 1024, 8 heads, with --attention): the
 * child's ru_maxrss must stay below
 *     bound = bag features (N·D floats) + coords (N·2 int64) + attention map (H·N floats)
 *           + the predict arena (mhim_model_predict_arena_bytes, linear in N) + parameters + 256 MiB
 * where 256 MiB covers the program, its libraries, OpenBLAS/OpenMP thread buffers and the HDF5 caches, AND below
 * 1.5 GB (the target; the bag itself is 0.4 GB of it). Every term is linear in N; a quadratic (N x N)
 * attention would need 40 GB for the attention matrix alone. Prediction runs the row-blocked evaluation forward
 * (mhim_transmil_eval_forward): about 6.6 KB of arena per instance. Slow (20-50 s on 2 cores): label "slow". Needs
 * MHIM_BIN (the mhim executable) and MHIM_TEST_TMP (about 0.5 GB of scratch for the bag). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mhim/checkpoint.h"
#include "mhim/common.h"
#include "mhim/model.h"
#include "mhim/rng.h"
#include "mhim/synth.h"

#define N_BAG 100000
#define D_IN 1024
#define MIB (1024.0 * 1024.0)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    const char *bin = getenv("MHIM_BIN"), *tmp = getenv("MHIM_TEST_TMP");
    if (!bin || !tmp) {
        printf("skip: MHIM_BIN and MHIM_TEST_TMP are needed\n");
        return 77;
    }
    int fails = 0;
    mhim_model_config mc = {MHIM_MODEL_TRANSMIL, 1, D_IN, 2, MHIM_ACT_RELU, 0.25f, MHIM_ACT_RELU, 0, 8, 0, 0};
    mhim_model *m;
    if (mhim_model_create(&m, &mc)) return printf("FAIL create: %s\n", mhim_error()), 1;
    const mhim_param_layout *L = mhim_model_layout(m);
    float *params = mhim_params_alloc(L);
    mhim_model_init_params(m, params, 5);
    char text[MHIM_MODEL_CONFIG_TEXT];
    mhim_model_config_text(&mc, text, sizeof text);
    char *ckpt = mhim_asprintf("%s/memory_transmil.h5", tmp), *bag = mhim_asprintf("%s/memory_bag.h5", tmp);
    char *out = mhim_asprintf("%s/memory_pred.csv", tmp), *attn = mhim_asprintf("%s/memory_attn.h5", tmp);
    mhim_ckpt_contents c = {.model = "transmil", .model_config = text, .fold = -1, .epoch = -1, .layout = L,
                            .params = params};
    fails += check_true("write TransMIL checkpoint", mhim_ckpt_write(ckpt, &c) == MHIM_OK);

    double t0 = now_s();
    float *x = mhim_malloc((size_t)N_BAG * D_IN * sizeof(float));
    int32_t *coords = mhim_malloc((size_t)N_BAG * 2 * sizeof(int32_t));
    mhim_rng r = mhim_rng_stream(3, 0, 0, MHIM_RNG_SYNTH, 0);
    mhim_rng_fill_normal(&r, 0, x, (int64_t)N_BAG * D_IN, 0.0f, 1.0f);
    for (int64_t i = 0; i < N_BAG; i++) coords[2 * i] = (int32_t)(i % 400) * 256, coords[2 * i + 1] = (int32_t)(i / 400) * 256;
    fails += check_true("write 100k bag", mhim_synth_write_h5(bag, x, coords, N_BAG, D_IN) == MHIM_OK);
    free(x);
    free(coords);
    printf("     bag written in %.1f s\n", now_s() - t0);

    const double bag_bytes = (double)N_BAG * D_IN * 4 + (double)N_BAG * 2 * 8 + (double)mc.heads * N_BAG * 4;
    const double arena = (double)mhim_model_predict_arena_bytes(m, N_BAG);
    const double param_bytes = (double)L->total * 4;
    const double bound = bag_bytes + arena + param_bytes + 256 * MIB;
    printf("     bound = bag %.0f MiB + arena %.0f MiB + params %.0f MiB + 256 MiB = %.0f MiB\n", bag_bytes / MIB,
           arena / MIB, param_bytes / MIB, bound / MIB);

    t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        char *a1 = mhim_asprintf("--checkpoint=%s", ckpt), *a2 = mhim_asprintf("--input=%s", bag);
        char *a3 = mhim_asprintf("--output=%s", out), *a4 = mhim_asprintf("--attention=%s", attn);
        execl(bin, bin, "predict", a1, a2, a3, a4, "--threads=2", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    fails += check_true("spawn mhim predict", pid > 0 && wait4(pid, &status, 0, &ru) == pid);
    const double peak = (double)ru.ru_maxrss * 1024.0; /* KiB on Linux */
    printf("     mhim predict: exit %d, %.1f s, peak RSS %.0f MiB (bound %.0f MiB)\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1, now_s() - t0, peak / MIB, bound / MIB);
    fails += check_true("mhim predict succeeded", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fails += check_true("peak RSS within the bound", peak > 0 && peak < bound);
    fails += check_true("peak RSS under 1.5 GB", peak > 0 && peak < 1.5e9);
    FILE *f = fopen(out, "r");
    char line[256] = "", row[256] = "";
    if (f) {
        if (fgets(line, sizeof line, f) && fgets(row, sizeof row, f)) printf("     %s", row);
        fclose(f);
    }
    fails += check_true("one prediction row", strncmp(row, "memory_bag,", 11) == 0);
    remove(bag), remove(ckpt), remove(out), remove(attn);
    free(ckpt), free(bag), free(out), free(attn);
    mhim_params_free(params);
    mhim_model_free(m);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
