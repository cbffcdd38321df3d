/* io/pt_describe.h — human-readable listing of a torch.save archive for `mhim info`. */
#ifndef MHIM_IO_PT_DESCRIBE_H
#define MHIM_IO_PT_DESCRIBE_H

#include <stdio.h>

/* Print every entry of `path` to out: tensors as name, dtype, shape (+ NaN/Inf counts for float tensors),
 * other leaves as name = value. MHIM_EINPUT with one message if the file is rejected or unreadable. */
int pt_describe(const char *path, FILE *out);

#endif
