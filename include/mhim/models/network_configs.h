/* mhim/models/network_configs.h — each network's configuration derived from a mhim_model_config, as the registry
 * builds it; shared with everything that binds the same networks to the same layout (the v2 companion, the engine's
 * teacher, the GPU networks). */
#ifndef MHIM_MODELS_NETWORK_CONFIGS_H
#define MHIM_MODELS_NETWORK_CONFIGS_H

#include "mhim/model.h"
#include "mhim/models/abmil.h"
#include "mhim/models/dsmil.h"
#include "mhim/models/transmil.h"

mhim_abmil_config mhim_registry_abmil_config(const mhim_model_config *c);
mhim_transmil_config mhim_registry_transmil_config(const mhim_model_config *c);
/* DSMIL teacher score: v2 without attn2score = critical-instance attention, else the instance logits. */
mhim_dsmil_config mhim_registry_dsmil_config(const mhim_model_config *c);

#endif
