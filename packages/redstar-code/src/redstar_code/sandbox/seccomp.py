"""The sandbox's system-call filter: a classic BPF program for seccomp, built here, installed by
the harness before any candidate code runs (see ``harness/guard.py``).

It allows every system call but those a test program never needs (a list of denials: a system
call added to the kernel later is allowed until it is listed here) and that either reach beyond
the test (other processes, the kernel's keyrings, state or memory that outlives a test or escapes
its limits) or are kernel code an ordinary user can reach only for attack surface. Those fail with
``ENOSYS`` ("function not implemented", what a kernel without them says, so libraries fall back),
except sockets of families other than Unix, IPv4, IPv6 and netlink, which fail with
``EAFNOSUPPORT``. System calls of another ABI (32-bit ``int 0x80`` and x32 on x86-64) fail with
``ENOSYS`` whatever they are. docs/code.md has the list with the reason for each group.

Architectures: x86-64, and the generic table of arm64, riscv64 and loongarch64 (numbers from the
kernel's ``asm/unistd_64.h`` and ``asm-generic/unistd.h``). Elsewhere the sandbox is unavailable:
it never runs candidates without the filter.
"""

from __future__ import annotations

import errno
import platform
import struct

from redstar_code.sandbox.errors import SandboxUnavailable

#: Denied, by group (the reasons are in docs/code.md). A name a table lacks does not exist there.
DENIED_GROUPS: dict[str, tuple[str, ...]] = {
    "other processes and the kernel's introspection": (
        "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "process_mrelease", "kcmp",
        "pidfd_getfd", "perf_event_open", "bpf", "userfaultfd",
    ),
    "kernel keyrings": ("keyctl", "add_key", "request_key"),
    "memory outside the limits, state across tests (IPC)": (
        "memfd_create", "memfd_secret",
        "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
        "semget", "semop", "semtimedop", "semctl",
        "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    ),
    "io_uring": ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    "mounts and namespaces": (
        "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
        "fsmount", "fspick", "mount_setattr", "unshare", "setns", "name_to_handle_at",
        "open_by_handle_at", "fanotify_init",
    ),
    "the machine's administration": (
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
        "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "settimeofday",
        "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "vhangup",
        "iopl", "ioperm", "modify_ldt", "uselib",
    ),
}
DENIED: tuple[str, ...] = tuple(name for names in DENIED_GROUPS.values() for name in names)
#: Socket families a test program may create (``socket``, ``socketpair``): Unix, IPv4, IPv6 (the
#: network namespace has no interface up: they connect nowhere) and netlink (the C library's
#: getaddrinfo asks it for the machine's addresses).
SOCKET_FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16}
#: Names the harness and the tests need besides the denied ones.
OTHER_NAMES = ("socket", "socketpair", "getpid")

_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "process_madvise": 440,
    "process_mrelease": 448, "kcmp": 312, "pidfd_getfd": 438,
    "perf_event_open": 298, "bpf": 321, "userfaultfd": 323,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "memfd_create": 319, "memfd_secret": 447, "shmget": 29, "shmat": 30, "shmdt": 67, "shmctl": 31,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "semget": 64, "semop": 65, "semtimedop": 220,
    "semctl": 66, "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243,
    "mq_notify": 244, "mq_getsetattr": 245,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "move_mount": 429, "open_tree": 428,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "unshare": 272,
    "setns": 308, "name_to_handle_at": 303, "open_by_handle_at": 304, "fanotify_init": 300,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "quotactl_fd": 443,
    "syslog": 103, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159,
    "sethostname": 170, "setdomainname": 171, "vhangup": 153, "iopl": 172, "ioperm": 173, "modify_ldt": 154,
    "uselib": 134,
    "socket": 41, "socketpair": 53, "getpid": 39,
}
#: asm-generic/unistd.h (arm64, riscv64, loongarch64): no iopl, ioperm, modify_ldt, uselib.
_GENERIC = {
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "process_madvise": 440,
    "process_mrelease": 448, "kcmp": 272, "pidfd_getfd": 438,
    "perf_event_open": 241, "bpf": 280, "userfaultfd": 282,
    "keyctl": 219, "add_key": 217, "request_key": 218,
    "memfd_create": 279, "memfd_secret": 447, "shmget": 194, "shmat": 196, "shmdt": 197, "shmctl": 195,
    "msgget": 186, "msgsnd": 189, "msgrcv": 188, "msgctl": 187, "semget": 190, "semop": 193,
    "semtimedop": 192, "semctl": 191, "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182,
    "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "move_mount": 429, "open_tree": 428,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "unshare": 97,
    "setns": 268, "name_to_handle_at": 264, "open_by_handle_at": 265, "fanotify_init": 262,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "quotactl": 60, "quotactl_fd": 443,
    "syslog": 116, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171,
    "sethostname": 161, "setdomainname": 162, "vhangup": 58,
    "socket": 198, "socketpair": 199, "getpid": 172,
}


