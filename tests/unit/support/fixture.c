/* HDF5 fixture reader for parity tests (see fixture.h). */
#include "fixture.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/common.h"

struct fixture {
    hid_t file;
    char *path;
    void **arrays; /* handed-out buffers, freed by fixture_close */
    int64_t n_arrays;
};

fixture *fixture_open(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by our own messages */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        printf("FAIL fixture %s: cannot open (missing or not HDF5; regenerate with tests/pytorch/gen_*_fixtures.py)\n",
               path);
        return NULL;
    }
    fixture *f = mhim_calloc(1, sizeof *f);
    f->file = file;
    f->path = mhim_strdup(path);
    return f;
}

int fixture_has(fixture *f, const char *dataset) {
    if (!f) return 0;
    hid_t d = H5Dopen2(f->file, dataset, H5P_DEFAULT);
    if (d < 0) return 0;
    H5Dclose(d);
    return 1;
}

/* Open `dataset` and return its element count via *count and its type class via *cls; -1 on error. */
static hid_t open_dataset(fixture *f, const char *dataset, int64_t *count, H5T_class_t *cls) {
    if (!f) {
        printf("FAIL fixture (not open): dataset '%s' requested\n", dataset);
        return -1;
    }
    hid_t d = H5Dopen2(f->file, dataset, H5P_DEFAULT);
    if (d < 0) {
        printf("FAIL fixture %s: dataset '%s' is missing\n", f->path, dataset);
        return -1;
    }
    hid_t space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    hid_t type = H5Dget_type(d);
    *cls = H5Tget_class(type);
    H5Tclose(type);
    *count = (int64_t)n;
    return d;
}

/* Read the whole of `d` converted to `mem_type` into a fresh buffer owned by `f`. */
static void *read_all(fixture *f, hid_t d, const char *dataset, hid_t mem_type, size_t elem, int64_t n) {
    void *buf = mhim_malloc((size_t)(n > 0 ? n : 1) * elem);
    if (n > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        printf("FAIL fixture %s: dataset '%s' could not be read\n", f->path, dataset);
        free(buf);
        return NULL;
    }
    f->arrays = mhim_realloc(f->arrays, (size_t)(f->n_arrays + 1) * sizeof *f->arrays);
    f->arrays[f->n_arrays++] = buf;
    return buf;
}

float *fixture_f32(fixture *f, const char *dataset, int64_t *count) {
    int64_t n = 0;
    H5T_class_t cls;
    hid_t d = open_dataset(f, dataset, &n, &cls);
    if (d < 0) return NULL;
    float *out = NULL;
    if (cls == H5T_FLOAT || cls == H5T_INTEGER)
        out = read_all(f, d, dataset, H5T_NATIVE_FLOAT, sizeof(float), n);
    else
        printf("FAIL fixture %s: dataset '%s' is not numeric (expected a float array)\n", f->path, dataset);
    H5Dclose(d);
    if (out && count) *count = n;
    return out;
}

int64_t *fixture_i64(fixture *f, const char *dataset, int64_t *count) {
    int64_t n = 0;
    H5T_class_t cls;
    hid_t d = open_dataset(f, dataset, &n, &cls);
    if (d < 0) return NULL;
    int64_t *out = NULL;
    if (cls == H5T_INTEGER)
        out = read_all(f, d, dataset, H5T_NATIVE_INT64, sizeof(int64_t), n);
    else
        printf("FAIL fixture %s: dataset '%s' is not an integer array (write it with an int dtype)\n", f->path,
               dataset);
    H5Dclose(d);
    if (out && count) *count = n;
    return out;
}

double fixture_scalar(fixture *f, const char *name) {
    if (!f) {
        printf("FAIL fixture (not open): scalar '%s' requested\n", name);
        return NAN;
    }
    double value = NAN;
    hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
    if (d >= 0) {
        hid_t space = H5Dget_space(d);
        hssize_t n = H5Sget_simple_extent_npoints(space);
        H5Sclose(space);
        if (n != 1 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0) {
            printf("FAIL fixture %s: '%s' is not a one-element numeric dataset\n", f->path, name);
            value = NAN;
        }
        H5Dclose(d);
        return value;
    }
    /* "attr" on the root group, or "path/to/object/attr" on that group or dataset. */
    const char *slash = strrchr(name, '/');
    char *object = mhim_strdup(slash ? name : ".");
    if (slash) object[slash - name] = '\0';
    const char *attr = slash ? slash + 1 : name;
    if (object[0] && H5Oexists_by_name(f->file, object, H5P_DEFAULT) > 0 &&
        H5Aexists_by_name(f->file, object, attr, H5P_DEFAULT) > 0) {
        hid_t a = H5Aopen_by_name(f->file, object, attr, H5P_DEFAULT, H5P_DEFAULT);
        hid_t space = H5Aget_space(a);
        hssize_t n = H5Sget_simple_extent_npoints(space);
        H5Sclose(space);
        if (n != 1 || H5Aread(a, H5T_NATIVE_DOUBLE, &value) < 0) {
            printf("FAIL fixture %s: attribute '%s' is not a one-element number\n", f->path, name);
            value = NAN;
        }
        H5Aclose(a);
        free(object);
        return value;
    }
    free(object);
    printf("FAIL fixture %s: scalar '%s' is missing (neither a dataset nor an attribute)\n", f->path, name);
    return NAN;
}

int fixture_shape(fixture *f, const char *dataset, int64_t *dims, int max_dims) {
    int64_t n;
    H5T_class_t cls;
    hid_t d = open_dataset(f, dataset, &n, &cls);
    if (d < 0) return -1;
    hid_t space = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank > max_dims) {
        printf("FAIL fixture %s: dataset '%s' has rank %d, more than %d\n", f->path, dataset, rank, max_dims);
        rank = -1;
    } else if (rank > 0) {
        hsize_t ext[H5S_MAX_RANK];
        H5Sget_simple_extent_dims(space, ext, NULL);
        for (int i = 0; i < rank; i++) dims[i] = (int64_t)ext[i];
    }
    H5Sclose(space);
    H5Dclose(d);
    return rank;
}

void fixture_close(fixture *f) {
    if (!f) return;
    for (int64_t i = 0; i < f->n_arrays; i++) free(f->arrays[i]);
    free(f->arrays);
    free(f->path);
    H5Fclose(f->file);
    free(f);
}

float *fixture_f32_n(fixture *f, const char *name, int64_t count) {
    int64_t got = -1;
    float *x = fixture_f32(f, name, &got);
    if (x && got != count) {
        printf("FAIL fixture dataset %s has %lld elements, expected %lld\n", name, (long long)got, (long long)count);
        return NULL;
    }
    return x;
}

int fixture_check(fixture *f, const char *prefix, const char *name, const float *got, int64_t count, double atol,
                  double rtol) {
    float *want = fixture_f32_n(f, name, count);
    if (!want) return 1;
    char label[600];
    snprintf(label, sizeof label, "%s %s", prefix, name);
    return check_close(label, got, want, count, atol, rtol);
}
