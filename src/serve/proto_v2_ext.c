/* Two Open Inference Protocol extensions of Triton's, so that Triton tools (perf_analyzer,
 * tritonclient's get_model_config / get_inference_statistics) can drive tickinfer:
 *   model configuration  GET /v2/models/{m}[/versions/{v}]/config: the model as a Triton
 *                        model config (max_batch_size, input/output dims without the batch
 *                        dimension, dynamic batching, instance group);
 *   statistics           GET /v2/models[/{m}[/versions/{v}]]/stats: cumulative counts and
 *                        nanoseconds per model from the server's metrics (success, fail,
 *                        queue, compute).  compute_input / compute_output are not timed
 *                        apart from compute_infer (ns 0), and there is no response cache. */
#include <stdio.h>

#include "model/ensemble/ensemble.h"
#include "serve/serve_internal.h"

ti_err sv_v2_write_model_config(sv_request *r, const sv_model_entry *m)
{
    const ti_server_config *sc = &r->srv->cfg;
    const ti_model_info *c = m->info;
    sv_sbuf *o = &r->out;
    int preferred = sc->preferred_batch > 0 ? sc->preferred_batch : sc->max_batch;
    ti_err e = sv_sbuf_puts(o, "{\"name\":");
    if (!e) e = sv_sbuf_json_str(o, m->name);
    if (!e)
        e = sv_sbuf_printf(o,
                           ",\"platform\":\"tickinfer_%s\",\"backend\":\"tickinfer\","
                           "\"version_policy\":{\"latest\":{\"num_versions\":1}},\"max_batch_size\":%d,"
                           "\"input\":[{\"name\":\"x\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
                           "\"dims\":",
                           c->arch, sc->max_request_rows);
    if (!e) e = sv_write_dims(o, &c->inputs[0], 1); /* Triton's dims leave out the batch */
    if (!e) e = sv_sbuf_puts(o, ",\"optional\":false}],");
    /* TinyRV answers one value per row: dims [1] reshaped to [] (Triton's idiom for [B]). */
    if (!e)
        e = sv_sbuf_puts(o, m->per_step ? "\"output\":[{\"name\":\"y\",\"data_type\":\"TYPE_FP32\",\"dims\":[-1]}],"
                                        : "\"output\":[{\"name\":\"y\",\"data_type\":\"TYPE_FP32\",\"dims\":[1],"
                                          "\"reshape\":{\"shape\":[]}}],");
    if (!e)
        e = sv_sbuf_printf(o,
                           "\"dynamic_batching\":{\"preferred_batch_size\":[%d],\"max_queue_delay_microseconds\":%d,"
                           "\"preserve_ordering\":false},"
                           "\"instance_group\":[{\"name\":\"%s_cpu\",\"kind\":\"KIND_CPU\",\"count\":%d}],"
                           "\"parameters\":{\"context\":{\"string_value\":\"%d\"},"
                           "\"max_batch_per_forward\":{\"string_value\":\"%d\"},"
                           "\"intra_op_threads\":{\"string_value\":\"%d\"},"
                           "\"stream_kv_dtype\":{\"string_value\":\"%s\"}}}",
                           preferred, sc->max_queue_delay_us, m->name, sc->workers_per_model, c->context, sc->max_batch,
                           sc->intra_op_threads, sc->stream_kv_dtype);
    /* An ensemble: Triton's ensemble_scheduling (key = the step model's tensor, value = the
     * ensemble's), inserted before the closing brace. */
    const int n_steps = ti_model_n_members(m->model);
    if (!e && n_steps) {
        o->len--; /* reopen the object */
        e = sv_sbuf_puts(o, ",\"ensemble_scheduling\":{\"step\":[");
        for (int i = 0; !e && i < n_steps; i++) {
            const char *step = NULL;
            ti_model_member(m->model, i, &step);
            e = sv_sbuf_printf(o, "%s{\"model_name\":", i ? "," : "");
            if (!e) e = sv_sbuf_json_str(o, step);
            if (!e) e = sv_sbuf_puts(o, ",\"model_version\":-1,\"input_map\":{\"x\":\"x\"},\"output_map\":{\"y\":");
            if (!e) e = sv_sbuf_json_str(o, ti_ensemble_output_name(m->model, i));
            if (!e) e = sv_sbuf_puts(o, "}}");
        }
        if (!e) e = sv_sbuf_puts(o, "]}}");
    }
    return e;
}

