"""Tiny statistics helpers (with a bug for the debugger example to find)."""


def moving_average(values: list[float], window: int) -> list[float]:
    """The mean of each run of ``window`` consecutive values, left to right."""
    if window < 1:
        raise ValueError("window must be at least 1")
    averages = []
    for start in range(len(values) - window):
        chunk = values[start : start + window]
        averages.append(sum(chunk) / window)
    return averages
