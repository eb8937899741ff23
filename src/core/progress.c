/* Progress reporting on stderr; see include/tickinfer/progress.h.
 *
 * ti_progress_add is called from worker threads, so the counter is atomic and the
 * decision to print is cheap: on a TTY at most one redraw per 100 ms (claimed with a
 * CAS on the last-draw time), elsewhere one line per new tenth of the total.  Drawing
 * itself happens under a mutex, re-reading the counter there, so lines never go
 * backwards.  Each line is one write(2), not stdio, so it does not interleave with
 * buffered output. */
#include "tickinfer/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickinfer/clock.h"

#define REDRAW_NS 100000000ull          /* TTY: 10 redraws a second at most */
#define UNKNOWN_TOTAL_NS 10000000000ull /* no TTY, no total: a line every 10 s */
#define BAR_WIDTH 20

struct ti_progress {
    char label[32], unit[24], note[64];
    uint64_t total;
    uint64_t t0_ns;
    int enabled, tty;
    _Atomic uint64_t done;
    _Atomic uint64_t last_ns;  /* last draw (TTY, unknown total) */
    _Atomic int tenth;         /* last tenth printed (no TTY) */
    pthread_mutex_t lock;      /* guards note and drawing */
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void put(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return; /* progress output is best effort */
        s += w;
        n -= (size_t)w;
    }
}

static void fmt_duration(char *out, size_t cap, double s)
{
    if (!(s >= 0) || s > 1e8) snprintf(out, cap, "?");
    else if (s < 10) snprintf(out, cap, "%.1fs", s);
    else if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* printf into buf[*len..cap), clamping *len at cap - 1 on truncation. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len = *len + (size_t)n >= cap ? cap - 1 : *len + (size_t)n;
}

/* "31/60" or "31" when the total is unknown. */
static void append_count(const ti_progress *p, char *buf, size_t cap, size_t *len, uint64_t done)
{
    if (p->total > 0) append(buf, cap, len, "%llu/%llu %s", (unsigned long long)done, (unsigned long long)p->total, p->unit);
    else append(buf, cap, len, "%llu %s", (unsigned long long)done, p->unit);
}

/* Append the status text (no line ending) for `done` items at time `now`.  Caller
 * holds p->lock (the note). */
static void compose(const ti_progress *p, char *buf, size_t cap, size_t *len, uint64_t done, uint64_t now, int with_bar)
{
    double el = (double)(now - p->t0_ns) * 1e-9;
    double rate = el > 0 ? (double)done / el : 0;
    append(buf, cap, len, with_bar ? "%-8s " : "%s: ", p->label);
    if (p->total > 0) {
        uint64_t shown = done < p->total ? done : p->total;
        double frac = (double)shown / (double)p->total;
        if (with_bar) {
            char bar[BAR_WIDTH + 1];
            int filled = (int)(frac * BAR_WIDTH);
            for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
            bar[BAR_WIDTH] = '\0';
            append(buf, cap, len, "[%s] ", bar);
        }
        append(buf, cap, len, "%3d%% ", (int)(frac * 100));
        append_count(p, buf, cap, len, done);
        char eta[16];
        fmt_duration(eta, sizeof eta, rate > 0 ? (double)(p->total - shown) / rate : -1);
        append(buf, cap, len, "  %.1f %s/s  ETA %s", rate, p->unit, eta);
    } else {
        append_count(p, buf, cap, len, done);
        append(buf, cap, len, "  %.1f %s/s", rate, p->unit);
    }
    if (p->note[0]) append(buf, cap, len, "  %s", p->note);
}

ti_progress *ti_progress_start(const char *label, const char *unit, uint64_t total)
{
    ti_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    copy_str(p->label, sizeof p->label, label);
    copy_str(p->unit, sizeof p->unit, unit && *unit ? unit : "items");
    p->total = total;
    p->t0_ns = ti_now_ns();
    const char *env = getenv("TI_PROGRESS");
    p->enabled = !(env && strcmp(env, "0") == 0);
    p->tty = isatty(STDERR_FILENO);
    atomic_init(&p->done, 0);
    atomic_init(&p->last_ns, p->t0_ns);
    atomic_init(&p->tenth, 0);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

/* One line: "\r<status>ESC[K" on a TTY (ESC[K clears the rest of a longer previous
 * line), "<status>\n" elsewhere.  Caller holds p->lock. */
static void draw(ti_progress *p, uint64_t now)
{
    char buf[512];
    size_t len = 0;
    if (p->tty) buf[len++] = '\r';
    compose(p, buf, sizeof buf - 4, &len, atomic_load(&p->done), now, p->tty);
    if (p->tty) {
        memcpy(buf + len, "\x1b[K", 3);
        len += 3;
    } else {
        buf[len++] = '\n';
    }
    put(buf, len);
}

void ti_progress_add(ti_progress *p, uint64_t n)
{
    if (!p) return;
    uint64_t done = atomic_fetch_add(&p->done, n) + n;
    if (!p->enabled) return;
    if (p->tty || p->total == 0) {
        uint64_t now = ti_now_ns();
        uint64_t last = atomic_load_explicit(&p->last_ns, memory_order_relaxed);
        uint64_t gap = p->tty ? REDRAW_NS : UNKNOWN_TOTAL_NS;
        if (now - last < gap || !atomic_compare_exchange_strong(&p->last_ns, &last, now)) return;
        pthread_mutex_lock(&p->lock);
        draw(p, now);
        pthread_mutex_unlock(&p->lock);
        return;
    }
    /* No TTY: a line for each new tenth, 10%..90% (the final line covers 100%). */
    int t = done >= p->total ? 10 : (int)((double)done * 10.0 / (double)p->total);
    if (t > 9) t = 9;
    if (t <= atomic_load_explicit(&p->tenth, memory_order_relaxed)) return;
    pthread_mutex_lock(&p->lock);
    uint64_t d = atomic_load(&p->done);
    int now_t = d >= p->total ? 9 : (int)((double)d * 10.0 / (double)p->total);
    if (now_t > atomic_load(&p->tenth)) {
        atomic_store(&p->tenth, now_t);
        draw(p, ti_now_ns());
    }
    pthread_mutex_unlock(&p->lock);
}

void ti_progress_set_note(ti_progress *p, const char *note)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    copy_str(p->note, sizeof p->note, note);
    pthread_mutex_unlock(&p->lock);
}

void ti_progress_finish(ti_progress *p)
{
    if (!p) return;
    if (p->enabled) {
        uint64_t now = ti_now_ns();
        uint64_t done = atomic_load(&p->done);
        double el = (double)(now - p->t0_ns) * 1e-9;
        char dur[16], buf[512];
        fmt_duration(dur, sizeof dur, el);
        size_t len = 0;
        pthread_mutex_lock(&p->lock);
        append(buf, sizeof buf - 4, &len, "%s%s: ", p->tty ? "\r" : "", p->label);
        append_count(p, buf, sizeof buf - 4, &len, done);
        append(buf, sizeof buf - 4, &len, " done in %s (%.1f %s/s)", dur, el > 0 ? (double)done / el : 0.0, p->unit);
        if (p->note[0]) append(buf, sizeof buf - 4, &len, "  %s", p->note);
        pthread_mutex_unlock(&p->lock);
        if (p->tty) {
            memcpy(buf + len, "\x1b[K", 3);
            len += 3;
        }
        buf[len++] = '\n';
        put(buf, len);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}
