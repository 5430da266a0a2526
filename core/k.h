/* core/k.h: K objects, the values kdb+ stores and sends: atoms and vectors of the 18
 * simple types, general lists, dictionaries (99, sorted 127), tables (98), keyed tables
 * (a dict of two tables), enumerations (±20, with their domain name), errors (-128),
 * generic null (::) and function values carried as opaque bytes.
 *
 * It lives in core/ because it is the shared vocabulary of two formats: kdb+ `ff01`
 * files are the q IPC body encoding (core/k_ser.c), and ipc/ frames the same bodies.
 *
 * Owns:    every object is a tree with exactly one owner; k_free frees the whole tree.
 *          No reference counts: share by copying (k_copy), never by aliasing.
 * Never:   trusts a count it did not allocate (the decoder checks them against input
 *          bytes first); aborts on bad input.
 * Threads: none; an object belongs to one thread at a time.
 * Errors:  constructors return NULL only on out-of-memory; fallible calls return 0 or
 *          -errno and fill *err. */
#ifndef SMFS_K_H
#define SMFS_K_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* q type numbers (negative for atoms). */
enum {
    KT_LIST = 0, KT_BOOL = 1, KT_GUID = 2, KT_BYTE = 4, KT_SHORT = 5, KT_INT = 6,
    KT_LONG = 7, KT_REAL = 8, KT_FLOAT = 9, KT_CHAR = 10, KT_SYM = 11,
    KT_TIMESTAMP = 12, KT_MONTH = 13, KT_DATE = 14, KT_DATETIME = 15,
    KT_TIMESPAN = 16, KT_MINUTE = 17, KT_SECOND = 18, KT_TIME = 19,
    KT_ENUM = 20,            /* 20..76 in memory; 20 on disk since kdb+ 3.6 */
    KT_ANYMAP = 77,
    KT_TABLE = 98, KT_DICT = 99,
    KT_LAMBDA = 100, KT_UNARY = 101, KT_BINARY = 102, KT_ITERATOR = 103,
    KT_PROJECTION = 104, KT_COMPOSITION = 105, KT_EACH = 106, KT_EACHPRIOR_LAST = 111,
    KT_DYNLOAD = 112,
    KT_SORTED_DICT = 127,
    KT_ERROR = -128,
};

/* Attributes, as the attribute byte encodes them. */
enum { KA_NONE = 0, KA_SORTED = 1, KA_UNIQUE = 2, KA_PARTED = 3, KA_GROUPED = 4 };

/* Null and infinity bit patterns (kdb-formats §1). */
#define KNULL_H ((int16_t)INT16_MIN)
#define KNULL_I ((int32_t)INT32_MIN)
#define KNULL_J ((int64_t)INT64_MIN)
#define KINF_H  ((int16_t)INT16_MAX)
#define KINF_I  ((int32_t)INT32_MAX)
#define KINF_J  ((int64_t)INT64_MAX)

struct k {
    int8_t  t;      /* q type */
    uint8_t attr;   /* vectors, lists, tables */
    int64_t n;      /* vectors and lists: items; atoms: 1; dict: 2; table: 1 */
    char   *dom;    /* ±KT_ENUM: domain name (owned); NULL otherwise */
    char   *blk;    /* KT_SYM: one block of names that items may point into (owned), so
                       a decoded vector is two allocations, not one per name; NULL if none */
    size_t  blklen;
    union {
        uint8_t   g;            /* bool, byte, char, generic null (101 with g = 0) */
        int16_t   h;
        int32_t   i;            /* int, month, date, minute, second, time */
        int64_t   j;            /* long, timestamp, timespan, enum index */
        float     e;
        double    f;            /* float, datetime */
        uint8_t   uu[16];       /* guid atom */
        char     *s;            /* symbol atom, error text (owned) */
        void     *v;            /* fixed-width vector data, n * k_width(t) bytes (owned);
                                   enum vectors: n int64 indices */
        char    **syms;         /* symbol vector: n owned strings; NULL means "" */
        struct k **kk;          /* list: n items; dict: keys, values; table: its dict */
        struct { uint8_t *p; size_t len; bool be; } fn;   /* function value: the bytes
                                   from its type byte on, as received (be: big-endian) */
    } u;
};

