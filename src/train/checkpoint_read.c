/* Reading mhim HDF5 checkpoints (metadata, tensor groups, state arrays) and the format dispatch of
 * mhim_ckpt_load (see mhim/checkpoint.h). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mhim/checkpoint.h"
#include "mhim/common.h"
#include "train/checkpoint_match.h"

int mhim_ckpt_is_h5(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        if (strcasecmp(dot, ".h5") == 0 || strcasecmp(dot, ".hdf5") == 0) return 1;
        if (strcasecmp(dot, ".pt") == 0 || strcasecmp(dot, ".pth") == 0) return 0;
    }
    mhim_fail("%s: unknown checkpoint type (expected .h5/.hdf5 for an mhim checkpoint or .pt/.pth for a PyTorch "
              "state_dict)", path);
    return -1;
}

/* Open an HDF5 file read-only and check the format attributes. */
static int open_checkpoint(const char *path, hid_t *out) {
    *out = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *f = fopen(path, "rb");
    if (!f) return mhim_fail("%s: cannot open the checkpoint (missing or unreadable)", path);
    fclose(f);
    if (H5Fis_hdf5(path) <= 0) return mhim_fail("%s: not an HDF5 file (expected an mhim checkpoint)", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1);
#endif
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (file < 0) return mhim_fail("%s: cannot open as HDF5 (truncated or corrupt checkpoint)", path);
    *out = file;
    return MHIM_OK;
}

/* Heap copy of a string attribute (fixed or variable length), or NULL if absent / not a string. */
static char *read_attr_str(hid_t obj, const char *name) {
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) return NULL;
    hid_t type = H5Aget_type(attr);
    char *out = NULL;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mem, H5Tget_cset(type)); /* HDF5 does not convert between ASCII and UTF-8 */
        if (H5Tis_variable_str(type) > 0) {
            char *vs = NULL;
            H5Tset_size(mem, H5T_VARIABLE);
            if (H5Aread(attr, mem, &vs) >= 0 && vs) {
                out = mhim_strdup(vs);
                H5free_memory(vs);
            }
        } else {
            size_t size = H5Tget_size(type);
            H5Tset_size(mem, size + 1);
            out = mhim_calloc(size + 1, 1);
            if (H5Aread(attr, mem, out) < 0) {
                free(out);
                out = NULL;
            }
        }
        H5Tclose(mem);
    }
    if (type >= 0) H5Tclose(type);
    H5Aclose(attr);
    return out;
}

/* A numeric scalar attribute as int64 / double; 0 if absent or unreadable (then *found = 0). */
static int read_attr_num(hid_t obj, const char *name, hid_t mem, void *value) {
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) return 0;
    hid_t space = H5Aget_space(attr);
    hid_t type = H5Aget_type(attr);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int ok = H5Sget_simple_extent_npoints(space) == 1 && (cls == H5T_INTEGER || cls == H5T_FLOAT) &&
             H5Aread(attr, mem, value) >= 0;
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(attr);
    return ok;
}

static int check_format(hid_t file, const char *path) {
    char *format = read_attr_str(file, "format");
    int is_ours = format && strcmp(format, MHIM_CKPT_FORMAT) == 0;
    free(format);
    if (!is_ours)
        return mhim_fail("%s: not an mhim checkpoint (root attribute format = \"%s\" missing); a feature bag or "
                         "another HDF5 file?", path, MHIM_CKPT_FORMAT);
    int64_t version = 0;
    if (!read_attr_num(file, "format_version", H5T_NATIVE_INT64, &version) || version < 1)
        return mhim_fail("%s: mhim checkpoint without a valid format_version attribute", path);
    if (version > MHIM_CKPT_FORMAT_VERSION)
        return mhim_fail("%s: checkpoint format version %lld is newer than this mhim reads (%d); update mhim", path,
                         (long long)version, MHIM_CKPT_FORMAT_VERSION);
    return MHIM_OK;
}

typedef struct {
    int64_t count;
    char **names;
} name_list;

static void name_list_add(name_list *l, const char *name) {
    l->names = mhim_realloc(l->names, (size_t)(l->count + 1) * sizeof *l->names);
    l->names[l->count++] = mhim_strdup(name);
}

static void name_list_free(name_list *l) {
    for (int64_t i = 0; i < l->count; i++) free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

static herr_t collect_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    name_list_add(data, name);
    return 0;
}

static herr_t collect_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
    name_list_add(data, name);
    return 0;
}

