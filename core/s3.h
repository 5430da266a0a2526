/* core/s3.h: an S3 client for the object-storage tier: put (one request, or multipart
 * for big objects), head, ranged get, list, delete. libcurl does the HTTP and the SigV4
 * signing (CURLOPT_AWS_SIGV4), OpenSSL the digests, libxml2 reads S3's XML answers:
 * nothing of HTTP, crypto or XML is written here, only what S3 asks of a request.
 *
 * Integrity: every body sent carries its SHA-256 (x-amz-content-sha256, signed) and
 * its MD5 (Content-MD5: S3 refuses a body that arrived different); the ETag S3 answers
 * is compared with the MD5 computed here (s3_etag says what it must be), so a put that
 * returns 0 stored exactly these bytes.
 *
 * Owns:    one curl handle and the configuration copied into it.
 * Never:   follows a redirect to another host; retries a request that S3 answered
 *          with a client error (4xx but 429 and RequestTimeout); trusts the size of an
 *          answer (every body read is bounded).
 * Threads: one thread at a time per handle; open one handle per thread.
 * Errors:  0 or -errno, with *err naming the method, s3://bucket/key and S3's own code
 *          and message ("S3 PUT s3://b/k: 403 AccessDenied: Access Denied"): -ENOENT
 *          for NoSuchKey/404, -EACCES for 403, -EAGAIN when the retries ran out on a
 *          transient failure, -EIO for an answer that contradicts what was sent. */
#ifndef SMFS_S3_H
#define SMFS_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define S3_PART_MIN      (5ull << 20)    /* S3's smallest part but the last */
#define S3_PART_DEFAULT  (16ull << 20)
#define S3_ETAG_MAX      80

struct s3_conf {
    char     endpoint[512];   /* scheme://host[:port] without a trailing '/' */
    char     region[64];
    char     access_key[256], secret_key[256], token[4096];
    bool     path_style;      /* endpoint/bucket/key rather than bucket.host/key */
    unsigned retries;         /* attempts after the first on a transient failure */
    unsigned backoff_ms;      /* the first wait; it doubles, with jitter */
    uint64_t part_size;       /* objects above this go in parts of this size */
    unsigned list_page;       /* keys per listing page (0: S3's 1000) */
    unsigned parallel;        /* objects sent at once by a migration (its own handles) */
};

/* The usual AWS variables: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (default
 * https://s3.<region>.amazonaws.com, virtual-hosted; a given endpoint is addressed
 * path-style unless SMFS_S3_VHOST=1), AWS_REGION or AWS_DEFAULT_REGION (us-east-1),
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; SMFS_S3_RETRIES (5),
 * SMFS_S3_PART_MB (16), SMFS_S3_PARALLEL (8 objects at once), SMFS_S3_LIST_PAGE (keys per listing request; S3's 1000). -EINVAL naming the variable when one is malformed or the keys
 * are missing. */
int s3_conf_env(struct s3_conf *c, struct smfs_err *err) __attribute__((warn_unused_result));

struct s3;

int s3_open(const struct s3_conf *c, const char *bucket, struct s3 **out, struct smfs_err *err)
        __attribute__((warn_unused_result));
void s3_close(struct s3 *s);
const char *s3_bucket(const struct s3 *s);

/* What S3 says of an object. */
struct s3_obj {
    char    *key;                  /* s3_list: the key (borrowed for the callback) */
    uint64_t size;
    char     etag[S3_ETAG_MAX];    /* without quotes */
};

/* The ETag s3_put's upload of P[0..n) gets: the MD5's hex for one request, for a
 * multipart one the MD5 of the parts' MD5s and "-<parts>". */
void s3_etag(const struct s3 *s, const void *p, size_t n, char out[S3_ETAG_MAX]);

/* ETAG is what S3 gives an upload of P[0..n): the form above, or the whole MD5 that
 * some servers (s3rver among them) give a multipart object. */
bool s3_etag_matches(const struct s3 *s, const void *p, size_t n, const char *etag);

/* Store P[0..n) at KEY (replacing it), one request up to part_size, else multipart
 * (an upload that fails is aborted). ETAG (may be NULL) receives the verified ETag. */
int s3_put(struct s3 *s, const char *key, const void *p, size_t n, char *etag, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* -ENOENT when there is no such key. */
int s3_head(struct s3 *s, const char *key, struct s3_obj *out, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* Bytes [off, off+len) of KEY appended to OUT (len 0: to the end); an object that
 * holds fewer is not an error: OUT gets what there is. */
int s3_get(struct s3 *s, const char *key, uint64_t off, uint64_t len, struct buf *out,
           struct smfs_err *err) __attribute__((warn_unused_result));

/* Every key under PREFIX, in S3's (byte) order, each passed to FN; FN returning
 * non-zero stops the listing with that value. */
typedef int (*s3_list_fn)(void *arg, const struct s3_obj *o);
int s3_list(struct s3 *s, const char *prefix, s3_list_fn fn, void *arg, struct smfs_err *err)
        __attribute__((warn_unused_result));

/* One ListObjectsV2 page P[0..len) as S3 answers it: each object to FN, *MORE when
 * truncated, the continuation TOKEN (TLEN bytes). -EIO for an answer that is not a
 * listing, an entry without a key or with a size that is not a number. (s3_list's
 * reader, apart so that it can be fuzzed: the server is a peer like any other.) */
int s3_list_parse(const uint8_t *p, size_t len, s3_list_fn fn, void *arg, bool *more, char *token, size_t tlen,
                  struct smfs_err *err) __attribute__((warn_unused_result));

/* Remove KEY; a key already absent is not an error (S3 says 204 either way). */
int s3_delete(struct s3 *s, const char *key, struct smfs_err *err) __attribute__((warn_unused_result));

/* Requests sent and retried since open (for reports and tests). */
struct s3_stats {
    uint64_t requests, retries, bytes_up, bytes_down;
};
void s3_stats(const struct s3 *s, struct s3_stats *out);

#endif
