"""Helpers for the guest tests: shell commands as any uid in any netns, a
small generic netlink client for the uoa family (independent of uoamap),
and kernel log checks. Runs inside the test VM as root."""

import json
import os
import socket
import struct
import subprocess

import kernel_log

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UOA_KO = os.environ.get("UOA_KO", "")
UOAMAP = os.environ.get("UOAMAP", os.path.join(ROOT, "target/release/uoamap"))
KSRC = os.environ.get("UOA_KSRC", "")  # the patched kernel's source tree

# Test users: name -> uid. The guest's /etc is a throwaway overlay.
USERS = {"u11": 1011, "u12": 1012, "u13": 1013}


def ensure_users():
    with open("/etc/passwd") as f:
        known = {line.split(":")[0] for line in f}
    with open("/etc/passwd", "a") as f:
        for name, uid in USERS.items():
            if name not in known:
                f.write(f"{name}:x:{uid}:{uid}::/tmp:/bin/sh\n")

class Fail(Exception):
    pass


def sh(cmd, uid=None, netns=None, check=True, input=None):
    """Runs cmd (a string, through sh) as uid in netns; returns CompletedProcess."""
    argv = ["sh", "-c", cmd]
    if uid is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + argv
    if netns is not None:
        argv = ["ip", "netns", "exec", netns] + argv
    p = subprocess.run(argv, capture_output=True, text=True, input=input)
    if check and p.returncode != 0:
        raise Fail(f"`{cmd}` (uid={uid}, netns={netns}) exited {p.returncode}: {p.stderr.strip()}")
    return p


def module_loaded():
    return os.path.isdir("/sys/module/uoa")


def load_module():
    if not module_loaded():
        sh(f"insmod {UOA_KO}")


def unload_module():
    if module_loaded():
        sh("rmmod uoa")


def netns(name):
    """Creates netns `name` (removing a leftover first) with lo up."""
    sh(f"ip netns del {name} 2>/dev/null; ip netns add {name} && ip -n {name} link set lo up")
    return name


def uoamap(args, uid=None, netns=None, check=True):
    return sh(f"{UOAMAP} {args}", uid=uid, netns=netns, check=check)


def uoamap_json(args, **kw):
    return json.loads(uoamap(f"-j {args}", **kw).stdout)


def dmesg():
    return sh("dmesg").stdout


def kernel_trouble(log):
    return [line for _, line in kernel_log.trouble(log)]


# --- generic netlink, by hand, so the tests do not trust uoamap's encoder ---

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_DUMP = 0x300
NLMSGERR_ATTR_MSG = 1
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_NETNS_COOKIE = 71

UOA_CMD_GET_STATUS, UOA_CMD_GET_ENTRIES, UOA_CMD_SET_ENTRIES = 1, 2, 3
UOA_A_PAD, UOA_A_VERSION, UOA_A_NETNS_COOKIE, UOA_A_STATUS_REQUESTS = 1, 2, 3, 4
UOA_A_STATUS_ENTRIES, UOA_A_STATUS_UIDS, UOA_A_STATUS_MEMORY = 5, 6, 7
UOA_A_UID, UOA_A_FLAGS, UOA_A_ENTRY = 8, 9, 10
UOA_A_ENTRY_ADDR, UOA_A_ENTRY_PREFIXLEN, UOA_A_ENTRY_UID, UOA_A_ENTRY_TABLE = 1, 2, 3, 4
UOA_A_ENTRY_IFINDEX, UOA_A_ENTRY_FLAGS = 5, 6
UOA_F_REPLACE = UOA_EF_REMOVE = 1
NLA_F_NESTED = 0x8000


def nla(kind, payload):
    hdr = struct.pack("=HH", 4 + len(payload), kind)
    return hdr + payload + b"\0" * (-len(payload) % 4)


def attr_list(buf):
    out = []
    while len(buf) >= 4:
        length, kind = struct.unpack_from("=HH", buf)
        if length < 4:
            break
        out.append((kind & 0x3FFF, buf[4:length]))
        buf = buf[(length + 3) & ~3 :]
    return out


def parse_attrs(buf):
    attrs = {}
    while len(buf) >= 4:
        length, kind = struct.unpack_from("=HH", buf)
        if length < 4:
            break
        attrs[kind & 0x3FFF] = buf[4:length]
        buf = buf[(length + 3) & ~3 :]
    return attrs


