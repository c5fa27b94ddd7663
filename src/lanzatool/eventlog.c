/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "util.h"

/* TCG_PCR_EVENT (the SHA-1 format of the first event): PCRIndex, EventType, Digest[20], EventSize. */
#define TCG_PCR_EVENT_HEADER_SIZE (4 + 4 + 20 + 4)
/* TCG_PCR_EVENT2 up to the digests: PCRIndex, EventType, Digests.count. */
#define TCG_PCR_EVENT2_HEADER_SIZE (4 + 4 + 4)
/* TCG_EfiSpecIDEventStruct up to the algorithm table: signature[16], platformClass, specVersionMinor,
 * specVersionMajor, specErrata, uintnSize, numberOfAlgorithms. */
#define SPEC_ID_HEADER_SIZE    (16 + 4 + 1 + 1 + 1 + 1 + 4)
#define SPEC_ID_MAX_ALGORITHMS 16 /* TPM2 defines fewer hash algorithms than this */

/* UEFI_IMAGE_LOAD_EVENT: ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress,
 * LengthOfDevicePath, then the device path. */
#define IMAGE_LOAD_EVENT_HEADER_SIZE 32
/* EFI device path nodes (UEFI spec §10.3): Type, SubType, Length (this header included). */
#define DEVICE_PATH_NODE_HEADER_SIZE 4
#define MEDIA_DEVICE_PATH            0x04
#define MEDIA_FILEPATH_DP            0x04
#define END_DEVICE_PATH_TYPE         0x7F

struct algorithm {
        uint16_t id;
        uint16_t size;
};

/* A cursor over the log that refuses to move past the end. */
struct reader {
        const uint8_t *p;
        size_t left;
};

static uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
        return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const uint8_t *take(struct reader *r, size_t n)
{
        const uint8_t *p = r->p;

        if (n > r->left)
                return NULL;
        r->p += n;
        r->left -= n;
        return p;
}

/* The Spec ID event: which algorithms the log carries, and their digest sizes. */
static int parse_spec_id(struct reader *rd, struct algorithm *algs, size_t *ret_n, unsigned *ret_banks)
{
        const uint8_t *h = take(rd, TCG_PCR_EVENT_HEADER_SIZE), *ev, *table;
        uint32_t n;
        unsigned banks = 0;

        if (!h || le32(h + 4) != EV_NO_ACTION || !(ev = take(rd, le32(h + 28))))
                return -EBADMSG;
        if (le32(h + 28) < SPEC_ID_HEADER_SIZE || memcmp(ev, TCG_SPEC_ID_SIGNATURE, 16) != 0)
                return -EPROTONOSUPPORT;
        n = le32(ev + 24);
        if (n == 0 || n > SPEC_ID_MAX_ALGORITHMS || le32(h + 28) < SPEC_ID_HEADER_SIZE + 4 * n)
                return -EBADMSG;
        table = ev + SPEC_ID_HEADER_SIZE;
        for (uint32_t i = 0; i < n; i++) {
                int b;

                algs[i] = (struct algorithm){le16(table + 4 * i), le16(table + 4 * i + 2)};
                if (algs[i].size == 0 || algs[i].size > PCR_DIGEST_MAX)
                        return -EBADMSG;
                b = pcr_bank_from_tpm_alg(algs[i].id);
                if (b < 0)
                        continue;
                if (algs[i].size != pcr_bank_size((enum pcr_bank)b))
                        return -EBADMSG;
                banks |= 1u << b;
        }
        *ret_n = n;
        *ret_banks = banks;
        return 0;
}

static int parse_event(struct reader *rd, const struct algorithm *algs, size_t n_algs, struct tcg_event *ret)
{
        const uint8_t *h = take(rd, TCG_PCR_EVENT2_HEADER_SIZE), *size;
        struct tcg_event e = {};
        uint32_t count;

        if (!h)
                return -EBADMSG;
        e.pcr = le32(h);
        e.type = le32(h + 4);
        count = le32(h + 8);
        if (count > n_algs)
                return -EBADMSG;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *id = take(rd, 2), *digest;
                size_t a;
                int b;

                if (!id)
                        return -EBADMSG;
                for (a = 0; a < n_algs && algs[a].id != le16(id); a++)
                        ;
                if (a == n_algs || !(digest = take(rd, algs[a].size)))
                        return -EBADMSG;
                b = pcr_bank_from_tpm_alg(algs[a].id);
                if (b >= 0)
                        e.digests[b] = digest;
        }
        size = take(rd, 4);
        if (!size || !(e.data = take(rd, le32(size))))
                return -EBADMSG;
        e.data_size = le32(size);
        *ret = e;
        return 0;
}

