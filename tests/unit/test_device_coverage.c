/* What the GPU training engine covers (mhim_device_gpu_coverage, checked for --device=cuda before a run starts):
 * v1 ABMIL/DSMIL/TransMIL pure and MHIM are accepted, also with --bags_per_step > 1 and in data-parallel groups;
 * MHIM-v2 is refused with one message naming the option and pointing to --device=cpu; --precision=bf16,
 * bf16_linear and bf16_all on the CPU are accepted where the CPU has AVX512_BF16 and refused (naming the value and --precision=fp32,
 * and for bf16 also --device=cuda) where it has not, or when MHIM_DISABLE_AVX512_BF16 says so; bf16_linear and
 * bf16_all on the GPU are refused (CPU only), fp32 is accepted everywhere. Runs in every build (no GPU needed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/cuda_select.h"
#include "mhim/ops/precision.h"
#include "mhim/options.h"

/* Parse `train ARGS` (NULL-terminated) and check the coverage: want_ok, or a refusal containing `want`. */
static int expect(const char *label, int want_ok, const char *want, const char *const *args) {
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"train";
    for (; args[argc - 1] && argc < 15; argc++) argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    mhim_config cfg;
    mhim_opt_args oa;
    mhim_error_clear();
    if (mhim_config_parse(&cfg, argc, argv, &oa) != MHIM_OK) {
        printf("FAIL %s: parse: %s\n", label, mhim_error());
        return 1;
    }
    mhim_opt_args_free(&oa);
    int rc = mhim_device_gpu_coverage(&cfg);
    const char *msg = rc == MHIM_OK ? "" : mhim_error();
    int ok = want_ok ? rc == MHIM_OK
                     : rc == MHIM_EINPUT && strstr(msg, want) && strstr(msg, "--device=cpu") &&
                           strstr(msg, "--device=cuda");
    printf("%s %s: rc=%d %s\n", ok ? "ok  " : "FAIL", label, rc, msg);
    mhim_config_free(&cfg);
    return !ok;
}

/* --precision=<precision> (and --device=<device>): want_ok = accepted (the device check returns no GPU ordinal on
 * the CPU), else refused with one message containing each of want[] (NULL-terminated). */
static int expect_precision(const char *label, const char *precision, const char *device, int want_ok,
                            const char *const *want) {
    char popt[64], dopt[64];
    snprintf(popt, sizeof popt, "--precision=%s", precision);
    snprintf(dopt, sizeof dopt, "--device=%s", device);
    char *argv[] = {(char *)"train", popt, dopt, NULL};
    mhim_config cfg;
    mhim_opt_args oa;
    mhim_error_clear();
    if (mhim_config_parse(&cfg, 3, argv, &oa) != MHIM_OK) {
        printf("FAIL %s: parse: %s\n", label, mhim_error());
        return 1;
    }
    mhim_opt_args_free(&oa);
    int ordinal = 7;
    const int rc = mhim_device_check_training(&cfg, &ordinal);
    const char *msg = rc == MHIM_OK ? "" : mhim_error();
    int ok = want_ok ? rc == MHIM_OK && ordinal == -1 : rc == MHIM_EINPUT;
    for (int i = 0; !want_ok && want[i]; i++) ok = ok && strstr(msg, want[i]) != NULL;
    printf("%s %s: rc=%d %s\n", ok ? "ok  " : "FAIL", label, rc, msg);
    mhim_config_free(&cfg);
    return !ok;
}

int main(void) {
    int bad = 0;
    const char *const cpu_bf16_refusal[] = {"--precision=bf16 ", "AVX512_BF16", "--precision=fp32", "--device=cuda", NULL};
    const char *const cpu_linear_refusal[] = {"--precision=bf16_linear", "AVX512_BF16", "--precision=fp32", NULL};
    const char *const gpu_linear_refusal[] = {"--precision=bf16_linear", "CPU only", "--precision=bf16", NULL};
    const char *const cpu_all_refusal[] = {"--precision=bf16_all", "AVX512_BF16", "--precision=fp32", NULL};
    const char *const gpu_all_refusal[] = {"--precision=bf16_all", "CPU only", "--precision=bf16", NULL};
    if (mhim_precision_cpu_bf16_supported()) {
        bad += expect_precision("bf16 on a CPU with AVX512_BF16", "bf16", "cpu", 1, NULL);
        bad += expect_precision("bf16_linear on a CPU with AVX512_BF16", "bf16_linear", "cpu", 1, NULL);
        bad += expect_precision("bf16_all on a CPU with AVX512_BF16", "bf16_all", "cpu", 1, NULL);
    }
    bad += expect_precision("fp32 on the CPU", "fp32", "cpu", 1, NULL);
    bad += expect_precision("bf16_linear on the GPU", "bf16_linear", "cuda", 0, gpu_linear_refusal);
    bad += expect_precision("bf16_all on the GPU", "bf16_all", "cuda", 0, gpu_all_refusal);
    setenv("MHIM_DISABLE_AVX512_BF16", "1", 1);
    bad += expect_precision("bf16 on a CPU without AVX512_BF16", "bf16", "cpu", 0, cpu_bf16_refusal);
    bad += expect_precision("bf16_linear on a CPU without AVX512_BF16", "bf16_linear", "cpu", 0, cpu_linear_refusal);
    bad += expect_precision("bf16_all on a CPU without AVX512_BF16", "bf16_all", "cpu", 0, cpu_all_refusal);
    bad += expect_precision("fp32 on a CPU without AVX512_BF16", "fp32", "cpu", 1, NULL);
    unsetenv("MHIM_DISABLE_AVX512_BF16");
    bad += expect("ABMIL pure", 1, NULL, (const char *const[]){"--model=pure", "--baseline=attn", NULL});
    bad += expect("ABMIL mhim", 1, NULL, (const char *const[]){"--model=mhim", "--baseline=attn", NULL});
    bad += expect("DSMIL mhim", 1, NULL, (const char *const[]){"--model=mhim", "--baseline=dsmil", NULL});
    bad += expect("TransMIL mhim", 1, NULL, (const char *const[]){"--model=mhim", "--baseline=selfattn", NULL});
    bad += expect("MHIM-v2", 0, "--mhim_version=2", (const char *const[]){"--mhim_version=2", NULL});
    bad += expect("data-parallel group", 1, NULL, (const char *const[]){"--baseline=attn", "--group_size=2", NULL});
    bad += expect("bags per step", 1, NULL, (const char *const[]){"--baseline=dsmil", "--bags_per_step=4", NULL});
    bad += expect("MHIM-v2 in a group", 0, "--mhim_version=2",
                  (const char *const[]){"--mhim_version=2", "--group_size=2", "--bags_per_step=2", NULL});
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