class NetlinkError(Exception):
    def __init__(self, errno, msg):
        super().__init__(f"errno {errno}: {msg}")
        self.errno = errno
        self.msg = msg

    def __reduce__(self):  # picklable, so that run_as can pass it back
        return (NetlinkError, (self.errno, self.msg))


class Genl:
    """A generic netlink socket in the caller's netns."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self):
        self.sock.close()

    def request(self, family, cmd, payload=b"", version=1, flags=NLM_F_REQUEST | NLM_F_ACK, reserved=0):
        """Sends one request; returns the reply's attributes (or {} for a bare ack)."""
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, reserved) + payload
        self.sock.send(struct.pack("=IHHII", 16 + len(body), family, flags, self.seq, 0) + body)
        reply = None
        while True:
            data = self.sock.recv(65536)
            while data:
                length, kind, _, _, _ = struct.unpack_from("=IHHII", data)
                msg, data = data[16:length], data[(length + 3) & ~3 :]
                if kind == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", msg)
                    if err == 0:
                        return reply if reply is not None else {}
                    # NETLINK_CAP_ACK: only the request's header is echoed,
                    # and the extack TLVs follow it.
                    tlvs = parse_attrs(msg[4 + 16 :])
                    text = tlvs.get(NLMSGERR_ATTR_MSG, b"").rstrip(b"\0").decode()
                    raise NetlinkError(-err, text)
                reply = parse_attrs(msg[4:])

    def dump(self, family, cmd, payload=b""):
        """A dump request; returns one list of (type, payload) per message."""
        self.seq += 1
        body = struct.pack("=BBH", cmd, 1, 0) + payload
        flags = NLM_F_REQUEST | NLM_F_DUMP
        self.sock.send(struct.pack("=IHHII", 16 + len(body), family, flags, self.seq, 0) + body)
        msgs = []
        while True:
            data = self.sock.recv(1 << 20)
            while data:
                length, kind, _, _, _ = struct.unpack_from("=IHHII", data)
                msg, data = data[16:length], data[(length + 3) & ~3 :]
                if kind == NLMSG_DONE:
                    return msgs
                if kind == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", msg)
                    raise NetlinkError(-err, "")
                msgs.append(attr_list(msg[4:]))

    def family_id(self, name):
        attrs = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0"))
        return struct.unpack("=H", attrs[CTRL_ATTR_FAMILY_ID])[0]

    def netns_cookie(self):
        return struct.unpack("=Q", self.sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))[0]


def u64(b):
    return struct.unpack("=Q", b)[0]


def connect_udp(family, addr):
    """connect() of a UDP socket: a route lookup as the caller, no packet.
    Returns the source address the kernel chose, or the errno."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.connect((addr, 9))
        return s.getsockname()[0]
    except OSError as e:
        return e.errno
    finally:
        s.close()


# --- running Python code as another uid in another netns ---

CLONE_NEWNET = 0x40000000


def run_as(fn, *args, uid=None, netns=None):
    """Runs fn(*args) in a forked child that entered `netns` and dropped to
    `uid`; returns its result or re-raises its exception here."""
    import ctypes
    import pickle
    import traceback

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if netns is not None:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
                os.close(fd)
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            result = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            try:
                pickle.dumps(e)
                result = (False, e)
            except Exception:
                result = (False, Fail(traceback.format_exc()))
        with os.fdopen(w, "wb") as f:
            pickle.dump(result, f)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    if not data:
        raise Fail("child died without a result")
    ok, value = pickle.loads(data)
    if ok:
        return value
    raise value


# --- children in the background, with capabilities ---

PR_SET_KEEPCAPS = 8
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAP_CHOWN, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW = 0, 10, 12, 13

_ready_fd = None  # in a child of start_as: where ready() writes


def _enter(netns, uid, caps):
    """In a forked child: enter netns, become uid (keeping `caps`, a list
    of CAP_* numbers, effective and permitted)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if netns is not None:
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        os.close(fd)
    if uid is None:
        return
    if caps and libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if caps:
        mask = 0
        for c in caps:
            mask |= 1 << c
        header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)(mask, mask, 0, 0, 0, 0)  # effective, permitted, inheritable x2
        if libc.capset(header, data) != 0:
            raise OSError(ctypes.get_errno(), "capset")


def ready(value=None):
    """Called by fn in a child of start_as: setup is done (bound,
    listening); the parent's wait_ready() returns value."""
    import pickle

    global _ready_fd
    if _ready_fd is not None:
        os.write(_ready_fd, pickle.dumps(value))
        os.close(_ready_fd)
        _ready_fd = None


