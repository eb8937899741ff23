/* File helpers: atomic writer, whole-file read, mmap, mkdir -p; see
 * include/tickinfer/fileio.h (CRC-32C is in crc32c.c).
 *
 * The atomic writer's order matters: data is fsynced before the rename so a crash can
 * never expose a renamed-but-empty file, and the directory is fsynced after it so the
 * rename itself survives a crash. */
#include "tickinfer/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_READ_CAP ((size_t)1 << 30)

struct ti_atomic_file {
    int fd;
    int failed;      /* a write failed: commit must not publish the file */
    uint64_t offset; /* bytes written so far */
    char *path, *tmp;
};

static ti_err io_error(const char *what, const char *path, int err)
{
    return ti_errorf(err == ENOENT ? TI_ERR_NOT_FOUND : TI_ERR_IO, "%s %s: %s", what, path, strerror(err));
}

ti_err ti_atomic_open(ti_atomic_file **out, const char *path)
{
    if (!out) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: NULL output pointer");
    *out = NULL;
    if (!path || !*path) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: empty path");
    ti_atomic_file *f = calloc(1, sizeof *f);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    char *dup = strdup(path);
    if (!f || !tmp || !dup) {
        free(f);
        free(tmp);
        free(dup);
        return ti_errorf(TI_ERR_NOMEM, "atomic write %s: out of memory", path);
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    /* O_TRUNC, not O_EXCL: a temp left by a crashed process with our pid is garbage. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        ti_err e = io_error("atomic write: create", tmp, errno);
        free(f);
        free(tmp);
        free(dup);
        return e;
    }
    f->fd = fd;
    f->path = dup;
    f->tmp = tmp;
    *out = f;
    return TI_OK;
}

static ti_err write_all(ti_atomic_file *f, const void *data, size_t len, uint64_t offset, int positional)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = positional ? pwrite(f->fd, p, len, (off_t)offset) : write(f->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            f->failed = 1;
            return io_error("atomic write: write", f->tmp, w < 0 ? errno : EIO);
        }
        p += w;
        len -= (size_t)w;
        offset += (uint64_t)w;
    }
    return TI_OK;
}

ti_err ti_atomic_write(ti_atomic_file *f, const void *data, size_t len)
{
    if (!f) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: NULL file");
    if (len == 0) return TI_OK;
    if (!data) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write %s: NULL data", f->path);
    ti_err e = write_all(f, data, len, 0, 0);
    if (e == TI_OK) f->offset += len;
    return e;
}

uint64_t ti_atomic_offset(const ti_atomic_file *f) { return f ? f->offset : 0; }

ti_err ti_atomic_pad(ti_atomic_file *f, size_t alignment)
{
    if (!f) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: NULL file");
    if (alignment <= 1) return TI_OK;
    static const char zeros[4096];
    uint64_t rem = f->offset % alignment;
    uint64_t pad = rem ? alignment - rem : 0;
    while (pad > 0) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        ti_err e = ti_atomic_write(f, zeros, n);
        if (e) return e;
        pad -= n;
    }
    return TI_OK;
}

ti_err ti_atomic_pwrite(ti_atomic_file *f, const void *data, size_t len, uint64_t offset)
{
    if (!f) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: NULL file");
    if (len == 0) return TI_OK;
    if (!data) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write %s: NULL data", f->path);
    if (offset > f->offset || len > f->offset - offset)
        return ti_errorf(TI_ERR_INVALID_ARG, "atomic write %s: patch of %zu bytes at %llu is past the %llu bytes written",
                         f->path, len, (unsigned long long)offset, (unsigned long long)f->offset);
    return write_all(f, data, len, offset, 1);
}

static void free_file(ti_atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

void ti_atomic_abort(ti_atomic_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    free_file(f);
}

/* fsync the directory holding `path` so a rename into it is durable. */
static ti_err fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: path too long: %s", path);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("atomic write: open directory", dir, errno);
    /* Some file systems cannot fsync a directory (EINVAL); nothing more can be done. */
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL) return io_error("atomic write: fsync directory", dir, err);
    return TI_OK;
}

