/* File helpers: CRC-32C (check value, chaining, table vs SSE4.2 on every length and
 * alignment), the atomic writer (commit replaces, abort leaves the target and no temp),
 * whole-file reads with a cap, mmap, mkdir -p. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crc32c_impl.h"
#include "harness.h"
#include "tickinfer/fileio.h"

static char g_dir[64];

static const char *in_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* File content equals the string s. */
static int has_content(const char *path, const char *s)
{
    char *d = NULL;
    size_t n = 0;
    if (ti_read_file(path, 0, &d, &n) != TI_OK) return 0;
    int ok = n == strlen(s) && memcmp(d, s, n) == 0;
    free(d);
    return ok;
}

static void temp_name(char *buf, size_t cap, const char *path)
{
    snprintf(buf, cap, "%s.tmp.%ld", path, (long)getpid());
}

TI_TEST(crc32c_check_value)
{
    const char *s = "123456789";
    TI_CHECK(ti_crc32c(0, s, 9) == 0xE3069283u);
    TI_CHECK(ti_crc32c_sw(0, s, 9) == 0xE3069283u);
    if (ti_crc32c_hw_available()) TI_CHECK(ti_crc32c_hw(0, s, 9) == 0xE3069283u);
    /* Chaining: crc(a ++ b) == crc(crc(a), b). */
    TI_CHECK(ti_crc32c(ti_crc32c(0, s, 4), s + 4, 5) == 0xE3069283u);
    TI_CHECK(ti_crc32c(0x1234u, s, 0) == 0x1234u);
    /* 32 zero bytes: another published vector (RFC 3720 B.4). */
    static const uint8_t zeros[32];
    TI_CHECK(ti_crc32c(0, zeros, 32) == 0x8A9136AAu);
}

TI_TEST(crc32c_hw_matches_table)
{
    if (!ti_crc32c_hw_available()) TI_SKIP("no SSE4.2 on this CPU");
    uint8_t buf[320];
    uint64_t x = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    int bad = 0;
    for (size_t start = 0; start < 8; start++)
        for (size_t len = 0; len <= 300; len++) {
            uint32_t seed = (uint32_t)(len * 2654435761u);
            if (ti_crc32c_sw(seed, buf + start, len) != ti_crc32c_hw(seed, buf + start, len) ||
                ti_crc32c_sw(0, buf + start, len) != ti_crc32c_hw(0, buf + start, len)) {
                if (!bad) TI_FAILF("hw and table differ at start %zu length %zu", start, len);
                bad = 1;
            }
        }
    TI_CHECK(!bad);
}

TI_TEST(atomic_commit_writes_and_replaces)
{
    char path[128], tmp[160];
    in_dir(path, sizeof path, "out.bin");
    temp_name(tmp, sizeof tmp, path);
    TI_CHECK_OK(ti_write_file_atomic(path, "old", 3));
    TI_CHECK(has_content(path, "old"));
    TI_CHECK(!exists(tmp));

    ti_atomic_file *f = NULL;
    TI_CHECK_OK(ti_atomic_open(&f, path));
    if (!f) return;
    TI_CHECK(exists(tmp));
    TI_CHECK(has_content(path, "old")); /* not replaced before commit */
    TI_CHECK_OK(ti_atomic_write(f, "HDR?abc", 7));
    TI_CHECK(ti_atomic_offset(f) == 7);
    TI_CHECK_OK(ti_atomic_pad(f, 8));
    TI_CHECK(ti_atomic_offset(f) == 8);
    TI_CHECK_OK(ti_atomic_pad(f, 8)); /* already aligned: nothing */
    TI_CHECK(ti_atomic_offset(f) == 8);
    TI_CHECK_OK(ti_atomic_write(f, "xy", 2));
    TI_CHECK_OK(ti_atomic_pwrite(f, "!", 1, 3)); /* patch the header */
    TI_CHECK(ti_atomic_offset(f) == 10);
    TI_CHECK_ERR(ti_atomic_pwrite(f, "zz", 2, 9), TI_ERR_INVALID_ARG, "past the 10 bytes");
    TI_CHECK_OK(ti_atomic_commit(f));
    char *d = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_read_file(path, 0, &d, &n));
    TI_CHECK(n == 10 && d && memcmp(d, "HDR!abc\0xy", 10) == 0);
    free(d);
    TI_CHECK(!exists(tmp));
    unlink(path);
}

TI_TEST(atomic_abort_leaves_target_untouched)
{
    char path[128], tmp[160];
    in_dir(path, sizeof path, "keep.txt");
    temp_name(tmp, sizeof tmp, path);
    TI_CHECK_OK(ti_write_file_atomic(path, "precious", 8));
    ti_atomic_file *f = NULL;
    TI_CHECK_OK(ti_atomic_open(&f, path));
    TI_CHECK_OK(ti_atomic_write(f, "garbage that must not land", 26));
    ti_atomic_abort(f);
    TI_CHECK(has_content(path, "precious"));
    TI_CHECK(!exists(tmp));
    ti_atomic_abort(NULL);
    /* Abort with no previous file: nothing appears. */
    char fresh[128];
    in_dir(fresh, sizeof fresh, "never.txt");
    TI_CHECK_OK(ti_atomic_open(&f, fresh));
    ti_atomic_abort(f);
    TI_CHECK(!exists(fresh));
    temp_name(tmp, sizeof tmp, fresh);
    TI_CHECK(!exists(tmp));
    unlink(path);
}

