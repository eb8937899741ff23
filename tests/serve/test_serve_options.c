/* The server option table (src/serve/server_config.c, ti_server_options): every option
 * has a default in range, parses the same from the config file, a flag and its
 * environment variable, shows up in `tickinfer serve --help`, and docs/serving.md holds
 * the table as `tickinfer serve --options-markdown` prints it. */
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_path.h"
#include "harness.h"
#include "tickinfer/fileio.h"
#include "tickinfer/serve.h"

static char g_dir[] = "/tmp/ti_serve_opt_XXXXXX";
static char g_cli[PATH_MAX];

static int find_cli(void) { return ti_test_find_cli(g_cli, sizeof g_cli); }

/* A valid value that is not the default, as text. */
static void other_value(const ti_server_option *o, char *buf, size_t cap)
{
    if (o->type == TI_SERVER_OPT_INT || o->type == TI_SERVER_OPT_BYTES) {
        char hi[32];
        snprintf(hi, sizeof hi, "%lld", (long long)o->hi);
        snprintf(buf, cap, "%lld", (long long)(strcmp(hi, o->def) == 0 ? o->lo : o->hi));
    } else if (o->type == TI_SERVER_OPT_CHOICE) {
        const char *last = strrchr(o->choices, ',');
        snprintf(buf, cap, "%s", last ? last + 1 : o->choices);
    } else {
        snprintf(buf, cap, "alt_%s", o->key);
    }
}

static void unset_all_env(void)
{
    int n;
    const ti_server_option *t = ti_server_options(&n);
    for (int i = 0; i < n; i++) unsetenv(t[i].env);
}

TI_TEST(defaults_are_in_range)
{
    int n;
    const ti_server_option *t = ti_server_options(&n);
    TI_CHECK(n >= 19);
    ti_server_config c, d;
    ti_server_config_default(&c);
    TI_CHECK_OK(ti_server_config_check(&c));
    for (int i = 0; i < n; i++) {
        d = c;
        TI_CHECK_OK(ti_server_config_set(&d, &t[i], t[i].def, NULL));
        TI_CHECK_MSG(memcmp(&c, &d, sizeof c) == 0, "%s: its default text gives another value", t[i].key);
        TI_CHECK(ti_server_option_find(t[i].key) == &t[i] && ti_server_option_find(t[i].flag) == &t[i] &&
                 ti_server_option_find(t[i].env) == &t[i]);
        TI_CHECK(t[i].help && t[i].help[0] && t[i].metavar && t[i].metavar[0]);
        TI_CHECK(strncmp(t[i].flag, "--", 2) == 0 && strncmp(t[i].env, "TICKINFER_", 10) == 0);
        for (int j = 0; j < i; j++)
            TI_CHECK_MSG(strcmp(t[i].key, t[j].key) && strcmp(t[i].flag, t[j].flag) && strcmp(t[i].env, t[j].env),
                         "%s and %s share a name", t[i].key, t[j].key);
    }
    /* the values the server documents */
    TI_CHECK(c.port == 8000 && c.http_threads == 2 && c.max_batch == 32 && c.max_inflight == 256);
    TI_CHECK(c.max_body_bytes == (size_t)64 << 20 && c.max_header_bytes == (size_t)32 << 10);
    TI_CHECK(strcmp(c.host, "127.0.0.1") == 0 && strcmp(c.stream_kv_dtype, "f32") == 0 && c.drain_ms == 10000);
}

