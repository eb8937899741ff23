/* libtickinfer.so exports exactly the functions include/tickinfer.h declares: the dynamic
 * symbol table (nm -D --defined-only) against the header's declarations, both ways.  Also:
 * every function declaration in the header carries TI_API, the header includes nothing of
 * the project but the types-only tickinfer/err_codes.h, and the installed copies (the
 * stage `make tests` installs into) equal the sources. */
#include <ctype.h>

#include "harness.h"
#include "api_fixture.h"

#define HEADER "include/tickinfer.h"
#define MAX_NAMES 256

typedef struct names {
    int n;
    char v[MAX_NAMES][64];
} names;

static int has(const names *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0) return 1;
    return 0;
}

static void add(names *s, const char *p, size_t len)
{
    if (s->n < MAX_NAMES && len < sizeof s->v[0]) memcpy(s->v[s->n], p, len), s->v[s->n][len] = 0, s->n++;
}

/* The header without comments and preprocessor lines. */
static char *strip(const char *src)
{
    char *o = malloc(strlen(src) + 1), *w = o;
    int bol = 1;
    for (const char *p = src; o && *p;) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') p++;
        } else if (bol && *p == '#') {
            while (*p && *p != '\n') p++;
        } else {
            if (*p == '\n') bol = 1;
            else if (!isspace((unsigned char)*p)) bol = 0;
            *w++ = *p++;
        }
    }
    if (o) *w = 0;
    return o;
}

/* Functions declared: each ';'-terminated statement with '(' must be TI_API; its name is the
 * identifier before the first '('. */
static void header_functions(names *out, const char *text, int *unmarked)
{
    char *s = strip(text);
    *unmarked = 0;
    for (char *st = s; s && *st;) {
        char *end = strchr(st, ';');
        if (!end) break;
        *end = 0;
        char *paren = strchr(st, '(');
        if (paren && !strstr(st, "typedef")) {
            const char *q = paren;
            while (q > st && isspace((unsigned char)q[-1])) q--;
            const char *e = q;
            while (q > st && (isalnum((unsigned char)q[-1]) || q[-1] == '_')) q--;
            if (!strstr(st, "TI_API")) {
                fprintf(stderr, "  declaration without TI_API: %.*s\n", (int)(e - q), q);
                (*unmarked)++;
            }
            add(out, q, (size_t)(e - q));
        }
        st = end + 1;
    }
    free(s);
}

TI_TEST(header_is_self_contained)
{
    char *h = api_slurp(HEADER, NULL);
    TI_CHECK(h != NULL);
    if (!h) return;
    for (const char *p = h; (p = strstr(p, "#include")) != NULL; p++) {
        const char *e = strchr(p, '\n');
        const int len = (int)(e ? e - p : (long)strlen(p));
        const int ok = !strncmp(p, "#include <std", 13) || !strncmp(p, "#include \"tickinfer/err_codes.h\"", 32);
        TI_CHECK_MSG(ok, "tickinfer.h includes %.*s (only <std*.h> and tickinfer/err_codes.h are installed)", len, p);
    }
    free(h);
    /* err_codes.h: types only */
    char *c = api_slurp("include/tickinfer/err_codes.h", NULL);
    TI_CHECK(c != NULL);
    char *cs = c ? strip(c) : NULL;
    TI_CHECK_MSG(cs && !strchr(cs, '(') && !strstr(cs, "#include"), "err_codes.h declares functions or includes");
    free(cs);
    free(c);
}