TI_TEST(atomic_open_fails_cleanly)
{
    char path[128];
    in_dir(path, sizeof path, "no/such/dir/x.bin");
    ti_atomic_file *f = (ti_atomic_file *)1;
    TI_CHECK_ERR(ti_atomic_open(&f, path), TI_ERR_NOT_FOUND, "no/such/dir/x.bin.tmp.");
    TI_CHECK(f == NULL);
    TI_CHECK_ERR(ti_write_file_atomic(path, "x", 1), TI_ERR_NOT_FOUND, "");
    TI_CHECK_ERR(ti_atomic_open(&f, ""), TI_ERR_INVALID_ARG, "empty path");
}

TI_TEST(read_file_honours_the_cap)
{
    char path[128];
    in_dir(path, sizeof path, "hundred.bin");
    char data[100];
    for (int i = 0; i < 100; i++) data[i] = (char)('a' + i % 26);
    TI_CHECK_OK(ti_write_file_atomic(path, data, sizeof data));
    char *d = NULL;
    size_t n = 0;
    TI_CHECK_OK(ti_read_file(path, 100, &d, &n)); /* exactly at the cap */
    TI_CHECK(n == 100 && d && memcmp(d, data, 100) == 0 && d[100] == '\0');
    free(d);
    TI_CHECK_ERR(ti_read_file(path, 99, &d, &n), TI_ERR_LIMIT, "hundred.bin");
    TI_CHECK(d == NULL && n == 0);
    /* Files that report size 0 (procfs) are read by growing. */
    TI_CHECK_OK(ti_read_file("/proc/self/status", 0, &d, &n));
    TI_CHECK(n > 10 && d && strncmp(d, "Name:", 5) == 0 && strlen(d) == n);
    free(d);
    TI_CHECK_ERR(ti_read_file("/proc/self/status", 8, &d, &n), TI_ERR_LIMIT, "limit of 8 bytes");
    /* Empty file: an empty string, not NULL. */
    in_dir(path, sizeof path, "empty.bin");
    TI_CHECK_OK(ti_write_file_atomic(path, NULL, 0));
    TI_CHECK_OK(ti_read_file(path, 0, &d, &n));
    TI_CHECK(n == 0 && d && d[0] == '\0');
    free(d);
    in_dir(path, sizeof path, "missing.bin");
    TI_CHECK_ERR(ti_read_file(path, 0, &d, &n), TI_ERR_NOT_FOUND, "missing.bin");
    TI_CHECK_ERR(ti_read_file(g_dir, 0, &d, &n), TI_ERR_IO, "is a directory");
}

TI_TEST(mmap_maps_whole_file)
{
    char path[128];
    in_dir(path, sizeof path, "map.bin");
    uint8_t data[5000];
    for (int i = 0; i < 5000; i++) data[i] = (uint8_t)(i * 7);
    TI_CHECK_OK(ti_write_file_atomic(path, data, sizeof data));
    ti_mmap m;
    TI_CHECK_OK(ti_mmap_open(&m, path));
    TI_CHECK(m.size == 5000 && m.data && memcmp(m.data, data, 5000) == 0);
    TI_CHECK(ti_crc32c(0, m.data, m.size) == ti_crc32c(0, data, sizeof data));
    ti_mmap_close(&m);
    TI_CHECK(m.data == NULL && m.size == 0);
    ti_mmap_close(&m); /* twice is fine */
    in_dir(path, sizeof path, "empty.map");
    TI_CHECK_OK(ti_write_file_atomic(path, "", 0));
    TI_CHECK_OK(ti_mmap_open(&m, path));
    TI_CHECK(m.size == 0 && m.data != NULL);
    ti_mmap_close(&m);
    in_dir(path, sizeof path, "nope.map");
    TI_CHECK_ERR(ti_mmap_open(&m, path), TI_ERR_NOT_FOUND, "nope.map");
    TI_CHECK_ERR(ti_mmap_open(&m, g_dir), TI_ERR_IO, "not a regular file");
}

TI_TEST(mkdirs_creates_parents)
{
    char path[128];
    in_dir(path, sizeof path, "a/b//c/");
    TI_CHECK_OK(ti_mkdirs(path));
    in_dir(path, sizeof path, "a/b/c");
    struct stat st;
    TI_CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    TI_CHECK_OK(ti_mkdirs(path)); /* exists: fine */
    char file[128];
    in_dir(file, sizeof file, "a/file");
    TI_CHECK_OK(ti_write_file_atomic(file, "x", 1));
    in_dir(path, sizeof path, "a/file/sub");
    TI_CHECK_ERR(ti_mkdirs(path), TI_ERR_IO, "not a directory");
    TI_CHECK_ERR(ti_mkdirs(""), TI_ERR_INVALID_ARG, "empty");
    unlink(file);
    in_dir(path, sizeof path, "a/b/c");
    rmdir(path);
    in_dir(path, sizeof path, "a/b");
    rmdir(path);
    in_dir(path, sizeof path, "a");
    rmdir(path);
}

static void cleanup(void)
{
    const char *names[] = {"hundred.bin", "empty.bin", "map.bin", "empty.map"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(in_dir(p, sizeof p, names[i]));
    if (rmdir(g_dir) != 0) fprintf(stderr, "  note: %s not empty after the tests\n", g_dir);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ti_test_fileio_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    TI_RUN(crc32c_check_value);
    TI_RUN(crc32c_hw_matches_table);
    TI_RUN(atomic_commit_writes_and_replaces);
    TI_RUN(atomic_abort_leaves_target_untouched);
    TI_RUN(atomic_open_fails_cleanly);
    TI_RUN(read_file_honours_the_cap);
    TI_RUN(mmap_maps_whole_file);
    TI_RUN(mkdirs_creates_parents);
    cleanup();
    return ti_test_summary();
}