TI_TEST(every_option_parses_from_file_flag_and_env)
{
    int n;
    const ti_server_option *t = ti_server_options(&n);
    unset_all_env();
    for (int i = 0; i < n; i++) {
        const ti_server_option *o = &t[i];
        char v[64], json[256], path[300], flag[128];
        other_value(o, v, sizeof v);
        int numeric = o->type == TI_SERVER_OPT_INT || o->type == TI_SERVER_OPT_BYTES;
        snprintf(json, sizeof json, "{\"server\": {\"%s\": %s%s%s}}", o->key, numeric ? "" : "\"", v, numeric ? "" : "\"");
        snprintf(path, sizeof path, "%s/opt.json", g_dir);
        TI_CHECK_OK(ti_write_file_atomic(path, json, strlen(json)));
        ti_server_config def, f, g, e;
        ti_server_config_default(&def);
        f = g = e = def;
        TI_CHECK_OK(ti_server_config_load(&f, path));
        /* --flag V and --flag=V */
        snprintf(flag, sizeof flag, "%s=%s", o->flag, v);
        char prog[] = "serve", fl[64];
        snprintf(fl, sizeof fl, "%s", o->flag);
        char *argv_sep[] = {prog, fl, v, NULL}, *argv_eq[] = {prog, flag, NULL};
        char **argvs[2] = {argv_sep, argv_eq};
        ti_server_config gs[2] = {def, def};
        for (int k = 0; k < 2; k++) {
            int at = 1;
            const ti_server_option *got = NULL;
            TI_CHECK_OK(ti_server_config_flag(&gs[k], k ? 2 : 3, argvs[k], &at, &got));
            TI_CHECK_MSG(got == o && at == (k ? 1 : 2), "%s: flag form %d not taken", o->flag, k);
        }
        g = gs[0];
        TI_CHECK(memcmp(&gs[0], &gs[1], sizeof g) == 0);
        setenv(o->env, v, 1);
        TI_CHECK_OK(ti_server_config_env(&e));
        unsetenv(o->env);
        TI_CHECK_MSG(memcmp(&f, &def, sizeof f) != 0, "%s: the file did not change it", o->key);
        TI_CHECK_MSG(memcmp(&f, &g, sizeof f) == 0, "%s: file and flag disagree", o->key);
        TI_CHECK_MSG(memcmp(&f, &e, sizeof f) == 0, "%s: file and env disagree", o->key);
        TI_CHECK_OK(ti_server_config_check(&f));
    }
    /* size suffixes in text */
    ti_server_config c;
    ti_server_config_default(&c);
    TI_CHECK_OK(ti_server_config_set(&c, ti_server_option_find("max_body_bytes"), "2M", "--max-body-bytes"));
    TI_CHECK(c.max_body_bytes == (size_t)2 << 20);
    TI_CHECK_OK(ti_server_config_set(&c, ti_server_option_find("max_body_bytes"), "8KiB", NULL));
    TI_CHECK(c.max_body_bytes == 8192);
}

TI_TEST(bad_values_name_their_source)
{
    ti_server_config c;
    ti_server_config_default(&c);
    char *argv[] = {"serve", "--port", "70000", "--max-batch", "many", "--max-body-bytes", "1T", "--workers", NULL};
    const ti_server_option *o;
    int i = 1;
    TI_CHECK_ERR(ti_server_config_flag(&c, 8, argv, &i, &o), TI_ERR_RANGE, "serve: --port = 70000 out of range [0, 65535]");
    i = 3;
    TI_CHECK_ERR(ti_server_config_flag(&c, 8, argv, &i, &o), TI_ERR_FORMAT, "serve: --max-batch = 'many' is not a whole number");
    i = 5;
    TI_CHECK_ERR(ti_server_config_flag(&c, 8, argv, &i, &o), TI_ERR_FORMAT, "a byte count");
    i = 7;
    TI_CHECK_ERR(ti_server_config_flag(&c, 8, argv, &i, &o), TI_ERR_INVALID_ARG, "--workers needs a value");
    char *other[] = {"serve", "--nope", "1", NULL};
    i = 1;
    TI_CHECK_OK(ti_server_config_flag(&c, 3, other, &i, &o));
    TI_CHECK(o == NULL && i == 1);
    setenv("TICKINFER_STREAM_KV_DTYPE", "int9", 1);
    TI_CHECK_ERR(ti_server_config_env(&c), TI_ERR_INVALID_ARG, "TICKINFER_STREAM_KV_DTYPE 'int9': use f32, int8, fp8 or int4");
    unsetenv("TICKINFER_STREAM_KV_DTYPE");
    char path[300];
    snprintf(path, sizeof path, "%s/bad.json", g_dir);
    const char *text = "{\"server\": {\"max_header_bytes\": 100}}";
    TI_CHECK_OK(ti_write_file_atomic(path, text, strlen(text)));
    TI_CHECK_ERR(ti_server_config_load(&c, path), TI_ERR_RANGE, "'server.max_header_bytes' = 100 out of range");
    ti_server_config_default(&c);
    c.max_batch = 0;
    ti_server *s = NULL;
    TI_CHECK_ERR(ti_server_create(&s, &c), TI_ERR_INVALID_ARG, "serve: max_batch = 0 out of range [1, 4096]");
}

