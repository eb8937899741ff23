/* Monotonic clock; see include/tickinfer/clock.h. */
#include "tickinfer/clock.h"

#include <errno.h>
#include <time.h>

uint64_t ti_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ti_now_s(void) { return (double)ti_now_ns() * 1e-9; }

void ti_sleep_until_ns(uint64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u), .tv_nsec = (long)(deadline_ns % 1000000000u)};
    /* An absolute deadline makes a signal-interrupted sleep resumable without drift. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}
