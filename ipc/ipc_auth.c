/* ipc/ipc_auth.c: logins from a kdb+-style -u file. Digests with OpenSSL (EVP),
 * comparisons with CRYPTO_memcmp so timing does not leak how much matched. */
#include "ipc/ipc_auth.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

#define AUTH_MAX_FILE ((size_t)4 << 20)

struct ipc_auth_entry {
    char    *user;
    int      kind;            /* 0 plain, 1 sha256, 2 md5 */
    uint8_t  secret[64];      /* plain bytes or the digest */
    size_t   len;
};

struct ipc_auth {
    struct ipc_auth_entry *e;
    size_t                 n;
};

void ipc_auth_free(struct ipc_auth *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) {
        OPENSSL_cleanse(a->e[i].secret, sizeof a->e[i].secret);
        free(a->e[i].user);
    }
    free(a->e);
    free(a);
}

static bool hexdigest(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    for (size_t i = 0; i < n / 2; i++) {
        char b[3] = {s[2 * i], s[2 * i + 1], 0};
        out[i] = (uint8_t)strtoul(b, NULL, 16);
    }
    return true;
}

int ipc_auth_load(const char *path, struct ipc_auth **out, struct smfs_err *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = file_read_all(path, AUTH_MAX_FILE, &text, &len, err);
    if (rc) return err_wrap(err, "user file");
    struct ipc_auth *a = calloc(1, sizeof *a);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (a) a->e = calloc(lines, sizeof *a->e);
    if (!a || !a->e) {
        rc = err_set(err, -ENOMEM, "user file '%s': out of memory", path);
        goto fail;
    }
    char *p = (char *)text, *end = p + len;
    for (size_t ln = 1; p < end; ln++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        if (le > p && le[-1] == '\r') le--;
        size_t n = (size_t)(le - p);
        if (n && *p != '#') {
            char *colon = memchr(p, ':', n);
            if (!colon || colon == p) {
                rc = err_set(err, -EINVAL, "user file '%s' line %zu: expected user:password", path, ln);
                goto fail;
            }
            if (memchr(p, '\0', n)) {
                rc = err_set(err, -EINVAL, "user file '%s' line %zu: NUL byte", path, ln);
                goto fail;
            }
            struct ipc_auth_entry *e = &a->e[a->n];
            const char *pw = colon + 1;
            size_t pl = (size_t)(le - pw);
            e->user = strndup(p, (size_t)(colon - p));
            if (!e->user) {
                rc = err_set(err, -ENOMEM, "user file '%s': out of memory", path);
                goto fail;
            }
            a->n++;
            if (pl == 64 && hexdigest(pw, 64, e->secret)) {
                e->kind = 1;
                e->len = 32;
            } else if (pl == 32 && hexdigest(pw, 32, e->secret)) {
                e->kind = 2;
                e->len = 16;
            } else if (pl <= sizeof e->secret) {
                memcpy(e->secret, pw, pl);
                e->len = pl;
            } else {
                rc = err_set(err, -EINVAL, "user file '%s' line %zu: password longer than %zu bytes",
                             path, ln, sizeof e->secret);
                goto fail;
            }
        }
        p = nl ? nl + 1 : end;
    }
    OPENSSL_cleanse(text, len);
    free(text);
    *out = a;
    return 0;
fail:
    OPENSSL_cleanse(text, len);
    free(text);
    ipc_auth_free(a);
    return rc;
}

bool ipc_auth_check(const struct ipc_auth *a, const char *creds)
{
    const char *colon = strchr(creds, ':');
    size_t ul = colon ? (size_t)(colon - creds) : strlen(creds);
    const char *pw = colon ? colon + 1 : "";
    size_t pl = strlen(pw);
    for (size_t i = 0; i < a->n; i++) {
        const struct ipc_auth_entry *e = &a->e[i];
        if (strlen(e->user) != ul || memcmp(e->user, creds, ul) != 0) continue;
        if (e->kind == 0) return pl == e->len && CRYPTO_memcmp(pw, e->secret, pl) == 0;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned mdl = 0;
        if (!EVP_Digest(pw, pl, md, &mdl, e->kind == 1 ? EVP_sha256() : EVP_md5(), NULL)) return false;
        bool ok = mdl == e->len && CRYPTO_memcmp(md, e->secret, mdl) == 0;
        OPENSSL_cleanse(md, sizeof md);
        return ok;
    }
    return false;
}
