/*
 * stats.h - what the load generator measures with: a log-linear latency
 * histogram (about 1.6 % resolution, microseconds, no allocation), clocks,
 * and the CPU time and memory of a process read from /proc.
 *
 * Not here: anything about WebSockets or the seatmap protocol.
 */
#ifndef SEATMAP_BENCH_STATS_H
#define SEATMAP_BENCH_STATS_H

#include <stdint.h>
#include <sys/types.h>

#define HIST_SUB 64
#define HIST_BUCKETS (2 * HIST_SUB + 57 * HIST_SUB)

typedef struct hist {
    uint64_t count;
    int64_t min, max; /* exact, microseconds */
    double sum;
    uint64_t negative; /* samples below zero, counted as 0 */
    uint64_t b[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
void hist_add(hist *h, int64_t us);
/* Merges src into dst. */
void hist_merge(hist *dst, const hist *src);
/* The value at quantile q (0..1) in microseconds; the exact max for q >= 1. */
int64_t hist_quantile(const hist *h, double q);

/* Unix time in microseconds (CLOCK_REALTIME), and a monotonic clock. */
int64_t now_us(void);
int64_t mono_us(void);

/* CPU time (user + system) of pid in microseconds, or -1. */
int64_t proc_cpu_us(pid_t pid);
/* Resident set size of pid in KiB ("VmRSS"), or -1. field may be "VmHWM". */
long proc_status_kb(pid_t pid, const char *field);
/* This process's CPU time (user + system) in microseconds. */
int64_t self_cpu_us(void);

#endif
