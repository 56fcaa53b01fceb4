#!/usr/bin/python3
"""Storage that stalls, for tests: a FUSE file system over FOLDER, mounted
at MOUNTPOINT, whose fsync takes DELAY seconds (an SD card busy with its
garbage collection, a failing eMMC). Everything else passes through.
Unmounts itself on SIGTERM or SIGINT.

Usage: slowfs.py FOLDER MOUNTPOINT DELAY_S   (root, /dev/fuse, Debian's
python3-fusepy)
"""
import os
import sys
import time

from fusepy import FUSE, FuseOSError, Operations

STAT_FIELDS = ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid", "st_atime", "st_mtime",
               "st_ctime")


class Slow(Operations):
    def __init__(self, folder, delay):
        self.folder = folder
        self.delay = delay

    def _path(self, path):
        return os.path.join(self.folder, path.lstrip("/"))

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._path(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in STAT_FIELDS}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(13)  # EACCES

    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        os.truncate(self._path(path), length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def fsync(self, path, datasync, fh):
        time.sleep(self.delay)  # the stall
        os.fsync(fh)
        return 0

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    def unlink(self, path):
        os.unlink(self._path(path))

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    folder, mountpoint, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    FUSE(Slow(folder, delay), mountpoint, foreground=True, nothreads=False)


if __name__ == "__main__":
    main()
