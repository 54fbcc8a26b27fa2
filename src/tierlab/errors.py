"""The few named errors tierlab raises.

Every error a user can cause (a bad scenario, a broken trace) is a ``TierlabError``: the
command line prints its message alone and exits with status 2.
"""


class TierlabError(Exception):
    """Base of every error caused by bad input."""


class ScenarioError(TierlabError):
    """A scenario file or dict is invalid. The message names the file, the field and the value."""


class TraceError(TierlabError):
    """A trace is unreadable, truncated or corrupt. The message names the file and the byte or line."""


class HostError(TierlabError):
    """A directory given as a machine's root is not a Linux /sys + /proc tree, or a scenario of
    the machine cannot be written. The message names the directory or file."""


class KernelrefError(TierlabError):
    """`tierlab kernelref` cannot run a scenario in the guest: a step or field the guest cannot
    reproduce, a missing tool or package, a guest that failed. The message names the field or
    the tool (and the apt package that brings it)."""
