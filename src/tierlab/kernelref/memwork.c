/* memwork: the kernelref guest's workload, one process per scenario task.
 *
 * Touches anonymous memory page by page as the task's steps say, under the task's
 * mempolicy (set_mempolicy(2)), and reports where its pages are with move_pages(2)
 * (nodes = NULL: query only) as "MW" lines on stdout, one write(2) per line:
 *
 *   MW t=6.06 task=memwork fill@448MiB pages=114688 n0=105316(411MiB) n1=9372(37MiB) absent=0
 *
 * usage: memwork TASK CPUMASK_HEX TOTAL_PAGES STEP...
 *   w:MS                        wait silently (the task's start_s)
 *   p:MODE:NODEMASK_HEX:FLAGS   set_mempolicy(MODE | FLAGS, &mask, 64)
 *   f:OFF:N:WRITE:MS            fill: touch pages OFF..OFF+N-1 once in order (MS > 0: stop then)
 *   s:OFF:N:PASSES:MS:WRITE     scan: sweeps over the pages; PASSES 0 = until MS
 *   i:MS                        idle, holding the memory
 * After the last step: residency of each tenth of the region (decile0..decile9), "end".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L
#define MAX_NODES 64
#define CHUNK 65536L                 /* pages per move_pages call */
#define FILL_REPORT 16384L           /* an MW line every 64 MiB of a fill, as the reference did */
#define MPOL_F_NUMA_BALANCING (1 << 13)

static char *region;
static long total;
static double t0;
static const char *task;
static void *addrs[CHUNK];
static int status[CHUNK];
static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void emit(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && n < (int)sizeof line && write(1, line, n) < 0)
		_exit(3);
}

/* Pages of [lo, hi) per node: move_pages(2) status is the node, or -ENOENT (not present). */
static void report(const char *label, long lo, long hi)
{
	long count[MAX_NODES] = {0}, absent = 0;
	char line[1024];
	int len;

	for (long p = lo; p < hi; p += CHUNK) {
		long n = hi - p < CHUNK ? hi - p : CHUNK;
		for (long i = 0; i < n; i++)
			addrs[i] = region + (p + i) * PAGE;
		if (syscall(SYS_move_pages, 0, n, addrs, NULL, status, 0) != 0) {
			emit("MW error move_pages errno=%d\n", errno);
			absent += n;
			continue;
		}
		for (long i = 0; i < n; i++) {
			if (status[i] >= 0 && status[i] < MAX_NODES)
				count[status[i]]++;
			else
				absent++;
		}
	}
	len = snprintf(line, sizeof line, "MW t=%.2f task=%s %s pages=%ld", now() - t0, task, label, hi - lo);
	for (int i = 0; i < MAX_NODES; i++)
		if (count[i])
			len += snprintf(line + len, sizeof line - len, " n%d=%ld(%ldMiB)", i, count[i],
					count[i] * PAGE >> 20);
	snprintf(line + len, sizeof line - len, " absent=%ld\n", absent);
	emit("%s", line);
}

static void touch(long page, int write)
{
	char *p = region + page * PAGE;
	if (write)
		*(volatile char *)p = 1;
	else
		sink += *(volatile char *)p;
}

static void fill(long off, long n, int write, long ms)
{
	double end = ms > 0 ? now() + ms / 1e3 : 0;
	char label[64];

	for (long i = 0; i < n; i++) {
		touch(off + i, write);
		if ((i + 1) % FILL_REPORT == 0 || i + 1 == n) {
			snprintf(label, sizeof label, "fill@%ldMiB", (i + 1) * PAGE >> 20);
			report(label, off, off + i + 1);
		}
		if (end && (i & 1023) == 0 && now() >= end) {
			report("fill-stopped", off, off + i + 1);
			return;
		}
	}
}

/* Sweeps over the pages (the reference's promote pattern); an MW line about once a second. */
static void scan(long off, long n, long passes, long ms, int write)
{
	double start = now(), end = ms > 0 ? start + ms / 1e3 : 0, next = start + 1;
	long pass = 0;

	report("scan-start", off, off + n);
	for (;;) {
		int stop = 0;
		for (long i = 0; i < n; i++) {
			touch(off + i, write);
			if (end && (i & 4095) == 4095 && now() >= end) {
				stop = 1;
				break;
			}
		}
		pass += !stop;
		double t = now();
		if (t >= next) {
			report("scan", off, off + n);
			next = t + 1;
		}
		if (stop || (passes && pass >= passes) || (end && t >= end))
			break;
	}
	emit("MW task=%s scan passes=%ld\n", task, pass);
	report("scan-end", off, off + n);
}

static void idle(long ms, int quiet)
{
	while (ms > 0) {
		long slice = ms < 5000 ? ms : 5000;     /* a hold line every 5 s, as the reference */
		struct timespec ts = { slice / 1000, (slice % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		ms -= slice;
		if (!quiet)
			report("hold", 0, total);
	}
}

static void policy(int mode, unsigned long mask, int flags)
{
	/* MPOL_DEFAULT takes no nodemask; maxnode 64 covers nodes 0..62 (the kernel reads maxnode - 1 bits) */
	long rc = mode == 0 ? syscall(SYS_set_mempolicy, 0, NULL, 0)
			    : syscall(SYS_set_mempolicy, mode | flags, &mask, 64);
	if (rc != 0) {
		emit("MW error set_mempolicy mode=%d mask=%lx flags=%x errno=%d\n", mode, mask, flags, errno);
		exit(4);
	}
	emit("MW t=%.2f task=%s policy mode=%d mask=%lx flags=%x\n", now() - t0, task, mode, mask, flags);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: memwork TASK CPUMASK_HEX TOTAL_PAGES STEP...\n");
		return 2;
	}
	t0 = now();
	task = argv[1];
	unsigned long cpus = strtoul(argv[2], NULL, 16);
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int c = 0; c < 64; c++)
		if (cpus >> c & 1)
			CPU_SET(c, &set);
	if (cpus && sched_setaffinity(0, sizeof set, &set) != 0)
		emit("MW error sched_setaffinity errno=%d\n", errno);
	total = atol(argv[3]);
	region = mmap(NULL, total * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (region == MAP_FAILED) {
		emit("MW error mmap errno=%d\n", errno);
		return 4;
	}
	/* tierlab models 4 KiB pages only: keep THP (khugepaged too) off this region */
	madvise(region, total * PAGE, MADV_NOHUGEPAGE);

	for (int a = 4; a < argc; a++) {
		char *s = argv[a];
		long v[5] = {0};
		int k = 0;
		for (char *q = s + 2; k < 5 && *q; k++) {
			v[k] = strtol(q, &q, s[0] == 'p' && k == 1 ? 16 : 10);
			if (*q == ':')
				q++;
		}
		switch (s[0]) {
		case 'w': idle(v[0], 1); break;
		case 'p': policy((int)v[0], (unsigned long)v[1], (int)v[2]); break;
		case 'f': fill(v[0], v[1], (int)v[2], v[3]); break;
		case 's': scan(v[0], v[1], v[2], v[3], (int)v[4]); break;
		case 'i': idle(v[0], 0); break;
		default:
			emit("MW error unknown step %s\n", s);
			return 2;
		}
	}
	for (int d = 0; d < 10; d++) {
		char label[16];
		snprintf(label, sizeof label, "decile%d", d);
		report(label, total * d / 10, total * (d + 1) / 10);
	}
	report("end", 0, total);
	return 0;
}
