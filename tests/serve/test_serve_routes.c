/* The route table (src/serve/routes.c) without a server: what each method + URL routes to
 * (endpoint, captures), 404 / 405 (with Allow), HEAD on GET routes; the table and
 * docs/openapi.json list the same operations; and only server.c talks to libmicrohttpd. */
#include <dirent.h>
#include <jansson.h>

#include "harness.h"
#include "serve/serve_internal.h"
#include "tickinfer/fileio.h"

static sv_request g_r;

static int route(const char *method, const char *url)
{
    sv_request_reset(&g_r);
    g_r.in.method = strcmp(method, "GET") == 0    ? SV_GET
                    : strcmp(method, "HEAD") == 0   ? SV_HEAD
                    : strcmp(method, "POST") == 0   ? SV_POST
                    : strcmp(method, "DELETE") == 0 ? SV_DELETE
                                                    : SV_METHOD_OTHER;
    g_r.in.method_name = method;
    g_r.in.url = url;
    return sv_route_match(&g_r);
}

static const char *header(const char *name)
{
    for (int i = 0; i < g_r.resp.n_headers; i++)
        if (strcmp(g_r.resp.header[i].name, name) == 0) return g_r.resp.header[i].value;
    return NULL;
}

TI_TEST(urls_route_to_endpoints_and_captures)
{
    static const struct {
        const char *method, *url;
        sv_endpoint ep;
        const char *model, *symbol;
        int version;
    } cases[] = {
        {"GET", "/v2", SV_EP_V2_SERVER, "", "", 0},
        {"GET", "//v2/", SV_EP_V2_SERVER, "", "", 0},
        {"HEAD", "/v2/health/live", SV_EP_HEALTH, "", "", 0},
        {"GET", "/v2/health/ready", SV_EP_HEALTH, "", "", 0},
        {"GET", "/v2/models/rv", SV_EP_MODEL_META, "rv", "", 0},
        {"GET", "/v2/models/rv/versions/12", SV_EP_MODEL_META, "rv", "", 12},
        {"GET", "/v2/models/rv/ready", SV_EP_MODEL_READY, "rv", "", 0},
        {"GET", "/v2/models/rv/versions/3/ready", SV_EP_MODEL_READY, "rv", "", 3},
        {"GET", "/v2/models/rv/config", SV_EP_MODEL_CONFIG, "rv", "", 0},
        {"GET", "/v2/models/stats", SV_EP_MODEL_STATS, "", "", 0},
        {"GET", "/v2/models/rv/versions/2/stats", SV_EP_MODEL_STATS, "rv", "", 2},
        {"POST", "/v2/models/a.b-c/infer", SV_EP_INFER, "a.b-c", "", 0},
        {"POST", "/v2/models/rv/versions/1/infer", SV_EP_INFER, "rv", "", 1},
        {"POST", "/v2/repository/index", SV_EP_REPOSITORY, "", "", 0},
        {"POST", "/v2/repository/models/m1/load", SV_EP_REPOSITORY, "m1", "", 0},
        {"POST", "/v2/repository/models/m1/unload", SV_EP_REPOSITORY, "m1", "", 0},
        {"POST", "/predict", SV_EP_PREDICT, "", "", 0},
        {"POST", "/predict_np", SV_EP_PREDICT_NP, "", "", 0},
        {"POST", "/v1/ticks", SV_EP_TICKS, "", "", 0},
        {"POST", "/v1/streams/BRK.B/ticks", SV_EP_STREAM, "", "BRK.B", 0},
        {"DELETE", "/v1/streams/BRK.B", SV_EP_STREAM, "", "BRK.B", 0},
        {"GET", "/metrics", SV_EP_METRICS, "", "", 0},
        {"HEAD", "/openapi.json", SV_EP_OPENAPI, "", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = route(cases[i].method, cases[i].url);
        TI_CHECK_MSG(st == 0 && g_r.route && g_r.ep == cases[i].ep, "%s %s: status %d ep %d", cases[i].method,
                     cases[i].url, st, (int)g_r.ep);
        TI_CHECK_MSG(strcmp(g_r.model_name, cases[i].model) == 0 && strcmp(g_r.symbol, cases[i].symbol) == 0 &&
                         g_r.model_version == cases[i].version,
                     "%s %s: model '%s' symbol '%s' version %d", cases[i].method, cases[i].url, g_r.model_name,
                     g_r.symbol, g_r.model_version);
        TI_CHECK(g_r.route && g_r.route->handle != NULL);
        /* exactly the inference routes queue a job (and so have a finisher) */
        int job = cases[i].ep == SV_EP_INFER || cases[i].ep == SV_EP_PREDICT || cases[i].ep == SV_EP_PREDICT_NP;
        TI_CHECK(g_r.route && (g_r.route->finish != NULL) == job);
    }
}

TI_TEST(unknown_paths_404_wrong_methods_405_with_allow)
{
    static const char *const not_found[] = {"/", "/v3/whatever", "/v2/models", "/v2/models/rv/versions/0",
                                            "/v2/models/rv/versions/x/ready", "/v2/models/rv/versions",
                                            "/v2/models/rv/explode", "/v1/streams", "/v1/streams/A/ticks/more",
                                            "/v2/repository/models/m", "/a/b/c/d/e/f/g/h/i"};
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        TI_CHECK_MSG(route("GET", not_found[i]) == 404 && g_r.resp.status == 404 && !g_r.route, "%s", not_found[i]);
        TI_CHECK(g_r.ep == SV_EP_OTHER);
    }
    TI_CHECK(route("GET", "/v3/whatever") == 404 && strstr(g_r.out.data, "no route for GET /v3/whatever"));
    char longseg[100];
    memset(longseg, 'a', sizeof longseg - 1);
    longseg[0] = '/';
    longseg[sizeof longseg - 1] = '\0';
    TI_CHECK(route("GET", longseg) == 404);
    static const struct {
        const char *method, *url, *allow;
    } wrong[] = {
        {"GET", "/predict", "POST"},         {"DELETE", "/v2/models/rv", "GET"},
        {"GET", "/v1/streams/S/ticks", "POST"}, {"POST", "/v1/streams/S", "DELETE"},
        {"GET", "/v1/ticks", "POST"},        {"PUT", "/metrics", "GET"},
        {"POST", "/v2/models/stats", "GET"}, {"GET", "/v2/repository/index", "POST"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        int st = route(wrong[i].method, wrong[i].url);
        const char *allow = header("Allow");
        TI_CHECK_MSG(st == 405 && g_r.resp.status == 405 && allow && strcmp(allow, wrong[i].allow) == 0,
                     "%s %s: %d Allow %s", wrong[i].method, wrong[i].url, st, allow ? allow : "(none)");
    }
    TI_CHECK(route("GET", "/predict") == 405 && strstr(g_r.out.data, "GET /predict: use POST"));
}

TI_TEST(reset_clears_every_per_request_field)
{
    route("POST", "/v1/streams/XYZ/ticks");
    g_r.B = 3, g_r.last_only = 1, g_r.want_binary_out = 1, g_r.too_large = 1;
    snprintf(g_r.req_id, sizeof g_r.req_id, "abc");
    g_r.resp.drop = 1;
    sv_request_reset(&g_r);
    TI_CHECK(!g_r.route && g_r.ep == SV_EP_OTHER && !g_r.symbol[0] && !g_r.model_name[0] && !g_r.req_id[0]);
    TI_CHECK(g_r.B == 0 && !g_r.last_only && !g_r.want_binary_out && !g_r.too_large && !g_r.resp.drop);
    TI_CHECK(g_r.resp.status == 0 && g_r.resp.n_headers == 0 && g_r.fmt == SV_OUT_JSON && !g_r.model);
    TI_CHECK(atomic_load(&g_r.state) == SV_RQ_READING && g_r.t_start_ns > 0);
    TI_CHECK(g_r.out.len == 0 && g_r.body.len == 0);
}

TI_TEST(table_and_openapi_list_the_same_operations)
{
    json_t *doc = json_load_file("docs/openapi.json", 0, NULL);
    TI_CHECK(doc != NULL);
    if (!doc) return;
    json_t *paths = json_object_get(doc, "paths");
    int n;
    const sv_route *rt = sv_routes(&n);
    size_t ops = 0;
    for (int i = 0; i < n; i++) {
        const char *m = rt[i].methods == SV_GET ? "get" : rt[i].methods == SV_POST ? "post" : "delete";
        json_t *item = json_object_get(paths, rt[i].pattern);
        TI_CHECK_MSG(item && json_object_get(item, m), "openapi lacks %s %s", m, rt[i].pattern);
    }
    const char *key;
    json_t *item;
    json_object_foreach(paths, key, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            if (strcmp(m, "get") && strcmp(m, "post") && strcmp(m, "delete")) continue;
            ops++;
            unsigned bit = strcmp(m, "get") == 0 ? SV_GET : strcmp(m, "post") == 0 ? SV_POST : SV_DELETE;
            int found = 0;
            for (int i = 0; i < n; i++) found |= strcmp(rt[i].pattern, key) == 0 && (rt[i].methods & bit);
            TI_CHECK_MSG(found, "the route table lacks %s %s", m, key);
        }
    }
    TI_CHECK_MSG(ops == (size_t)n, "openapi has %zu operations, the table %d", ops, n);
    json_decref(doc);
}