ti_err ti_atomic_commit(ti_atomic_file *f)
{
    if (!f) return ti_errorf(TI_ERR_INVALID_ARG, "atomic write: NULL file");
    ti_err e = TI_OK;
    if (f->failed) e = ti_errorf(TI_ERR_IO, "atomic write %s: an earlier write failed; not replacing the file", f->path);
    else if (fsync(f->fd) != 0) e = io_error("atomic write: fsync", f->tmp, errno);
    /* close can report a deferred write error (NFS), so its result counts too. */
    int rc = close(f->fd);
    f->fd = -1;
    if (!e && rc != 0) e = io_error("atomic write: close", f->tmp, errno);
    if (!e && rename(f->tmp, f->path) != 0) e = io_error("atomic write: rename to", f->path, errno);
    if (e) {
        ti_atomic_abort(f);
        return e;
    }
    e = fsync_parent(f->path);
    free_file(f);
    return e;
}

ti_err ti_write_file_atomic(const char *path, const void *data, size_t len)
{
    ti_atomic_file *f;
    ti_err e = ti_atomic_open(&f, path);
    if (e) return e;
    e = ti_atomic_write(f, data, len);
    if (e) {
        ti_atomic_abort(f);
        return e;
    }
    return ti_atomic_commit(f);
}

ti_err ti_read_file(const char *path, size_t max_len, char **data, size_t *len)
{
    if (!path || !data || !len) return ti_errorf(TI_ERR_INVALID_ARG, "read: NULL argument");
    *data = NULL;
    *len = 0;
    if (max_len == 0) max_len = DEFAULT_READ_CAP;
    if (max_len > SIZE_MAX - 1) max_len = SIZE_MAX - 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("read", path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ti_err e = io_error("read: stat", path, errno);
        close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ti_errorf(TI_ERR_IO, "read %s: is a directory", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_len) {
        close(fd);
        return ti_errorf(TI_ERR_LIMIT, "read %s: file is %lld bytes, more than the limit of %zu", path, (long long)st.st_size,
                         max_len);
    }
    /* Regular files are usually read in one go; pipes and /proc files (size 0) grow. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    if (cap > max_len + 1) cap = max_len + 1;
    char *buf = malloc(cap);
    size_t n = 0;
    ti_err e = buf ? TI_OK : ti_errorf(TI_ERR_NOMEM, "read %s: out of memory", path);
    while (!e) {
        if (n + 1 == cap) {
            /* Buffer full (one byte stays for the NUL): probe whether the file goes on,
             * so a file that fits exactly costs no reallocation. */
            char extra;
            ssize_t r = read(fd, &extra, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) e = io_error("read", path, errno);
            if (r <= 0) break;
            if (n >= max_len) {
                e = ti_errorf(TI_ERR_LIMIT, "read %s: more than the limit of %zu bytes", path, max_len);
                break;
            }
            size_t ncap = cap > (max_len + 1) / 2 ? max_len + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                e = ti_errorf(TI_ERR_NOMEM, "read %s: out of memory (%zu bytes)", path, ncap);
                break;
            }
            buf = nb;
            cap = ncap;
            buf[n++] = extra;
            continue;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) e = io_error("read", path, errno);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (e) {
        free(buf);
        return e;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TI_OK;
}

/* Empty files cannot be mapped; they get this so data is never NULL. */
static const uint8_t k_empty[1];

ti_err ti_mmap_open(ti_mmap *m, const char *path)
{
    if (!m || !path) return ti_errorf(TI_ERR_INVALID_ARG, "mmap: NULL argument");
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("mmap: open", path, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ti_err e = io_error("mmap: stat", path, errno);
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ti_errorf(TI_ERR_IO, "mmap %s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        m->data = k_empty;
        return TI_OK;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return ti_errorf(TI_ERR_LIMIT, "mmap %s: file too large for the address space", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd); /* the mapping keeps the file alive */
    if (p == MAP_FAILED) return io_error("mmap", path, err);
    m->data = p;
    m->size = (size_t)st.st_size;
    return TI_OK;
}

void ti_mmap_close(ti_mmap *m)
{
    if (!m) return;
    if (m->data && m->data != k_empty) munmap((void *)(uintptr_t)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

ti_err ti_mkdirs(const char *path)
{
    if (!path || !*path) return ti_errorf(TI_ERR_INVALID_ARG, "mkdirs: empty path");
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf) return ti_errorf(TI_ERR_INVALID_ARG, "mkdirs: path too long (%zu bytes)", n);
    memcpy(buf, path, n + 1);
    /* Create each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        if (buf[i - 1] == '/') continue; /* "a//b" */
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            ti_err e = io_error("mkdirs: mkdir", buf, errno);
            return e;
        }
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return ti_errorf(TI_ERR_IO, "mkdirs %s: '%s' exists and is not a directory", path, buf);
        buf[i] = saved;
    }
    return TI_OK;
}