/* Names of the links of a group in creation order (name order when the order is not tracked). */
static void list_group(hid_t group, name_list *l) {
    hsize_t idx = 0;
    if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect_link, l) < 0) {
        name_list_free(l);
        idx = 0;
        H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, l);
    }
}

/* Names of the attributes of obj in creation order (name order when the order is not tracked). */
static void list_attrs(hid_t obj, name_list *l) {
    hsize_t idx = 0;
    if (H5Aiterate2(obj, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect_attr, l) < 0) {
        name_list_free(l);
        idx = 0;
        H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, l);
    }
}

int mhim_ckpt_read_info(const char *path, mhim_ckpt_info *info) {
    memset(info, 0, sizeof *info);
    hid_t file;
    int rc = open_checkpoint(path, &file);
    if (rc != MHIM_OK) return rc;
    rc = check_format(file, path);
    int64_t v = 0;
    if (rc == MHIM_OK) {
        read_attr_num(file, "format_version", H5T_NATIVE_INT64, &v);
        info->format_version = (int)v;
        info->model = read_attr_str(file, "model");
        info->model_config = read_attr_str(file, "model_config");
        info->options_yaml = read_attr_str(file, "options_yaml");
        info->fold = read_attr_num(file, "fold", H5T_NATIVE_INT64, &v) ? (int)v : -1;
        info->epoch = read_attr_num(file, "epoch", H5T_NATIVE_INT64, &v) ? (int)v : -1;
        if (!info->model || !info->model_config || H5Lexists(file, "model", H5P_DEFAULT) <= 0)
            rc = mhim_fail("%s: mhim checkpoint without its model name, model_config or /model group", path);
    }
    if (rc == MHIM_OK) {
        info->has_teacher = H5Lexists(file, "teacher", H5P_DEFAULT) > 0;
        info->has_adam = H5Lexists(file, "adam_m", H5P_DEFAULT) > 0 && H5Lexists(file, "adam_v", H5P_DEFAULT) > 0;
        if (info->has_adam) read_attr_num(file, "adam_step", H5T_NATIVE_INT64, &info->adam_step);
        hid_t g = H5Gopen2(file, "model", H5P_DEFAULT);
        H5G_info_t gi;
        if (g >= 0 && H5Gget_info(g, &gi) >= 0) info->n_tensors = (int64_t)gi.nlinks;
        if (g >= 0) H5Gclose(g);
        if (H5Lexists(file, "metrics", H5P_DEFAULT) > 0) {
            hid_t m = H5Gopen2(file, "metrics", H5P_DEFAULT);
            name_list names = {0};
            if (m >= 0) list_attrs(m, &names);
            info->n_metrics = (int)names.count;
            info->metric_names = names.names;
            info->metric_values = mhim_calloc((size_t)names.count + 1, sizeof *info->metric_values);
            for (int i = 0; i < info->n_metrics; i++)
                read_attr_num(m, info->metric_names[i], H5T_NATIVE_DOUBLE, &info->metric_values[i]);
            if (m >= 0) H5Gclose(m);
        }
    }
    H5Fclose(file);
    if (rc != MHIM_OK) mhim_ckpt_info_free(info);
    return rc;
}

void mhim_ckpt_info_free(mhim_ckpt_info *info) {
    free(info->model);
    free(info->model_config);
    free(info->options_yaml);
    for (int i = 0; i < info->n_metrics; i++) free(info->metric_names[i]);
    free(info->metric_names);
    free(info->metric_values);
    memset(info, 0, sizeof *info);
}

static int read_state(const char *path, const char *name, hid_t mem, void *dst, int64_t n) {
    hid_t file;
    int rc = open_checkpoint(path, &file);
    if (rc != MHIM_OK) return rc;
    rc = check_format(file, path);
    char *link = mhim_asprintf("state/%s", name);
    if (rc == MHIM_OK && (H5Lexists(file, "state", H5P_DEFAULT) <= 0 || H5Lexists(file, link, H5P_DEFAULT) <= 0))
        rc = mhim_fail("%s: no training state '%s' in the checkpoint (written without resume state?)", path, name);
    if (rc == MHIM_OK) {
        hid_t d = H5Dopen2(file, link, H5P_DEFAULT);
        hid_t space = d >= 0 ? H5Dget_space(d) : -1;
        hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
        if (count != (hssize_t)n || H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
            rc = mhim_fail("%s: training state '%s' has %lld values, expected %lld", path, name, (long long)count,
                           (long long)n);
        if (space >= 0) H5Sclose(space);
        if (d >= 0) H5Dclose(d);
    }
    free(link);
    H5Fclose(file);
    return rc;
}

int mhim_ckpt_read_state_i64(const char *path, const char *name, int64_t *dst, int64_t n) {
    return read_state(path, name, H5T_NATIVE_INT64, dst, n);
}

int mhim_ckpt_read_state_f64(const char *path, const char *name, double *dst, int64_t n) {
    return read_state(path, name, H5T_NATIVE_DOUBLE, dst, n);
}

typedef struct {
    hid_t group;
    const char *path, *section;
    char **names; /* dataset names as stored (before "module." stripping) */
} h5_read_ctx;

static int read_h5_tensor(void *vctx, int64_t source, float *dst, int64_t n) {
    h5_read_ctx *ctx = vctx;
    hid_t d = H5Dopen2(ctx->group, ctx->names[source], H5P_DEFAULT);
    herr_t ok = d >= 0 ? H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) : -1;
    if (d >= 0) H5Dclose(d);
    if (ok < 0)
        return mhim_fail("%s: cannot read %s/%s (%lld values; corrupt checkpoint?)", ctx->path, ctx->section,
                         ctx->names[source], (long long)n);
    return MHIM_OK;
}

