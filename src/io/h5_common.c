/* Shared HDF5 helpers (see io/h5_common.h). */
#include "io/h5_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mhim/common.h"

int h5_open_file(const char *path, hid_t *file) {
    *file = H5I_INVALID_HID;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *f = fopen(path, "rb");
    if (!f) return mhim_fail("%s: cannot open: %s", path, strerror(errno));
    int empty = fgetc(f) == EOF;
    fclose(f);
    if (empty) return mhim_fail("%s: file is empty (expected an HDF5 feature file)", path);
    htri_t is_hdf5 = H5Fis_hdf5(path);
    if (is_hdf5 <= 0)
        return mhim_fail("%s: not an HDF5 file (expected a CLAM/TRIDENT .h5 feature file)", path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    H5Pset_file_locking(fapl, 0, 1);
#endif
    *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (*file < 0)
        return mhim_fail("%s: cannot open as HDF5 (truncated or corrupt file; re-copy or re-extract it)", path);
    return MHIM_OK;
}

void h5_type_name(hid_t type, char *buf, size_t size) {
    size_t bytes = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_FLOAT: snprintf(buf, size, "float%zu", 8 * bytes); break;
    case H5T_INTEGER:
        snprintf(buf, size, "%s%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int", 8 * bytes);
        break;
    case H5T_STRING:
        snprintf(buf, size, H5Tis_variable_str(type) > 0 ? "vlen string" : "string[%zu]", bytes);
        break;
    case H5T_COMPOUND: snprintf(buf, size, "compound"); break;
    case H5T_ENUM: snprintf(buf, size, "enum"); break;
    case H5T_ARRAY: snprintf(buf, size, "array"); break;
    case H5T_VLEN: snprintf(buf, size, "vlen"); break;
    case H5T_OPAQUE: snprintf(buf, size, "opaque"); break;
    case H5T_REFERENCE: snprintf(buf, size, "reference"); break;
    case H5T_BITFIELD: snprintf(buf, size, "bitfield"); break;
    default: snprintf(buf, size, "unknown"); break;
    }
}

int h5_type_is_plain(hid_t type, H5T_class_t want_class) {
    size_t size = H5Tget_size(type);
    int size_ok = want_class == H5T_FLOAT ? size == 2 || size == 4 || size == 8
                                          : size == 1 || size == 2 || size == 4 || size == 8;
    return H5Tget_class(type) == want_class && size_ok && H5Tget_precision(type) == 8 * size &&
           H5Tget_offset(type) == 0;
}

typedef struct {
    char *buf;
    size_t size, used;
} name_list;

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    name_list *list = data;
    if (list->used + 1 < list->size) {
        int n = snprintf(list->buf + list->used, list->size - list->used, "%s%s", list->used ? ", " : "", name);
        if (n > 0) list->used = MHIM_MIN(list->used + (size_t)n, list->size - 1);
    }
    return 0;
}

void h5_root_names(hid_t file, char *buf, size_t size) {
    name_list list = {buf, size, 0};
    buf[0] = '\0';
    hsize_t index = 0;
    H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &index, add_name, &list);
}
