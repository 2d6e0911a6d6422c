r"""Before a vocab-parallel loss communicates, its ranks agree on the call, or all raise the same error.

The ranks of a vocab-parallel loss must make the same call: the same token shape and token-side data
(labels, mask, weights, top-k teacher, replicated hidden states), the same options and divergence, the same
dtypes, each with its own shard of the vocabulary. A rank that differs would issue other collectives than
its peers (a different number of chunks, a hard term on one rank only): a hang, a gloo "connection
closed", or a value on one rank and an error on another. So every vocab-parallel call starts with **one
collective**: each rank runs its local checks, writes a short description of its call (or the error its
checks raised) into a fixed-size byte record, and the records are all-gathered. Then every rank reads the
same table and raises the same error, naming the field and each rank's value:

* a rank whose local checks failed: ``process_group: rank r refused the call: <its message>`` (ValueError or
  TypeError as raised there; other exceptions: RuntimeError), on every rank;
* records that differ: ``process_group: the ranks disagree on <field>: [rank 0's value, rank 1's, ...]``.

Token-side tensors are compared through fingerprints: the wrapping 64-bit sum over entries of a mixing
function (splitmix64's finaliser) of each entry's bit pattern plus its position, formed on their device (one host read for all of them), so that equal data gives equal
fingerprints on any device and a changed entry changes it (up to a 2**-64 collision).

:class:`Agreement` is a context manager around the local phase of a loss::

    with Agreement(process_group, device) as call:
        ... local checks, which may raise ...
        call.describe(loss="dense", ...)
    table = call.table  # one record per rank (None without a group)
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, Literal

import torch

Tensor = torch.Tensor

#: the fields of a record, in order; a loss leaves the ones it does not use empty
FIELDS = (
    "loss", "tokens", "k", "dtypes", "divergence", "temperature", "t_squared", "ignore_index", "reduction",
    "soft_weight", "hard_weight", "chunk_size", "vocab_mismatch", "validate", "return_parts", "softcap",
    "logit_scale", "vocab_size", "labels", "mask", "weights", "num_items_in_batch", "kept_tokens", "replicated",
    "teacher",
)
#: fields that differ between ranks by design (not compared)
PER_RANK = ("shard_widths",)
_SLOT = 128
_ERROR_SLOT = 400


def _encode_text(text: str, size: int) -> bytes:
    raw = text.encode("utf-8", "replace")
    if len(raw) > size:  # keep a checksum of the whole, so that texts differing past the cut still differ
        raw = raw[: size - 10] + b"~" + f"{zlib.crc32(raw):08x}".encode() + b"~"
    return raw.ljust(size, b"\0")


def _decode_text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("utf-8", "replace")


def tensor_text(x: Any) -> str:
    """``"absent"``, or the dtype and shape of a tensor (not its values)."""
    if x is None:
        return "absent"
    if isinstance(x, torch.Tensor):
        return f"{str(x.dtype).replace('torch.', '')} {tuple(x.shape)}"
    return type(x).__name__


def _bits(x: Tensor) -> Tensor:
    """The entries of ``x`` as int64 bit patterns (floats by their bits, so -0.0 and NaN payloads count)."""
    x = x.detach().reshape(-1)
    if x.dtype == torch.bool:
        return x.to(torch.int64)
    if x.is_complex():
        x = torch.view_as_real(x).reshape(-1)
    if x.is_floating_point():
        size = x.element_size()
        as_int = {2: torch.int16, 4: torch.int32, 8: torch.int64}.get(size)
        x = x.contiguous().view(as_int) if as_int is not None else x.to(torch.float64).view(torch.int64)
    return x.to(torch.int64)


def _signed(c: int) -> int:
    return c - (1 << 64) if c >= 1 << 63 else c


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_M1, _M2 = _signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB)


def _mix(x: Tensor) -> Tensor:
    """splitmix64's finaliser on int64 entries (wrapping arithmetic): each entry's bits spread over all 64."""
    x = (x ^ (x >> 30)) * _M1
    x = (x ^ (x >> 27)) * _M2
    return x ^ (x >> 31)


def fingerprints(tensors: Mapping[str, Any]) -> dict[str, str]:
    """Name → ``"absent"`` or dtype, shape and a 64-bit fingerprint of the values (one host read in all)."""
    out: dict[str, str] = {}
    sums = []
    names = []
    for name, x in tensors.items():
        if not isinstance(x, torch.Tensor):
            out[name] = tensor_text(x)
            continue
        b = _bits(x)
        if b.numel():
            sums.append(_mix(b + torch.arange(b.numel(), device=b.device, dtype=torch.int64) * _GOLDEN).sum()
                        + b.numel())
        else:
            sums.append(torch.zeros((), dtype=torch.int64, device=b.device))
        names.append(name)
    if sums:
        values = torch.stack([s.cpu() for s in sums]).tolist()
        for name, v in zip(names, values):
            out[name] = f"{tensor_text(tensors[name])} #{v & 0xFFFFFFFFFFFFFFFF:016x}"
    return out


class Agreement:
    """One all-gather of each rank's call description (or local error); the same error on every rank."""

    def __init__(self, group: Any, device: torch.device | None) -> None:
        self.group = group
        self.device = device if device is not None else torch.device("cpu")
        self.record: dict[str, str] = {}
        self.table: list[dict[str, str]] | None = None

    def describe(self, **fields: Any) -> None:
        """Set fields of this rank's record (values are turned into text)."""
        for key, value in fields.items():
            if key not in FIELDS and key not in PER_RANK:  # pragma: no cover - internal misuse
                raise KeyError(key)
            self.record[key] = value if isinstance(value, str) else repr(value)

    def __enter__(self) -> Agreement:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        # never suppresses an exception (so a type checker knows the body's names are bound after it)
        if self.group is None:
            return False  # one process: exceptions propagate as they are
        if exc is not None and not isinstance(exc, Exception):
            return False  # KeyboardInterrupt, SystemExit: leave at once
        self.table = _exchange(self.group, self.device, self.record, exc)
        return False  # with an exception, _exchange raised it already


