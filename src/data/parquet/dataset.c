/* Hive-partitioned Parquet folders: list files recursively (sorted) and turn
 * `key=value` folders into partition keys. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tickinfer/parquet.h"

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static void strvec_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int has_parquet_ext(const char *name)
{
    static const char *const exts[] = {".parquet", ".parq", ".pq"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t m = strlen(exts[i]);
        if (n > m && strcmp(name + n - m, exts[i]) == 0) return 1;
    }
    return 0;
}

/* Walk root/rel (rel may be ""), appending relative file paths to out. */
static ti_err walk(const char *root, const char *rel, int depth, strvec *out)
{
    char dir[PATH_MAX];
    if ((size_t)snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel) >= sizeof dir)
        return ti_errorf(TI_ERR_LIMIT, "parquet dataset: path too long under %s", root);
    if (depth > TI_PQ_MAX_DATASET_DEPTH)
        return ti_errorf(TI_ERR_LIMIT, "parquet dataset: %s: folders nested deeper than %d", dir, TI_PQ_MAX_DATASET_DEPTH);
    DIR *d = opendir(dir);
    if (!d) return ti_errorf(errno == ENOENT ? TI_ERR_NOT_FOUND : TI_ERR_IO, "parquet dataset: cannot open folder %s: %s", dir, strerror(errno));
    ti_err e = TI_OK;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '.' || name[0] == '_') continue; /* ".", "..", hidden, _SUCCESS, _metadata */
        char sub[PATH_MAX], full[PATH_MAX];
        if ((size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", name) >= sizeof sub ||
            (size_t)snprintf(full, sizeof full, "%s/%s", root, sub) >= sizeof full) {
            e = ti_errorf(TI_ERR_LIMIT, "parquet dataset: path too long under %s", dir);
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0) continue; /* dangling link or raced away */
        if (S_ISDIR(st.st_mode)) {
            e = walk(root, sub, depth + 1, out);
        } else if (S_ISREG(st.st_mode) && has_parquet_ext(name)) {
            if (out->n >= TI_PQ_MAX_DATASET_FILES) {
                e = ti_errorf(TI_ERR_LIMIT, "parquet dataset: more than %d files under %s", TI_PQ_MAX_DATASET_FILES, root);
                break;
            }
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 64;
                char **v = realloc(out->v, cap * sizeof *v);
                if (!v) {
                    e = ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
                    break;
                }
                out->v = v;
                out->cap = cap;
            }
            if (!(out->v[out->n] = strdup(sub))) e = ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
            else out->n++;
        }
    }
    closedir(d);
    return e;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Copy s[0, n) with %XX escapes decoded (invalid escapes are kept as they are). */
static char *decode_n(const char *s, size_t n)
{
    char *o = malloc(n + 1), *p = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
            *p++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *p++ = s[i];
        }
    }
    *p = 0;
    return o;
}

static ti_err fill_part(ti_parquet_part *part, const char *root, const char *rel)
{
    size_t need = strlen(root) + 1 + strlen(rel) + 1;
    if (!(part->path = malloc(need))) return ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
    snprintf(part->path, need, "%s/%s", root, rel);
    int n = 0;
    for (const char *c = rel; *c; c++) n += *c == '/';
    if (n == 0) return TI_OK;
    part->keys = calloc((size_t)n, sizeof *part->keys);
    part->values = calloc((size_t)n, sizeof *part->values);
    if (!part->keys || !part->values) return ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
    for (const char *c = rel; *c;) {
        const char *slash = strchr(c, '/');
        if (!slash) break; /* the file name itself */
        const char *eq = memchr(c, '=', (size_t)(slash - c));
        if (eq && eq > c) {
            char *k = decode_n(c, (size_t)(eq - c)), *v = decode_n(eq + 1, (size_t)(slash - eq - 1));
            if (!k || !v) {
                free(k);
                free(v);
                return ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
            }
            part->keys[part->n_keys] = k;
            part->values[part->n_keys++] = v;
        }
        c = slash + 1;
    }
    return TI_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

ti_err ti_parquet_list_dataset(const char *dir, ti_parquet_part **parts, size_t *n_parts)
{
    if (!dir || !parts || !n_parts) return ti_errorf(TI_ERR_INVALID_ARG, "parquet dataset: NULL argument");
    *parts = NULL;
    *n_parts = 0;
    struct stat st;
    if (stat(dir, &st) != 0)
        return ti_errorf(errno == ENOENT ? TI_ERR_NOT_FOUND : TI_ERR_IO, "parquet dataset: %s: %s", dir, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        ti_parquet_part *p = calloc(1, sizeof *p);
        if (!p || !(p->path = strdup(dir))) {
            free(p);
            return ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
        }
        *parts = p;
        *n_parts = 1;
        return TI_OK;
    }
    /* Strip trailing slashes so paths come out as dir/rel. */
    char root[PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof root) return ti_errorf(TI_ERR_LIMIT, "parquet dataset: path too long: %s", dir);
    memcpy(root, dir, len + 1);
    while (len > 1 && root[len - 1] == '/') root[--len] = 0;
    strvec files = {0};
    ti_err e = walk(root, "", 0, &files);
    if (!e && files.n == 0) e = ti_errorf(TI_ERR_NOT_FOUND, "parquet dataset: no .parquet files under %s", root);
    if (e) {
        strvec_free(&files);
        return e;
    }
    qsort(files.v, files.n, sizeof *files.v, cmp_str);
    ti_parquet_part *p = calloc(files.n, sizeof *p);
    if (!p) e = ti_errorf(TI_ERR_NOMEM, "parquet dataset: out of memory");
    const size_t n = files.n;
    for (size_t i = 0; !e && i < n; i++) e = fill_part(&p[i], strcmp(root, "/") == 0 ? "" : root, files.v[i]);
    strvec_free(&files);
    if (e) {
        ti_parquet_free_parts(p, p ? n : 0);
        return e;
    }
    *parts = p;
    *n_parts = n;
    return TI_OK;
}

void ti_parquet_free_parts(ti_parquet_part *parts, size_t n)
{
    if (!parts) return;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < parts[i].n_keys; k++) {
            free(parts[i].keys[k]);
            free(parts[i].values[k]);
        }
        free(parts[i].keys);
        free(parts[i].values);
        free(parts[i].path);
    }
    free(parts);
}

const char *ti_parquet_part_value(const ti_parquet_part *part, const char *key)
{
    if (!part || !key) return NULL;
    for (int k = 0; k < part->n_keys; k++)
        if (strcmp(part->keys[k], key) == 0) return part->values[k];
    return NULL;
}
