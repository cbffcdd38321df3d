/* Writing an mhim HDF5 checkpoint atomically (layout in mhim/checkpoint.h, docs/checkpoints.md). */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mhim/checkpoint.h"
#include "mhim/common.h"

/* Group with link (and attribute) creation order tracked, so h5ls and h5py list keys in state_dict order. */
static hid_t create_group(hid_t parent, const char *name) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl < 0) return -1;
    hid_t g = -1;
    if (H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0 &&
        H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0)
        g = H5Gcreate2(parent, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

static herr_t write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space >= 0 ? H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    herr_t ok = attr >= 0 ? H5Awrite(attr, mtype, value) : -1;
    if (attr >= 0 && H5Aclose(attr) < 0) ok = -1;
    if (space >= 0) H5Sclose(space);
    return ok;
}

static herr_t write_attr_i64(hid_t obj, const char *name, int64_t v) {
    return write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

/* Scalar variable-length UTF-8 string attribute (h5py reads it as str). */
static herr_t write_attr_str(hid_t obj, const char *name, const char *text) {
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0) return -1;
    herr_t ok = H5Tset_size(type, H5T_VARIABLE);
    if (ok >= 0) ok = H5Tset_cset(type, H5T_CSET_UTF8);
    if (ok >= 0) ok = write_attr(obj, name, type, type, &text);
    H5Tclose(type);
    return ok;
}

/* One dataset of rank ndim (0 = scalar) from memory type mtype, stored as ftype, without timestamps. */
static herr_t write_dataset(hid_t group, const char *name, int ndim, const int64_t *shape, hid_t ftype,
                            hid_t mtype, const void *data) {
    hsize_t dims[MHIM_PARAM_MAX_DIMS > 1 ? MHIM_PARAM_MAX_DIMS : 1];
    for (int d = 0; d < ndim; d++) dims[d] = (hsize_t)shape[d];
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t ok = space < 0 || dcpl < 0 ? -1 : H5Pset_obj_track_times(dcpl, 0);
    hid_t dset = ok >= 0 ? H5Dcreate2(group, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
    if (dset < 0) ok = -1;
    if (ok >= 0) ok = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (dset >= 0 && H5Dclose(dset) < 0) ok = -1;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return ok;
}

/* Group `name` with one float32 dataset per tensor of L, read from buffer. */
static herr_t write_tensors(hid_t file, const char *name, const mhim_param_layout *L, const float *buffer) {
    hid_t g = create_group(file, name);
    herr_t ok = g >= 0 ? 0 : -1;
    for (int64_t i = 0; i < L->count && ok >= 0; i++) {
        const mhim_param_entry *e = &L->entries[i];
        ok = write_dataset(g, e->name, e->ndim, e->shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, buffer + e->offset);
    }
    if (g >= 0 && H5Gclose(g) < 0) ok = -1;
    return ok;
}

static herr_t write_state(hid_t file, const mhim_ckpt_contents *c) {
    hid_t g = create_group(file, "state");
    herr_t ok = g >= 0 ? 0 : -1;
    for (int i = 0; i < c->n_state && ok >= 0; i++) {
        const mhim_ckpt_array *a = &c->state[i];
        int64_t shape[1] = {a->n};
        ok = a->i64 ? write_dataset(g, a->name, 1, shape, H5T_STD_I64LE, H5T_NATIVE_INT64, a->i64)
                    : write_dataset(g, a->name, 1, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, a->f64);
    }
    if (g >= 0 && H5Gclose(g) < 0) ok = -1;
    return ok;
}

static herr_t write_all(hid_t file, const mhim_ckpt_contents *c) {
    herr_t ok = write_attr_str(file, "format", MHIM_CKPT_FORMAT);
    if (ok >= 0) ok = write_attr_i64(file, "format_version", MHIM_CKPT_FORMAT_VERSION);
    if (ok >= 0) ok = write_attr_str(file, "model", c->model);
    if (ok >= 0) ok = write_attr_str(file, "model_config", c->model_config);
    if (ok >= 0 && c->options_yaml) ok = write_attr_str(file, "options_yaml", c->options_yaml);
    if (ok >= 0) ok = write_attr_i64(file, "fold", c->fold);
    if (ok >= 0) ok = write_attr_i64(file, "epoch", c->epoch);
    if (ok >= 0) ok = write_tensors(file, "model", c->layout, c->params);
    if (ok >= 0 && c->teacher) ok = write_tensors(file, "teacher", c->layout, c->teacher);
    if (ok >= 0 && c->adam_m) {
        ok = write_attr_i64(file, "adam_step", c->adam_step);
        if (ok >= 0) ok = write_tensors(file, "adam_m", c->layout, c->adam_m);
        if (ok >= 0) ok = write_tensors(file, "adam_v", c->layout, c->adam_v);
    }
    hid_t metrics = ok >= 0 ? create_group(file, "metrics") : -1;
    if (metrics < 0) ok = -1;
    for (int i = 0; i < c->n_metrics && ok >= 0; i++)
        ok = write_attr(metrics, c->metric_names[i], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &c->metric_values[i]);
    if (metrics >= 0 && H5Gclose(metrics) < 0) ok = -1;
    if (ok >= 0 && c->n_state > 0) ok = write_state(file, c);
    return ok;
}

/* Caller contract checks: everything required is present and every name is a valid HDF5 link name. */
static int check_contents(const char *path, const mhim_ckpt_contents *c) {
    if (!c->model || !c->model_config || !c->layout || !c->params)
        return mhim_fail("%s: checkpoint needs a model name, model configuration, layout and parameters", path);
    if ((c->adam_m == NULL) != (c->adam_v == NULL))
        return mhim_fail("%s: checkpoint needs both Adam moments (m and v) or neither", path);
    for (int i = 0; i < c->n_metrics; i++)
        if (!c->metric_names[i][0] || strchr(c->metric_names[i], '/'))
            return mhim_fail("%s: metric name '%s' must be non-empty and contain no '/'", path, c->metric_names[i]);
    for (int i = 0; i < c->n_state; i++) {
        const mhim_ckpt_array *a = &c->state[i];
        if (!a->name[0] || strchr(a->name, '/') || (a->i64 == NULL) == (a->f64 == NULL) || a->n < 1)
            return mhim_fail("%s: state array '%s' needs a name without '/', n >= 1 and exactly one of i64/f64",
                             path, a->name);
    }
    return MHIM_OK;
}

/* dir = the folder of path ("." when none); returns a heap string. */
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return mhim_strdup(".");
    if (slash == path) return mhim_strdup("/");
    return mhim_asprintf("%.*s", (int)(slash - path), path);
}

