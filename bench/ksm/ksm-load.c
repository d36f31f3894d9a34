/*
 * ksm-load: puts memory images into one anonymous mapping that Linux KSM may merge, for
 * bench/ksm.bench.ts (which compiles this file with `cc -O2` into a temporary directory at bench
 * time; no binary is kept).
 *
 *   ksm-load <image>...
 *
 * Each image is a raw file of whole 4096-byte pages. The images are laid out one after another in
 * a single private anonymous mapping (in argument order, as KSM will scan them), each file read
 * straight into the mapping in 1 MiB read() calls (nothing else is buffered). Then the mapping is
 * advised MADV_MERGEABLE and the helper prints one line on stdout:
 *
 *   ready <pages> <bytes> <address>
 *
 * and waits on stdin. Commands, one per line:
 *
 *   verify   re-read every image and compare it with the mapping (proves KSM's merges kept every
 *            page's content); answers "verified <pages>" or "mismatch <page>"
 *   quit     (or end of stdin) unmap and exit 0
 *
 * It also asks the kernel to kill it if its parent dies, so a killed bench leaves nothing
 * mergeable behind. Errors go to stderr with exit status 1 (bad arguments, I/O) or 2 (mmap or
 * madvise refused).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_BYTES 4096UL
#define CHUNK_BYTES (1UL << 20)

static int read_image(const char *path, unsigned char *into, size_t bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "ksm-load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t done = 0;
	while (done < bytes) {
		size_t want = bytes - done < CHUNK_BYTES ? bytes - done : CHUNK_BYTES;
		ssize_t got = read(fd, into + done, want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ksm-load: %s: read at byte %zu: %s\n", path, done, strerror(errno));
			close(fd);
			return -1;
		}
		if (got == 0) {
			fprintf(stderr, "ksm-load: %s: ended at byte %zu, expected %zu\n", path, done, bytes);
			close(fd);
			return -1;
		}
		done += (size_t)got;
	}
	close(fd);
	return 0;
}

/* Reads exactly `bytes` bytes (fewer only at end of file). Returns the count, or -1. */
static ssize_t read_full(int fd, unsigned char *into, size_t bytes)
{
	size_t done = 0;
	while (done < bytes) {
		ssize_t got = read(fd, into + done, bytes - done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* Compares an image with its place in the mapping, 1 MiB at a time. Returns the first differing
 * page (relative to the image), -1 if equal, -2 on error. */
static long verify_image(const char *path, const unsigned char *at, size_t bytes, unsigned char *buffer)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -2;
	long result = -1;
	size_t done = 0;
	while (done < bytes && result == -1) {
		size_t want = bytes - done < CHUNK_BYTES ? bytes - done : CHUNK_BYTES;
		if (read_full(fd, buffer, want) != (ssize_t)want) {
			result = -2;
			break;
		}
		for (size_t off = 0; off < want; off += PAGE_BYTES) {
			if (memcmp(buffer + off, at + done + off, PAGE_BYTES) != 0) {
				result = (long)((done + off) / PAGE_BYTES);
				break;
			}
		}
		done += want;
	}
	close(fd);
	return result;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ksm-load <image>...\n");
		return 1;
	}
	/* Die with the bench: a SIGKILLed bench must not leave a mergeable process behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;

	int images = argc - 1;
	size_t *sizes = calloc((size_t)images, sizeof *sizes);
	if (!sizes)
		return 1;
	size_t total = 0;
	for (int i = 0; i < images; i++) {
		struct stat st;
		if (stat(argv[i + 1], &st) != 0) {
			fprintf(stderr, "ksm-load: %s: %s\n", argv[i + 1], strerror(errno));
			return 1;
		}
		if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size % PAGE_BYTES != 0) {
			fprintf(stderr, "ksm-load: %s: expected a regular file of whole 4096-byte pages, found %lld bytes\n",
				argv[i + 1], (long long)st.st_size);
			return 1;
		}
		sizes[i] = (size_t)st.st_size;
		total += sizes[i];
	}

	unsigned char *region = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED) {
		fprintf(stderr, "ksm-load: mmap of %zu bytes: %s\n", total, strerror(errno));
		return 2;
	}
	/* 4 KiB pages like the images: KSM would split a transparent huge page anyway. */
	(void)madvise(region, total, MADV_NOHUGEPAGE);

	size_t offset = 0;
	for (int i = 0; i < images; i++) {
		if (read_image(argv[i + 1], region + offset, sizes[i]) != 0)
			return 1;
		offset += sizes[i];
	}
	if (madvise(region, total, MADV_MERGEABLE) != 0) {
		fprintf(stderr, "ksm-load: madvise(MADV_MERGEABLE): %s\n", strerror(errno));
		return 2;
	}
	printf("ready %zu %zu %p\n", total / PAGE_BYTES, total, (void *)region);
	fflush(stdout);

	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "quit", 4) == 0)
			break;
		if (strncmp(line, "verify", 6) == 0) {
			unsigned char *buffer = malloc(CHUNK_BYTES);
			long bad = -1;
			size_t base = 0;
			for (int i = 0; buffer && i < images && bad == -1; i++) {
				long r = verify_image(argv[i + 1], region + base, sizes[i], buffer);
				if (r == -2)
					bad = -2;
				else if (r >= 0)
					bad = (long)(base / PAGE_BYTES) + r;
				base += sizes[i];
			}
			free(buffer);
			if (bad == -1)
				printf("verified %zu\n", total / PAGE_BYTES);
			else if (bad == -2)
				printf("error reading the images\n");
			else
				printf("mismatch %ld\n", bad);
			fflush(stdout);
		}
	}
	munmap(region, total);
	free(sizes);
	return 0;
}