static ti_err write_stat(sv_sbuf *o, const char *key, uint64_t count, uint64_t ns, int last)
{
    return sv_sbuf_printf(o, "\"%s\":{\"count\":%llu,\"ns\":%llu}%s", key, (unsigned long long)count,
                          (unsigned long long)ns, last ? "" : ",");
}

static ti_err write_one(sv_sbuf *o, const sv_metrics *met, const sv_model_entry *m)
{
    const sv_met_model *row = sv_metrics_find(met, m->name);
    uint64_t ok = 0, failed = 0, rows = 0, last = 0, q_ns = 0, c_ns = 0, t_ns = 0;
    if (row) {
        ok = atomic_load(&row->ok), failed = atomic_load(&row->failed), rows = atomic_load(&row->rows);
        last = atomic_load(&row->last_ms), q_ns = atomic_load(&row->queue.sum_ns);
        c_ns = atomic_load(&row->compute.sum_ns), t_ns = atomic_load(&row->total.sum_ns);
    }
    ti_err e = sv_sbuf_puts(o, "{\"name\":");
    if (!e) e = sv_sbuf_json_str(o, m->name);
    if (!e)
        e = sv_sbuf_printf(o,
                           ",\"version\":\"%d\",\"last_inference\":%llu,\"inference_count\":%llu,"
                           "\"execution_count\":%llu,\"inference_stats\":{",
                           m->version, (unsigned long long)last, (unsigned long long)rows,
                           (unsigned long long)sv_dynbatch_executions(m->batcher));
    if (!e) e = write_stat(o, "success", ok, t_ns, 0);
    if (!e) e = write_stat(o, "fail", failed, 0, 0);
    if (!e) e = write_stat(o, "queue", ok, q_ns, 0);
    if (!e) e = write_stat(o, "compute_input", ok, 0, 0);
    if (!e) e = write_stat(o, "compute_infer", ok, c_ns, 0);
    if (!e) e = write_stat(o, "compute_output", ok, 0, 0);
    if (!e) e = write_stat(o, "cache_hit", 0, 0, 0);
    if (!e) e = write_stat(o, "cache_miss", 0, 0, 1);
    if (!e) e = sv_sbuf_puts(o, "},\"batch_stats\":[]");
    /* an ensemble's steps (Triton lists composing models; here each step's count and time) */
    const int n_steps = ti_model_n_members(m->model);
    if (!e && n_steps) e = sv_sbuf_puts(o, ",\"steps\":[");
    for (int i = 0; !e && i < n_steps; i++) {
        const char *step = NULL;
        uint64_t cnt = 0, ns = 0;
        ti_model_member_stats(m->model, i, &step, &cnt, &ns);
        e = sv_sbuf_printf(o, "%s{\"name\":", i ? "," : "");
        if (!e) e = sv_sbuf_json_str(o, step);
        if (!e) e = sv_sbuf_printf(o, ",\"count\":%llu,\"ns\":%llu}", (unsigned long long)cnt, (unsigned long long)ns);
    }
    if (!e && n_steps) e = sv_sbuf_puts(o, "]");
    if (!e) e = sv_sbuf_puts(o, "}");
    return e;
}

ti_err sv_v2_write_model_stats(sv_request *r, const sv_model_entry *one)
{
    sv_sbuf *o = &r->out;
    ti_err e = sv_sbuf_puts(o, "{\"model_stats\":[");
    if (one) {
        if (!e) e = write_one(o, &r->srv->met, one);
    } else {
        sv_registry *reg = &r->srv->reg;
        int k = 0;
        pthread_mutex_lock(&reg->mu); /* entries stay alive while listed */
        for (int i = 0; i < reg->n && !e; i++) {
            if (!reg->slot[i].entry) continue;
            if (k++) e = sv_sbuf_puts(o, ",");
            if (!e) e = write_one(o, &r->srv->met, reg->slot[i].entry);
        }
        pthread_mutex_unlock(&reg->mu);
    }
    if (!e) e = sv_sbuf_puts(o, "]}");
    return e;
}
