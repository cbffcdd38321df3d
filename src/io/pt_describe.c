/* `mhim info` for torch.save archives (see io/pt_describe.h). */
#include "io/pt_describe.h"

#include <stdlib.h>

#include "mhim/bagfile.h"
#include "mhim/common.h"
#include "mhim/ptfile.h"

static int describe_tensor(mhim_ptfile *pt, int64_t index, FILE *out) {
    const mhim_pt_entry *e = mhim_pt_entry_at(pt, index);
    fprintf(out, "%s (", mhim_pt_dtype_name(e->dtype));
    for (int k = 0; k < e->ndim; k++) fprintf(out, k ? ", %lld" : "%lld", (long long)e->shape[k]);
    fputs(e->ndim == 1 ? ",)" : ")", out);
    if (!mhim_pt_dtype_is_float(e->dtype)) return MHIM_OK;
    float *values = mhim_malloc((size_t)e->numel * sizeof *values);
    int rc = mhim_pt_read_f32(pt, index, values, e->numel);
    if (!rc) {
        int64_t nans, infs;
        mhim_bag_count_nan_inf(values, e->numel, &nans, &infs);
        fprintf(out, ", NaN %lld, Inf %lld", (long long)nans, (long long)infs);
    }
    free(values);
    return rc;
}

/* Print a string value quoted, one line: control characters become '?'. */
static void print_string(FILE *out, const char *s) {
    fputs(" = \"", out);
    for (; *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
    fputc('"', out);
}

int pt_describe(const char *path, FILE *out) {
    mhim_ptfile *pt;
    int rc = mhim_pt_open(path, &pt);
    if (rc) return rc;
    int64_t count = mhim_pt_entry_count(pt);
    fprintf(out, "%s: torch.save archive, %lld entr%s\n", path, (long long)count, count == 1 ? "y" : "ies");
    for (int64_t k = 0; k < count && !rc; k++) {
        const mhim_pt_entry *e = mhim_pt_entry_at(pt, k);
        fprintf(out, "  %s", e->name[0] ? e->name : "(tensor)");
        switch (e->kind) {
        case MHIM_PT_TENSOR:
            fputs(": ", out);
            rc = describe_tensor(pt, k, out);
            break;
        case MHIM_PT_INT: fprintf(out, " = %lld", (long long)e->ivalue); break;
        case MHIM_PT_FLOAT: fprintf(out, " = %.10g", e->fvalue); break;
        case MHIM_PT_BOOL: fputs(e->ivalue ? " = True" : " = False", out); break;
        case MHIM_PT_STRING: print_string(out, e->svalue); break;
        case MHIM_PT_NONE: fputs(" = None", out); break;
        }
        fputc('\n', out);
    }
    mhim_pt_close(pt);
    return rc;
}
