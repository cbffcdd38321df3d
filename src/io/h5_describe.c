/* `mhim info` for HDF5 files (see io/h5_describe.h). */
#include "io/h5_describe.h"

#include <stdlib.h>
#include <string.h>

#include "io/h5_common.h"
#include "mhim/bagfile.h"
#include "mhim/common.h"

#define ATTR_MAX_VALUES 16         /* longer attribute arrays are summarised */
#define ATTR_MAX_TEXT 200          /* longer strings are cut */
#define NONFINITE_BLOCK (1 << 20)  /* elements per read when counting NaN/Inf */
#define NONFINITE_MAX_ROW (1 << 24) /* rows wider than this are not scanned */

typedef struct {
    const char *path;
    FILE *out;
    int rc;
} describe_ctx;

static void print_dims(FILE *out, const hsize_t *dims, int rank) {
    fputc('(', out);
    for (int k = 0; k < rank; k++) fprintf(out, k ? ", %llu" : "%llu", (unsigned long long)dims[k]);
    fputs(rank == 1 ? ",)" : ")", out);
}

/* Print text quoted, with control characters replaced and long text cut. */
static void print_text(FILE *out, const char *text, size_t len) {
    fputc('"', out);
    for (size_t k = 0; k < len && k < ATTR_MAX_TEXT; k++) {
        unsigned char c = (unsigned char)text[k];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
    fputs(len > ATTR_MAX_TEXT ? "...\"" : "\"", out);
}

static int print_string_attr(FILE *out, hid_t attr, hid_t type, hid_t space, hssize_t count) {
    int rc = 0;
    if (H5Tis_variable_str(type) > 0) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        char **strings = mhim_calloc((size_t)count, sizeof *strings);
        rc = H5Aread(attr, mem, strings) < 0;
        for (hssize_t k = 0; k < count && !rc; k++) {
            if (k) fputs(", ", out);
            print_text(out, strings[k] ? strings[k] : "", strings[k] ? strlen(strings[k]) : 0);
        }
        if (!rc) H5Dvlen_reclaim(mem, space, H5P_DEFAULT, strings);
        free(strings);
        H5Tclose(mem);
    } else {
        size_t size = H5Tget_size(type);
        char *buf = mhim_calloc((size_t)count, size + 1);
        rc = H5Aread(attr, type, buf) < 0;
        for (hssize_t k = 0; k < count && !rc; k++) {
            if (k) fputs(", ", out);
            const char *s = buf + (size_t)k * size;
            print_text(out, s, strnlen(s, size));
        }
        free(buf);
    }
    return rc;
}

static int print_number_attr(FILE *out, hid_t attr, H5T_class_t cls, int is_unsigned, hssize_t count) {
    union {
        long long i[ATTR_MAX_VALUES];
        unsigned long long u[ATTR_MAX_VALUES];
        double f[ATTR_MAX_VALUES];
    } v;
    hid_t mem = cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE : is_unsigned ? H5T_NATIVE_ULLONG : H5T_NATIVE_LLONG;
    if (H5Aread(attr, mem, &v) < 0) return 1;
    for (hssize_t k = 0; k < count; k++) {
        if (k) fputs(", ", out);
        if (cls == H5T_FLOAT) fprintf(out, "%.10g", v.f[k]);
        else if (is_unsigned) fprintf(out, "%llu", v.u[k]);
        else fprintf(out, "%lld", v.i[k]);
    }
    return 0;
}

static herr_t print_attribute(hid_t object, const char *name, const H5A_info_t *info, void *data) {
    describe_ctx *c = data;
    hid_t attr = H5Aopen(object, name, H5P_DEFAULT);
    if (attr < 0) {
        fprintf(c->out, "    @%s: (cannot open)\n", name);
        return 0;
    }
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    H5T_class_t cls = H5Tget_class(type);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK] = {0};
    if (rank > 0) H5Sget_simple_extent_dims(space, dims, NULL);
    char tname[32];
    h5_type_name(type, tname, sizeof tname);
    fprintf(c->out, "    @%s = ", name);
    int failed = 0, is_number = cls == H5T_INTEGER || cls == H5T_FLOAT;
    if (count < 0 || count > ATTR_MAX_VALUES || !(is_number || cls == H5T_STRING)) {
        fprintf(c->out, "<%s ", tname);
        print_dims(c->out, dims, rank);
        fputc('>', c->out);
    } else {
        if (rank > 0) fputc('[', c->out);
        failed = cls == H5T_STRING ? print_string_attr(c->out, attr, type, space, count)
                                   : print_number_attr(c->out, attr, cls, H5Tget_sign(type) == H5T_SGN_NONE, count);
        if (rank > 0) fputc(']', c->out);
    }
    fputs(failed ? "(unreadable)\n" : "\n", c->out);
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attr);
    return 0;
}

/* Count NaN/Inf in a float dataset, reading blocks of whole rows along dim 0. Returns 1 on a read error,
 * -1 if rows are too wide to scan. */
