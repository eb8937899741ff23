/* Config: typed getters by dotted path, defaults, type errors naming path and file,
 * parse errors, unknown-key checks with suggestions, loading from a file. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "tickinfer/config.h"
#include "tickinfer/fileio.h"

static const char *k_text =
    "{\"name\": \"tiny\", \"seed\": 42, \"train\": {\"lr\": 0.001, \"epochs\": 1e3, \"half\": 0.5,"
    " \"shuffle\": true, \"sched\": {\"kind\": \"cosine\", \"warmup\": 100}, \"tags\": [1, 2]},"
    " \"big\": 9007199254740993, \"flag\": \"yes\", \"nothing\": null}";

static ti_config *parse_or_null(const char *text)
{
    ti_config *c = NULL;
    TI_CHECK_OK(ti_config_parse(&c, text, strlen(text), "train.json"));
    return c;
}

TI_TEST(getters_read_values_and_defaults)
{
    ti_config *c = parse_or_null(k_text);
    if (!c) return;
    int64_t i = 0;
    double d = 0;
    int b = 0;
    const char *s = NULL;
    TI_CHECK_OK(ti_config_get_int(c, "seed", -1, &i));
    TI_CHECK(i == 42);
    TI_CHECK_OK(ti_config_get_int(c, "train.epochs", -1, &i)); /* 1e3 is a whole real */
    TI_CHECK(i == 1000);
    TI_CHECK_OK(ti_config_get_int(c, "big", -1, &i));
    TI_CHECK(i == 9007199254740993LL); /* exact, not via double */
    TI_CHECK_OK(ti_config_get_int(c, "train.sched.warmup", -1, &i));
    TI_CHECK(i == 100);
    TI_CHECK_OK(ti_config_get_double(c, "train.lr", 1, &d));
    TI_CHECK(d == 0.001);
    TI_CHECK_OK(ti_config_get_double(c, "seed", 1, &d)); /* integers are numbers */
    TI_CHECK(d == 42.0);
    TI_CHECK_OK(ti_config_get_bool(c, "train.shuffle", 0, &b));
    TI_CHECK(b == 1);
    TI_CHECK_OK(ti_config_get_string(c, "train.sched.kind", "x", &s));
    TI_CHECK(s && strcmp(s, "cosine") == 0);
    TI_CHECK_OK(ti_config_get_string(c, "name", NULL, &s));
    TI_CHECK(s && strcmp(s, "tiny") == 0);
    /* Missing keys (and missing parents) give the default. */
    TI_CHECK_OK(ti_config_get_int(c, "train.batch", 64, &i));
    TI_CHECK(i == 64);
    TI_CHECK_OK(ti_config_get_double(c, "model.dropout.p", 0.25, &d));
    TI_CHECK(d == 0.25);
    TI_CHECK_OK(ti_config_get_bool(c, "quiet", 1, &b));
    TI_CHECK(b == 1);
    TI_CHECK_OK(ti_config_get_string(c, "train.sched.name", "dflt", &s));
    TI_CHECK(strcmp(s, "dflt") == 0);
    ti_config_destroy(c);
    ti_config_destroy(NULL);
}

TI_TEST(type_errors_name_path_and_file)
{
    ti_config *c = parse_or_null(k_text);
    if (!c) return;
    int64_t i;
    double d;
    int b;
    const char *s;
    TI_CHECK_ERR(ti_config_get_double(c, "name", 0, &d), TI_ERR_FORMAT, "config train.json: 'name' must be a number, got string");
    TI_CHECK_ERR(ti_config_get_int(c, "train.half", 0, &i), TI_ERR_FORMAT, "'train.half' must be an integer, got 0.5");
    TI_CHECK_ERR(ti_config_get_int(c, "train.lr", 0, &i), TI_ERR_FORMAT, "'train.lr' must be an integer");
    TI_CHECK_ERR(ti_config_get_int(c, "train.tags", 0, &i), TI_ERR_FORMAT, "'train.tags' must be an integer, got array");
    TI_CHECK_ERR(ti_config_get_bool(c, "flag", 0, &b), TI_ERR_FORMAT, "'flag' must be true or false, got string");
    TI_CHECK_ERR(ti_config_get_string(c, "seed", "", &s), TI_ERR_FORMAT, "'seed' must be a string, got integer");
    TI_CHECK_ERR(ti_config_get_string(c, "nothing", "", &s), TI_ERR_FORMAT, "got null");
    TI_CHECK_ERR(ti_config_get_int(c, "train", 0, &i), TI_ERR_FORMAT, "got object");
    /* Walking through a non-object names the prefix. */
    TI_CHECK_ERR(ti_config_get_int(c, "train.lr.x", 0, &i), TI_ERR_FORMAT, "'train.lr' must be an object, got real");
    TI_CHECK_ERR(ti_config_get_int(c, "train..lr", 0, &i), TI_ERR_INVALID_ARG, "empty segment");
    TI_CHECK_ERR(ti_config_get_int(c, "train.", 0, &i), TI_ERR_INVALID_ARG, "ends with");
    TI_CHECK_ERR(ti_config_get_int(c, "seed", 0, NULL), TI_ERR_INVALID_ARG, "NULL");
    ti_config_destroy(c);
}

