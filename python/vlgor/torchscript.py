"""`python -m vlgor.torchscript export CHECKPOINT --out MODULE.pt`: what `vlgor export-policy`
runs. Rebuilds a vlgor policy checkpoint's acting network in PyTorch
(`vlgor.policy_network`), loads its weights from the checkpoint's safetensors file, and saves
`torch.jit.script` of it. CHECKPOINT is the `.safetensors` file; its run record is the `.json`
beside it. torch is imported only here (and only when this runs): the wheel needs no torch.

Prints one JSON line on success; a bad input prints the reason on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib
import struct
import sys

# safetensors dtype names → torch dtype attribute names.
_DTYPES = {"F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16",
           "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
           "BOOL": "bool"}


class ExportError(Exception):
    """A bad input (not a checkpoint, damaged file): exit status 2."""


def read_safetensors_header(data: bytes, path: pathlib.Path) -> tuple[dict, int]:
    """The JSON header of a safetensors file (name → dtype, shape, data_offsets) and where its
    data begins: an 8-byte little-endian header length, the header, then the tensors' bytes."""
    if len(data) < 8:
        raise ExportError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ExportError(f"{path}: safetensors header of {n} bytes runs past the file's end")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise ExportError(f"{path}: safetensors header is not JSON: {e}") from e
    header.pop("__metadata__", None)
    return header, 8 + n


def read_tensors(path: pathlib.Path, prefix: str = "model."):
    """The tensors of a safetensors file whose names start with `prefix`, as torch tensors."""
    import torch

    data = path.read_bytes()
    header, start = read_safetensors_header(data, path)
    out = {}
    for name, info in header.items():
        if not name.startswith(prefix):
            continue
        dtype = _DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ExportError(f"{path}: tensor {name!r} has unsupported dtype {info.get('dtype')!r}")
        lo, hi = info["data_offsets"]
        if not 0 <= lo <= hi <= len(data) - start:
            raise ExportError(f"{path}: tensor {name!r} lies outside the file")
        raw = bytearray(data[start + lo:start + hi])
        t = torch.frombuffer(raw, dtype=getattr(torch, dtype)) if raw else torch.empty(0)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def export(checkpoint: pathlib.Path, out: pathlib.Path) -> dict:
    """Writes the scripted policy of `checkpoint` to `out`; returns what it wrote."""
    if checkpoint.suffix != ".safetensors":
        raise ExportError(f"{checkpoint}: give the checkpoint's .safetensors file")
    meta_path = checkpoint.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        run = meta["run"]
    except (OSError, ValueError, KeyError) as e:
        raise ExportError(f"{meta_path}: not a vlgor checkpoint record: {e}") from e
    try:
        import torch
    except ImportError as e:
        raise ExportError(f"export-policy needs torch in this Python ({sys.executable}): {e}") from e
    from vlgor import policy_network

    try:
        tensors = read_tensors(checkpoint)
        module = policy_network.script(run, tensors)
    except (OSError, KeyError, ValueError) as e:
        raise ExportError(f"{checkpoint}: {e}") from e
    # Saved through a buffer: the archive's inner folder is then `archive/`, not the file's
    # name, so the same checkpoint gives the same bytes whatever `out` is called.
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    obs = run["obs"]
    return {
        "out": str(out),
        "algo": run["algo"],
        "env": run["env"],
        "obs": obs["kind"],
        "frame": [obs["height"], obs["width"]] if obs["kind"] == "image" else None,
        "output": "logits" if run["action_space"]["kind"] == "discrete" else "actions",
        "torch": torch.__version__,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vlgor.torchscript", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="a vlgor policy checkpoint as a TorchScript module")
    e.add_argument("checkpoint", type=pathlib.Path, help="the checkpoint's .safetensors file")
    e.add_argument("--out", required=True, type=pathlib.Path, help="TorchScript file to write")
    a = p.parse_args(argv)
    try:
        print(json.dumps(export(a.checkpoint, a.out)))
        return 0
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
