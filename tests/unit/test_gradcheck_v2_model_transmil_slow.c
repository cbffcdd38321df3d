/* The TransMIL case of test_gradcheck_v2_model.c (about a minute of CPU: 256 Nyström landmarks per forward). */
#define V2_GRADCHECK_TRANSMIL
#include "test_gradcheck_v2_model.c"
