/* The automatic memory budget's inputs (mhim/memavail.h): MemAvailable and cgroup parsing on fixed texts, the
 * ranks-per-node variables, and a plausible reading of this machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/memavail.h"

static int eq(const char *name, int64_t got, int64_t want) {
    if (got != want) printf("  %s: got %lld, want %lld\n", name, (long long)got, (long long)want);
    return check_true(name, got == want);
}

int main(void) {
    int fails = 0;
    const char *meminfo = "MemTotal:       24684132 kB\nMemFree:        18900104 kB\n"
                          "MemAvailable:   24115316 kB\nBuffers:          123 kB\n";
    fails += eq("MemAvailable in bytes", mhim_meminfo_available(meminfo), 24115316LL * 1024);
    fails += eq("no MemAvailable line", mhim_meminfo_available("MemTotal: 5 kB\n"), 0);
    fails += eq("v2 limit minus usage", mhim_cgroup_room("8589934592\n", "1073741824\n"), 7516192768LL);
    fails += eq("v2 unlimited", mhim_cgroup_room("max\n", "1073741824\n"), INT64_MAX);
    fails += eq("v1 unlimited (2^63 rounded to pages)", mhim_cgroup_room("9223372036854771712\n", "5\n"), INT64_MAX);
    fails += eq("usage at the limit", mhim_cgroup_room("1000\n", "1200\n"), 0);
    fails += eq("unreadable usage: the limit", mhim_cgroup_room("1000\n", NULL), 1000);
    fails += eq("garbage limit: no limit", mhim_cgroup_room("lots\n", "1\n"), INT64_MAX);

    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    unsetenv("MPI_LOCALNRANKS");
    unsetenv("SLURM_NTASKS_PER_NODE");
    fails += eq("no launcher: one rank", mhim_ranks_on_node(), 1);
    setenv("SLURM_NTASKS_PER_NODE", "4(x2)", 1);
    fails += eq("SLURM_NTASKS_PER_NODE leading number", mhim_ranks_on_node(), 4);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
    fails += eq("Open MPI's local size first", mhim_ranks_on_node(), 2);

    const int64_t avail = mhim_memory_available();
    printf("  this machine: %.2f GiB available to this process\n", avail / 1073741824.0);
    fails += check_true("this Linux machine reports between 16 MiB and 64 TiB", avail > (16LL << 20) && avail < (64LL << 40));
    return fails ? 1 : 0;
}
