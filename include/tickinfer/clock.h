/* tickinfer: monotonic clock. */
#ifndef TICKINFER_CLOCK_H
#define TICKINFER_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nanoseconds from CLOCK_MONOTONIC (arbitrary epoch). */
uint64_t ti_now_ns(void);
/* Seconds as a double, same clock. */
double ti_now_s(void);
/* Sleep until ti_now_ns() >= deadline_ns (clock_nanosleep TIMER_ABSTIME). */
void ti_sleep_until_ns(uint64_t deadline_ns);

#ifdef __cplusplus
}
#endif
#endif
