/* The "slow" tier of the TransMIL parity fixtures (realistic bag sizes): the same test as test_parity_transmil.c,
 * run on the MANIFEST rows whose tier is "slow". */
#define PARITY_TIER "slow"
#include "test_parity_transmil.c"
