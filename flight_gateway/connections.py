"""Closing one client connection of this process's gRPC server, found by its peer address.

pyarrow's Flight server cannot cancel a call: a DoGet whose client stopped reading blocks in
gRPC's write (flow control) until the client reads, cancels or its deadline passes, and neither
the server's options nor the call context can end it from Python. What can end it is the
connection: shutting down the server side of its TCP socket makes gRPC fail the blocked write,
end the call and close the stream's generator, as if the client had gone.

The socket is found through ``/proc`` (Linux): the peer of the call (``ipv4:127.0.0.1:51234``,
``ipv6:[::1]:51234``) and the server's port identify one TCP connection in ``/proc/self/net/tcp``
(or ``tcp6``, where gRPC's dual-stack sockets list IPv4 peers as ``::ffff:a.b.c.d``); its inode
names the file descriptor in ``/proc/self/fd``. The descriptor is duplicated and checked to still
be that socket before ``shutdown`` (so a descriptor reused meanwhile is never touched); the
duplicate is closed again and gRPC closes its own.

Without a direct client (behind a front proxy) the peer is the proxy's upstream connection, which
carries one call at a time; a direct client's connection may carry other calls of the same
client, which end too.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.parse

IpPort = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


def parse_peer(peer: str) -> IpPort | None:
    """``ipv4:1.2.3.4:5`` / ``ipv6:[::1]:5`` (gRPC's peer strings) as (address, port)."""
    kind, _, rest = urllib.parse.unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host, _, port = rest.rpartition(":")
    try:
        return ipaddress.ip_address(host.strip("[]")), int(port)
    except ValueError:
        return None


def close_connection(local_port: int, peer: str) -> bool:
    """Shut down the socket of the connection from ``peer`` to ``local_port``; True if done."""
    remote = parse_peer(peer)
    if remote is None:
        return False
    inodes = {
        inode
        for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6")
        for inode in _matching_inodes(table, local_port, remote)
    }
    if not inodes:
        return False
    closed = False
    for fd, inode in _socket_fds():
        if inode not in inodes:
            continue
        try:
            dup = os.dup(fd)
        except OSError:
            continue  # closed meanwhile
        try:
            if os.fstat(dup).st_ino != inode:
                continue  # the descriptor now names another file
            sock = socket.socket(fileno=dup)
            dup = -1  # owned by sock now
            try:
                sock.shutdown(socket.SHUT_RDWR)
                closed = True
            except OSError:
                pass  # already shut down by the other side
            finally:
                sock.close()  # closes the duplicate only
        finally:
            if dup >= 0:
                os.close(dup)
    return closed


def _matching_inodes(table: str, local_port: int, remote: IpPort) -> list[int]:
    try:
        with open(table) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    out = []
    for line in lines:
        cols = line.split()
        if len(cols) < 10:
            continue
        local, rem, inode = cols[1], cols[2], int(cols[9])
        if int(local.rsplit(":", 1)[1], 16) != local_port:
            continue
        address, port = rem.rsplit(":", 1)
        if int(port, 16) == remote[1] and _same(_address(address), remote[0]) and inode:
            out.append(inode)
    return out


def _address(hexed: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as ``/proc/net/tcp*`` writes it: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hexed)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _same(
    a: ipaddress.IPv4Address | ipaddress.IPv6Address,
    b: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> bool:
    def plain(x: ipaddress.IPv4Address | ipaddress.IPv6Address) -> object:
        if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped is not None:
            return x.ipv4_mapped
        return x

    return plain(a) == plain(b)


def _socket_fds() -> list[tuple[int, int]]:
    out = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.append((int(name), int(target[8:-1])))
    return out
