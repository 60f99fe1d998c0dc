"""What creating files costs on this machine: the floor under a warm re-download and a small-file download.

A download into a new folder has to create one new file per entry (warm: copied from the cache) or two
(cold: the root's file and the cache's copy), each with its 16 KiB. This times exactly that and
nothing else (no network, no hashing, no Python bookkeeping beyond the loop), in a fresh folder on
the same filesystem as the benchmarks' temporary folders, with 4 threads over 16 subfolders as the
download engine does. Each round deletes its files, so a later round may reuse freed memory.

Usage: python bench/files_floor.py [--files 2000] [--copies 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import threading
import time


def create(folder: str, files: int, copies: int, data: bytes, threads: int = 4) -> None:
    shards = [os.path.join(folder, f"{n:x}") for n in range(16)]
    for shard in shards:
        os.mkdir(shard)

    def work(start: int) -> None:
        for i in range(start, files, threads):
            for copy in range(copies):
                fd = os.open(f"{shards[i % 16]}/{i}-{copy}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--copies", type=int, default=1, help="files created per entry (warm 1, cold 2)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = os.urandom(16 * 1024)
    for round_ in range(args.rounds):
        folder = tempfile.mkdtemp(prefix="bench-files-floor-")
        before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        create(folder, args.files, args.copies, data)
        wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        print(f"round {round_ + 1}: {args.files} x {args.copies} new 16 KiB files: wall {wall:.3f} s, "
              f"CPU user {user:.3f} s + system {system:.3f} s = {(user + system) / args.files * 1000:.3f} ms/entry")
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
