/* share.c -- the ranks of a node sharing out their input (see share.h).
 *
 * The pieces of every rank of the node are listed, alike, by every one of
 * them; what is shared is which are taken, in a window of shared memory
 * (MPI_Win_allocate_shared) that only CPU atomics touch, never MPI calls.
 */
#include "share.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "agree.h"

/* The shared words, node rank i's at words[i]: begun | end << 32, of its
 * n pieces: [0, begun) were taken by rank i itself, [end, n) by other
 * ranks, [begun, end) are left. Invariants: begun <= end; only rank i
 * raises begun and only other ranks lower end, each by a compare-and-swap
 * of the whole word (so both cannot take the same piece); end > 1 while
 * another rank lowers it (piece 0 is rank i's). Then words[nodes + i]:
 * node rank i's bytes mapped, for progress; and words[2 * nodes]: non-zero
 * when a rank failed and the others are to take no more. */
struct mill__share {
    MPI_Comm node;
    MPI_Win win;
    uint64_t *words;
    int me, nodes;       /* this rank's place in the node, and the node's ranks */
    int mappers;         /* the node's ranks that map past their first piece: one per core */
    mill__piece **list;  /* per node rank, its pieces in input order */
    uint64_t total;      /* the bytes of the node's pieces, and of its ranks' HDF5 shares */
};

#define BEGUN(w) ((uint32_t)(w))
#define END(w) ((uint32_t)((w) >> 32))

/* Lists rank's pieces, cut, into *out (malloc'd) and their count into *n,
 * and adds their bytes to *total. Returns 0, or -1 when out of memory or
 * when they are too many for a word. */
static int list_pieces(const mill__inputs *in, const int *owner, int line_numbers, uint64_t split, int rank,
                       int size, mill__piece **out, uint32_t *n, uint64_t *total) {
    mill__piece *pc = NULL;
    size_t k = mill__split_list(in, owner, rank, size, &pc);
    if (k == SIZE_MAX) return -1;
    uint64_t m = 0;
    for (size_t i = 0; i < k; i++) {
        const mill__file *f = &in->files[pc[i].file];
        uint64_t len = pc[i].end - pc[i].start;
        if (f->kind == MILL__HDF5) *total += f->size / (uint64_t)size;
        else m += f->kind == MILL__TEXT && !line_numbers && len > split ? (len + split - 1) / split : 1;
    }
    mill__piece *l = m < UINT32_MAX ? malloc((m ? m : 1) * sizeof *l) : NULL;
    if (!l) {
        free(pc);
        return -1;
    }
    *n = 0;
    for (size_t i = 0; i < k; i++) {
        const mill__file *f = &in->files[pc[i].file];
        if (f->kind == MILL__HDF5) continue;
        *total += pc[i].end - pc[i].start;
        uint64_t step = f->kind == MILL__TEXT && !line_numbers ? split : UINT64_MAX;
        uint64_t s = pc[i].start;
        do {
            uint64_t e = pc[i].end - s > step ? s + step : pc[i].end;
            l[(*n)++] = (mill__piece){.file = pc[i].file, .start = s, .end = e};
            s = e;
        } while (s < pc[i].end);
    }
    free(pc);
    *out = l;
    return 0;
}

static void free_lists(mill__share *s) {
    for (int i = 0; s->list && i < s->nodes; i++) free(s->list[i]);
    free(s->list);
}

/* Collective over the node: returns how many CPUs its ranks may run on
 * together (the union of their affinity masks: the node's cores, or those
 * Slurm or mpirun's binding gave the job), or INT_MAX when unknown. */
static int node_cpus(MPI_Comm node) {
    cpu_set_t mine, all;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) memset(&mine, 0xff, sizeof mine);
    if (MPI_Allreduce(&mine, &all, (int)sizeof all, MPI_BYTE, MPI_BOR, node) != MPI_SUCCESS) return INT_MAX;
    return CPU_COUNT(&all);
}

