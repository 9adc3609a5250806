"""Exact nearest-neighbour search (k = 1, Euclidean) of patch features against a memory
bank, in chunks of queries so that memory stays bounded (docs/design.md §4).

Backends: "faiss" (IndexFlatL2; a GPU index when FAISS was built with GPU support), "core"
(the C++ core's PointIndex), "cuda" (seqcore's own kernels), "torch" (matmul + min on the
inputs' device, or CUDA when available). "auto" picks FAISS-GPU, then CUDA, then FAISS-CPU,
then the C++ core. All return float32 distances and int64 indices and agree within float
tolerance.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from seqcore.coreset._validate import as_points, positive_int
from seqcore.coreset.device_arrays import device_rows, is_device_array

BACKENDS = ("auto", "faiss", "core", "cuda", "torch")
Result = tuple[np.ndarray, np.ndarray]


def _optional(module: str) -> Any | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _faiss_gpu_count(faiss: Any) -> int:
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None and hasattr(faiss, "StandardGpuResources") else 0


def _cuda_module() -> Any | None:
    cuda = _optional("seqcore._cuda")
    return cuda if cuda is not None and cuda.device_count() > 0 else None


def available_backends() -> list[str]:
    """Concrete backends usable here, in the order "auto" tries them."""
    faiss = _optional("faiss")
    found = []
    if faiss is not None and _faiss_gpu_count(faiss) > 0:
        found.append("faiss")
    if _cuda_module() is not None:
        found.append("cuda")
    if faiss is not None and "faiss" not in found:
        found.append("faiss")
    if _optional("seqcore._core") is not None:
        found.append("core")
    if _optional("torch") is not None:
        found.append("torch")
    return found


def _host(x: Any, dim: int | None, name: str) -> np.ndarray:
    """Validated float32 C-contiguous host copy (GPU arrays are copied to the host)."""
    if is_device_array(x):
        x = x.cpu() if hasattr(x, "cpu") else x.get()
    return as_points(x, dim, name)


def _check_device_pair(queries: Any, bank: Any) -> tuple[Any, Any]:
    q = device_rows(queries, None, "queries")
    b = device_rows(bank, q.dim, "bank")
    if q.device != b.device:
        raise ValueError(f"queries are on cuda:{q.device} but bank is on cuda:{b.device}")
    return q, b


def _search_faiss(queries: Any, bank: Any, chunk: int) -> Result:
    faiss = importlib.import_module("faiss")
    x = _host(bank, None, "bank")
    q = _host(queries, x.shape[1], "queries")
    index: Any = faiss.IndexFlatL2(x.shape[1])
    if _faiss_gpu_count(faiss) > 0:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(x)
    dist = np.empty(len(q), np.float32)
    idx = np.empty(len(q), np.int64)
    for start in range(0, len(q), chunk):
        sq, ix = index.search(q[start : start + chunk], 1)
        dist[start : start + chunk] = np.sqrt(np.maximum(sq[:, 0], 0.0))
        idx[start : start + chunk] = ix[:, 0]
    return dist, idx


def _search_core(queries: Any, bank: Any, chunk: int) -> Result:
    core = importlib.import_module("seqcore._core")
    x = _host(bank, None, "bank")
    q = _host(queries, x.shape[1], "queries")
    return core.nearest_neighbors(q, x, chunk)


def _search_cuda(queries: Any, bank: Any, chunk: int) -> Result:
    cuda = _cuda_module()
    if cuda is None:
        raise RuntimeError("backend 'cuda' needs seqcore._cuda built with CUDA and a visible GPU")
    if is_device_array(queries) and is_device_array(bank):
        q, b = _check_device_pair(queries, bank)
        return cuda.nearest_neighbors_ptr(q.ptr, q.rows, b.ptr, b.rows, b.dim, chunk, b.device)
    x = _host(bank, None, "bank")
    return cuda.nearest_neighbors(_host(queries, x.shape[1], "queries"), x, chunk, 0)


def _search_torch(queries: Any, bank: Any, chunk: int) -> Result:
    torch = importlib.import_module("torch")
    if isinstance(bank, torch.Tensor) and bank.is_cuda:
        device = bank.device
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def tensor(a: Any, dim: int | None, name: str) -> Any:
        if isinstance(a, torch.Tensor):
            if a.is_floating_point() and a.ndim == 2 and (dim is None or a.shape[1] == dim):
                t = a.to(device=device, dtype=torch.float32)
                if not bool(torch.isfinite(t).all()):
                    raise ValueError(f"{name} contains NaN or inf (after conversion to float32)")
                return t
            a = a.detach().cpu().numpy()
        return torch.from_numpy(_host(a, dim, name)).to(device)

    x = tensor(bank, None, "bank")
    q = tensor(queries, x.shape[1], "queries")
    mean = x.mean(dim=0, keepdim=True)  # centering keeps the matmul form accurate
    xc = x - mean
    xn = (xc * xc).sum(dim=1)
    dist = torch.empty(len(q), dtype=torch.float32, device=device)
    idx = torch.empty(len(q), dtype=torch.int64, device=device)
    with torch.no_grad():
        for start in range(0, len(q), chunk):
            qc = q[start : start + chunk] - mean
            sq = (qc * qc).sum(dim=1, keepdim=True) + xn[None, :] - 2.0 * (qc @ xc.T)
            best, arg = sq.min(dim=1)
            dist[start : start + chunk] = best.clamp_min_(0.0).sqrt_()
            idx[start : start + chunk] = arg
    return dist.cpu().numpy(), idx.cpu().numpy()


_SEARCH: dict[str, Callable[[Any, Any, int], Result]] = {
    "faiss": _search_faiss,
    "core": _search_core,
    "cuda": _search_cuda,
    "torch": _search_torch,
}


def _validate_shapes(queries: Any, bank: Any) -> int:
    """Checks rank and dimensions cheaply (values are checked by each backend); returns rows of bank."""
    shapes = {}
    for name, a in (("queries", queries), ("bank", bank)):
        shape = getattr(a, "shape", None)
        if shape is None:
            shape = np.shape(a)
        if len(shape) != 2:
            raise ValueError(f"{name} must have shape (n, dim), got shape {tuple(shape)}")
        shapes[name] = tuple(int(s) for s in shape)
    if shapes["bank"][1] == 0:
        raise ValueError("bank must have dim > 0")
    if shapes["queries"][1] != shapes["bank"][1]:
        raise ValueError(f"queries have dimension {shapes['queries'][1]}, expected {shapes['bank'][1]}")
    if shapes["bank"][0] == 0:
        raise ValueError("bank is empty: no nearest neighbour exists")
    return shapes["bank"][0]


def nearest_neighbors(queries: Any, bank: Any, chunk_size: int = 2048, backend: str = "auto") -> Result:
    """Nearest bank row of each query: (float32 Euclidean distance, int64 index).

    queries (Q, d) and bank (N, d) are float arrays (NumPy, torch or CuPy; GPU arrays go to
    the CUDA backend without a host copy); chunk_size queries are searched at a time.
    """
    chunk = positive_int(chunk_size, "chunk_size")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    _validate_shapes(queries, bank)
    if backend == "auto":
        candidates = [b for b in available_backends() if b != "torch"]
        if not candidates:
            raise RuntimeError("no nearest-neighbour backend: install faiss-cpu or build seqcore._core")
        backend = candidates[0]
    elif backend == "faiss" and _optional("faiss") is None:
        raise RuntimeError("backend 'faiss' needs the faiss package (faiss-cpu or faiss-gpu)")
    elif backend == "core" and _optional("seqcore._core") is None:
        raise RuntimeError("backend 'core' needs the compiled module seqcore._core")
    dist, idx = _SEARCH[backend](queries, bank, chunk)
    return np.asarray(dist, np.float32), np.asarray(idx, np.int64)
