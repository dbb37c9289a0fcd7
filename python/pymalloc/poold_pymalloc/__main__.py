"""python3 -m poold_pymalloc [--interval S] [--dir DIR] SCRIPT [ARGS...] | -m MODULE [ARGS...]

Runs the program as `python3 SCRIPT` (or `python3 -m MODULE`) would, with the
same argv, stdin, stdout and exit status, while its pymalloc statistics are
published for poold (see `help(poold_pymalloc)`).
"""
import os
import runpy
import sys

USAGE = ("usage: python3 -m poold_pymalloc [--interval SECONDS] [--dir DIR] "
         "(SCRIPT | -m MODULE) [ARGS...]")


def fail(msg):
    sys.stderr.write("poold_pymalloc: %s\n%s\n" % (msg, USAGE))
    sys.exit(2)


def parse(argv):
    """(options, module or None, script or None, program argv)."""
    opts = {"interval": 1.0, "directory": None}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-m":
        arg = argv[i]
        if arg in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        name, eq, value = arg.partition("=")
        if name not in ("--interval", "--dir"):
            fail("unknown option %s" % arg)
        if not eq:
            i += 1
            if i == len(argv):
                fail("%s needs a value" % name)
            value = argv[i]
        if name == "--interval":
            try:
                opts["interval"] = float(value)
            except ValueError:
                fail("--interval %s: expected seconds" % value)
        else:
            opts["directory"] = value
        i += 1
    rest = argv[i:]
    if not rest:
        fail("no program given")
    if rest[0] == "-m":
        if len(rest) < 2:
            fail("-m needs a module name")
        return opts, rest[1], None, rest[1:]
    return opts, None, rest[0], rest


def main():
    import poold_pymalloc
    opts, module, script, argv = parse(sys.argv[1:])
    if script is not None and not os.path.exists(script):
        sys.stderr.write("poold_pymalloc: can't open file %r\n" % script)
        sys.exit(2)
    try:
        poold_pymalloc.start(opts["interval"], opts["directory"])
    except (poold_pymalloc.Unavailable, ValueError, OSError) as exc:
        fail(str(exc))
    sys.argv[:] = argv
    if module is not None:
        # as `python3 -m`: sys.path[0] stays the current directory
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        # as `python3 SCRIPT`: sys.path[0] is the script's directory
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
