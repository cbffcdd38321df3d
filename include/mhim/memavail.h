/* mhim/memavail.h — how much memory this process may still use, for the bag store's automatic budget.
 *
 * Linux only: MemAvailable of /proc/meminfo (free memory plus reclaimable page cache), capped by the room left in
 * the process's memory cgroup, which is how Slurm (`--mem`) and containers limit a job (cgroup v2 memory.max -
 * memory.current, or v1 memory.limit_in_bytes - memory.usage_in_bytes). */
#ifndef MHIM_MEMAVAIL_H
#define MHIM_MEMAVAIL_H

#include <stdint.h>

/* Bytes this process can still allocate: min(MemAvailable, cgroup room); 0 when neither can be read. */
int64_t mhim_memory_available(void);
/* MemAvailable in bytes from the text of /proc/meminfo ("MemAvailable:   1234 kB"); 0 if absent. */
int64_t mhim_meminfo_available(const char *meminfo);
/* Room left in a cgroup from the texts of its limit and usage files ("max" or a byte count); INT64_MAX when
 * unlimited, 0 when the usage reaches the limit. */
int64_t mhim_cgroup_room(const char *limit, const char *usage);
/* Processes of this job on this node: OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS or SLURM_NTASKS_PER_NODE (its
 * leading number), else 1. */
int mhim_ranks_on_node(void);

#endif
