"""Devices, as JAX shows them on a CPU-only system: ``jax.devices()`` is ``[CpuDevice(id=0)]``.

llax runs on the host, so every device is a CPU device of process 0 and every
array lives on device 0 (a device is a CPU worker, see the design brief). The
device list can grow (``set_device_count``) for the multi-device work to come;
placement itself is not modelled: ``device_put`` makes an Array, ``device_get``
gives NumPy arrays back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from llax.frontend.core import Array, Tracer, aval_of, concrete_value
from llax.frontend.tree_util import tree_leaves, tree_map

BACKEND = "cpu"


class Device:
    """One CPU device (JAX's ``CpuDevice``); equal to the device of the same id."""

    __slots__ = ("id",)
    platform = BACKEND
    device_kind = BACKEND
    process_index = 0
    host_id = 0  # (JAX's older name for process_index)

    def __init__(self, id: int) -> None:
        self.id = id

    @property
    def local_hardware_id(self) -> int:
        return self.id

    @property
    def client(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"CpuDevice(id={self.id})"

    def __str__(self) -> str:
        return f"{self.platform}:{self.id}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash((Device, self.id))


_DEVICES: list[Device] = [Device(0)]


def set_device_count(n: int) -> None:
    """Make ``n`` CPU devices visible (ids 0..n-1); the existing Device objects stay."""
    if n < 1:
        raise ValueError(f"there must be at least one device, got {n}")
    del _DEVICES[n:]
    _DEVICES.extend(Device(i) for i in range(len(_DEVICES), n))


def _check_backend(backend: Any) -> None:
    name = getattr(backend, "platform", backend)
    if name is not None and name != BACKEND:
        raise RuntimeError(f"Unknown backend: '{name}' requested, but no platforms that are "
                           f"instances of {name} are present. Platforms present are: cpu")


def devices(backend: Any = None) -> list[Device]:
    """The devices of ``backend`` (only ``"cpu"`` exists), in id order."""
    _check_backend(backend)
    return list(_DEVICES)


def local_devices(process_index: int | None = None, backend: Any = None,
                  host_id: int | None = None) -> list[Device]:
    _check_backend(backend)
    index = process_index if process_index is not None else (host_id or 0)
    return list(_DEVICES) if index == 0 else []


def device_count(backend: Any = None) -> int:
    _check_backend(backend)
    return len(_DEVICES)


def local_device_count(backend: Any = None) -> int:
    return device_count(backend)


def default_backend() -> str:
    return BACKEND


def process_index(backend: Any = None) -> int:
    _check_backend(backend)
    return 0


def process_count(backend: Any = None) -> int:
    _check_backend(backend)
    return 1


class SingleDeviceSharding:
    """All of an array on one device (JAX's ``jax.sharding.SingleDeviceSharding``)."""

    __slots__ = ("_device", "memory_kind")

    def __init__(self, device: Device, *, memory_kind: str | None = None) -> None:
        self._device = device
        self.memory_kind = memory_kind or "device"

    @property
    def device_set(self) -> set[Device]:
        return {self._device}

    @property
    def num_devices(self) -> int:
        return 1

    @property
    def is_fully_addressable(self) -> bool:
        return True

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SingleDeviceSharding) and other._device == self._device

    def __hash__(self) -> int:
        return hash((SingleDeviceSharding, self._device))


def _target(device: Any) -> Device:
    """The device a ``device_put`` target names (a Device or a one-device sharding)."""
    if device is None:
        return _DEVICES[0]
    if isinstance(device, Device):
        if device not in _DEVICES:
            raise ValueError(f"device_put: {device!r} is not one of the devices {_DEVICES}")
        return device
    if isinstance(device, SingleDeviceSharding):
        return _target(device._device)
    raise TypeError("device_put: the device argument must be a Device, a Sharding or None, "
                    f"got {type(device).__name__}")


def _put(x: Any) -> Any:
    if isinstance(x, Tracer):  # inside a trace, placement changes nothing
        return x
    if type(x) is Array:
        return Array._wrap_readonly(x._value, x.weak_type, x._sig)
    if isinstance(x, Array):  # a subclass (LiteralArray): a plain Array of its value
        return Array(x._value, x.weak_type)
    if not isinstance(x, (np.ndarray, np.generic, bool, int, float, complex)):
        raise TypeError(f"device_put: argument of type {type(x).__name__} is not a valid JAX "
                        "type")
    value, weak = concrete_value(x)
    t = aval_of(x)
    return Array(np.array(value, dtype=t.dtype, order="C"), weak)


def device_put(x: Any, device: Any = None, *, src: Any = None, donate: bool = False,
               may_alias: bool | None = None) -> Any:
    """Every array leaf of ``x`` as an Array on ``device`` (device 0 by default): NumPy
    arrays and Python scalars are converted (canonical dtypes, scalars weakly typed)."""
    del src, donate, may_alias  # one memory space: nothing to move, alias or give up
    _target(device)
    return tree_map(_put, x)


def _get(x: Any) -> Any:
    if isinstance(x, (Array, Tracer)):
        return np.asarray(x)
    return x


def device_get(x: Any) -> Any:
    """``x`` with every Array leaf as a NumPy array; other leaves as they are."""
    return tree_map(_get, x)


def block_until_ready(x: Any) -> Any:
    """Wait for every array leaf of ``x`` (llax computes synchronously: nothing to wait
    for) and return ``x``."""
    for leaf in tree_leaves(x):
        ready: Callable[[], Any] | None = getattr(leaf, "block_until_ready", None)
        if ready is not None:
            ready()
    return x


# ---------------------------------------------------------------------------------------------
# Array methods (attached by frontend/array_methods.py)


def array_devices(self: Array) -> set[Device]:
    return {_DEVICES[0]}


def array_device(self: Array) -> Device:
    return _DEVICES[0]


def array_sharding(self: Array) -> SingleDeviceSharding:
    return SingleDeviceSharding(_DEVICES[0])


def array_copy_to_host_async(self: Array) -> None:
    """Start copying to the host: the buffer already is there."""
    return None


__all__ = ["Device", "SingleDeviceSharding", "block_until_ready", "default_backend",
           "device_count", "device_get", "device_put", "devices", "local_device_count",
           "local_devices", "process_count", "process_index", "set_device_count"]