static int fsync_path(const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    /* Some file systems refuse fsync on a directory; the rename is still atomic there. */
    if (rc != 0 && (errno == EINVAL || errno == EBADF) && (flags & O_DIRECTORY)) rc = 0;
    close(fd);
    return rc;
}

int mhim_ckpt_write(const char *path, const mhim_ckpt_contents *c) {
    int rc = check_contents(path, c);
    if (rc != MHIM_OK) return rc;
    char *dir = folder_of(path);
    if (access(dir, W_OK) != 0) {
        rc = mhim_fail("%s: cannot write the checkpoint: folder '%s' %s (create it first)", path, dir,
                       errno == ENOENT ? "does not exist" : "is not writable");
        free(dir);
        return rc;
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *tmp = mhim_asprintf("%s/.%s.tmp.%ld", dir, base, (long)getpid());
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    herr_t ok = -1;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE); /* root links and attributes in creation order too */
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (file >= 0) {
        ok = write_all(file, c);
        if (H5Fclose(file) < 0) ok = -1;
    }
    if (ok >= 0 && fsync_path(tmp, O_RDONLY) != 0) ok = -1;
    if (ok >= 0 && rename(tmp, path) != 0) ok = -1;
    if (ok >= 0) {
        fsync_path(dir, O_RDONLY | O_DIRECTORY);
    } else {
        int err = errno;
        unlink(tmp);
        rc = mhim_fail_code(MHIM_EINTERNAL, "%s: cannot write the checkpoint (%s); check free space in '%s'", path,
                            err ? strerror(err) : "HDF5 write error", dir);
    }
    free(tmp);
    free(dir);
    return rc;
}
