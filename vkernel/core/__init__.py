"""The machine core: the hart's numba kernels (``kernel``) and its state arrays (``state``)."""
