/* PageHeader (Thrift) -> pq_page_header, with the sizes checked for sign and limits. */
#include "data/parquet/pq_internal.h"
#include "data/parquet/thrift_compact.h"

#define SEEN(id) (1u << (id))

static unsigned parse_data_header(pq_thrift *t, pq_page_header *h)
{
    unsigned seen = 0;
    if (!pq_thrift_struct_begin(t)) return 0;
    int16_t last = 0;
    int id, type;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: h->num_values = pq_thrift_i32(t, type); break;
        case 2: h->encoding = pq_thrift_i32(t, type); break;
        case 3: h->def_encoding = pq_thrift_i32(t, type); break;
        case 4: h->rep_encoding = pq_thrift_i32(t, type); break;
        default: pq_thrift_skip(t, type); continue; /* statistics */
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    return seen;
}

static unsigned parse_dict_header(pq_thrift *t, pq_page_header *h)
{
    unsigned seen = 0;
    if (!pq_thrift_struct_begin(t)) return 0;
    int16_t last = 0;
    int id, type;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: h->num_values = pq_thrift_i32(t, type); break;
        case 2: h->encoding = pq_thrift_i32(t, type); break;
        default: pq_thrift_skip(t, type); continue; /* is_sorted */
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    return seen;
}

static unsigned parse_data_v2_header(pq_thrift *t, pq_page_header *h)
{
    unsigned seen = 0;
    if (!pq_thrift_struct_begin(t)) return 0;
    int16_t last = 0;
    int id, type;
    while (pq_thrift_field(t, &last, &id, &type)) {
        switch (id) {
        case 1: h->num_values = pq_thrift_i32(t, type); break;
        case 2: h->num_nulls = pq_thrift_i32(t, type); break;
        case 3: h->num_rows = pq_thrift_i32(t, type); break;
        case 4: h->encoding = pq_thrift_i32(t, type); break;
        case 5: h->def_len = pq_thrift_i32(t, type); break;
        case 6: h->rep_len = pq_thrift_i32(t, type); break;
        case 7: h->is_compressed = pq_thrift_bool(t, type); break;
        default: pq_thrift_skip(t, type); continue; /* statistics */
        }
        seen |= SEEN(id);
    }
    pq_thrift_struct_end(t);
    return seen;
}

int pq_page_header_parse(pq_page_header *h, size_t *header_len, const uint8_t *p, size_t avail, const char **why)
{
    *h = (pq_page_header){.type = -1, .encoding = -1, .def_encoding = -1, .rep_encoding = -1, .is_compressed = 1};
    pq_thrift t;
    pq_thrift_init(&t, p, avail);
    unsigned seen = 0, sub_seen = 0, sub_need = 0;
    int sub_id = 0;
    if (pq_thrift_struct_begin(&t)) {
        int16_t last = 0;
        int id, type;
        while (pq_thrift_field(&t, &last, &id, &type)) {
            if (id >= 5 && id <= 8 && type != PQ_T_STRUCT) {
                pq_thrift_fail(&t, "page sub-header is not a struct");
                break;
            }
            switch (id) {
            case 1: h->type = pq_thrift_i32(&t, type); break;
            case 2: h->uncompressed_size = pq_thrift_i32(&t, type); break;
            case 3: h->compressed_size = pq_thrift_i32(&t, type); break;
            case 4:
                h->crc = (uint32_t)pq_thrift_i32(&t, type);
                h->has_crc = 1;
                break;
            case 5:
                sub_seen = parse_data_header(&t, h);
                sub_need = SEEN(1) | SEEN(2) | SEEN(3) | SEEN(4);
                break;
            case 7:
                sub_seen = parse_dict_header(&t, h);
                sub_need = SEEN(1) | SEEN(2);
                break;
            case 8:
                sub_seen = parse_data_v2_header(&t, h);
                sub_need = SEEN(1) | SEEN(2) | SEEN(3) | SEEN(4) | SEEN(5) | SEEN(6);
                break;
            default: pq_thrift_skip(&t, type); continue; /* 6 index page header, ... */
            }
            if (id >= 5) sub_id = id;
            seen |= SEEN(id);
        }
        pq_thrift_struct_end(&t);
    }
    *header_len = pq_thrift_pos(&t);
    if (t.err) {
        *why = t.why;
        return 0;
    }
    const unsigned need = SEEN(1) | SEEN(2) | SEEN(3);
    if ((seen & need) != need) return *why = "page header lacks type or sizes", 0;
    if (h->uncompressed_size < 0 || h->compressed_size < 0) return *why = "negative page size", 0;
    if ((uint32_t)h->uncompressed_size > TI_PQ_MAX_PAGE_SIZE || (uint32_t)h->compressed_size > TI_PQ_MAX_PAGE_SIZE)
        return *why = "page larger than TI_PQ_MAX_PAGE_SIZE", 0;
    /* The sub-header must match the page type (a data page with a dictionary header is corrupt). */
    int want = h->type == PQ_PAGE_DATA ? 5 : h->type == PQ_PAGE_DICT ? 7 : h->type == PQ_PAGE_DATA_V2 ? 8 : 0;
    if (want) {
        if (sub_id != want) return *why = "page header lacks the sub-header of its type", 0;
        if ((sub_seen & sub_need) != sub_need) return *why = "page sub-header lacks a required field", 0;
        if (h->num_values < 0) return *why = "negative value count", 0;
        if (h->type == PQ_PAGE_DATA_V2 && (h->num_nulls < 0 || h->num_rows < 0 || h->def_len < 0 || h->rep_len < 0 ||
                                           (int64_t)h->def_len + h->rep_len > h->compressed_size ||
                                           (int64_t)h->def_len + h->rep_len > h->uncompressed_size))
            return *why = "bad v2 level lengths or counts", 0;
    }
    return 1;
}