/* Describe the datasets of `group` as a key set (float datasets are loadable; groups and others are not). */
static void describe_group(hid_t group, const name_list *names, ckpt_keyset *ks) {
    for (int64_t i = 0; i < names->count; i++) {
        int64_t shape[CKPT_MAX_DIMS] = {0};
        int ndim = 0;
        ckpt_key_kind kind = CKPT_KEY_OTHER;
        hid_t d = H5Dopen2(group, names->names[i], H5P_DEFAULT); /* fails for a sub-group: not loadable */
        if (d >= 0) {
            hid_t space = H5Dget_space(d), type = H5Dget_type(d);
            int r = H5Sget_simple_extent_ndims(space);
            if (r >= 0 && r <= CKPT_MAX_DIMS) {
                hsize_t dims[CKPT_MAX_DIMS];
                H5Sget_simple_extent_dims(space, dims, NULL);
                ndim = r;
                for (int k = 0; k < r; k++) shape[k] = (int64_t)dims[k];
                if (H5Tget_class(type) == H5T_FLOAT) kind = CKPT_KEY_FLOAT;
            }
            H5Tclose(type);
            H5Sclose(space);
            H5Dclose(d);
        }
        ckpt_keyset_add(ks, names->names[i], kind, ndim, shape, i);
    }
}

int ckpt_load_h5(const char *path, const mhim_param_layout *L, float *params, const mhim_load_opts *opts,
                 mhim_load_report *report) {
    const char *section = opts && opts->section ? opts->section : "model";
    hid_t file;
    int rc = open_checkpoint(path, &file);
    if (rc != MHIM_OK) return rc;
    rc = check_format(file, path);
    if (rc == MHIM_OK && (strchr(section, '/') || H5Lexists(file, section, H5P_DEFAULT) <= 0)) {
        name_list top = {0};
        list_group(file, &top);
        char listed[256] = "";
        size_t pos = 0;
        for (int64_t i = 0; i < top.count && pos < sizeof listed; i++)
            pos += (size_t)snprintf(listed + pos, sizeof listed - pos, "%s%s", i ? ", " : "", top.names[i]);
        rc = mhim_fail("%s: no group '%s' in the checkpoint (it holds: %s)", path, section, listed);
        name_list_free(&top);
    }
    if (rc == MHIM_OK) {
        hid_t g = H5Gopen2(file, section, H5P_DEFAULT);
        name_list names = {0};
        ckpt_keyset ks = {0};
        if (g < 0) {
            rc = mhim_fail("%s: '%s' is not a group of tensors", path, section);
        } else {
            list_group(g, &names);
            describe_group(g, &names, &ks);
            ckpt_keyset_strip_module(&ks);
            h5_read_ctx ctx = {g, path, section, names.names};
            rc = ckpt_match_load(path, section, &ks, L, params, opts, read_h5_tensor, &ctx, report);
            H5Gclose(g);
        }
        ckpt_keyset_free(&ks);
        name_list_free(&names);
    }
    H5Fclose(file);
    return rc;
}

int mhim_ckpt_load(const char *path, const mhim_param_layout *L, float *params, const mhim_load_opts *opts,
                   mhim_load_report *report) {
    int is_h5 = mhim_ckpt_is_h5(path);
    if (is_h5 < 0) return MHIM_EINPUT;
    return is_h5 ? ckpt_load_h5(path, L, params, opts, report) : ckpt_load_pt(path, L, params, opts, report);
}
