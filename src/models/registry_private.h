/* src/models/registry_private.h — the registry's per-network configurations derived from a mhim_model_config, shared
 * with the v2 companion (mhim/v2.h), which binds the same networks to the same layout. */
#ifndef MHIM_MODELS_REGISTRY_PRIVATE_H
#define MHIM_MODELS_REGISTRY_PRIVATE_H

#include "mhim/model.h"
#include "mhim/models/abmil.h"
#include "mhim/models/dsmil.h"
#include "mhim/models/transmil.h"

mhim_abmil_config mhim_registry_abmil_config(const mhim_model_config *c);
mhim_transmil_config mhim_registry_transmil_config(const mhim_model_config *c);
/* DSMIL teacher score: v2 without attn2score = critical-instance attention, else the instance logits. */
mhim_dsmil_config mhim_registry_dsmil_config(const mhim_model_config *c);

#endif