mill__share *mill__share_open(const mill__inputs *in, int csv_quoted_newlines, int line_numbers, uint64_t split,
                              MPI_Comm comm, int rank, int size) {
    /* Sharing is off for the whole job when --split-size is 0: every rank
     * knows it, none goes on to the collectives below. */
    if (!split) return NULL;
    mill__share *s = calloc(1, sizeof *s);
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Group g = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
    int *local = NULL, *global = NULL, ok = s != NULL;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) != MPI_SUCCESS) {
        free(s);
        return NULL; /* every rank failed alike: a collective that cannot create */
    }
    int me = 0, nodes = 1;
    ok = ok && MPI_Comm_rank(node, &me) == MPI_SUCCESS && MPI_Comm_size(node, &nodes) == MPI_SUCCESS;
    int cpus = node_cpus(node);
    if (ok) {
        s->node = node, s->me = me, s->nodes = nodes, s->mappers = nodes < cpus ? nodes : cpus;
        local = malloc((size_t)nodes * sizeof *local), global = malloc((size_t)nodes * sizeof *global);
        s->list = calloc((size_t)nodes, sizeof *s->list);
        ok = local && global && s->list;
    }
    for (int i = 0; ok && i < nodes; i++) local[i] = i;
    ok = ok && MPI_Comm_group(node, &g) == MPI_SUCCESS && MPI_Comm_group(comm, &world) == MPI_SUCCESS &&
         MPI_Group_translate_ranks(g, nodes, local, world, global) == MPI_SUCCESS;
    uint32_t *count = ok ? calloc((size_t)nodes, sizeof *count) : NULL;
    int *owner = ok && count ? mill__split_place(in, csv_quoted_newlines, size) : NULL;
    ok = ok && count && owner;
    for (int i = 0; ok && i < nodes; i++)
        ok = list_pieces(in, owner, line_numbers, split, global[i], size, &s->list[i], &count[i], &s->total) == 0;
    free(owner);
    if (g != MPI_GROUP_NULL) MPI_Group_free(&g);
    if (world != MPI_GROUP_NULL) MPI_Group_free(&world);
    free(local);
    free(global);
    /* The window: made only when every rank of the node has its lists. A
     * rank short of memory here reads its static share, as all then do. */
    void *base = NULL;
    MPI_Aint bytes;
    int unit;
    if (mill__all_ok(node, ok)) {
        int made = MPI_Win_allocate_shared(me == 0 ? (MPI_Aint)(2 * nodes + 1) * 8 : 0, 8, MPI_INFO_NULL, node,
                                           &base, &s->win) == MPI_SUCCESS;
        /* Refused everywhere (as by --mca osc pt2pt): nothing to free but
         * the communicator. A window made on some ranks only cannot be
         * freed (MPI_Win_free is collective); it stays until exit. */
        ok = mill__all_ok(node, made) ? 1 : mill__all_ok(node, !made) ? 0 : -1;
    } else {
        ok = 0;
    }
    if (ok == 1) {
        ok = MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN) == MPI_SUCCESS &&
             MPI_Win_shared_query(s->win, 0, &bytes, &unit, &base) == MPI_SUCCESS &&
             MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win) == MPI_SUCCESS;
        if (ok) {
            s->words = base;
            __atomic_store_n(&s->words[me], (uint64_t)count[me] << 32, __ATOMIC_RELEASE);
            __atomic_store_n(&s->words[nodes + me], 0, __ATOMIC_RELAXED);
            if (me == 0) __atomic_store_n(&s->words[2 * nodes], 0, __ATOMIC_RELEASE);
            ok = MPI_Win_sync(s->win) == MPI_SUCCESS;
        }
        /* Every word is set before any rank takes a piece. Every rank meets
         * here, whatever failed above, so that none waits for ever. */
        ok = MPI_Barrier(node) == MPI_SUCCESS && ok && MPI_Win_sync(s->win) == MPI_SUCCESS;
        /* A window that failed past its making is left to exit too: the
         * node's ranks would have to agree to free it. */
        if (!mill__all_ok(node, ok)) ok = -1;
    }
    free(count);
    if (ok != 1) {
        if (s) free_lists(s);
        free(s);
        if (ok == 0) (void)MPI_Comm_free(&node); /* a failure leaves it until exit */
        return NULL;
    }
    return s;
}

int mill__share_next(mill__share *s, mill__piece *pc) {
    uint64_t *w = &s->words[s->me], x = __atomic_load_n(w, __ATOMIC_ACQUIRE);
    /* After a failure elsewhere a rank still reads its first piece: with
     * one piece per rank every rank then finds the first error of its
     * share, and the lowest rank's is the one reported, as without sharing. */
    if (BEGUN(x) > 0 && __atomic_load_n(&s->words[2 * s->nodes], __ATOMIC_ACQUIRE)) return 0;
    /* A rank beyond the node's cores maps its first piece only, and leaves
     * the rest to the others: ranks that take turns on a core each run
     * slower than one alone, and evict each other's tables from its caches. */
    int mapper = s->me < s->mappers;
    while (BEGUN(x) < END(x) && (mapper || BEGUN(x) == 0))
        if (__atomic_compare_exchange_n(w, &x, x + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            *pc = s->list[s->me][BEGUN(x)];
            return 1;
        }
    for (; mapper;) { /* own pieces gone: the last of the rank with most left */
        int v = -1;
        uint32_t most = 0;
        for (int i = 0; i < s->nodes; i++) {
            uint64_t y = __atomic_load_n(&s->words[i], __ATOMIC_ACQUIRE);
            uint32_t lo = BEGUN(y) > 1 ? BEGUN(y) : 1; /* piece 0 is its own rank's */
            if (i != s->me && END(y) > lo && END(y) - lo > most) most = END(y) - lo, v = i, x = y;
        }
        if (v < 0) return 0;
        uint64_t taken = (x & UINT32_MAX) | (uint64_t)(END(x) - 1) << 32;
        if (__atomic_compare_exchange_n(&s->words[v], &x, taken, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            *pc = s->list[v][END(x) - 1];
            return 1;
        } /* another rank changed the word first: look again */
    }
    return 0;
}

void mill__share_stop(mill__share *s) {
    if (s) __atomic_store_n(&s->words[2 * s->nodes], 1, __ATOMIC_RELEASE);
}

uint64_t mill__share_progress(mill__share *s, uint64_t mine, uint64_t *total) {
    __atomic_store_n(&s->words[s->nodes + s->me], mine, __ATOMIC_RELAXED);
    uint64_t sum = 0;
    for (int i = 0; i < s->nodes; i++) sum += __atomic_load_n(&s->words[s->nodes + i], __ATOMIC_RELAXED);
    *total = s->total;
    return sum;
}

void mill__share_close(mill__share *s) {
    if (!s) return;
    /* Ranks done first wait here for the node's last, asleep (mill__wait)
     * rather than spinning in MPI_Win_free on cores the others need.
     * Failures here leave a window or a communicator until exit: nothing
     * read depends on them any more. */
    MPI_Request req;
    if (MPI_Ibarrier(s->node, &req) == MPI_SUCCESS) (void)mill__wait(&req);
    (void)MPI_Win_unlock_all(s->win);
    (void)MPI_Win_free(&s->win);
    (void)MPI_Comm_free(&s->node);
    free_lists(s);
    free(s);
}
