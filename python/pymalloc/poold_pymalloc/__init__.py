"""Publish CPython's own pymalloc statistics for poold.

    python3 -m poold_pymalloc SCRIPT [ARGS...]     run a program with the exporter on
    python3 -m poold_pymalloc -m MODULE [ARGS...]
    POOLD_PYMALLOC_EXPORT=1 python3 app.py         the same through the .pth start-up hook

    import poold_pymalloc
    poold_pymalloc.start(interval=1.0)            from code; stop() too

Every interval a daemon thread reads pymalloc (the report of
sys._debugmallocstats(), plus the arena map) with the GIL held only for the
read, and writes it into DIR/poolmalloc.<pid> (default /dev/shm, owner-only),
where `poold --collector.processes` finds it. The segment is removed when the
interpreter exits, before an exec, and by stop(); a forked child publishes
its own.

Environment: POOLD_PYMALLOC_EXPORT (1 or an absolute directory),
POOLD_PYMALLOC_INTERVAL (seconds, 0.01-3600, default 1),
POOLD_PYMALLOC_EXPORT_MODE (octal, within 0644, default 0600).
"""
import atexit
import os
import stat
import sys
import threading

try:
    from . import _native
except ImportError as exc:
    import glob                  # only here: it costs milliseconds at start-up
    _built = sorted(os.path.basename(p)[len("_native"):]
                    for p in glob.glob(os.path.join(os.path.dirname(__file__), "_native*.so")))
    raise ImportError(
        "poold_pymalloc: this package's C part was built for %s; this interpreter is "
        "CPython %s (it needs _native%s): build it with that Python (make PYTHON=%s)"
        % (" and ".join(_built) or "no Python at all", sys.version.split()[0],
           (__import__("sysconfig").get_config_var("EXT_SUFFIX") or "?"), sys.executable)
    ) from exc

__all__ = ["start", "stop", "running", "snapshot", "Unavailable"]

Unavailable = _native.Unavailable
DEFAULT_DIR = "/dev/shm"

_lock = threading.Lock()
_current = None          # the running _Publisher


def _warn(msg):
    try:
        sys.stderr.write("poold_pymalloc: %s\n" % msg)
        sys.stderr.flush()
    except Exception:    # a closed stderr must not break the program
        pass


