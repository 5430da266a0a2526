/* core/s3.c: see s3.h. One request is: the URL (key percent-encoded, query already in
 * SigV4's canonical order, since curl signs it as given), the signed content hash, the
 * body, then S3's status and, on an error, its XML <Error>. Transient failures (no
 * connection, a timeout, 5xx, 429, RequestTimeout) are retried with doubling waits. */
#include "s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"

#define S3_XML_MAX   (16u << 20)    /* a listing page or an error: far below this */
#define S3_KEY_MAX   1024           /* S3's own limit on a key */

struct s3 {
    struct s3_conf   c;
    char             bucket[64];
    char             sigv4[128];    /* "aws:amz:<region>:s3" */
    CURL            *h;
    struct s3_stats  st;
    unsigned         seed;          /* jitter */
};

/* ---- configuration ------------------------------------------------------------------ */

static int env_copy(char *dst, size_t n, const char *a, const char *b, const char *dflt,
                    struct smfs_err *err)
{
    const char *name = a, *v = getenv(a);
    if ((!v || !*v) && b) v = getenv(name = b);
    if (!v || !*v) v = dflt;
    if (!v) v = "";
    if (strlen(v) >= n) return err_set(err, -EINVAL, "$%s: longer than %zu characters", name, n - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int env_uint(const char *name, unsigned long long dflt, unsigned long long max,
                    unsigned long long *out, struct smfs_err *err)
{
    const char *v = getenv(name);
    *out = dflt;
    if (!v || !*v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || end == v || x > max)
        return err_set(err, -EINVAL, "$%s: '%s' is not a whole number up to %llu", name, v, max);
    *out = x;
    return 0;
}

int s3_conf_env(struct s3_conf *c, struct smfs_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = env_copy(c->region, sizeof c->region, "AWS_REGION", "AWS_DEFAULT_REGION", "us-east-1", err);
    if (!rc) rc = env_copy(c->endpoint, sizeof c->endpoint, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", NULL, err);
    if (!rc) rc = env_copy(c->access_key, sizeof c->access_key, "AWS_ACCESS_KEY_ID", NULL, NULL, err);
    if (!rc) rc = env_copy(c->secret_key, sizeof c->secret_key, "AWS_SECRET_ACCESS_KEY", NULL, NULL, err);
    if (!rc) rc = env_copy(c->token, sizeof c->token, "AWS_SESSION_TOKEN", NULL, NULL, err);
    if (rc) return rc;
    for (const char *p = c->region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return err_set(err, -EINVAL, "$AWS_REGION: '%s' is not a region name", c->region);
    if (!*c->access_key || !*c->secret_key)
        return err_set(err, -EINVAL, "object storage needs credentials: set $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY");
    if (*c->endpoint) {
        size_t n = strlen(c->endpoint);
        while (n && c->endpoint[n - 1] == '/') c->endpoint[--n] = 0;
        if (strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8))
            return err_set(err, -EINVAL, "$AWS_ENDPOINT_URL: '%s' is not an http:// or https:// URL", c->endpoint);
        const char *vh = getenv("SMFS_S3_VHOST");
        c->path_style = !(vh && !strcmp(vh, "1"));
    } else {
        snprintf(c->endpoint, sizeof c->endpoint, "https://s3.%s.amazonaws.com", c->region);
    }
    unsigned long long retries, part_mb, page;
    rc = env_uint("SMFS_S3_RETRIES", 5, 30, &retries, err);
    if (!rc) rc = env_uint("SMFS_S3_LIST_PAGE", 0, 1000, &page, err);
    unsigned long long par;
    if (!rc) rc = env_uint("SMFS_S3_PARALLEL", 8, 32, &par, err);
    c->parallel = rc ? 1 : (unsigned)par;
    if (!rc) rc = env_uint("SMFS_S3_PART_MB", S3_PART_DEFAULT >> 20, 5120, &part_mb, err);
    if (rc) return rc;
    if (part_mb < S3_PART_MIN >> 20) return err_set(err, -EINVAL, "$SMFS_S3_PART_MB: S3's parts are at least 5 MiB");
    c->retries = (unsigned)retries;
    c->list_page = (unsigned)page;
    c->backoff_ms = 200;
    c->part_size = part_mb << 20;
    return 0;
}

/* ---- digests -------------------------------------------------------------------------- */

static void digest(const EVP_MD *md, const void *p, size_t n, unsigned char *out, unsigned *outlen)
{
    EVP_Digest(p, n, out, outlen, md, NULL);
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

void s3_etag(const struct s3 *s, const void *p, size_t n, char out[S3_ETAG_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned ml;
    if (n <= s->c.part_size) {
        digest(EVP_md5(), p, n, md, &ml);
        hex(md, ml, out);
        return;
    }
    size_t parts = (n + s->c.part_size - 1) / s->c.part_size;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    EVP_DigestInit_ex(x, EVP_md5(), NULL);
    for (size_t i = 0; i < parts; i++) {
        size_t off = i * s->c.part_size, len = n - off < s->c.part_size ? n - off : s->c.part_size;
        digest(EVP_md5(), (const char *)p + off, len, md, &ml);
        EVP_DigestUpdate(x, md, ml);
    }
    EVP_DigestFinal_ex(x, md, &ml);
    EVP_MD_CTX_free(x);
    hex(md, ml, out);
    snprintf(out + 2 * ml, S3_ETAG_MAX - 2 * ml, "-%zu", parts);
}

bool s3_etag_matches(const struct s3 *s, const void *p, size_t n, const char *etag)
{
    char want[S3_ETAG_MAX];
    s3_etag(s, p, n, want);
    if (!strcasecmp(want, etag)) return true;
    if (n <= s->c.part_size) return false;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned ml;
    digest(EVP_md5(), p, n, md, &ml);
    hex(md, ml, want);
    return !strcasecmp(want, etag);
}

/* ---- open ----------------------------------------------------------------------------- */

int s3_open(const struct s3_conf *c, const char *bucket, struct s3 **out, struct smfs_err *err)
{
    *out = NULL;
    size_t bl = strlen(bucket);
    if (bl < 3 || bl > 63 || strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != bl)
        return err_set(err, -EINVAL, "'%s' is not an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')", bucket);
    struct s3 *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, -ENOMEM, "out of memory");
    s->c = *c;
    if (!s->c.part_size) s->c.part_size = S3_PART_DEFAULT;
    if (s->c.part_size < S3_PART_MIN) s->c.part_size = S3_PART_MIN;
    memcpy(s->bucket, bucket, bl + 1);
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", c->region);
    s->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)s;
    s->h = curl_easy_init();
    if (!s->h) {
        free(s);
        return err_set(err, -ENOMEM, "curl_easy_init failed");
    }
    *out = s;
    return 0;
}

void s3_close(struct s3 *s)
{
    if (!s) return;
    curl_easy_cleanup(s->h);
    explicit_bzero(s->c.secret_key, sizeof s->c.secret_key);
    free(s);
}

const char *s3_bucket(const struct s3 *s)
{
    return s->bucket;
}

void s3_stats(const struct s3 *s, struct s3_stats *out)
{
    *out = s->st;
}

/* ---- one request ---------------------------------------------------------------------- */

struct req {
    const char *method;     /* GET HEAD PUT POST DELETE */
    const char *key;        /* "" for the bucket */
    const char *query;      /* canonical: sorted, encoded; NULL: none */
    const void *body;
    size_t      bodylen;
    bool        md5;        /* send Content-MD5 */
    uint64_t    range_off, range_len;   /* GET: range_len 0 = to the end (and off 0: no Range) */
    struct buf *out;        /* the answer's body (may be NULL: discarded, but errors read) */
    /* the answer */
    long        status;
    char        etag[S3_ETAG_MAX];
    uint64_t    length;
    char        code[64], msg[256];
};

struct sink {
    struct buf *b;
    struct s3  *s;
    bool        over;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *k = arg;
    size_t len = size * n;
    if (!k->b) return len;
    if (buf_append(k->b, p, len)) {
        k->over = true;
        return 0;   /* curl stops: CURLE_WRITE_ERROR */
    }
    k->s->st.bytes_down += len;
    return len;
}

/* S into OUT percent-encoded as SigV4 canonicalises it: everything but the unreserved
 * characters (and '/', a key's separator, when KEEP_SLASH). -1 if it does not fit N. */
static int pct_encode(char *out, size_t n, const char *str, bool keep_slash)
{
    static const char d[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
        if (j + 4 >= n) return -1;
        if (keep) out[j++] = (char)*p;
        else {
            out[j++] = '%';
            out[j++] = d[*p >> 4];
            out[j++] = d[*p & 15];
        }
    }
    out[j] = 0;
    return 0;
}

static int url_key(char *out, size_t n, const char *key)
{
    return pct_encode(out, n, key, true);
}

/* The text of the first element named NAME under NODE (depth first), or NULL. */
static xmlNode *xml_find(xmlNode *node, const char *name)
{
    for (xmlNode *n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (!strcmp((const char *)n->name, name)) return n;
        xmlNode *c = xml_find(n->children, name);
        if (c) return c;
    }
    return NULL;
}

static void xml_text(xmlNode *n, char *out, size_t len)
{
    out[0] = 0;
    if (!n) return;
    xmlChar *t = xmlNodeGetContent(n);
    if (t) {
        snprintf(out, len, "%s", (const char *)t);
        xmlFree(t);
    }
}

static xmlDoc *xml_parse(const struct buf *b)
{
    if (!b->len || b->len > S3_XML_MAX) return NULL;
    /* No network, no entity expansion, no DTD: S3's answers need none of them. */
    return xmlReadMemory((const char *)b->p, (int)b->len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static void read_error(struct req *q, const struct buf *b)
{
    xmlDoc *doc = xml_parse(b);
    if (!doc) return;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root && !strcmp((const char *)root->name, "Error")) {
        xml_text(xml_find(root->children, "Code"), q->code, sizeof q->code);
        xml_text(xml_find(root->children, "Message"), q->msg, sizeof q->msg);
    }
    xmlFreeDoc(doc);
}

static void unquote(const char *in, char *out, size_t n)
{
    size_t l = strlen(in);
    while (l && (in[l - 1] == '"' || in[l - 1] == '\r' || in[l - 1] == ' ')) l--;
    if (l && *in == '"') in++, l--;
    if (l >= n) l = n - 1;
    memcpy(out, in, l);
    out[l] = 0;
}

static bool transient_status(const struct req *q)
{
    return q->status >= 500 || q->status == 429 || !strcmp(q->code, "RequestTimeout") ||
           !strcmp(q->code, "SlowDown");
}

/* For an answer without a body (HEAD, or a proxy's). */
static const char *status_name(long st)
{
    switch (st) {
    case 400: return "Bad Request";
    case 403: return "Forbidden (check the credentials and the bucket's policy)";
    case 404: return "Not Found (no such key or bucket)";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    default:  return st >= 500 ? "Server Error" : "";
    }
}

static int status_errno(long st, const char *code)
{
    if (st == 404 || !strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchBucket")) return -ENOENT;
    if (st == 403) return -EACCES;
    if (st == 429 || st >= 500) return -EAGAIN;
    return -EIO;
}

/* One attempt. 0: an answer came (q->status says which); else a transport failure. */
static CURLcode attempt(struct s3 *s, struct req *q, const char *url, struct curl_slist *hdrs,
                        struct buf *body, char *cerr)
{
    CURL *h = s->h;
    curl_easy_reset(h);
    struct sink k = {.b = body, .s = s};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERNAME, s->c.access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, s->c.secret_key);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A stalled transfer (under 1 KiB/s for a minute) is a failure to retry, not a hang. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!strcmp(q->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(q->method, "PUT") || !strcmp(q->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->bodylen);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    } else if (strcmp(q->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
    s->st.requests++;
    CURLcode cc = CURLE_OK;
    if (fault_hit("s3.request")) {
        /* An injected transient failure: as if the connection dropped. */
        snprintf(cerr, CURL_ERROR_SIZE, "injected fault at s3.request");
        cc = CURLE_RECV_ERROR;
    } else {
        cc = curl_easy_perform(h);
    }
    if (k.over) {
        snprintf(cerr, CURL_ERROR_SIZE, "the answer is larger than expected (%zu bytes kept)", body ? body->len : 0);
        return CURLE_WRITE_ERROR;
    }
    if (cc != CURLE_OK) return cc;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
    struct curl_header *hd;
    q->etag[0] = 0;
    if (curl_easy_header(h, "ETag", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK) unquote(hd->value, q->etag, sizeof q->etag);
    q->length = 0;
    if (curl_easy_header(h, "Content-Length", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK)
        q->length = strtoull(hd->value, NULL, 10);
    return CURLE_OK;
}

static bool transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_SSL_CONNECT_ERROR: case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static void nap(struct s3 *s, unsigned tried)
{
    unsigned ms = s->c.backoff_ms << (tried < 8 ? tried : 8);
    ms = ms / 2 + (unsigned)(rand_r(&s->seed) % (ms / 2 + 1));   /* jitter: clients that failed together do not retry together */
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int request(struct s3 *s, struct req *q, struct smfs_err *err)
{
    char ekey[3 * S3_KEY_MAX + 1], url[16384];
    if (strlen(q->key) > S3_KEY_MAX || url_key(ekey, sizeof ekey, q->key) < 0)
        return err_set(err, -ENAMETOOLONG, "s3://%s/%s: the key is longer than S3's %d bytes", s->bucket, q->key, S3_KEY_MAX);
    const char *sep = strstr(s->c.endpoint, "://");
    int ul;
    if (s->c.path_style)
        ul = snprintf(url, sizeof url, "%s/%s/%s%s%s", s->c.endpoint, s->bucket, ekey, q->query ? "?" : "", q->query ? q->query : "");
    else
        ul = snprintf(url, sizeof url, "%.*s%s.%s/%s%s%s", (int)(sep + 3 - s->c.endpoint), s->c.endpoint, s->bucket, sep + 3,
                 ekey, q->query ? "?" : "", q->query ? q->query : "");
    if (ul < 0 || (size_t)ul >= sizeof url)
        return err_set(err, -ENAMETOOLONG, "s3://%s/%s: the request's URL is too long", s->bucket, q->key);

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned ml;
    char line[4200], sha[2 * 32 + 1];
    digest(EVP_sha256(), q->body ? q->body : "", q->bodylen, md, &ml);
    hex(md, ml, sha);
    struct curl_slist *hdrs = NULL, *t;
    int rc = 0;
#define HDR(...) do { snprintf(line, sizeof line, __VA_ARGS__); \
        if (!(t = curl_slist_append(hdrs, line))) rc = -ENOMEM; else hdrs = t; } while (0)
    HDR("x-amz-content-sha256: %s", sha);
    /* A body's type said plainly (curl would send form-urlencoded). Never a header line
     * that removes a header ("Content-Type:", "Expect:"): curl signs it all the same, and
     * S3 refuses a request whose signed header is not there (tests/node/sigv4proxy.js
     * found it). curl's own Expect on a big body is not signed, and S3 answers it. */
    if (!strcmp(q->method, "PUT") || !strcmp(q->method, "POST"))
        HDR("Content-Type: %s", q->query && strstr(q->query, "uploadId=") && !strstr(q->query, "partNumber=")
                                    ? "application/xml" : "application/octet-stream");
    if (*s->c.token) HDR("x-amz-security-token: %s", s->c.token);
    if (q->md5) {
        digest(EVP_md5(), q->body ? q->body : "", q->bodylen, md, &ml);
        unsigned char b64[32];
        EVP_EncodeBlock(b64, md, (int)ml);
        HDR("Content-MD5: %s", (const char *)b64);
    }
    if (q->range_off || q->range_len) {
        if (q->range_len) HDR("Range: bytes=%" PRIu64 "-%" PRIu64, q->range_off, q->range_off + q->range_len - 1);
        else HDR("Range: bytes=%" PRIu64 "-", q->range_off);
    }
#undef HDR
    if (rc) {
        curl_slist_free_all(hdrs);
        return err_set(err, -ENOMEM, "out of memory");
    }
    struct buf body;
    buf_init(&body, q->out ? q->out->max : S3_XML_MAX);
    char cerr[CURL_ERROR_SIZE];
    for (unsigned tried = 0;; tried++) {
        cerr[0] = 0;
        body.len = 0;
        q->code[0] = q->msg[0] = 0;
        q->status = 0;
        CURLcode cc = attempt(s, q, url, hdrs, &body, cerr);
        if (cc == CURLE_OK && q->status >= 200 && q->status < 300) break;
        if (cc == CURLE_OK) read_error(q, &body);
        bool again = cc == CURLE_OK ? transient_status(q) : transient_curl(cc);
        if (again && tried < s->c.retries) {
            s->st.retries++;
            nap(s, tried);
            continue;
        }
        if (cc != CURLE_OK)
            rc = err_set(err, again ? -EAGAIN : -EIO, "S3 %s s3://%s/%s: %s%s (%u attempts)", q->method, s->bucket,
                         q->key, *cerr ? cerr : curl_easy_strerror(cc), again ? ", still failing" : "", tried + 1);
        else
            rc = err_set(err, status_errno(q->status, q->code), "S3 %s s3://%s/%s: %ld %s%s%s%s", q->method,
                         s->bucket, q->key, q->status, *q->code ? q->code : status_name(q->status),
                         *q->msg ? ": " : "", q->msg, again ? " (retries exhausted)" : "");
        break;
    }
    curl_slist_free_all(hdrs);
    if (!rc && !strcmp(q->method, "PUT")) s->st.bytes_up += q->bodylen;
    if (!rc && q->out) {
        /* Hand the body over: append to what the caller had. */
        if (body.len && buf_append(q->out, body.p, body.len))
            rc = err_set(err, -E2BIG, "S3 %s s3://%s/%s: the answer does not fit", q->method, s->bucket, q->key);
    }
    buf_release(&body);
    return rc;
}

/* ---- objects -------------------------------------------------------------------------- */

static int put_one(struct s3 *s, const char *key, const char *query, const void *p, size_t n,
                   char etag[S3_ETAG_MAX], struct smfs_err *err)
{
    struct req q = {.method = "PUT", .key = key, .query = query, .body = p, .bodylen = n, .md5 = true};
    int rc = request(s, &q, err);
    if (rc) return rc;
    char want[S3_ETAG_MAX];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned ml;
    digest(EVP_md5(), p, n, md, &ml);
    hex(md, ml, want);
    /* The MD5 S3 computed of what it stored: a body changed on the way is caught here
     * even by a server that does not check Content-MD5. */
    if (strcasecmp(q.etag, want))
        return err_set(err, -EIO, "S3 PUT s3://%s/%s%s%s: stored with ETag '%s', but the bytes sent have MD5 %s",
                       s->bucket, key, query ? "?" : "", query ? query : "", q.etag, want);
    memcpy(etag, q.etag, sizeof q.etag);
    return 0;
}

static int multipart(struct s3 *s, const char *key, const void *p, size_t n, char *etag, struct smfs_err *err)
{
    struct buf ans;
    buf_init(&ans, S3_XML_MAX);
    struct req q = {.method = "POST", .key = key, .query = "uploads=", .out = &ans};
    int rc = request(s, &q, err);
    char upload[512] = "", query[1700];
    if (!rc) {
        xmlDoc *doc = xml_parse(&ans);
        if (doc) xml_text(xml_find(xmlDocGetRootElement(doc), "UploadId"), upload, sizeof upload);
        xmlFreeDoc(doc);
        if (!*upload) rc = err_set(err, -EIO, "S3 POST s3://%s/%s?uploads: no UploadId in the answer", s->bucket, key);
    }
    buf_release(&ans);
    if (rc) return rc;
    char eupload[1600];
    pct_encode(eupload, sizeof eupload, upload, false);   /* a query value: '/' encoded too */
    size_t parts = (n + s->c.part_size - 1) / s->c.part_size;
    struct buf done;
    buf_init(&done, BUF_MAX_DEFAULT);
    rc = buf_printf(&done, "<CompleteMultipartUpload>") ? err_set(err, -ENOMEM, "out of memory") : 0;
    for (size_t i = 0; !rc && i < parts; i++) {
        size_t off = i * s->c.part_size, len = n - off < s->c.part_size ? n - off : s->c.part_size;
        char pe[S3_ETAG_MAX];
        snprintf(query, sizeof query, "partNumber=%zu&uploadId=%s", i + 1, eupload);
        rc = put_one(s, key, query, (const char *)p + off, len, pe, err);
        if (!rc && buf_printf(&done, "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1, pe))
            rc = err_set(err, -ENOMEM, "out of memory");
    }
    if (!rc && buf_printf(&done, "</CompleteMultipartUpload>")) rc = err_set(err, -ENOMEM, "out of memory");
    if (!rc) {
        buf_init(&ans, S3_XML_MAX);
        snprintf(query, sizeof query, "uploadId=%s", eupload);
        struct req c = {.method = "POST", .key = key, .query = query, .body = done.p, .bodylen = done.len, .out = &ans};
        rc = request(s, &c, err);
        /* S3 may answer 200 and put an <Error> in the body of a completion. */
        char got[S3_ETAG_MAX] = "";
        xmlDoc *doc = rc ? NULL : xml_parse(&ans);
        if (doc) {
            xmlNode *root = xmlDocGetRootElement(doc);
            if (root && !strcmp((const char *)root->name, "Error")) {
                read_error(&c, &ans);
                rc = err_set(err, -EIO, "S3 POST s3://%s/%s?uploadId: %s: %s", s->bucket, key, c.code, c.msg);
            } else {
                char raw[S3_ETAG_MAX + 4];
                xml_text(xml_find(root, "ETag"), raw, sizeof raw);
                unquote(raw, got, sizeof got);
            }
            xmlFreeDoc(doc);
        }
        /* AWS answers the MD5 of the parts' MD5s and "-<parts>"; some servers (s3rver
         * among them) the whole object's MD5. Either proves the bytes; anything else is
         * an object that is not what was sent. */
        if (!rc && !s3_etag_matches(s, p, n, got)) {
            char want[S3_ETAG_MAX];
            s3_etag(s, p, n, want);
            rc = err_set(err, -EIO, "S3 multipart s3://%s/%s: completed with ETag '%s', expected %s (or the object's MD5)",
                         s->bucket, key, got, want);
        }
        if (!rc && etag) memcpy(etag, got, S3_ETAG_MAX);
        buf_release(&ans);
    }
    buf_release(&done);
    if (rc) {
        /* Parts of an upload never completed are kept (and billed) until aborted. */
        snprintf(query, sizeof query, "uploadId=%s", eupload);
        struct req a = {.method = "DELETE", .key = key, .query = query};
        struct smfs_err ae;
        (void)request(s, &a, &ae);
    }
    return rc;
}

int s3_put(struct s3 *s, const char *key, const void *p, size_t n, char *etag, struct smfs_err *err)
{
    char tmp[S3_ETAG_MAX];
    if (n > s->c.part_size) return multipart(s, key, p, n, etag, err);
    int rc = put_one(s, key, NULL, p, n, tmp, err);
    if (!rc && etag) memcpy(etag, tmp, sizeof tmp);
    return rc;
}

int s3_head(struct s3 *s, const char *key, struct s3_obj *out, struct smfs_err *err)
{
    memset(out, 0, sizeof *out);
    struct req q = {.method = "HEAD", .key = key};
    int rc = request(s, &q, err);
    if (rc) return rc;
    out->size = q.length;
    memcpy(out->etag, q.etag, sizeof q.etag);
    return 0;
}

int s3_get(struct s3 *s, const char *key, uint64_t off, uint64_t len, struct buf *out, struct smfs_err *err)
{
    struct req q = {.method = "GET", .key = key, .range_off = off, .range_len = len, .out = out};
    int rc = request(s, &q, err);
    /* An empty object, or a range past the end: nothing to add. */
    if (rc && !strcmp(q.code, "InvalidRange")) {
        err_clear(err);
        rc = 0;
    }
    return rc;
}

int s3_delete(struct s3 *s, const char *key, struct smfs_err *err)
{
    struct req q = {.method = "DELETE", .key = key};
    int rc = request(s, &q, err);
    if (rc == -ENOENT) {
        err_clear(err);
        rc = 0;
    }
    return rc;
}

/* A query value, percent-encoded as SigV4 wants (everything but unreserved). */
static int query_value(char *out, size_t n, const char *v)
{
    return pct_encode(out, n, v, false);
}

int s3_list_parse(const uint8_t *p, size_t len, s3_list_fn fn, void *arg, bool *more, char *token, size_t tlen,
                  struct smfs_err *err)
{
    *more = false;
    token[0] = 0;
    struct buf b = {.p = (uint8_t *)p, .len = len};
    xmlDoc *doc = xml_parse(&b);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *)root->name, "ListBucketResult")) {
        xmlFreeDoc(doc);
        return err_set(err, -EIO, "the answer is not a ListBucketResult");
    }
    int rc = 0;
    for (xmlNode *n = root->children; n && !rc; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char v[64];
        if (!strcmp((const char *)n->name, "IsTruncated")) {
            xml_text(n, v, sizeof v);
            *more = !strcmp(v, "true");
        } else if (!strcmp((const char *)n->name, "NextContinuationToken")) {
            xml_text(n, token, tlen);
        } else if (!strcmp((const char *)n->name, "Contents")) {
            char key[S3_KEY_MAX + 1], size[32], raw[S3_ETAG_MAX + 4];
            xml_text(xml_find(n->children, "Key"), key, sizeof key);
            xml_text(xml_find(n->children, "Size"), size, sizeof size);
            xml_text(xml_find(n->children, "ETag"), raw, sizeof raw);
            char *end;
            errno = 0;
            struct s3_obj o = {.key = key, .size = strtoull(size, &end, 10)};
            unquote(raw, o.etag, sizeof o.etag);
            if (!*key) rc = err_set(err, -EIO, "an entry without a key");
            else if (!*size || *end || errno) rc = err_set(err, -EIO, "'%s': size '%s' is not a number", key, size);
            else rc = fn(arg, &o);
        }
    }
    xmlFreeDoc(doc);
    return rc;
}

int s3_list(struct s3 *s, const char *prefix, s3_list_fn fn, void *arg, struct smfs_err *err)
{
    char epre[3 * S3_KEY_MAX + 1], etok[3 * 2048 + 1] = "", token[2048] = "";
    if (strlen(prefix) > S3_KEY_MAX || query_value(epre, sizeof epre, prefix) < 0)
        return err_set(err, -ENAMETOOLONG, "s3://%s/%s: the prefix is longer than S3's %d bytes", s->bucket, prefix, S3_KEY_MAX);
    int rc = 0;
    for (unsigned page = 0; !rc; page++) {
        char query[sizeof epre + sizeof etok + 128];
        /* Parameters in byte order: SigV4 signs the query as sent. */
        char mk[32] = "";
        if (s->c.list_page) snprintf(mk, sizeof mk, "&max-keys=%u", s->c.list_page);
        snprintf(query, sizeof query, "%s%s%slist-type=2%s&prefix=%s", *token ? "continuation-token=" : "", etok,
                 *token ? "&" : "", mk, epre);
        struct buf ans;
        buf_init(&ans, S3_XML_MAX);
        struct req q = {.method = "GET", .key = "", .query = query, .out = &ans};
        rc = request(s, &q, err);
        bool more = false;
        if (!rc) {
            rc = s3_list_parse(ans.p, ans.len, fn, arg, &more, token, sizeof token, err);
            if (rc && err->code == rc && strncmp(err->msg, "S3 ", 3))
                err_wrap(err, "S3 list s3://%s/%s (page %u)", s->bucket, prefix, page + 1);
        }
        buf_release(&ans);
        if (rc || !more) break;
        if (!*token || query_value(etok, sizeof etok, token) < 0) {
            rc = err_set(err, -EIO, "S3 list s3://%s/%s: truncated without a usable continuation token", s->bucket, prefix);
            break;
        }
    }
    return rc;
}
