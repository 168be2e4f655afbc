"""llama.cpp's AMX weight buffers, off unless asked for: some VMs advertise AMX and fault on it.

A llama.cpp built on the machine (``pip install llama-cpp-python`` compiles
with ``-march=native``) uses Intel AMX tiles for matrix products when the CPU
advertises them. Some virtual machines (seen on Firecracker guests of
Sapphire Rapids hosts) advertise AMX and grant the permission, yet
``ldtilecfg`` raises a general protection fault: the process dies with a
segmentation fault on the first prompt of more than one token.

The AMX kernels are reached only through llama.cpp's *extra buffer types*
(weight repacking). So when the build has AMX, ponder loads models with
``use_extra_bufts`` off, unless ``PONDER_LLAMA_AMX=1`` says this machine runs
AMX (bare metal): correctness first, the speed of AMX by choice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AMX_ENV", "amx_allowed", "build_has_amx", "model_params_without_amx"]

AMX_ENV = "PONDER_LLAMA_AMX"
_PATCH_LOCK = threading.Lock()


def build_has_amx(system_info: str | None = None) -> bool:
    """Whether the installed llama.cpp was built with AMX kernels (its system info says so)."""
    if system_info is None:
        import llama_cpp

        system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return "AMX_INT8 = 1" in system_info


def amx_allowed(environ: dict[str, str] | None = None) -> bool:
    """Whether the user said this machine runs AMX (``PONDER_LLAMA_AMX=1``)."""
    value = (os.environ if environ is None else environ).get(AMX_ENV, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def model_params_without_amx() -> Iterator[None]:
    """While active, models llama-cpp-python loads get no extra buffer types (no AMX).

    llama-cpp-python's ``Llama`` takes its model parameters from
    ``llama_cpp.llama_cpp.llama_model_default_params`` and has no option for
    this field, so that function is wrapped for the duration of one load, under
    a lock; nothing changes when the build has no AMX or the user allowed it.
    """
    if amx_allowed() or not build_has_amx():
        yield
        return
    import llama_cpp.llama_cpp as low

    with _PATCH_LOCK:
        defaults = low.llama_model_default_params

        def without_extra_buffers() -> low.llama_model_params:
            params: low.llama_model_params = defaults()
            params.use_extra_bufts = False
            return params

        low.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            low.llama_model_default_params = defaults
