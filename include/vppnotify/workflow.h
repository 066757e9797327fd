/*
 * workflow.h - what a user asks vppnotify to do, written once in the library for every door:
 * the command line, the HTTP API and serve's own threads (docs/ARCHITECTURE.md, "Workflows").
 *
 * A workflow takes plain inputs and returns a result struct; it never prints, never exits and
 * never sees argv. Where a door wants to show progress (an eventId as soon as its request is
 * sent, one line per notification replayed) the workflow calls a callback of the door's. Its
 * failures come back as a code and a struct vn_error message in the house style.
 *
 * Every durable change a workflow makes is a job of the writer it is given (writer.h): inside
 * serve, the one transaction runner; beside it (the CLI), an inline writer on the command's
 * own store handle, so that each write is a short transaction of its own. No workflow opens a
 * write transaction by itself. Reads go through the store handle it is given, which belongs
 * to the calling thread.
 *
 * The groups, each with its header:
 *   workflow_location.h  subscribe, rotate a notification token, set-stoken, take over
 *   workflow_request.h   Apple's async requests (split, sent, tracked), events track
 *   workflow_sync.h      sync one location or every one, now
 *   workflow_replay.h    replay: stored notifications through today's parser and apply
 *
 * Ownership: struct vn_workflow only borrows; everything it points to must outlive the call.
 */
#ifndef VPPNOTIFY_WORKFLOW_H
#define VPPNOTIFY_WORKFLOW_H

struct vn_apple;
struct vn_store;
struct vn_writer;

/* What a workflow runs with. */
struct vn_workflow {
    struct vn_store *st;    /* reads, on the calling thread */
    struct vn_writer *w;    /* every write: serve's writer, or vn_writer_inline(st) */
    struct vn_apple *apple; /* Apple's client; may be NULL for workflows that do not call it */
    const char *key_file;   /* path of the sealing key of the sTokens; may be NULL likewise */
};

#endif