int tcg_log_parse(const uint8_t *buf, size_t size, struct tcg_log *ret, char **reterr_message)
{
        struct algorithm algs[SPEC_ID_MAX_ALGORITHMS];
        struct reader rd = {buf, size};
        struct tcg_log log = {};
        size_t n_algs, allocated = 0;
        int r;

        r = parse_spec_id(&rd, algs, &n_algs, &log.banks);
        if (r == -EPROTONOSUPPORT)
                return set_error_message(reterr_message, -EBADMSG,
                                         "not a crypto-agile (TPM 2.0) event log: no \"%s\" event",
                                         TCG_SPEC_ID_SIGNATURE);
        if (r < 0)
                return set_error_message(reterr_message, r, "malformed Spec ID event");

        while (rd.left > 0) {
                if (log.n_events == allocated) {
                        size_t n = allocated ? 2 * allocated : 64;
                        struct tcg_event *e = reallocarray(log.events, n, sizeof(*e));
                        if (!e) {
                                tcg_log_done(&log);
                                return set_error_message(reterr_message, -ENOMEM, "out of memory");
                        }
                        log.events = e;
                        allocated = n;
                }
                r = parse_event(&rd, algs, n_algs, &log.events[log.n_events]);
                if (r < 0) {
                        size_t offset = size - rd.left;
                        tcg_log_done(&log);
                        return set_error_message(reterr_message, r, "malformed event %zu (near byte %zu)",
                                                 log.n_events + 1, offset);
                }
                log.n_events++;
        }
        *ret = log;
        return 0;
}

void tcg_log_done(struct tcg_log *log)
{
        free(log->events);
        *log = (struct tcg_log){};
}

/* Appends UTF-16LE text (up to a NUL) to a UTF-8 string at out, which has room for 3 bytes per unit.
 * Surrogates are refused: no ESP path we boot from needs characters beyond the BMP. */
static int utf16_append(const uint8_t *p, size_t units, char *out, size_t *len)
{
        for (size_t i = 0; i < units; i++) {
                uint16_t c = le16(p + 2 * i);

                if (c == 0)
                        break;
                if (c >= 0xD800 && c <= 0xDFFF)
                        return -EBADMSG;
                if (c < 0x80)
                        out[(*len)++] = (char)c;
                else if (c < 0x800) {
                        out[(*len)++] = (char)(0xC0 | c >> 6);
                        out[(*len)++] = (char)(0x80 | (c & 0x3F));
                } else {
                        out[(*len)++] = (char)(0xE0 | c >> 12);
                        out[(*len)++] = (char)(0x80 | ((c >> 6) & 0x3F));
                        out[(*len)++] = (char)(0x80 | (c & 0x3F));
                }
        }
        return 0;
}

int tcg_event_image_path(const struct tcg_event *e, char **ret)
{
        _cleanup_free_ char *path = NULL;
        const uint8_t *dp;
        uint64_t dp_size;
        size_t len = 0;

        if (e->data_size < IMAGE_LOAD_EVENT_HEADER_SIZE)
                return -EBADMSG;
        dp_size = le64(e->data + 24);
        if (dp_size > e->data_size - IMAGE_LOAD_EVENT_HEADER_SIZE)
                return -EBADMSG;
        dp = e->data + IMAGE_LOAD_EVENT_HEADER_SIZE;
        /* Each UTF-16 unit becomes at most 3 bytes, and each node adds at most a separator: the UTF-8 fits
         * in twice the device path's size. */
        path = malloc(2 * (size_t)dp_size + 1);
        if (!path)
                return -ENOMEM;

        for (size_t off = 0; off + DEVICE_PATH_NODE_HEADER_SIZE <= dp_size;) {
                uint8_t type = dp[off], subtype = dp[off + 1];
                uint16_t node_size = le16(dp + off + 2);

                if (node_size < DEVICE_PATH_NODE_HEADER_SIZE || node_size > dp_size - off)
                        return -EBADMSG;
                if (type == END_DEVICE_PATH_TYPE)
                        break;
                if (type == MEDIA_DEVICE_PATH && subtype == MEDIA_FILEPATH_DP) {
                        const uint8_t *text = dp + off + DEVICE_PATH_NODE_HEADER_SIZE;
                        /* Consecutive file path nodes name one path: join them with one separator. */
                        if (len > 0 && path[len - 1] != '\\' && node_size >= 6 && le16(text) != '\\')
                                path[len++] = '\\';
                        if (utf16_append(text, (node_size - DEVICE_PATH_NODE_HEADER_SIZE) / 2, path, &len) <
                            0)
                                return -EBADMSG;
                }
                off += node_size;
        }
        if (len == 0)
                return -ENOENT;
        path[len] = 0;
        *ret = TAKE_PTR(path);
        return 0;
}

int tcg_log_replay(const struct tcg_log *log, uint32_t pcr, enum pcr_bank bank, uint8_t ret[PCR_DIGEST_MAX])
{
        uint8_t value[PCR_DIGEST_MAX] = {};

        if (!(log->banks & (1u << bank)))
                return -EOPNOTSUPP;
        for (size_t i = 0; i < log->n_events; i++) {
                const struct tcg_event *e = &log->events[i];
                int r;

                if (e->pcr != pcr || e->type == EV_NO_ACTION)
                        continue;
                if (!e->digests[bank])
                        return -EBADMSG;
                r = pcr_extend(bank, value, e->digests[bank]);
                if (r < 0)
                        return r;
        }
        memcpy(ret, value, PCR_DIGEST_MAX);
        return 0;
}