TI_TEST(only_server_c_talks_to_libmicrohttpd)
{
    DIR *d = opendir("src/serve");
    TI_CHECK(d != NULL);
    if (!d) return;
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 3 || (strcmp(de->d_name + len - 2, ".c") && strcmp(de->d_name + len - 2, ".h"))) continue;
        char path[512], *text = NULL;
        size_t n = 0;
        snprintf(path, sizeof path, "src/serve/%s", de->d_name);
        TI_CHECK_OK(ti_read_file(path, 1 << 24, &text, &n));
        files++;
        int uses = text && (strstr(text, "MHD_") || strstr(text, "microhttpd.h"));
        /* serve_internal.h only forward-declares the opaque types */
        if (strcmp(de->d_name, "serve_internal.h") == 0)
            uses = text && (strstr(text, "MHD_Result") || strstr(text, "microhttpd.h") || strstr(text, "MHD_lookup"));
        TI_CHECK_MSG(strcmp(de->d_name, "server.c") == 0 || !uses, "%s uses libmicrohttpd", path);
        free(text);
    }
    closedir(d);
    TI_CHECK(files > 10);
}

int main(void)
{
    sv_sbuf_init(&g_r.body, 1 << 20);
    sv_sbuf_init(&g_r.out, 1 << 20);
    TI_RUN(urls_route_to_endpoints_and_captures);
    TI_RUN(unknown_paths_404_wrong_methods_405_with_allow);
    TI_RUN(reset_clears_every_per_request_field);
    TI_RUN(table_and_openapi_list_the_same_operations);
    TI_RUN(only_server_c_talks_to_libmicrohttpd);
    sv_sbuf_free(&g_r.body);
    sv_sbuf_free(&g_r.out);
    return ti_test_summary();
}