/* --- type facts ---------------------------------------------------------- */

/* Bytes per item of a fixed-width vector of type t (|t| for atoms); 0 for anything
 * else (symbols, lists, dicts…). Enums: 8. */
int k_width(int t);
/* True for the types with a fixed-width vector form (1,2,4..10,12..19). */
bool k_is_simple(int t);
/* q's name for a type ("long", "symbol", "timestamp", "enum", "table"…) and its
 * type char ('j', 's'…; ' ' when none). Static strings. */
const char *k_type_name(int t);
char k_type_char(int t);
/* Attribute names: "", "s", "u", "p", "g"; NULL for an unknown byte. */
const char *k_attr_name(int attr);
/* Parse a q type name ("long", "j", "symbol"…) or char; returns the type or 0. */
int k_type_from_name(const char *name);

/* --- construction ------------------------------------------------------- */

/* Every constructor returns NULL only on out-of-memory. */
struct k *k_atom(int8_t t);                    /* a zeroed atom of type t (t < 0) */
struct k *k_bool(bool b);
struct k *k_long(int64_t j);
struct k *k_int(int32_t i);
struct k *k_float(double f);
struct k *k_char(char c);
struct k *k_sym(const char *s);                /* copies s */
struct k *k_timestamp(int64_t ns);
struct k *k_timespan(int64_t ns);
struct k *k_date(int32_t d);
struct k *k_null(void);                        /* (::) */
struct k *k_error(const char *msg);            /* copies msg */

/* A vector of n zeroed items of simple type t, a symbol vector of n empty names, an
 * enum vector (t = KT_ENUM, copies dom) or a general list of n (::). */
struct k *k_vec(int8_t t, int64_t n);
struct k *k_enum(const char *dom, int64_t n);
struct k *k_list(int64_t n);
/* A general list whose N items are NULL until the caller sets each (a decoder filling
 * it in order); k_free copes with the NULLs of one abandoned half way. */
struct k *k_list_unset(int64_t n);
struct k *k_str(const char *s, size_t len);    /* char vector */
struct k *k_symv(const char *const *names, int64_t n);

/* Takes ownership of keys and vals (both freed on failure). */
struct k *k_dict(struct k *keys, struct k *vals);
/* Takes ownership of dict (a dict of symbol keys to a list of equal-length columns). */
struct k *k_table(struct k *dict);

/* A symbol vector of the N names packed NUL-terminated in TEXT[0..avail) (the q IPC
 * and ff01 file layout), held in one block. *used: bytes taken. -EBADMSG when a name
 * has no NUL before avail (*used: where it starts), -ENOMEM. */
int k_symv_packed(const char *text, size_t avail, int64_t n, struct k **out, size_t *used)
        __attribute__((warn_unused_result));

/* Set item i of a symbol vector to a copy of s. 0 or -ENOMEM. */
int k_symv_set(struct k *x, int64_t i, const char *s) __attribute__((warn_unused_result));
/* Replace item i of a general list, taking ownership of item (frees the old one). */
void k_list_set(struct k *x, int64_t i, struct k *item);

/* Item i of a symbol vector, never NULL. */
static inline const char *k_symv_at(const struct k *x, int64_t i)
{
    return x->u.syms[i] ? x->u.syms[i] : "";
}

/* Deep copy; NULL on out-of-memory. */
struct k *k_copy(const struct k *x);
/* Deep equality (NaNs of the same bits compare equal). */
bool k_equal(const struct k *a, const struct k *b);
void k_free(struct k *x);                      /* k_free(NULL) is a no-op */

/* Row count of a table or of a vector/list; -1 if x has no rows. */
int64_t k_count(const struct k *x);

#endif
