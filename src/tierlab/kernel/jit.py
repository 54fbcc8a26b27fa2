"""``njit`` for the kernel model: numba's, compiled once per argument *type*.

A compiled function calling another with a constant argument (``shrink_active_list(mm,
lruvec, LRU_ACTIVE_ANON, BATCH, sc)``) would get a separate specialization of the callee for
each literal value (``Literal[int](32)`` next to ``int64``), and of everything the callee
calls in turn: a fifth of the kernel's compilations were such duplicates. These dispatchers
type calls from compiled code with the arguments' plain types instead, so the one
specialization serves every call site. Results are the same; only compile time changes.
"""

from __future__ import annotations

import numba
from numba.core import types


def _one_per_type(dispatcher):
    resolve = dispatcher.get_call_template

    def get_call_template(args, kws):
        return resolve(tuple(types.unliteral(a) for a in args),
                       {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


def njit(*args, **options):
    """numba.njit(...) whose calls from compiled code ignore literal argument values."""
    if args and callable(args[0]):
        return _one_per_type(numba.njit(args[0], **options))
    return lambda fn: _one_per_type(numba.njit(*args, **options)(fn))
