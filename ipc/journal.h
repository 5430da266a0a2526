/* ipc/journal.h: kdb+ tickerplant journals, the `-11!` logs tick.q writes: read one
 * message at a time, count them, find where a torn or foreign file stops making sense.
 *
 * Format (../shared/reference/journals-and-attributes.md §1, and every real log in
 * ../shared/samples/journals-advanced-kdb-tick-arch/):
 *    0  ff 01          a serialized object follows (as in a kdb+ data file)
 *    2  00 00          type 0 (general list), attribute 0
 *    4  int32 count    not maintained by tick.q (0 even in a closed log of 17,127
 *                      messages): never trusted, the reader scans
 *    8  messages back to back, each one object as q serializes it in IPC without the
 *       8-byte IPC header -- (`upd;`table;data), data a table or a list of columns --
 *       until the end of the file. A log being written may end in a message cut short
 *       (a "torn tail": tick.q was writing it); -11!(-2;x) reports the whole messages
 *       before it and their bytes, which is what journal_scan does.
 *
 * Owns:    the file's descriptor and a read buffer (about one message) while open.
 * Never:   trusts the header's count; maps the file (the tickerplant, or an operator,
 *          may truncate it under us: reads are preads, so a shrinking file is a torn
 *          tail, never a SIGBUS); hands out a message that did not decode whole;
 *          holds more than JOURNAL_MAX_MSG of one message.
 * Threads: one caller per struct journal.
 * Sequence: journal_open → journal_next* (or journal_skip) → journal_close;
 *          journal_scan alone for -11!(-2;x).
 * Errors:  0 or -errno with *err naming the file, and for a bad message its number
 *          and byte offset: -ENOENT, -EBADMSG (not a journal, or a message that does
 *          not decode), -ENODATA (journal_next at a torn tail: the end of what is
 *          whole). */
#ifndef SMFS_JOURNAL_H
#define SMFS_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/k.h"

#define JOURNAL_HDR     8
#define JOURNAL_MAX_MSG ((size_t)1 << 30)   /* one message; tick.q's are KB to MB */

struct journal;

/* Open PATH and check its header. A file shorter than the header is -EBADMSG. */
int journal_open(const char *path, struct journal **out, struct smfs_err *err) __attribute__((warn_unused_result));
void journal_close(struct journal *j);

/* The next message (*msg: caller k_frees), its number from 0 and its byte offset.
 * 1 at the clean end of the file; -ENODATA when what follows is a message cut short
 * (the file may still be growing: a later call, after journal_refresh, may find it
 * whole); -EBADMSG when it decodes but is not a message or cannot decode at all. */
int journal_next(struct journal *j, struct k **msg, uint64_t *index, uint64_t *off, struct smfs_err *err)
        __attribute__((warn_unused_result));
/* Skip N messages without keeping them (decoded and dropped); the same returns. */
int journal_skip(struct journal *j, uint64_t n, struct smfs_err *err) __attribute__((warn_unused_result));
/* Look at the file's size again (the tickerplant appends while we read). */
int journal_refresh(struct journal *j, struct smfs_err *err) __attribute__((warn_unused_result));
uint64_t journal_index(const struct journal *j);   /* messages read so far */
uint64_t journal_offset(const struct journal *j);  /* bytes of them, header included */
uint64_t journal_size(const struct journal *j);    /* the file's, as last seen */

/* What -11!(-2;x) answers: whole messages, the bytes they end at (header included),
 * the file's size, and whether a torn or bad message follows (WHY says which and
 * where). Returns 0 for any journal, -EBADMSG only for a file that is not one. */
struct journal_scan {
    uint64_t messages, valid_bytes, file_bytes;
    bool     torn;
    char     why[ERR_MSG_MAX];
};
int journal_scan(const char *path, struct journal_scan *out, struct smfs_err *err) __attribute__((warn_unused_result));

/* Position the reader at message INDEX, byte OFF (a boundary an earlier read found). */
void journal_seek(struct journal *j, uint64_t index, uint64_t off);

/* Split a journal message (`upd;`t;data) into its table name (borrowed from MSG) and
 * data (borrowed). -EBADMSG (err says what it is instead) for anything else. */
int journal_upd(const struct k *msg, const char **table, const struct k **data, struct smfs_err *err)
        __attribute__((warn_unused_result));

#endif