class Child:
    """fn(*args) running in a forked child (see start_as)."""

    def __init__(self, pid, ready_r, result_r, what):
        self.pid, self._ready_r, self._result_r, self.what = pid, ready_r, result_r, what
        self._done = False

    @staticmethod
    def _read_all(fd, timeout):
        import select
        import time

        deadline = time.monotonic() + timeout
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return data, False
            chunk = os.read(fd, 65536)
            if not chunk:
                return data, True
            data += chunk

    def wait_ready(self, timeout=20):
        """The value the child passed to ready(); raises the child's
        exception if it ended without calling it."""
        import pickle

        data, eof = self._read_all(self._ready_r, timeout)
        if data:
            return pickle.loads(data)
        if not eof:
            self.stop()
            raise Fail(f"{self.what}: not ready within {timeout} s")
        self.result(timeout)
        raise Fail(f"{self.what}: ended without calling ready()")

    def result(self, timeout=30):
        """fn's return value, or its exception raised here."""
        import pickle

        data, eof = self._read_all(self._result_r, timeout)
        if not eof:
            self.stop()
            raise Fail(f"{self.what}: no result within {timeout} s")
        self._reap()
        if not data:
            raise Fail(f"{self.what}: child died without a result")
        ok, value = pickle.loads(data)
        if ok:
            return value
        raise value

    def _reap(self):
        if not self._done:
            self._done = True
            os.waitpid(self.pid, 0)
            os.close(self._ready_r)
            os.close(self._result_r)

    def stop(self):
        """Kills the child (a server that runs until stopped)."""
        import signal

        if not self._done:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap()


def start_as(fn, *args, uid=None, netns=None, caps=()):
    """Runs fn(*args) in a forked child that entered `netns` and became
    `uid` with capabilities `caps`; returns a Child at once. fn may call
    ready(value) when its setup is done."""
    import pickle
    import traceback

    global _ready_fd
    ready_r, ready_w = os.pipe()
    result_r, result_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(result_r)
            _ready_fd = ready_w
            _enter(netns, uid, caps)
            result = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            try:
                pickle.dumps(e)
                result = (False, e)
            except Exception:
                result = (False, Fail(traceback.format_exc()))
        try:
            data = pickle.dumps(result)
        except Exception:
            data = pickle.dumps((False, Fail(f"unpicklable result: {result!r}")))
        try:
            _write_all(result_w, data)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(result_w)
    return Child(pid, ready_r, result_r, f"{getattr(fn, '__name__', fn)} (uid={uid}, netns={netns})")


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data) :]


def run_caps(fn, *args, uid=None, netns=None, caps=(), timeout=30):
    """run_as with capabilities: fn(*args) as uid with `caps` kept."""
    return start_as(fn, *args, uid=uid, netns=netns, caps=caps).result(timeout)


def sysctl(name, value, netns=None):
    sh(f"sysctl -qw {name}='{value}'", netns=netns)


# --- the per-uid counters (UOA_CMD_GET_COUNTERS), by raw generic netlink ---

UOA_CMD_GET_COUNTERS, UOA_CMD_SET_OPTIONS = 4, 5
UOA_A_OPTIONS, UOA_A_COUNTERS = 11, 12
UOA_A_COUNTER_UID = 2
COUNTER_NAMES = {3: "binds_denied", 4: "sources_denied", 5: "sources_rewritten", 6: "packets_dropped",
                 7: "routes_changed", 8: "routes_refused"}
# 32-bit: the routes in the uid's table now and its limit.
TABLE_NAMES = {9: "routes", 10: "route_limit"}
UOA_OPT_LOW_PORTS = 1


def _counters_here():
    g = Genl()
    try:
        msgs = g.dump(g.family_id("uoa"), UOA_CMD_GET_COUNTERS)
    finally:
        g.close()
    out = {}
    for msg in msgs:
        for kind, payload in msg:
            if kind != UOA_A_COUNTERS:
                continue
            attrs = parse_attrs(payload)
            uid = struct.unpack("=I", attrs[UOA_A_COUNTER_UID])[0]
            out[uid] = {name: u64(attrs[k]) if k in attrs else 0 for k, name in COUNTER_NAMES.items()}
            out[uid].update({name: struct.unpack("=I", attrs[k])[0] for k, name in TABLE_NAMES.items()})
    return out


def counters(netns=None):
    """{uid: {"binds_denied": n, ...}} of every managed uid in netns."""
    return run_as(_counters_here, netns=netns)
