/* Monotonic clock: never goes back, agrees with itself in ns and s, and sleep_until
 * reaches its deadline without oversleeping much. */
#include <stdint.h>

#include "harness.h"
#include "tickinfer/clock.h"

TI_TEST(now_is_monotonic)
{
    uint64_t prev = ti_now_ns();
    int back = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t t = ti_now_ns();
        back += t < prev;
        prev = t;
    }
    TI_CHECK(back == 0);
    double s = ti_now_s();
    TI_CHECK_NEAR(s, (double)ti_now_ns() * 1e-9, 0.01);
}

TI_TEST(sleep_until_reaches_deadline)
{
    uint64_t t0 = ti_now_ns();
    uint64_t deadline = t0 + 20000000; /* 20 ms */
    ti_sleep_until_ns(deadline);
    uint64_t t1 = ti_now_ns();
    TI_CHECK(t1 >= deadline);
    TI_CHECK_MSG(t1 - deadline < 200000000, "overslept by %llu ns", (unsigned long long)(t1 - deadline));
    /* A deadline in the past returns at once. */
    uint64_t t2 = ti_now_ns();
    ti_sleep_until_ns(t0);
    TI_CHECK(ti_now_ns() - t2 < 50000000);
}

int main(void)
{
    TI_RUN(now_is_monotonic);
    TI_RUN(sleep_until_reaches_deadline);
    return ti_test_summary();
}
