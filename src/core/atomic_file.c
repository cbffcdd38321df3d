/* Atomic file replacement: temp file in the same folder, fsync, rename, fsync the folder
 * (see mhim/atomic_file.h). */
#include "mhim/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mhim/common.h"

struct mhim_atomic_file {
    char *path, *temp;
    FILE *stream;
};

static atomic_uint temp_counter;

/* Status for an errno from creating a file: a missing or read-only folder is the user's input. */
static int open_status(int err) {
    return err == ENOENT || err == ENOTDIR || err == EACCES || err == EPERM || err == EROFS || err == EISDIR ||
                   err == ENAMETOOLONG
               ? MHIM_EINPUT
               : MHIM_EINTERNAL;
}

int mhim_atomic_open(const char *path, mhim_atomic_file **out) {
    *out = NULL;
    if (!path || !*path) return mhim_fail("output file: empty path");
    char *temp = NULL;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        free(temp);
        temp = mhim_asprintf("%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&temp_counter, 1));
        fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int err = errno;
        free(temp);
        return mhim_fail_code(open_status(err), "cannot create %s: %s (check that the folder exists and is writable)",
                              path, strerror(err));
    }
    FILE *stream = fdopen(fd, "wb");
    if (!stream) {
        int err = errno;
        close(fd);
        unlink(temp);
        free(temp);
        return mhim_fail_code(MHIM_EINTERNAL, "cannot write %s: %s", path, strerror(err));
    }
    mhim_atomic_file *f = mhim_malloc(sizeof *f);
    f->path = mhim_strdup(path);
    f->temp = temp;
    f->stream = stream;
    *out = f;
    return MHIM_OK;
}

FILE *mhim_atomic_stream(mhim_atomic_file *f) { return f->stream; }

const char *mhim_atomic_temp_path(const mhim_atomic_file *f) { return f->temp; }

static void atomic_free(mhim_atomic_file *f) {
    free(f->path);
    free(f->temp);
    free(f);
}

void mhim_atomic_abort(mhim_atomic_file *f) {
    if (!f) return;
    if (f->stream) fclose(f->stream);
    unlink(f->temp);
    atomic_free(f);
}

/* fsync the file by name: covers data written through other descriptors (libraries writing by name). */
static int fsync_by_name(const char *name) {
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

int mhim_fsync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash == path ? mhim_strdup("/")
                : slash      ? mhim_asprintf("%.*s", (int)(slash - path), path)
                             : mhim_strdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);
    int err = errno;
    if (fd >= 0) close(fd);
    int status = rc == 0 ? MHIM_OK
                         : mhim_fail_code(MHIM_EINTERNAL, "cannot sync folder %s: %s", dir, strerror(err));
    free(dir);
    return status;
}

int mhim_atomic_commit(mhim_atomic_file *f) {
    int failed = ferror(f->stream) != 0;
    int err = failed ? EIO : 0;
    if (fflush(f->stream) != 0 && !failed) failed = 1, err = errno;
    if (!failed && fsync_by_name(f->temp) != 0) failed = 1, err = errno;
    if (fclose(f->stream) != 0 && !failed) failed = 1, err = errno;
    f->stream = NULL;
    if (!failed && rename(f->temp, f->path) != 0) {
        err = errno;
        int status = mhim_fail_code(open_status(err), "cannot replace %s: %s", f->path, strerror(err));
        mhim_atomic_abort(f);
        return status;
    }
    if (failed) {
        mhim_fail_code(MHIM_EINTERNAL, "cannot write %s: %s (disk full?)", f->path, strerror(err));
        mhim_atomic_abort(f);
        return MHIM_EINTERNAL;
    }
    int rc = mhim_fsync_parent_dir(f->path);
    atomic_free(f);
    return rc;
}

int mhim_atomic_write(const char *path, const void *data, size_t n) {
    mhim_atomic_file *f;
    int rc = mhim_atomic_open(path, &f);
    if (rc) return rc;
    if (n > 0 && fwrite(data, 1, n, f->stream) != n) {
        int err = errno;
        mhim_atomic_abort(f);
        return mhim_fail_code(MHIM_EINTERNAL, "cannot write %s: %s", path, strerror(err));
    }
    return mhim_atomic_commit(f);
}
