/* Open-loop send schedule.  Each intended time is computed from the send index, never
 * by adding a period to the previous time, so rounding cannot accumulate (no drift) and
 * a sender that fell behind still aims at the original times: it sends at once until it
 * has caught up, and latency counts from the intended time (no coordinated omission). */
#include <math.h>

#include "tickinfer/loadgen.h"

ti_err ti_lg_sched_init(ti_lg_sched *s, uint64_t start_ns, double rate)
{
    if (!s || !(rate > 0) || !isfinite(rate) || rate > 1e9)
        return ti_errorf(TI_ERR_INVALID_ARG, "loadgen: open-loop rate must be in (0, 1e9] requests/s");
    s->start_ns = start_ns;
    s->rate = rate;
    return TI_OK;
}

uint64_t ti_lg_sched_at(const ti_lg_sched *s, uint64_t i)
{
    /* long double has a 64-bit mantissa: i * 1e9 is exact for i < 2^34, and the
     * quotient's rounding error stays far below 0.5 ns for i < 2^40. */
    long double off = (long double)i * 1e9L / (long double)s->rate;
    return s->start_ns + (uint64_t)llroundl(off);
}

uint64_t ti_lg_sched_wait(const ti_lg_sched *s, uint64_t i, uint64_t now_ns)
{
    uint64_t at = ti_lg_sched_at(s, i);
    return at > now_ns ? at - now_ns : 0;
}