TI_TEST(exports_equal_header)
{
    char bdir[PATH_MAX], cmd[2 * PATH_MAX + 256], so[PATH_MAX + 32];
    TI_CHECK(api_build_dir(bdir, sizeof bdir) == 0);
    snprintf(so, sizeof so, "%s/libtickinfer.so", bdir);
    TI_CHECK_MSG(access(so, R_OK) == 0, "%s missing: build it with `make all`", so);
    char *h = api_slurp(HEADER, NULL);
    TI_CHECK(h != NULL);
    if (!h || access(so, R_OK) != 0) {
        free(h);
        return;
    }
    static names decl, exp;
    decl.n = exp.n = 0;
    int unmarked = 0;
    header_functions(&decl, h, &unmarked);
    free(h);
    TI_CHECK_MSG(unmarked == 0, "%d declarations in tickinfer.h lack TI_API", unmarked);
    TI_CHECK_MSG(decl.n >= 20 && decl.n <= 32, "tickinfer.h declares %d functions (about 25 expected)", decl.n);

    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", so);
    int rc = -1;
    char *out = api_run(cmd, &rc);
    if (!out || rc != 0) {
        free(out);
        TI_FAILF("nm -D failed on %s (binutils comes with gcc: the build needs it)", so);
        return;
    }
    /* lines "ADDR TYPE NAME"; the linker's own section symbols are not ours */
    static const char *const linker[] = {"_init", "_fini", "__bss_start", "_edata", "_end", NULL};
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char addr[64], type[8], name[256];
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3) continue;
        int skip = 0;
        for (int i = 0; linker[i]; i++) skip |= strcmp(name, linker[i]) == 0;
        if (skip) continue;
        TI_CHECK_MSG(strcmp(type, "T") == 0, "exported %s has type %s (data or weak symbols must stay hidden)", name,
                     type);
        add(&exp, name, strlen(name));
    }
    free(out);
    for (int i = 0; i < exp.n; i++)
        TI_CHECK_MSG(has(&decl, exp.v[i]), "libtickinfer.so exports %s, which tickinfer.h does not declare",
                     exp.v[i]);
    for (int i = 0; i < decl.n; i++)
        TI_CHECK_MSG(has(&exp, decl.v[i]), "tickinfer.h declares %s, which libtickinfer.so does not export",
                     decl.v[i]);
    TI_CHECK(exp.n == decl.n);
    fprintf(stderr, "  %d functions declared, %d exported\n", decl.n, exp.n);
}

TI_TEST(installed_copies_equal_sources)
{
    char bdir[PATH_MAX], p[PATH_MAX + 64];
    TI_CHECK(api_build_dir(bdir, sizeof bdir) == 0);
    static const char *const files[][2] = {{"include/tickinfer.h", "include/tickinfer.h"},
                                           {"include/tickinfer/err_codes.h", "include/tickinfer/err_codes.h"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/stage/%s", bdir, files[i][1]);
        size_t na = 0, nb = 0;
        char *a = api_slurp(files[i][0], &na), *b = api_slurp(p, &nb);
        TI_CHECK_MSG(b != NULL, "%s missing: `make tests` installs into %s/stage", p, bdir);
        TI_CHECK_MSG(a && b && na == nb && memcmp(a, b, na) == 0, "%s differs from %s", p, files[i][0]);
        free(a);
        free(b);
    }
    snprintf(p, sizeof p, "%s/stage/lib/pkgconfig/tickinfer.pc", bdir);
    char *pc = api_slurp(p, NULL);
    TI_CHECK_MSG(pc != NULL, "%s missing", p);
    if (pc) {
        TI_CHECK(strstr(pc, "Libs: -L${libdir} -ltickinfer") != NULL);
        static const char *const priv[] = {"-lmicrohttpd", "-lprotobuf-c", "-lzstd", "-lsnappy", "-lz ",
                                           "-ljansson",    "-lm ",          "-lpthread"};
        for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
            TI_CHECK_MSG(strstr(strstr(pc, "Libs.private:") ? strstr(pc, "Libs.private:") : pc, priv[i]),
                         "tickinfer.pc Libs.private lacks %s", priv[i]);
#ifdef TI_HAVE_CUDA
        TI_CHECK_MSG(strstr(pc, "-lcudart") && strstr(pc, "-lcublas") && strstr(pc, "-ltickinfer_cuda"),
                     "CUDA build: tickinfer.pc Libs.private lacks the CUDA libraries");
#endif
        free(pc);
    }
}

int main(void)
{
    TI_RUN(header_is_self_contained);
    TI_RUN(exports_equal_header);
    TI_RUN(installed_copies_equal_sources);
    return ti_test_summary();
}
