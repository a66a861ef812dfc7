"""Peak-memory measurement for the benchmarks: VmHWM (peak RSS) of this process since reset_peak()."""
from __future__ import annotations


def reset_peak() -> None:
    """Let VmHWM restart from the current RSS (Linux ≥ 4.0), so that what the process did before
    (starting the app, importing modules) is not counted as the measured step's."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def rss_kb(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0