def _exchange(group: Any, device: torch.device, record: dict[str, str], exc: BaseException | None) -> list[dict[str, str]]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        if exc is not None:
            raise exc
        raise ValueError("process_group needs an initialised torch.distributed process group "
                         "(torch.distributed.init_process_group)")
    if group is True:
        group = dist.group.WORLD
    kind = "" if exc is None else type(exc).__name__
    message = "" if exc is None else str(exc)
    parts = [_encode_text(kind, _SLOT), _encode_text(message, _ERROR_SLOT)]
    parts += [_encode_text(record.get(k, ""), _SLOT) for k in FIELDS + PER_RANK]
    mine = torch.frombuffer(bytearray(b"".join(parts)), dtype=torch.uint8).to(device)
    world = dist.get_world_size(group)
    gathered = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(gathered, mine, group=group)
    table: list[dict[str, str]] = []
    errors: list[tuple[int, str, str]] = []
    for r, t in enumerate(gathered):
        raw = bytes(t.cpu().tolist())
        kind_r = _decode_text(raw[:_SLOT])
        msg_r = _decode_text(raw[_SLOT : _SLOT + _ERROR_SLOT])
        if kind_r:
            errors.append((r, kind_r, msg_r))
        off = _SLOT + _ERROR_SLOT
        rec = {}
        for i, k in enumerate(FIELDS + PER_RANK):
            rec[k] = _decode_text(raw[off + i * _SLOT : off + (i + 1) * _SLOT])
        table.append(rec)
    if errors:
        r, kind_r, msg_r = errors[0]
        others = f" (ranks {[e[0] for e in errors[1:]]} refused it too)" if len(errors) > 1 else ""
        text = f"process_group: rank {r} refused the call{others}: {msg_r}"
        cls = {"ValueError": ValueError, "TypeError": TypeError}.get(kind_r, RuntimeError)
        if exc is not None:
            raise cls(text) from exc
        raise cls(text)
    for k in FIELDS:
        values = [rec[k] for rec in table]
        if len(set(values)) > 1:
            raise ValueError(f"process_group: the ranks disagree on {k}: {values} (rank 0, 1, ...); every rank must "
                             "make the same call, each with its own shard of the vocabulary")
    return table
