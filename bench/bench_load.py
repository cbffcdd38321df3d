#!/usr/bin/python3
"""Python side of the data-loading benchmark (run with /usr/bin/python3: Debian torch 1.13 + h5py).

  bench_load.py make-pt H5_DIR PT_DIR   copy every H5_DIR/<slide>.h5 `features` to PT_DIR/<slide>.pt (torch.save)
  bench_load.py trident H5_DIR          rewrite every H5_DIR/<slide>.h5 in the TRIDENT / CLAM 2021-2023 layout:
                                        chunks (1, D) and (1, 2), int64 coords (as their save_hdf5 / save_h5 write)
  bench_load.py load h5|pt DIR          time the usual Python loaders over DIR (h5py f['features'][:] / torch.load)
  bench_load.py evict DIR...            drop the files' pages from the page cache (posix_fadvise DONTNEED)

`load` prints one line: load ext=.. loader=.. bags=.. bytes=.. seconds=.. gb_per_s=.. cpu_seconds=.. gb_per_cpu_s=..
"""
import os
import sys
import time


def files(folder, ext):
    names = sorted(n for n in os.listdir(folder) if n.endswith("." + ext))
    if not names:
        sys.exit(f"bench_load.py: error: {folder}: no .{ext} files")
    return [os.path.join(folder, n) for n in names]


def make_pt(h5_dir, pt_dir):
    import h5py
    import torch
    os.makedirs(pt_dir, exist_ok=True)
    for path in files(h5_dir, "h5"):
        with h5py.File(path, "r") as f:
            features = torch.from_numpy(f["features"][:])
        name = os.path.splitext(os.path.basename(path))[0]
        torch.save(features, os.path.join(pt_dir, name + ".pt"))


def trident(h5_dir):
    import h5py
    import numpy as np
    for path in files(h5_dir, "h5"):
        with h5py.File(path, "r") as f:
            features, coords = f["features"][:], f["coords"][:].astype(np.int64)
        with h5py.File(path, "w") as f:
            for key, val in (("features", features), ("coords", coords)):
                f.create_dataset(key, data=val, maxshape=(None,) + val.shape[1:], chunks=(1,) + val.shape[1:])


def load(ext, folder):
    paths = files(folder, ext)
    if ext == "h5":
        import h5py

        def read(path):
            with h5py.File(path, "r") as f:
                return f["features"][:]
        loader = "h5py"
    else:
        import torch

        def read(path):
            return torch.load(path)
        loader = "torch.load"
    total = 0
    bags = []  # kept in memory, as the original's --persistence does and as the bag store does
    start, cpu_start = time.perf_counter(), time.process_time()
    for path in paths:
        x = read(path)
        total += x.nbytes if ext == "h5" else x.numel() * x.element_size()
        bags.append(x)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"load ext={ext} loader={loader} bags={len(paths)} bytes={total} seconds={seconds:.3f} "
          f"gb_per_s={total / seconds / 1e9:.3f} cpu_seconds={cpu:.3f} gb_per_cpu_s={total / cpu / 1e9:.3f}")


def evict(folders):
    for folder in folders:
        for name in os.listdir(folder):
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def main(argv):
    if len(argv) >= 3 and argv[0] == "make-pt":
        make_pt(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "trident":
        trident(argv[1])
    elif len(argv) == 3 and argv[0] == "load" and argv[1] in ("h5", "pt"):
        load(argv[1], argv[2])
    elif len(argv) >= 2 and argv[0] == "evict":
        evict(argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
