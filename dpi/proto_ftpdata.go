package dpi

import (
	"net/netip"

	"ips/internal/ascii"
)

// FTP data connections (RFC 959 §3.2, RFC 2428): the control connection
// announces where the next data connection goes — the server's address
// and port in a 227 (PASV) or 229 (EPSV) reply, the client's in a PORT or
// EPRT command. The engine-wide table below remembers a few of those
// endpoints for a short while, so the data connection that follows is
// named FTP_DATA from its first packet.

const (
	ftpExpectSlots = 64
	ftpExpectTTL   = 120e9 // nanoseconds of capture time
)

type ftpExpect struct {
	addr    netip.Addr
	port    uint16
	expires int64
}

// ftpExpectTable is a small ring of announced data endpoints.
type ftpExpectTable struct {
	slots [ftpExpectSlots]ftpExpect
	next  int
	used  bool // anything was ever announced: lets the common case skip the scan
}

func (t *ftpExpectTable) add(a netip.Addr, port uint16, now int64) {
	if !a.IsValid() || port == 0 {
		return
	}
	t.used = true
	t.slots[t.next] = ftpExpect{addr: a.Unmap(), port: port, expires: now + ftpExpectTTL}
	t.next = (t.next + 1) % ftpExpectSlots
}

// match reports whether a:port was announced and is still fresh; a match
// is consumed.
func (t *ftpExpectTable) match(a netip.Addr, port uint16, now int64) bool {
	a = a.Unmap()
	for i := range t.slots {
		s := &t.slots[i]
		if s.port == port && s.expires > now && s.addr == a {
			s.expires = 0
			return true
		}
	}
	return false
}

// ftpDataPort parses a PASV/EPSV reply (server to client) or a PORT/EPRT
// command (client to server) and records the announced endpoint.
func ftpDataPort(c *Ctx, b []byte) {
	l := line(b)
	now := c.Flow.LastSeen
	t := &c.e.lan.ftp
	switch {
	case replyCode(l, "227"):
		// "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)"
		i := index(l, "(")
		if i < 0 {
			return
		}
		if a, p, ok := ftpHostPort(l[i+1:]); ok {
			t.add(a, p, now)
		}
	case replyCode(l, "229"):
		// "229 Entering Extended Passive Mode (|||port|)": the server's address
		i := index(l, "(|||")
		if i < 0 {
			return
		}
		if p, ok := atou16(l[i+4:], '|'); ok {
			t.add(c.Flow.Server().Addr(), p, now)
		}
	case ascii.HasPrefix(l, "port "):
		if a, p, ok := ftpHostPort(l[5:]); ok {
			t.add(a, p, now)
		}
	case ascii.HasPrefix(l, "eprt "):
		// "EPRT |1|132.235.1.2|6275|"
		f := l[5:]
		if len(f) < 2 {
			return
		}
		d := f[0]
		parts := [4][]byte{}
		n, start := 0, 1
		for i := 1; i < len(f) && n < 3; i++ {
			if f[i] == d {
				parts[n] = f[start:i]
				n++
				start = i + 1
			}
		}
		if n < 3 {
			return
		}
		a, err := netip.ParseAddr(string(parts[1]))
		p, ok := atou16(parts[2], 0)
		if err == nil && ok {
			t.add(a, p, now)
		}
	}
}

// ftpHostPort parses "h1,h2,h3,h4,p1,p2".
func ftpHostPort(b []byte) (netip.Addr, uint16, bool) {
	var v [6]int
	n, cur, digits := 0, 0, 0
	for _, ch := range b {
		switch {
		case ch >= '0' && ch <= '9':
			cur = cur*10 + int(ch-'0')
			digits++
			if cur > 255 || digits > 3 {
				return netip.Addr{}, 0, false
			}
		case ch == ',' || ch == ')' || ch == '\r' || ch == ' ':
			if digits == 0 {
				if ch == ' ' && n == 0 {
					continue
				}
				return netip.Addr{}, 0, false
			}
			v[n] = cur
			n++
			cur, digits = 0, 0
			if n == 6 || ch != ',' {
				goto done
			}
		default:
			return netip.Addr{}, 0, false
		}
	}
	if digits > 0 && n < 6 {
		v[n] = cur
		n++
	}
done:
	if n != 6 {
		return netip.Addr{}, 0, false
	}
	a := netip.AddrFrom4([4]byte{byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3])})
	return a, uint16(v[4]<<8 | v[5]), true
}

// atou16 parses a decimal port ending at stop (or the end of b).
func atou16(b []byte, stop byte) (uint16, bool) {
	n, digits := 0, 0
	for _, ch := range b {
		if ch == stop && stop != 0 {
			break
		}
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int(ch-'0')
		digits++
		if n > 65535 {
			return 0, false
		}
	}
	return uint16(n), digits > 0 && n > 0
}

// dissectFTPData names a connection to an endpoint an FTP control
// connection announced.
func dissectFTPData(c *Ctx) Status {
	t := &c.e.lan.ftp
	if !t.used || c.L4() != IPProtoTCP {
		return Exclude
	}
	now := c.Flow.LastSeen
	srv, cli := c.Flow.Server(), c.Flow.Client()
	if t.match(srv.Addr(), srv.Port(), now) || t.match(cli.Addr(), cli.Port(), now) {
		return lanDone(c, ProtoFTPData)
	}
	return Exclude
}
