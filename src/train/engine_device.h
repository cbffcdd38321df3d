/* train/engine_device.h — the training engine on the GPU (`--device=cuda`, CUDA builds): the student, teacher,
 * gradients and Adam moments live on the device for the whole fold, bags are uploaded once (resident; streamed when
 * they do not fit), and each step runs the GPU network (mhim/cuda_model.h) with the CPU engine's RNG keys. The MHIM
 * mask is still chosen on the CPU from the downloaded teacher map with the same mask code; the kept ids go back up.
 * The host buffers of engine_net are the checkpoint view: engine_device_begin_fold uploads them, and
 * engine_device_download brings them back (epoch ends, stop requests). Nothing is allocated per step.
 * Without CUDA, engine_device_attach refuses with a message and n->dev stays NULL. */
#ifndef MHIM_TRAIN_ENGINE_DEVICE_H
#define MHIM_TRAIN_ENGINE_DEVICE_H

#include "train/engine_internal.h"

/* With cfg->device == "cuda": check that the run is one the GPU engine covers (MHIM-MIL v1 of ABMIL, TransMIL or
 * DSMIL; MHIM_EINPUT naming what is not on the GPU yet and to use --device=cpu otherwise), open the GPU (the
 * node-local rank's) and reserve everything (n->dev set); steps of several bags (--bags_per_step, a data-parallel
 * group opt->dp) also reserve the device step sum, and a group with MHIM_GPU_ALLREDUCE=nccl (NCCL builds) joins an
 * NCCL communicator whose id group rank 0 broadcasts through opt->dp. No-op for --device=cpu. */
int engine_device_attach(engine_net *n, const mhim_config *cfg, const mhim_engine_options *opt, engine_data *d);
void engine_device_detach(engine_net *n);

/* Start of a fold's training: upload student, teacher and Adam moments from the host buffers; with a standardiser
 * the device bags are planned again (their values depend on the fold). */
int engine_device_begin_fold(engine_net *n, const engine_standardizer *z);
/* Host student, teacher and Adam moments = the device copies. */
void engine_device_download(engine_net *n);

/* engine_step_grad on the device: bag ctx->bag (host rows x, uploaded on first use), gradients into the device
 * buffer; the loss values come down once. MHIM_EINPUT when the loss is not finite. */
int engine_device_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                            engine_step_stats *st);
/* Adam (skipping DSMIL's predictor, as the CPU engine) at n->adam.lr with the device gradients of the last bag
 * (summed = 0) or the device step sum (summed = 1), then the EMA. */
void engine_device_step_apply(engine_net *n, int summed, double mm);

/* Steps of several bags (train_step of engine_fold.c, the CPU engine's order): the device step sum = 0, then += each
 * bag's gradients, the group sum, then /= the step's bag count; the gradients never leave the device except for the
 * MPI all-reduce. */
void engine_device_step_begin(engine_net *n);
void engine_device_step_add(engine_net *n);
/* The device step sum and the host floats n->step_grads[total .. total + ENGINE_STEP_EXTRA) (stop flag and stats)
 * summed over the group dp, in place. MPI (default): the step sum is downloaded into n->step_grads, summed with
 * dp->sum_f32 and uploaded. NCCL (MHIM_GPU_ALLREDUCE=nccl): the extras go up and the whole buffer is summed on the
 * device. Returns dp's error code. */
int engine_device_step_allreduce(engine_net *n, const mhim_dp_ops *dp);
void engine_device_step_average(engine_net *n, int count);
/* Device teacher = host n->teacher (after the group's teacher broadcast at an epoch start). */
void engine_device_upload_teacher(engine_net *n);

/* Evaluation: upload params (host, total floats) once, then predict bag `bag` (host rows x) into out->logits and
 * out->max_logits (host). */
void engine_device_set_eval_params(engine_net *n, const float *params);
int engine_device_predict(engine_net *n, int64_t bag, const float *x, int64_t N, const mhim_model_out *out);

#endif