TI_TEST(parse_errors_are_format_errors)
{
    ti_config *c = NULL;
    const char *bad = "{\"a\": 1,\n \"b\": }";
    TI_CHECK_ERR(ti_config_parse(&c, bad, strlen(bad), "bad.json"), TI_ERR_FORMAT, "config bad.json:2:");
    TI_CHECK(c == NULL);
    TI_CHECK_ERR(ti_config_parse(&c, "[1, 2]", 6, "arr.json"), TI_ERR_FORMAT, "top level must be a JSON object, got array");
    TI_CHECK_ERR(ti_config_parse(&c, "{\"a\": 1, \"a\": 2}", 16, "dup.json"), TI_ERR_FORMAT, "dup.json");
    TI_CHECK_ERR(ti_config_parse(&c, "", 0, "empty.json"), TI_ERR_FORMAT, "empty.json");
    TI_CHECK_ERR(ti_config_parse(&c, "{} trailing", 11, "t.json"), TI_ERR_FORMAT, "t.json");
    /* Length is honoured: the text need not be NUL-terminated. */
    TI_CHECK_OK(ti_config_parse(&c, "{\"a\": 5}garbage", 8, "len.json"));
    int64_t i = 0;
    if (c) TI_CHECK_OK(ti_config_get_int(c, "a", 0, &i));
    TI_CHECK(i == 5);
    ti_config_destroy(c);
}

TI_TEST(check_keys_suggests_closest)
{
    ti_config *c = parse_or_null("{\"train\": {\"lr\": 1, \"epohcs\": 3}, \"model\": {\"dim\": 8, \"xyzzy\": 1}, \"seed\": 1}");
    if (!c) return;
    static const char *const root_keys[] = {"train", "model", "seed", NULL};
    static const char *const train_keys[] = {"lr", "epochs", "batch", NULL};
    static const char *const model_keys[] = {"dim", "layers", "heads", NULL};
    TI_CHECK_OK(ti_config_check_keys(c, "", root_keys));
    TI_CHECK_ERR(ti_config_check_keys(c, "train", train_keys), TI_ERR_FORMAT,
                 "config train.json: unknown key 'train.epohcs' (did you mean 'epochs'?)");
    TI_CHECK_ERR(ti_config_check_keys(c, "model", model_keys), TI_ERR_FORMAT,
                 "unknown key 'model.xyzzy' (allowed: dim, layers, heads)");
    static const char *const few_root[] = {"train", "modl", NULL};
    TI_CHECK_ERR(ti_config_check_keys(c, "", few_root), TI_ERR_FORMAT, "unknown key 'model' (did you mean 'modl'?)");
    TI_CHECK_OK(ti_config_check_keys(c, "optim", train_keys)); /* missing section: nothing unknown */
    TI_CHECK_ERR(ti_config_check_keys(c, "seed", train_keys), TI_ERR_FORMAT, "'seed' must be an object");
    ti_config_destroy(c);
}

TI_TEST(load_from_file)
{
    char dir[] = "/tmp/ti_test_config_XXXXXX";
    TI_CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/run.json", dir);
    TI_CHECK_OK(ti_write_file_atomic(path, k_text, strlen(k_text)));
    ti_config *c = NULL;
    TI_CHECK_OK(ti_config_load(&c, path));
    if (c) {
        double d = 0;
        TI_CHECK_OK(ti_config_get_double(c, "train.lr", 0, &d));
        TI_CHECK(d == 0.001);
        TI_CHECK_ERR(ti_config_get_bool(c, "name", 0, &(int){0}), TI_ERR_FORMAT, path);
        ti_config_destroy(c);
    }
    unlink(path);
    TI_CHECK_ERR(ti_config_load(&c, path), TI_ERR_NOT_FOUND, "run.json");
    rmdir(dir);
}

int main(void)
{
    TI_RUN(getters_read_values_and_defaults);
    TI_RUN(type_errors_name_path_and_file);
    TI_RUN(parse_errors_are_format_errors);
    TI_RUN(check_keys_suggests_closest);
    TI_RUN(load_from_file);
    return ti_test_summary();
}
