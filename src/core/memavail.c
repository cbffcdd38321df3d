/* Memory this process may still use (see mhim/memavail.h). */
#include "mhim/memavail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"

int64_t mhim_meminfo_available(const char *meminfo) {
    const char *p = meminfo ? strstr(meminfo, "MemAvailable:") : NULL;
    if (!p) return 0;
    long long kib = strtoll(p + strlen("MemAvailable:"), NULL, 10);
    return kib > 0 && kib < INT64_MAX / 1024 ? (int64_t)kib * 1024 : 0;
}

/* A cgroup file's byte count; INT64_MAX for "max" (v2) or absurd v1 "no limit" values; -1 if not a number. */
static int64_t cgroup_bytes(const char *text) {
    if (!text) return -1;
    while (*text == ' ') text++;
    if (!strncmp(text, "max", 3)) return INT64_MAX;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || v < 0) return -1;
    return v >= INT64_MAX / 2 ? INT64_MAX : (int64_t)v; /* v1 reports "unlimited" as ~2^63 rounded to pages */
}

int64_t mhim_cgroup_room(const char *limit, const char *usage) {
    const int64_t lim = cgroup_bytes(limit), use = cgroup_bytes(usage);
    if (lim < 0 || lim == INT64_MAX) return INT64_MAX;
    if (use < 0) return lim;
    return lim > use ? lim - use : 0;
}

/* The whole (small) text file at path, NUL-terminated, in buf; 0 if it cannot be read. */
static int read_text(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

/* Room in the cgroup at directory dir (v2 file names first, then v1); INT64_MAX if it has no readable limit. */
static int64_t room_in(const char *dir) {
    static const char *const files[][2] = {{"memory.max", "memory.current"},
                                           {"memory.limit_in_bytes", "memory.usage_in_bytes"}};
    char path[4096], limit[64], usage[64];
    for (size_t i = 0; i < MHIM_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        if (!read_text(path, limit, sizeof limit)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, files[i][1]);
        return mhim_cgroup_room(limit, read_text(path, usage, sizeof usage) ? usage : NULL);
    }
    return INT64_MAX;
}

/* Room left in this process's memory cgroup: the smallest over its own directory (from /proc/self/cgroup), each
 * ancestor and, inside containers where that path is not mounted, the cgroup root; INT64_MAX if no limit is found. */
static int64_t cgroup_room(void) {
    char text[4096], dir[4096];
    const int64_t room_v2_root = room_in("/sys/fs/cgroup"), room_v1_root = room_in("/sys/fs/cgroup/memory");
    int64_t room = MHIM_MIN(room_v2_root, room_v1_root);
    if (!read_text("/proc/self/cgroup", text, sizeof text)) return room;
    for (char *line = text, *next; line && *line; line = next) { /* "id:controllers:path" per line */
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *path = strrchr(line, ':'), *ctrl = strchr(line, ':');
        if (!path || !ctrl || path[1] != '/' || path[2] == '\0') continue;
        const int v2 = ctrl + 1 == path, v1_memory = !strncmp(ctrl + 1, "memory:", 7);
        if (!v2 && !v1_memory) continue;
        /* the limit may sit on an ancestor (e.g. Slurm's job level above the step and task levels) */
        const char *base = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        snprintf(dir, sizeof dir, "%s%s", base, path + 1);
        while (strlen(dir) > strlen(base)) {
            const int64_t here = room_in(dir);
            room = MHIM_MIN(room, here);
            *strrchr(dir, '/') = '\0';
        }
    }
    return room;
}

int64_t mhim_memory_available(void) {
    static char meminfo[16384];
    const int64_t avail = read_text("/proc/meminfo", meminfo, sizeof meminfo) ? mhim_meminfo_available(meminfo) : 0;
    const int64_t room = cgroup_room();
    if (avail <= 0) return room == INT64_MAX ? 0 : room;
    return MHIM_MIN(avail, room);
}

int mhim_ranks_on_node(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(vars); i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n >= 1 && n <= 65536) return (int)n;
    }
    return 1;
}
