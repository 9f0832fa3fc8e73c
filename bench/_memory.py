"""Peak resident memory of this process (Linux), for the memory figures of the benchmarks."""
from __future__ import annotations

import resource


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak_rss() -> bool:
    """Reset the peak to the current RSS (Linux ``clear_refs``), so that loading the data
    does not mask the scoring peak; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
