"""The simulated mm as a struct of numpy arrays (no Python object per page).

``MM`` is a numba StructRef of arrays handed to every compiled function, as the kernel hands
``pg_data_t``/``struct zone`` around; inside compiled code the kernel functions pass its view
(``mm_view``), a plain pointer. Nodes are numbered by position (0..N-1) inside the model;
tierlab.simulate maps them back to the kernel's node ids.

Pages belong to owners: tasks first (their anonymous memory), then files (their page cache);
owner rows share the task_* arrays, a file's row never runs and is never OOM-killed.
Per page (id = owner base + vpn), 15 bytes in two records (``PAGE_HOT_DTYPE``,
``PAGE_LRU_DTYPE``); the pg_* arrays are strided views of their fields:
  pg_zone  int8   zone holding the page; NOT_PRESENT, or SWAPPED when in swap
  pg_flags uint8  PG_* bits below
  pg_memcg int8   memory cgroup the page is charged to (0 = root)
  pg_prev, pg_next int32  links of the LRU list the page is on (-1 at the ends)
  pg_scan  int32  NUMA-balancing scan time in ms (the kernel keeps it in the cpupid bits)
With DAMON contexts configured, ``pg_damon`` adds one byte per page (PG_idle, PG_young; 16 bytes
in all); without, it is a one-element stub.
With lru = "mglru" one more byte, pg_gen (the generation and LRU_REFS bits the kernel keeps in
folio->flags), in its own array so that the classic model does not carry it: 16 bytes.
LRU lists: one set per lruvec = (memcg, node), lruvec index memcg*n_nodes + node, list index
lruvec*NR_LRU_LISTS + lru, head = youngest.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, imputils
from numba.core.datamodel import models
from numba.extending import (infer_getattr, intrinsic, lower_getattr_generic, register_model)
from numba.core.typing.templates import AttributeTemplate
from numba.experimental import structref

from . import vmstat

NOT_PRESENT = -1
SWAPPED = -2
SHADOW = -3            # evicted page-cache page whose shadow entry (in pg_scan) remembers it

# page flags
PG_YOUNG = 1          # the pte accessed bit, set by every access, cleared by the rmap walk
PG_REFERENCED = 2     # PG_referenced: "used once" mark of folio_check_references()
PG_ACTIVE = 4
PG_FILE = 8           # page cache (file LRU), else anon (swap-backed)
PG_DIRTY = 16
PG_WORKINGSET = 32
PG_PROTNONE = 64      # pte made PROT_NONE by the NUMA-balancing scanner
PG_PROMOTED = 128     # promoted since its last demotion (for the ping-pong count; not a kernel flag)

# enum lru_list (include/linux/mmzone.h)
LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE = 0, 1, 2, 3
NR_LRU_LISTS = 4

# zone types, as enum zone_type
ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE = 0, 1, 2, 3
ZONE_TYPE = {"DMA": 0, "DMA32": 1, "NORMAL": 2, "MOVABLE": 3}
NR_ZONE_TYPES = 4

# watermark indexes (enum zone_watermarks)
WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO = 0, 1, 2, 3

# kswapd states
KSWAPD_SLEEPING, KSWAPD_RUNNING, KSWAPD_NAPPING = 0, 1, 2
KSWAPD_TPP_WAIT = 3      # hopeless top-tier kswapd in TPP's schedule_timeout(10 * HZ)

# mempolicy modes
MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE, MPOL_LOCAL = 0, 1, 2, 3, 4
MPOL_MODES = {"default": 0, "preferred": 1, "bind": 2, "interleave": 3, "local": 4}

# knob indexes into MM.knob (int64)
K_PROFILE = 0             # 0 rfc-2020, 1 v5.15, 2 v6.1, 3 v6.12
K_DEMOTION = 1            # demotion switched on (demotion_enabled, or RECLAIM_MIGRATE on rfc-2020)
K_BATCH_DEMOTION = 2      # v5.15+: demote_folio_list() after the scan; rfc-2020 per page
K_DEMOTE_FALLBACK = 3     # v6.1+: fall back to lower_tier_mask when the preferred target is full
K_ANON_ACTIVE_START = 4   # new anon pages start on the active list (before v5.9)
K_SWAPPINESS = 5
K_NUMA_BALANCING = 6
K_SWAP_PAGES = 7          # swap device size in pages
K_CHECK = 8               # verify invariants after every reclaim batch
K_HAS_PROMO = 9           # WMARK_PROMO exists (v5.18+)
K_SWAP_USED = 10          # swap slots in use
K_ERROR = 11              # first invariant violation found (0 = none)
K_HOT_THRESHOLD_MS = 12
K_PROMOTE_RATE_LIMIT = 13 # numa_balancing_promote_rate_limit_MBps in pages per second
K_SCAN_DELAY_MS = 14
K_SCAN_PERIOD_MIN_MS = 15
K_SCAN_PERIOD_MAX_MS = 16
K_SCAN_SIZE_MB = 17
K_PINGPONG = 18           # demotions of pages promoted since their last demotion
K_MEMCG_DEMOTION = 19     # cgroup reclaim may demote (v5.19+: revert of "never demote for memcg reclaim")
K_PROACTIVE_NO_FALLBACK = 20  # v6.2+: proactive reclaim does not reclaim pages it failed to demote
K_NODE_RECLAIM = 21       # node_reclaim() enabled (zone_reclaim_mode bits, per profile)
K_ZONE_RECLAIM_MODE = 22
K_TPP = 23                # TPP's out-of-tree patches applied: their vm.demote_scale_factor (0 = not)
K_DAMON = 24              # DAMON contexts configured (kernel/damon.py); 0 = every DAMON array is a stub
K_LRU_GEN = 25            # the multi-gen LRU is on (lru = "mglru", /sys/kernel/mm/lru_gen/enabled)
NR_KNOBS = 26

# memcg statistics (memory.stat / memory.events names), MM.memcg_stat columns
MEMCG_PGSCAN, MEMCG_PGSTEAL, MEMCG_PGDEMOTE, MEMCG_MAX_EVENTS, MEMCG_OOM_KILL, MEMCG_LOW_EVENTS = range(6)
MEMCG_PSWPOUT = 6
NR_MEMCG_STAT = 7
MEMCG_STAT_NAMES = ("pgscan", "pgsteal", "pgdemote", "max", "oom_kill", "low", "pswpout")

# per-node promotion state (pglist_data nbp_*), MM.node_promo columns
NBP_RL_START, NBP_RL_NR_CAND, NBP_THRESHOLD, NBP_TH_START, NBP_TH_NR_CAND = range(5)

# cost indexes into MM.cost (float64, ns)
C_PAGE_FAULT, C_HINT_FAULT, C_MIGRATE, C_SCAN, C_FREE, C_SWAP_OUT, C_SWAP_IN, C_THINK = range(8)
C_NUMA_SCAN_PTE = 8
C_FILE_READ, C_FILE_WRITE = 9, 10
NR_COSTS = 11

# scan_control fields (an int64 array per reclaim call)
SC_NR_TO_RECLAIM = 0
SC_PRIORITY = 1
SC_NR_SCANNED = 2
SC_NR_RECLAIMED = 3
SC_KSWAPD = 4             # 1 when kswapd reclaims, 0 for direct reclaim
SC_MAY_SWAP = 5
SC_MAY_DEACTIVATE = 6     # bit 0 anon, bit 1 file
SC_FILE_IS_TINY = 7
SC_CACHE_TRIM = 8
SC_COST_NS = 9            # time spent by this reclaim call
SC_NO_DEMOTION = 10
SC_NR_DEMOTED = 11
SC_MAY_WRITEPAGE = 12
SC_MAY_UNMAP = 13
SC_NR_PAGEOUT = 14        # pages written to swap or storage (lru_note_cost IO)
SC_TARGET = 15            # target memcg of cgroup reclaim (0 = root: all), -1 for global reclaim
SC_MEMCG_LOW_RECLAIM = 16 # reclaim memcgs protected by memory.low too (second pass)
SC_MEMCG_LOW_SKIPPED = 17
SC_PROACTIVE = 18         # memory.reclaim
NR_SC = 19

BATCH = 32                # SWAP_CLUSTER_MAX

# sizes of the DAMON tables (field indexes in kernel/damon.py)
NR_DAMON_ATTR = 24
NR_DAMON_REG = 8
NR_DAMOS = 48
DAMOS_MAX_SCORE = 99

# The per-page fields live in two record arrays; the pg_* arrays are strided views of their
# fields. What every access reads (zone, flags) and what picks a page's LRU list (+ memcg) sit
# together in 3 bytes, densely packed for the access loop; what the LRU lists and migration
# touch (links, scan time) in a 12-byte record. Reclaim walks pages in LRU order, random in
# memory: one array per field cost it a cache miss per field, this costs two per page.
PAGE_HOT_DTYPE = np.dtype([("zone", np.int8), ("flags", np.uint8), ("memcg", np.int8)])
PAGE_LRU_DTYPE = np.dtype([("prev", np.int32), ("next", np.int32), ("scan", np.int32)])


class _MMFields(NamedTuple):
    """The fields of MM, in order (the arrays new_mm() makes)."""

    # pages
    pg_zone: np.ndarray
    pg_flags: np.ndarray
    pg_prev: np.ndarray
    pg_next: np.ndarray
    pg_scan: np.ndarray
    pg_memcg: np.ndarray
    # lru lists
    lru_head: np.ndarray
    lru_tail: np.ndarray
    lru_size: np.ndarray
    # zones
    zone_node: np.ndarray     # int64 node position of each zone
    zone_type: np.ndarray     # int64 ZONE_*
    zone_managed: np.ndarray
    zone_free: np.ndarray
    zone_wmark: np.ndarray    # [zone, 4] MIN LOW HIGH PROMO
    zone_reserve: np.ndarray  # lowmem_reserve[ZONE_MOVABLE]
    zone_kernel: np.ndarray   # pages the kernel holds
    zone_file: np.ndarray     # page-cache pages on the zone's LRU lists (zone_reclaimable_pages())
    # nodes
    node_zone_lo: np.ndarray  # zones of node k are node_zone_lo[k] .. node_zone_hi[k]-1
    node_zone_hi: np.ndarray
    zonelist: np.ndarray      # [node, nzones] zone ids in fallback order (highest zone first per node)
    zonelist_len: np.ndarray
    demote_pref: np.ndarray   # [node, nnodes] preferred demotion targets
    demote_pref_len: np.ndarray
    demote_allowed: np.ndarray  # [node] bitmask of nodes a demotion may fall back to
    toptier: np.ndarray       # [node] 1 if node_is_toptier()
    lruvec_cost: np.ndarray   # [lruvec, 2] reclaim cost anon, file (lru_note_cost)
    node_promo: np.ndarray    # [node, 5] int64 promotion rate-limit / threshold state (NBP_*)
    node_enough: np.ndarray   # [node] pages over PROMO that make pgdat_free_space_enough()
    node_age: np.ndarray      # [node] lruvec->nonresident_age (mm/workingset.c)
    # kswapd, one per node
    kswapd_state: np.ndarray
    kswapd_clock: np.ndarray  # float64 ns: how far this kswapd has run
    kswapd_priority: np.ndarray
    kswapd_reclaimed: np.ndarray  # pages reclaimed in the current balance_pgdat() call
    kswapd_failures: np.ndarray
    kswapd_nap_end: np.ndarray
    kswapd_cpu: np.ndarray    # float64 ns of CPU time kswapd spent reclaiming
    kswapd_due: np.ndarray    # [1] float64: earliest time any kswapd has work (run or nap end)
    # tasks
    task_base: np.ndarray
    task_footprint: np.ndarray
    task_cpu: np.ndarray      # node position of the task's CPUs
    task_clock: np.ndarray    # float64 ns
    task_alive: np.ndarray
    task_mpol: np.ndarray     # MPOL_*
    task_nodemask: np.ndarray # bitmask of policy nodes
    task_pref: np.ndarray     # preferred node (position)
    task_mof: np.ndarray      # policy has MPOL_F_MOF: default/local, or bind with MPOL_F_NUMA_BALANCING
    task_il_next: np.ndarray  # next interleave node
    task_rss: np.ndarray      # [task, node] pages resident
    task_access: np.ndarray   # [task, node] accesses served by each node
    task_from_storage: np.ndarray  # [task, node] of those, the ones that waited for storage
                              # (swap-in, page-cache read), by the node the page landed on
    task_mem_ns: np.ndarray   # [task] float64 time spent in memory accesses
    task_stall_ns: np.ndarray # [task] float64 time in direct reclaim
    task_tier_ns: np.ndarray  # [task] float64 time an all-fast machine would not spend: swap-ins,
                              # refaults, NUMA-balancing scans, hint faults and migrations
    task_numa_next: np.ndarray  # [task] float64 ns of the next task_numa_work()
    task_scan_period: np.ndarray  # [task] numa_scan_period, ms
    task_scan_offset: np.ndarray  # [task] numa_scan_offset, vpn
    task_numa_faults: np.ndarray  # [task, 3] hint faults recorded this pass: local, remote, failed
    task_memcg: np.ndarray    # [task] memcg the task charges its pages to
    owner_mapped: np.ndarray  # [owner] 1 if its pages are mapped (anon, mmap-ed files)
    # memory cgroups (0 = root)
    memcg_usage: np.ndarray   # pages charged
    memcg_max: np.ndarray     # memory.max in pages (-1 = no limit)
    memcg_low: np.ndarray
    memcg_min: np.ndarray
    memcg_stat: np.ndarray    # [memcg, NR_MEMCG_STAT]
    node_dist: np.ndarray     # [node, node] SLIT
    node_cpus: np.ndarray     # [node] CPUs on the node
    # hardware
    lat_read: np.ndarray      # [cpu node, mem node] ns
    lat_write: np.ndarray
    node_bw: np.ndarray       # [node] bytes/ns, min of read/write bandwidth
    # control
    knob: np.ndarray
    cost: np.ndarray
    vmstat: np.ndarray        # [node, NR_ITEMS]
    rng: np.ndarray           # uint64 xorshift state
    isolate_buf: np.ndarray   # scratch lists for reclaim (int64)
    demote_buf: np.ndarray
    oom_log: np.ndarray       # [k, 3] time ns, victim task, triggering task; row 0 col 0 = count
    # DAMON (kernel/damon.py, damon_paddr.py); one-element stubs when no context is configured
    pg_damon: np.ndarray      # uint8 per page: PG_idle, PG_young (page flags, not the pte bit)
    damon_attr: np.ndarray    # [ctx, NR_A] int64 per kdamond context (A_* in damon.py)
    damon_reg: np.ndarray     # [ctx, cap, NR_R] int64 regions, in address order
    damos: np.ndarray         # [scheme, NR_S] int64 schemes: pattern, quota, watermarks, stats
    damon_clock: np.ndarray   # [ctx] float64 ns of the kdamond's next wake-up
    damon_cpu: np.ndarray     # [ctx] float64 ns of CPU time the kdamond spent
    damon_due: np.ndarray     # [1] float64: earliest damon_clock (inf without DAMON)
    damon_rng: np.ndarray     # [1] uint64 damon_rand() state, apart from mm.rng
    damon_tmp: np.ndarray     # [cap, NR_R] int64 scratch for splits; also the score histogram
    # multi-gen LRU (lru_gen.py); one element each when lru = "classic"
    pg_gen: np.ndarray        # [page] uint8: gen+1 in bits 0-2 (0: on no generation list),
                              # the LRU_REFS counter in bits 3-4 (the kernel's folio->flags fields)
    lrugen_seq: np.ndarray    # [lruvec, 3] max_seq, min_seq[anon], min_seq[file]
    lrugen_head: np.ndarray   # [((lruvec*MAX_NR_GENS + gen)*2 + type)*NR_ZONE_TYPES + zone type]
    lrugen_tail: np.ndarray   #   the lists lrugen->folios[gen][type][zone]
    lrugen_nr: np.ndarray     # [(lruvec*MAX_NR_GENS + gen)*2 + type] lrugen->nr_pages, counted by
                              #   the page's gen (folio_update_gen() changes it before it moves)
    lrugen_ctrl: np.ndarray   # [lruvec, type, CTRL_*, tier] refault feedback (PID controller)


_FIELD_NAMES = _MMFields._fields


@structref.register
class MMType(types.StructRef):
    """The numba type of MM: one reference-counted struct holding the arrays (borrowed, see
    _borrow_arrays). Compiled kernel functions take its view (MMViewType) instead, which
    costs no reference counting at all."""

    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)

    @property
    def mangling_args(self):
        # The default mangles the whole field list (~10 KB) into every compiled function's
        # symbol name; a digest of it keeps names unique and short.
        return "MM_" + hashlib.sha1(self.name.encode()).hexdigest()[:16], ()


class MM(structref.StructRefProxy):
    """The simulated mm. Compiled code sees an MMType struct; Python sees the same arrays as
    plain attributes (mm.vmstat, mm.pg_zone, ...). Those attributes are what keeps the arrays
    alive (the struct only borrows them): change arrays in place, never rebind them."""

    def __new__(cls, **arrays):
        self = _make_mm(*[arrays[n] for n in _FIELD_NAMES])
        for n in _FIELD_NAMES:
            object.__setattr__(self, n, arrays[n])
        return self


structref.define_constructor(MM, MMType, _FIELD_NAMES)
structref.define_boxing(MMType, MM)


@intrinsic
def _borrow_arrays(typingctx, mm_t):
    """Make the struct's arrays borrowed references: drop the reference the constructor took
    and null each array's meminfo, so reading ``mm.x`` in compiled code costs no atomic
    incref/decref (NRT skips a NULL meminfo). The MM proxy keeps the numpy arrays alive."""
    def codegen(context, builder, sig, args):
        data = structref._Utils(context, builder, sig.args[0]).get_data_struct(args[0])
        for name, fty in sig.args[0].field_dict.items():
            if isinstance(fty, types.Array):
                val = getattr(data, name)
                context.nrt.decref(builder, fty, val)
                ary = context.make_array(fty)(context, builder, value=val)
                ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
                setattr(data, name, ary._getvalue())
        return context.get_dummy_value()
    return types.none(mm_t), codegen


class MMViewType(types.Type):
    """What the kernel functions pass around: a plain pointer to an MM struct's payload. Unlike
    the MMType reference itself, passing it to a function or reading its arrays needs no
    reference counting (the arrays' meminfos are NULL, see _borrow_arrays). Valid while the MM
    it was taken from lives: the entry points called from Python take ``mm_view(mm)`` and hand it
    down."""

    def __init__(self, mmtype):
        self.mmtype = mmtype
        super().__init__(name=f"MMView({mmtype.name})")

    @property
    def mangling_args(self):
        return "MMView_" + hashlib.sha1(self.name.encode()).hexdigest()[:16], ()

    @property
    def field_dict(self):
        return self.mmtype.field_dict


@register_model(MMViewType)
class _MMViewModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        payload = dmm.lookup(fe_type.mmtype.get_data_type())
        super().__init__(dmm, fe_type, payload.get_value_type().as_pointer())


@infer_getattr
class _MMViewAttribute(AttributeTemplate):
    key = MMViewType

    def generic_resolve(self, typ, attr):
        return typ.field_dict.get(attr)


@lower_getattr_generic(MMViewType)
def _mmview_getattr(context, builder, typ, val, attr):
    data = cgutils.create_struct_proxy(typ.mmtype.get_data_type())(context, builder, ref=val)
    return imputils.impl_ret_borrowed(context, builder, typ.field_dict[attr], getattr(data, attr))


@intrinsic
def mm_view(typingctx, mm_t):
    """mm_view(mm): the MMView of an MM struct (itself for a view)."""
    if isinstance(mm_t, MMViewType):
        return mm_t(mm_t), lambda context, builder, sig, args: args[0]
    if isinstance(mm_t, MMType):
        def codegen(context, builder, sig, args):
            return structref._Utils(context, builder, sig.args[0]).get_data_pointer(args[0])
        return MMViewType(mm_t)(mm_t), codegen
    return None


@intrinsic
def prefetch(typingctx, arr, idx):
    """prefetch(arr, i): ask the CPU to start loading arr[i]'s cache line (llvm.prefetch, read,
    high locality); no effect on results. For random page ids known a few steps ahead."""
    if not isinstance(arr, types.Array) or arr.ndim != 1 or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        aryty, idxty = sig.args
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], idxty, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.none(arr, idx), codegen


@njit(cache=True)
def _make_mm(pg_zone, pg_flags, pg_prev, pg_next, pg_scan, pg_memcg, lru_head, lru_tail,
             lru_size, zone_node, zone_type, zone_managed, zone_free, zone_wmark, zone_reserve,
             zone_kernel, zone_file, node_zone_lo, node_zone_hi, zonelist, zonelist_len,
             demote_pref, demote_pref_len, demote_allowed, toptier, lruvec_cost, node_promo,
             node_enough, node_age, kswapd_state, kswapd_clock, kswapd_priority,
             kswapd_reclaimed, kswapd_failures, kswapd_nap_end, kswapd_cpu, kswapd_due,
             task_base, task_footprint, task_cpu, task_clock, task_alive, task_mpol,
             task_nodemask, task_pref, task_mof, task_il_next, task_rss, task_access,
             task_from_storage, task_mem_ns, task_stall_ns, task_tier_ns, task_numa_next,
             task_scan_period, task_scan_offset, task_numa_faults, task_memcg, owner_mapped,
             memcg_usage, memcg_max, memcg_low, memcg_min, memcg_stat, node_dist, node_cpus,
             lat_read, lat_write, node_bw, knob, cost, vmstat, rng, isolate_buf, demote_buf, oom_log,
             pg_damon, damon_attr, damon_reg, damos, damon_clock, damon_cpu, damon_due, damon_rng,
             damon_tmp,
             pg_gen, lrugen_seq, lrugen_head, lrugen_tail, lrugen_nr, lrugen_ctrl):
    mm = MM(pg_zone, pg_flags, pg_prev, pg_next, pg_scan, pg_memcg, lru_head, lru_tail,
              lru_size, zone_node, zone_type, zone_managed, zone_free, zone_wmark,
              zone_reserve, zone_kernel, zone_file, node_zone_lo, node_zone_hi, zonelist,
              zonelist_len, demote_pref, demote_pref_len, demote_allowed, toptier, lruvec_cost,
              node_promo, node_enough, node_age, kswapd_state, kswapd_clock, kswapd_priority,
              kswapd_reclaimed, kswapd_failures, kswapd_nap_end, kswapd_cpu, kswapd_due,
              task_base, task_footprint, task_cpu, task_clock, task_alive, task_mpol,
              task_nodemask, task_pref, task_mof, task_il_next, task_rss, task_access,
              task_from_storage, task_mem_ns, task_stall_ns, task_tier_ns, task_numa_next,
              task_scan_period, task_scan_offset, task_numa_faults, task_memcg, owner_mapped,
              memcg_usage, memcg_max, memcg_low, memcg_min, memcg_stat, node_dist, node_cpus,
              lat_read, lat_write, node_bw, knob, cost, vmstat, rng, isolate_buf, demote_buf, oom_log,
              pg_damon, damon_attr, damon_reg, damos, damon_clock, damon_cpu, damon_due, damon_rng,
              damon_tmp,
              pg_gen, lrugen_seq, lrugen_head, lrugen_tail, lrugen_nr, lrugen_ctrl)
    _borrow_arrays(mm)
    return mm


PROFILE_INDEX = {"rfc-2020": 0, "v5.15": 1, "v6.1": 2, "v6.12": 3}


# multi-gen LRU sizes (include/linux/mmzone.h, v6.12)
MAX_NR_GENS = 4
MIN_NR_GENS = 2
MAX_NR_TIERS = 4
# lrugen_ctrl fields: avg_refaulted, avg_total, refaulted, evicted (NR_HIST_GENS = 1 without
# CONFIG_LRU_GEN_STATS, as Debian builds it), protected (tier t >= 1 kept at index t-1)
CTRL_AVG_REFAULTED, CTRL_AVG_TOTAL, CTRL_REFAULTED, CTRL_EVICTED, CTRL_PROTECTED = range(5)


def new_mm(n_pages: int, n_tasks: int, n_nodes: int, n_zones: int, n_memcgs: int = 1,
           damon: tuple[int, int, int] = (0, 0, 0), mglru: bool = False) -> MM:
    """Empty arrays of the right shapes; tierlab.simulate fills them from the Machine.
    ``damon`` = (contexts, schemes, region capacity per context): without contexts every DAMON
    array has one element and pg_damon costs no byte per page. The multi-gen LRU's per-page
    byte (pg_gen) likewise exists only with ``mglru``."""
    i64 = np.int64
    n_lruvecs = n_memcgs * n_nodes
    n_gen_lists = n_lruvecs * MAX_NR_GENS * 2 * NR_ZONE_TYPES if mglru else 1
    # lru_gen_init_lruvec(): max_seq = MIN_NR_GENS + 1, min_seq = 0
    lrugen_seq = np.zeros((n_lruvecs if mglru else 1, 3), i64)
    lrugen_seq[:, 0] = MIN_NR_GENS + 1
    # np.empty (numpy asks the kernel for huge pages) filled in one contiguous pass: np.zeros
    # then filling fields faults the page state in 4 KiB at a time (seconds for 64 M pages)
    hot = np.empty(n_pages, PAGE_HOT_DTYPE)
    hot.view(np.uint8)[:] = 0
    hot["zone"] = NOT_PRESENT
    links = np.empty(n_pages, PAGE_LRU_DTYPE)
    links.view(np.uint8)[:] = 0xFF                  # prev = next = -1
    links["scan"] = 0
    return MM(
        pg_zone=hot["zone"],
        pg_flags=hot["flags"],
        pg_prev=links["prev"],
        pg_next=links["next"],
        pg_scan=links["scan"],
        pg_memcg=hot["memcg"],
        lru_head=np.full(n_lruvecs * NR_LRU_LISTS, -1, i64),
        lru_tail=np.full(n_lruvecs * NR_LRU_LISTS, -1, i64),
        lru_size=np.zeros(n_lruvecs * NR_LRU_LISTS, i64),
        zone_node=np.zeros(n_zones, i64),
        zone_type=np.zeros(n_zones, i64),
        zone_managed=np.zeros(n_zones, i64),
        zone_free=np.zeros(n_zones, i64),
        zone_wmark=np.zeros((n_zones, 4), i64),
        zone_reserve=np.zeros(n_zones, i64),
        zone_kernel=np.zeros(n_zones, i64),
        zone_file=np.zeros(n_zones, i64),
        node_zone_lo=np.zeros(n_nodes, i64),
        node_zone_hi=np.zeros(n_nodes, i64),
        zonelist=np.full((n_nodes, n_zones), -1, i64),
        zonelist_len=np.zeros(n_nodes, i64),
        demote_pref=np.full((n_nodes, n_nodes), -1, i64),
        demote_pref_len=np.zeros(n_nodes, i64),
        demote_allowed=np.zeros(n_nodes, i64),
        toptier=np.zeros(n_nodes, i64),
        lruvec_cost=np.zeros((n_lruvecs, 2), np.float64),
        node_promo=np.zeros((n_nodes, 5), i64),
        node_enough=np.zeros(n_nodes, i64),
        node_age=np.zeros(n_nodes, i64),
        kswapd_state=np.zeros(n_nodes, i64),
        kswapd_clock=np.zeros(n_nodes, np.float64),
        kswapd_priority=np.zeros(n_nodes, i64),
        kswapd_reclaimed=np.zeros(n_nodes, i64),
        kswapd_failures=np.zeros(n_nodes, i64),
        kswapd_nap_end=np.zeros(n_nodes, np.float64),
        kswapd_cpu=np.zeros(n_nodes, np.float64),
        kswapd_due=np.full(1, np.inf),
        task_base=np.zeros(n_tasks, i64),
        task_footprint=np.zeros(n_tasks, i64),
        task_cpu=np.zeros(n_tasks, i64),
        task_clock=np.zeros(n_tasks, np.float64),
        task_alive=np.ones(n_tasks, i64),
        task_mpol=np.zeros(n_tasks, i64),
        task_nodemask=np.zeros(n_tasks, i64),
        task_pref=np.zeros(n_tasks, i64),
        task_mof=np.ones(n_tasks, i64),
        task_il_next=np.zeros(n_tasks, i64),
        task_rss=np.zeros((n_tasks, n_nodes), i64),
        task_access=np.zeros((n_tasks, n_nodes), i64),
        task_from_storage=np.zeros((n_tasks, n_nodes), i64),
        task_mem_ns=np.zeros(n_tasks, np.float64),
        task_stall_ns=np.zeros(n_tasks, np.float64),
        task_tier_ns=np.zeros(n_tasks, np.float64),
        task_numa_next=np.full(n_tasks, np.inf),
        task_scan_period=np.zeros(n_tasks, i64),
        task_scan_offset=np.zeros(n_tasks, i64),
        task_numa_faults=np.zeros((n_tasks, 3), i64),
        task_memcg=np.zeros(n_tasks, i64),
        owner_mapped=np.ones(n_tasks, i64),
        memcg_usage=np.zeros(n_memcgs, i64),
        memcg_max=np.full(n_memcgs, -1, i64),
        memcg_low=np.zeros(n_memcgs, i64),
        memcg_min=np.zeros(n_memcgs, i64),
        memcg_stat=np.zeros((n_memcgs, NR_MEMCG_STAT), i64),
        node_dist=np.full((n_nodes, n_nodes), 10, i64),
        node_cpus=np.zeros(n_nodes, i64),
        lat_read=np.zeros((n_nodes, n_nodes), np.float64),
        lat_write=np.zeros((n_nodes, n_nodes), np.float64),
        node_bw=np.ones(n_nodes, np.float64),
        knob=np.zeros(NR_KNOBS, i64),
        cost=np.zeros(NR_COSTS, np.float64),
        vmstat=np.zeros((n_nodes, vmstat.NR_ITEMS), i64),
        rng=np.array([0x9E3779B97F4A7C15], np.uint64),
        isolate_buf=np.zeros(4 * BATCH, i64),
        demote_buf=np.zeros(4 * BATCH, i64),
        oom_log=np.zeros((64, 3), np.float64),
        pg_damon=np.zeros(n_pages if damon[0] else 1, np.uint8),
        damon_attr=np.zeros((max(damon[0], 1), NR_DAMON_ATTR), i64),
        damon_reg=np.zeros((max(damon[0], 1), max(damon[2], 1), NR_DAMON_REG), i64),
        damos=np.zeros((max(damon[1], 1), NR_DAMOS), i64),
        damon_clock=np.full(max(damon[0], 1), np.inf),
        damon_cpu=np.zeros(max(damon[0], 1), np.float64),
        damon_due=np.full(1, np.inf),
        damon_rng=np.array([0x2545F4914F6CDD1D], np.uint64),
        damon_tmp=np.zeros((max(damon[2], DAMOS_MAX_SCORE + 1), NR_DAMON_REG), i64),
        pg_gen=np.zeros(n_pages if mglru else 1, np.uint8),
        lrugen_seq=lrugen_seq,
        lrugen_head=np.full(n_gen_lists, -1, i64),
        lrugen_tail=np.full(n_gen_lists, -1, i64),
        lrugen_nr=np.zeros(n_lruvecs * MAX_NR_GENS * 2 if mglru else 1, i64),
        lrugen_ctrl=np.zeros((n_lruvecs if mglru else 1, 2, 5, MAX_NR_TIERS), i64),
    )