static char *run_capture(const char *cmd, int *rc)
{
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(cap, 1);
    size_t k;
    while (out && (k = fread(out + n, 1, cap - 1 - n, p)) > 0) n += k;
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

TI_TEST(help_lists_every_option_and_docs_hold_the_table)
{
    if (find_cli() != 0) {
        TI_FAILF("tickinfer CLI not built next to the tests (make all)");
        return;
    }
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "%s serve --help", g_cli);
    int rc = -1;
    char *help = run_capture(cmd, &rc);
    TI_CHECK(help && rc == 0);
    int n;
    const ti_server_option *t = ti_server_options(&n);
    for (int i = 0; help && i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "%s %s ", t[i].flag, t[i].metavar);
        TI_CHECK_MSG(strstr(help, want), "--help lacks '%s'", want);
        snprintf(want, sizeof want, "config server.%s, env %s\n", t[i].key, t[i].env);
        TI_CHECK_MSG(strstr(help, want), "--help lacks '%s'", want);
        snprintf(want, sizeof want, "default %s,", t[i].def[0] ? t[i].def : "none");
        TI_CHECK_MSG(strstr(help, want), "--help lacks '%s' (%s)", want, t[i].key);
        TI_CHECK_MSG(strstr(help, t[i].help), "--help lacks the help of %s", t[i].key);
    }
    free(help);
    /* docs/serving.md holds the table exactly as the CLI prints it */
    snprintf(cmd, sizeof cmd, "%s serve --options-markdown", g_cli);
    char *md = run_capture(cmd, &rc);
    TI_CHECK(md && rc == 0 && strstr(md, "| `port` |"));
    char *mine = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&mine, &mlen);
    ti_server_options_markdown(f);
    fclose(f);
    TI_CHECK(md && mine && strcmp(md, mine) == 0);
    char *doc = NULL;
    size_t dlen = 0;
    TI_CHECK_OK(ti_read_file("docs/serving.md", 1 << 22, &doc, &dlen));
    TI_CHECK_MSG(doc && mine && strstr(doc, mine), "docs/serving.md's options table differs from the option table; "
                                                   "regenerate it with `tickinfer serve --options-markdown`");
    free(doc);
    free(mine);
    free(md);
    /* a bad flag value: exit 2 and the message */
    snprintf(cmd, sizeof cmd, "%s serve --max-batch 0 2>&1", g_cli);
    char *err = run_capture(cmd, &rc);
    TI_CHECK_MSG(rc == 2 && err && strstr(err, "serve: --max-batch = 0 out of range [1, 4096]"), "rc %d: %s", rc,
                 err ? err : "");
    free(err);
}

int main(void)
{
    if (!mkdtemp(g_dir)) return 1;
    TI_RUN(defaults_are_in_range);
    TI_RUN(every_option_parses_from_file_flag_and_env);
    TI_RUN(bad_values_name_their_source);
    TI_RUN(help_lists_every_option_and_docs_hold_the_table);
    char p[300];
    snprintf(p, sizeof p, "%s/opt.json", g_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/bad.json", g_dir);
    unlink(p);
    rmdir(g_dir);
    return ti_test_summary();
}
