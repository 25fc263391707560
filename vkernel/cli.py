"""The ``vkernel`` command line.

>>> from vkernel.cli import main
>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vkernel.errors import AsmError, LoadError, VkernelError
from vkernel.hv.base import PAGINGS, SHADOWS


def _int(text: str) -> int:
    return int(text, 0)


def _parser() -> argparse.ArgumentParser:
    from vkernel import __version__

    parser = argparse.ArgumentParser(
        prog="vkernel",
        description="Watch virtualization happen: a RISC-V machine, a hypervisor, traces.")
    parser.add_argument("--version", action="version", version=f"vkernel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    asm = sub.add_parser("asm", help="assemble a .s file into an ELF executable",
                         description="Assemble RISC-V source (GNU as syntax) into an ELF64 "
                                     "executable.")
    asm.add_argument("source", type=Path, help="assembly source file (.s)")
    asm.add_argument("-o", "--output", type=Path, help="ELF file to write (default: FILE.elf)")
    asm.add_argument("--base", type=_int, default=0x8000_0000,
                     help="address of the first section (default 0x80000000)")
    _include_option(asm)

    dis = sub.add_parser("disasm", help="disassemble an ELF file (or a .s file)",
                         description="Disassemble the executable sections of an ELF file, "
                                     "objdump style. A .s file is assembled first.")
    dis.add_argument("file", type=Path, help="ELF executable or assembly source")
    dis.add_argument("--no-aliases", action="store_true",
                     help="print every instruction under its own name (no pseudo-instructions)")
    _include_option(dis)
    run = sub.add_parser("run", help="run a program (.s or ELF) on the virt machine, or a "
                                     "shipped guest kernel under a hypervisor",
                         description="Run a bare-metal program on the emulated QEMU-virt "
                                     "machine, or (--guest) a shipped guest kernel and "
                                     "workload under a virtualization technique. The UART "
                                     "goes to stdout and stdin to the UART; the exit status "
                                     "is the guest's (HTIF or test finisher; 0 on pass; a "
                                     "guest kernel's shutdown reason), 124 when --max-steps "
                                     "ran out, 125 when the guest waits for input that "
                                     "cannot come.")
    run.add_argument("file", type=Path, nargs="?",
                     help="ELF executable or assembly source (not with --guest)")
    _include_option(run)
    run.add_argument("--bios", metavar="FILE",
                     help="QEMU's boot convention: M-mode firmware loaded at 0x80000000 (ELF "
                          "or raw binary); 'none' runs --kernel bare-metal; default, with "
                          "--kernel: vkernel's own small SBI firmware (vkernel/guests/sbi.s)")
    run.add_argument("--kernel", metavar="FILE", type=Path,
                     help="the kernel the firmware starts: an ELF at its own addresses, a "
                          "raw image at 0x80200000 (OpenSBI fw_jump's next stage)")
    run.add_argument("--initrd", metavar="FILE", type=Path,
                     help="initial ramdisk, at kernel + min(RAM/2, 128 MiB) as QEMU puts it")
    run.add_argument("--append", metavar="ARGS", default="",
                     help="kernel command line (recorded; not yet written into the device "
                          "tree's /chosen)")
    run.add_argument("--dtb", metavar="FILE", type=Path,
                     help="flattened device tree, placed where QEMU puts it (below the end "
                          "of RAM, 2 MiB aligned); its address goes to the firmware in a1")
    run.add_argument("--guest", metavar="WORKLOAD",
                     help="run the shipped guest kernel with this workload instead: "
                          "hello, null-syscall, page-fault, exception, call-return, "
                          "irq-mask, device, pte-update, map-unmap, as-switch, fork-copy, "
                          "faults")
    run.add_argument("--technique", default="native",
                     help="with --guest: native, trap-emulate, binary-translation, "
                          "paravirt or hardware (default native)")
    run.add_argument("--n", type=_int, default=None,
                     help="with --guest: the operation count of a benchmark workload")
    run.add_argument("--paging", choices=PAGINGS, default=None,
                     help="with --guest and --technique hardware: nested (two-stage "
                          "translation, the default) or shadow (first-generation hardware: "
                          "the hypervisor keeps shadow tables)")
    run.add_argument("--shadow", choices=SHADOWS, default=None,
                     help="with --guest, for a technique that keeps shadow tables: "
                          "write-protect (the default) or simple")
    run.add_argument("--walk-cache", action="store_true",
                     help="give the MMU its page-walk caches (with --guest, or a program)")
    run.add_argument("--sensitive-unprivileged", action="store_true",
                     help="Popek and Goldberg's switch (a teaching deviation from RISC-V): "
                          "sstatus readable and silently unwritable in U-mode, like x86's "
                          "POPF")
    run.add_argument("--max-steps", type=_int, default=None,
                     help="stop after this many steps (instructions or traps)")
    run.add_argument("--ram-mb", type=int, default=128, help="RAM size in MiB (default 128)")
    run.add_argument("--disk", type=Path, help="raw disk image for the virtio block device")
    run.add_argument("--trace", type=Path, metavar="OUT",
                     help="record a trace to OUT.nc (netCDF-4, kept in memory until the end) "
                          "or OUT.zarr (Zarr v3, streamed as the run goes: any length)")
    run.add_argument("--families", default="step,trap,walk,io",
                     help="event families to trace, comma-separated, from step, write, trap, "
                          "walk, io, sample, (with --guest) p2m, or 'all' (default: "
                          "step,trap,walk,io; with --guest the hv family too)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a progress bar while tracing (default: when stderr is a "
                          "terminal)")

    bench = sub.add_parser("bench", help="run a benchmark from benchmarks/ (source checkout)",
                           description="Run one of the benchmarks in the source checkout's "
                                       "benchmarks/ folder; it prints a table and writes JSON "
                                       "to benchmarks/results/.")
    bench.add_argument("name", choices=["core", "asm", "trace", "virt", "host", "memory",
                                        "balloon"],
                       help="which benchmark")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark")

    sub.add_parser("warm", help="compile the numba core into its on-disk cache",
                   description="Compile every numba kernel that Python calls (about a "
                               "minute) into numba's on-disk cache, so that later processes "
                               "load them at once; prints what it compiled and how long it "
                               "took. Set NUMBA_CPU_NAME as the later processes will "
                               "(Binder: generic).")
    return parser


def _run_guest(args: argparse.Namespace) -> int:
    """--guest: the shipped guest kernel under a hypervisor (vkernel.hv)."""
    from vkernel.hv import VM

    if args.file is not None:
        print("vkernel: give a program file or --guest, not both", file=sys.stderr)
        return 2
    families = None
    if args.trace is not None:  # recorded from the guest's creation (its p2m rows)
        families = tuple(dict.fromkeys(
            [f.strip() for f in args.families.split(",") if f.strip()] + ["hv"]))
    vm = VM(args.guest, technique=args.technique, n=args.n,
            sensitive_unprivileged=args.sensitive_unprivileged, paging=args.paging,
            shadow=args.shadow, walk_cache=args.walk_cache, trace=families)
    out = sys.stdout.buffer
    vm.on_console = lambda b: out.write(bytes([b]))
    try:
        result = vm.run(max_steps=args.max_steps)
    finally:
        out.flush()
        if args.trace is not None:
            _finish_trace(vm.machine, args.trace)
    if result.reason == "budget":
        print(f"vkernel: stopped after {args.max_steps} steps (--max-steps)", file=sys.stderr)
        return 124
    if result.reason == "idle":
        print("vkernel: the guest waits for an interrupt nothing can send", file=sys.stderr)
        return 125
    return min(result.code or 0, 255)


def _run(args: argparse.Namespace) -> int:
    import os
    import select

    from vkernel.machine import Machine

    booting = args.bios is not None or args.kernel is not None
    if args.guest is not None:
        if booting:
            print("vkernel: --guest runs a shipped guest kernel: not with --bios or --kernel",
                  file=sys.stderr)
            return 2
        return _run_guest(args)
    if booting and args.file is not None:
        print("vkernel: give a program file (bare-metal) or --bios/--kernel, not both",
              file=sys.stderr)
        return 2
    if not booting and (args.initrd is not None or args.dtb is not None or args.append):
        print("vkernel: --initrd, --dtb and --append go with --kernel", file=sys.stderr)
        return 2
    if args.file is None and not booting:
        print("vkernel: run needs a program file, --kernel FILE, or --guest WORKLOAD",
              file=sys.stderr)
        return 2
    if args.paging is not None or args.shadow is not None:
        print("vkernel: --paging and --shadow choose how a hypervisor virtualizes a guest's "
              "memory: use them with --guest", file=sys.stderr)
        return 2
    m = Machine(ram_mb=args.ram_mb, disk=args.disk, walk_cache=args.walk_cache)
    if booting:
        kernel = None if args.kernel is None else \
            _load(args.kernel, 0x8020_0000, args.include_dirs) \
            if args.kernel.suffix in (".s", ".S", ".asm") else args.kernel
        bios = "vkernel" if args.bios is None else args.bios
        if bios not in ("vkernel", "none") and Path(bios).suffix in (".s", ".S", ".asm"):
            bios = _load(Path(bios), include_dirs=args.include_dirs)
        m.boot(kernel, bios=bios, initrd=args.initrd, append=args.append, dtb=args.dtb)
    else:
        m.load(_load(args.file, include_dirs=args.include_dirs))
    bar = None
    if args.trace is not None:
        bar = _start_trace(m, args)
    out = sys.stdout.buffer
    m.on_console = lambda ch: out.write(ch.encode("latin-1"))
    stdin_fd: int | None = None
    saved_tty = None
    try:
        stdin_fd = sys.stdin.fileno()
    except (OSError, ValueError, AttributeError):
        stdin_fd = None
    tty_fd = stdin_fd
    if stdin_fd is not None and os.isatty(stdin_fd):
        import termios
        import tty

        saved_tty = termios.tcgetattr(stdin_fd)
        tty.setcbreak(stdin_fd)  # keys go straight to the guest, which echoes them itself

    def feed(timeout: float | None) -> bool:
        """Forward what stdin has to the UART; False once stdin is closed."""
        nonlocal stdin_fd
        if stdin_fd is None:
            return False
        ready, _, _ = select.select([stdin_fd], [], [], timeout)
        if ready:
            data = os.read(stdin_fd, 4096)
            if not data:
                stdin_fd = None
                return False
            m.send_console(data)
        return True

    start = m.steps
    try:
        while True:
            # poll stdin between chunks: often while it can still bring input
            chunk = 1 << 21 if stdin_fd is None else 1 << 16
            if args.max_steps is not None:
                left = args.max_steps - (m.steps - start)
                if left <= 0:
                    print(f"vkernel: stopped after {args.max_steps} steps (--max-steps)",
                          file=sys.stderr)
                    return 124
                chunk = min(chunk, left)
            ex = m.run(max_steps=chunk, progress=False)
            out.flush()
            if bar is not None:
                bar.update(m.steps - start - bar.n)
            if ex.reason == "halt":
                code = ex.exit_code or 0
                return code if code < 256 else 255
            if ex.reason == "budget":
                feed(0)
            elif ex.reason == "wfi-idle":
                if not feed(None):
                    print(f"vkernel: the guest waits in wfi at {ex.pc:#x} for an interrupt "
                          f"nothing can send (step {ex.step})", file=sys.stderr)
                    return 125
            else:
                print(f"vkernel: stopped: {ex!r}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        out.flush()
        print(f"\nvkernel: interrupted at step {m.hart.instret}, pc {m.hart.pc:#x}",
              file=sys.stderr)
        return 130
    finally:
        if saved_tty is not None:
            import termios

            termios.tcsetattr(tty_fd, termios.TCSADRAIN, saved_tty)
        if bar is not None:
            bar.close()
        if args.trace is not None:
            _finish_trace(m, args.trace)


def _start_trace(m, args: argparse.Namespace):  # noqa: ANN001, ANN202 - Machine, tqdm bar
    """Begin recording for --trace; check the output path first, so that a long run never
    ends in an error about where to write."""
    from vkernel.machine import progress_bar, watched
    from vkernel.trace.files import refuse_to_clobber, trace_format

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    if trace_format(args.trace) == "zarr":
        m.trace(*families, mode="stream", path=args.trace)
    else:
        refuse_to_clobber(args.trace)
        m.trace(*families)
    show = args.progress if args.progress is not None else watched()
    return progress_bar(args.max_steps, m.program.name if m.program else None) \
        if show else None


def _finish_trace(m, path: Path) -> None:  # noqa: ANN001 - Machine
    ds = m.trace_dataset()
    if path.suffix.lower() == ".nc":
        ds.vk.save(path)
    rows = ", ".join(f"{ds.sizes[f]} {f}" for f in ds.dims)
    print(f"vkernel: trace written to {path} ({rows})", file=sys.stderr)


def _bench(args: argparse.Namespace) -> int:
    import runpy

    script = Path(__file__).resolve().parent.parent / "benchmarks" / f"bench_{args.name}.py"
    if not script.exists():
        print(f"vkernel: {script} not found: benchmarks run from a source checkout",
              file=sys.stderr)
        return 2
    sys.argv = [str(script), *args.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def _include_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", dest="include_dirs", metavar="DIR", type=Path, action="append",
                        default=[], help=".include looks here after the source's own "
                                         "directory (repeatable, as GNU as -I)")


def _load(path: Path, base: int = 0x8000_0000, include_dirs: list[Path] = ()):  # noqa: ANN202
    from vkernel.isa.program import load_program

    return load_program(path, base, include_dirs)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "asm":
            program = _load(args.source, args.base, args.include_dirs)
            output = args.output or args.source.with_suffix(".elf")
            program.to_elf(output)
            size = sum(s.size for s in program.sections.values())
            print(f"{output}: {len(program.sections)} sections, {size} bytes, "
                  f"entry {program.entry:#x}")
        elif args.command == "run":
            return _run(args)
        elif args.command == "bench":
            return _bench(args)
        elif args.command == "warm":
            from vkernel.warm import main as warm

            return warm()
        elif args.command == "disasm":
            from vkernel.isa.disasm import disassemble, to_text

            program = _load(args.file, include_dirs=args.include_dirs)
            for section in program.sections.values():
                if not section.executable:
                    continue
                print(f"\nDisassembly of section {section.name}:\n")
                insns = disassemble(section.data, section.addr, aliases=not args.no_aliases)
                print(to_text(insns, program.symbols))
    except (AsmError, LoadError, VkernelError) as e:
        print(f"vkernel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