class _Publisher:
    """The daemon thread that calls _native.publish() every interval."""

    def __init__(self, interval, directory, mode):
        self.interval, self.directory, self.mode = interval, directory, mode
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        _sweep(self.directory)
        _native.configure(self.directory, self.mode, max(10, int(self.interval * 1000)))
        _native.publish()                # refuses here, before a thread exists
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="poold-pymalloc", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                _native.publish()
            except Exception as exc:     # keep the program going, say it once
                _warn("stopped publishing: %s" % exc)
                _native.withdraw()
                return

    def halt(self):
        """Stop the thread (waiting for a publish under way) and remove the segment."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join()
        self._thread = None
        _native.withdraw()
        _sweep(self.directory)


_ALLOCATOR_OFFSET = 80     # pool_export_header_t.allocator


def _sweep(directory):
    """Remove pymalloc segments of this user's processes that died without
    removing theirs (SIGKILL, SIGTERM: e.g. multiprocessing's Pool.terminate()).
    A reader already ignores them (the pid is gone); this keeps the directory
    from filling up. Only regular files of our own user, of dead pids, that are
    pymalloc segments."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    me, uid = os.getpid(), os.geteuid()
    for name in names:
        pid = name[len("poolmalloc."):]
        if not name.startswith("poolmalloc.") or not pid.isdigit() or int(pid) == me:
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            if not (stat.S_ISREG(st.st_mode) and st.st_uid == uid):
                continue
            os.kill(int(pid), 0)
            continue                     # alive (or reused): not ours to touch
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            with open(path, "rb") as f:
                head = f.read(_ALLOCATOR_OFFSET + 4)
            if (head[:8] == b"POOLSHM1" and head[8:12] == (2).to_bytes(4, "little") and
                    head[_ALLOCATOR_OFFSET:] == (2).to_bytes(4, "little")):
                os.unlink(path)
        except OSError:
            pass


def _check_interval(interval):
    interval = float(interval)
    if not 0.01 <= interval <= 3600:
        raise ValueError("interval %r s: expected 0.01..3600" % interval)
    return interval


def start(interval=1.0, directory=None, mode=0o600):
    """Start publishing (again, with these settings, if it already runs).

    Raises Unavailable when this interpreter has no pymalloc to export
    (PYTHONMALLOC=malloc) or its report is not understood, ValueError for
    bad settings and OSError when the segment cannot be made."""
    global _current
    interval = _check_interval(interval)
    directory = directory or DEFAULT_DIR
    with _lock:
        if _current is not None:
            _current.halt()
            _current = None
        _native.track_arenas()
        p = _Publisher(interval, directory, mode)
        p.start()
        _current = p


def stop():
    """Stop publishing and remove the segment (a no-op when not running)."""
    global _current
    with _lock:
        if _current is not None:
            _current.halt()
            _current = None


def running():
    """The segment's path while publishing, else None."""
    return _native.segment_path() if _current is not None else None


def snapshot():
    """What a read finds now, as a dict (the figures publish() exports)."""
    return _native.snapshot()


# ---- the process's life: fork, exec, _exit, exit ------------------------------------

def _after_fork_child():
    """The child has no publisher thread and must not write the parent's segment."""
    global _current
    global _lock
    _lock = threading.Lock()
    p, _current = _current, None
    _native.forget()
    if p is not None:
        try:
            start(p.interval, p.directory, p.mode)
        except Exception as exc:
            _warn("the forked child does not publish: %s" % exc)


def _withdraw_around(fn):
    """os.execv / os.execve (every os.exec* ends in one of them): the new image may
    not export, so the segment goes first, and comes back if the exec fails."""
    def wrapper(*args, **kwargs):
        p = _current
        if p is None:
            return fn(*args, **kwargs)
        stop()
        try:
            return fn(*args, **kwargs)
        except BaseException:
            try:
                start(p.interval, p.directory, p.mode)
            except Exception as exc:
                _warn("not publishing after the failed exec: %s" % exc)
            raise
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


def _exit_wrapper(fn):
    """os._exit skips atexit: remove the segment first (forked workers end this way)."""
    def wrapper(*args, **kwargs):
        if _current is not None:
            _native.withdraw()
        return fn(*args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


if not getattr(os, "_poold_pymalloc_wrapped", False):
    os.execv = _withdraw_around(os.execv)
    os.execve = _withdraw_around(os.execve)
    os._exit = _exit_wrapper(os._exit)
    os._poold_pymalloc_wrapped = True
os.register_at_fork(after_in_child=_after_fork_child)
atexit.register(stop)


def _settings_from_env(env=os.environ):
    """(interval, directory, mode) from POOLD_PYMALLOC_*; ValueError names the variable."""
    v = env.get("POOLD_PYMALLOC_EXPORT", "")
    directory = DEFAULT_DIR if v == "1" else v
    if not directory.startswith("/"):
        raise ValueError("POOLD_PYMALLOC_EXPORT=%s: expected 1 or an absolute directory" % v)
    try:
        interval = _check_interval(env.get("POOLD_PYMALLOC_INTERVAL") or 1.0)
    except ValueError:
        raise ValueError("POOLD_PYMALLOC_INTERVAL=%s: expected seconds, 0.01..3600"
                         % env.get("POOLD_PYMALLOC_INTERVAL")) from None
    m = env.get("POOLD_PYMALLOC_EXPORT_MODE") or "600"
    try:
        mode = int(m, 8)
    except ValueError:
        mode = -1
    if mode < 0 or mode & ~0o644 or (mode & 0o600) != 0o600:
        raise ValueError("POOLD_PYMALLOC_EXPORT_MODE=%s: expected an octal mode within 0644, "
                         "readable and writable by the owner" % m)
    return interval, directory, mode


def _start_from_env():
    """The .pth hook: never stops the program, says why it does not export."""
    try:
        start(*_settings_from_env())
    except (Unavailable, ValueError, OSError) as exc:
        _warn("not exporting: %s" % exc)