static int count_nonfinite(hid_t dset, int rank, const hsize_t *dims, int64_t *nans, int64_t *infs) {
    *nans = *infs = 0;
    hsize_t row = 1, rows = rank > 0 ? dims[0] : 1;
    for (int k = 1; k < rank; k++) row *= dims[k];
    if (row == 0 || rows == 0) return 0;
    if (row > NONFINITE_MAX_ROW) return -1;
    hsize_t block_rows = MHIM_MAX((hsize_t)1, NONFINITE_BLOCK / row);
    float *buf = mhim_malloc((size_t)(MHIM_MIN(block_rows, rows) * row) * sizeof *buf);
    hid_t file_space = H5Dget_space(dset);
    int rc = 0;
    for (hsize_t start = 0; start < rows && !rc; start += block_rows) {
        hsize_t n = MHIM_MIN(block_rows, rows - start), elements = n * row;
        hid_t mem_space = H5Screate_simple(1, &elements, NULL);
        if (rank > 0) {
            hsize_t offset[H5S_MAX_RANK] = {start}, count[H5S_MAX_RANK];
            memcpy(count, dims, (size_t)rank * sizeof *count);
            count[0] = n;
            H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset, NULL, count, NULL);
        }
        rc = H5Dread(dset, H5T_NATIVE_FLOAT, mem_space, file_space, H5P_DEFAULT, buf) < 0;
        H5Sclose(mem_space);
        int64_t block_nans, block_infs;
        mhim_bag_count_nan_inf(buf, (int64_t)elements, &block_nans, &block_infs);
        *nans += block_nans;
        *infs += block_infs;
    }
    H5Sclose(file_space);
    free(buf);
    return rc;
}

/* Print layout ("chunks (32, 1024)" / "contiguous" / "compact") and filters of a dataset. */
static void print_layout(FILE *out, hid_t dset) {
    hid_t plist = H5Dget_create_plist(dset);
    H5D_layout_t layout = H5Pget_layout(plist);
    if (layout == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK];
        int rank = H5Pget_chunk(plist, H5S_MAX_RANK, chunk);
        fputs(", chunks ", out);
        print_dims(out, chunk, rank);
    } else {
        fputs(layout == H5D_COMPACT ? ", compact" : ", contiguous", out);
    }
    int nfilters = H5Pget_nfilters(plist);
    fputs(nfilters > 0 ? ", filters " : ", no filters", out);
    for (int k = 0; k < nfilters; k++) {
        unsigned flags, config;
        size_t nvalues = 0;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(plist, (unsigned)k, &flags, &nvalues, NULL, sizeof name, name, &config);
        fprintf(out, k ? "+%s" : "%s", name[0] ? name : "?");
        if (!name[0]) fprintf(out, "(id %d)", (int)id);
    }
    H5Pclose(plist);
}

static int describe_dataset(describe_ctx *c, hid_t dset, const char *name) {
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
    char tname[32];
    h5_type_name(type, tname, sizeof tname);
    int is_float = h5_type_is_plain(type, H5T_FLOAT);
    H5Tclose(type);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK] = {0};
    if (rank > 0) H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    fprintf(c->out, "  /%s: %s ", name, tname);
    if (rank == 0) fputs("scalar", c->out);
    else print_dims(c->out, dims, rank);
    print_layout(c->out, dset);
    if (is_float) {
        int64_t nans, infs;
        int rc = count_nonfinite(dset, rank, dims, &nans, &infs);
        if (rc > 0) {
            fputc('\n', c->out);
            return mhim_fail("%s: cannot read dataset '%s' (truncated or corrupt file?)", c->path, name);
        }
        if (rc < 0) fputs(", NaN/Inf not counted (rows too wide)", c->out);
        else fprintf(c->out, ", NaN %lld, Inf %lld", (long long)nans, (long long)infs);
    }
    fputc('\n', c->out);
    return MHIM_OK;
}

static herr_t describe_link(hid_t root, const char *name, const H5L_info_t *info, void *data) {
    describe_ctx *c = data;
    if (info->type != H5L_TYPE_HARD) {
        fprintf(c->out, "  /%s: %s link\n", name, info->type == H5L_TYPE_SOFT ? "soft" : "external");
        return 0;
    }
    hid_t object = H5Oopen(root, name, H5P_DEFAULT);
    if (object < 0) {
        c->rc = mhim_fail("%s: cannot open object '%s' (corrupt file?)", c->path, name);
        return -1;
    }
    H5I_type_t kind = H5Iget_type(object);
    if (kind == H5I_DATASET) c->rc = describe_dataset(c, object, name);
    else fprintf(c->out, "  /%s/: %s\n", name, kind == H5I_GROUP ? "group" : "named datatype");
    if (!c->rc) H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attribute, c);
    H5Oclose(object);
    return c->rc ? -1 : 0;
}

int h5_describe(const char *path, FILE *out) {
    hid_t file;
    int rc = h5_open_file(path, &file);
    if (rc) return rc;
    describe_ctx c = {path, out, MHIM_OK};
    fprintf(out, "%s: HDF5\n", path);
    H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, NULL, print_attribute, &c);
    if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, describe_link, &c) < 0 && !c.rc)
        c.rc = mhim_fail("%s: cannot list the objects of the file (corrupt file?)", path);
    H5Fclose(file);
    return c.rc;
}