class Arch:
    """One architecture: its seccomp audit value, its system-call numbers and, on x86-64, the
    bit that marks x32 calls."""

    def __init__(self, name: str, audit: int, numbers: dict[str, int], x32_bit: int | None = None) -> None:
        self.name = name
        self.audit = audit
        self.numbers = numbers
        self.x32_bit = x32_bit


ARCHES = {
    "x86_64": Arch("x86_64", 0xC000003E, _X86_64, x32_bit=0x40000000),
    "aarch64": Arch("aarch64", 0xC00000B7, _GENERIC),
    "riscv64": Arch("riscv64", 0xC00000F3, _GENERIC),
    "loongarch64": Arch("loongarch64", 0xC0000102, _GENERIC),
}
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def current_arch() -> Arch:
    """This machine's architecture, or SandboxUnavailable when the filter does not know it."""
    machine = platform.machine().lower()
    arch = ARCHES.get(_MACHINE_ALIASES.get(machine, machine))
    if arch is None or struct.calcsize("P") != 8:
        raise SandboxUnavailable(
            f"the sandbox's system-call filter knows {', '.join(ARCHES)} (64-bit); this machine is "
            f"{machine or 'unknown'} ({8 * struct.calcsize('P')}-bit), and RedStar does not run "
            "model-written code without it"
        )
    return arch


# -- classic BPF ------------------------------------------------------------------------------------
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = the 32-bit word at offset k of seccomp_data
_JEQ_K = 0x15     # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35     # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06     # BPF_RET | BPF_K
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
#: seccomp_data: nr (u32) at 0, arch (u32) at 4, instruction pointer at 8, args (u64) from 16;
#: every architecture here is little-endian, so an argument's low half is at 16 + 8 * i.
_NR, _ARCH, _ARG0_LOW = 0, 4, 16


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def build_filter(arch: Arch) -> bytes:
    """The filter as the kernel's ``struct sock_filter`` array (8 bytes per instruction)."""
    denied = sorted({arch.numbers[name] for name in DENIED if name in arch.numbers})
    sockets = [arch.numbers["socket"], arch.numbers["socketpair"]]
    families = sorted(SOCKET_FAMILIES.values())
    # BPF jumps go forward only, by the number of instructions skipped. Layout:
    #   check the ABI, load the number, compare it with each denied one and with socket(pair);
    #   ALLOW; DENY (ENOSYS); load the socket family, compare it with each allowed one;
    #   REFUSE (EAFNOSUPPORT); ALLOW.
    deny_at = 3 + (1 if arch.x32_bit else 0) + len(denied) + len(sockets) + 1
    family_at = deny_at + 1
    allow_family_at = family_at + 1 + len(families) + 1
    program: list[tuple[int, int, int, int]] = []

    def add(code: int, k: int, jt_target: int | None = None, jf_target: int | None = None) -> None:
        here = len(program)
        jt = 0 if jt_target is None else jt_target - here - 1
        jf = 0 if jf_target is None else jf_target - here - 1
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise ValueError(f"seccomp filter: a jump of {max(jt, jf)} instructions does not fit BPF")
        program.append((code, jt, jf, k))

    add(_LD_W_ABS, _ARCH)
    add(_JEQ_K, arch.audit, jf_target=deny_at)  # another ABI (32-bit int 0x80): denied whatever it is
    add(_LD_W_ABS, _NR)
    if arch.x32_bit:
        add(_JGE_K, arch.x32_bit, jt_target=deny_at)  # x32 calls: the same numbers, this bit set
    for number in denied:
        add(_JEQ_K, number, jt_target=deny_at)
    for number in sockets:
        add(_JEQ_K, number, jt_target=family_at)
    add(_RET_K, _RET_ALLOW)
    if len(program) != deny_at:
        raise AssertionError("seccomp filter layout")
    add(_RET_K, _RET_ERRNO | errno.ENOSYS)
    add(_LD_W_ABS, _ARG0_LOW)
    for family in families:
        add(_JEQ_K, family, jt_target=allow_family_at)
    add(_RET_K, _RET_ERRNO | errno.EAFNOSUPPORT)
    if len(program) != allow_family_at:
        raise AssertionError("seccomp filter layout")
    add(_RET_K, _RET_ALLOW)
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
