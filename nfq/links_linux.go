//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"ips/verdict"
)

// linkReader lists interfaces over an rtnetlink socket opened once, so it
// keeps reading the namespace it was opened in.
type linkReader struct {
	sock *nlSocket
	seq  uint32
	buf  []byte
}

func openLinkReader() (*linkReader, error) {
	s, err := openNetlink(unix.NETLINK_ROUTE, 0)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return &linkReader{sock: s, buf: make([]byte, 1<<16)}, nil
}

func (r *linkReader) close() { r.sock.close() }

func (r *linkReader) links() ([]link, error) {
	r.seq++
	var m msgBuf
	m.start = 0
	m.b = append(m.b[:0], make([]byte, nlmsgHdrLen)...)
	ne.PutUint16(m.b[4:6], rtmGetLink)
	ne.PutUint16(m.b[6:8], nlmFRequest|nlmFDump)
	ne.PutUint32(m.b[8:12], r.seq)
	m.b = append(m.b, make([]byte, ifinfomsgLen)...) // struct ifinfomsg, family AF_UNSPEC
	m.end()
	if err := r.sock.write(m.b); err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	var out []link
	for {
		n, err := r.sock.readOne(r.buf)
		if err != nil {
			return nil, fmt.Errorf("rtnetlink: %w", err)
		}
		d := r.buf[:n]
		for {
			mm, rest, ok := nextMsg(d)
			if !ok {
				break
			}
			if mm.seq == r.seq {
				switch mm.typ {
				case nlmsgDone:
					return out, nil
				case nlmsgError:
					if e, ok := errnoOf(mm.body); ok && e != 0 {
						return nil, fmt.Errorf("rtnetlink: %w", syscall.Errno(e))
					}
					return out, nil
				case rtmNewLink:
					if l, ok := parseLink(mm.body); ok {
						out = append(out, l)
					}
				}
			}
			d = rest
		}
	}
}

// ErrBridgeDevice is returned when a bridge itself is configured as a
// side: both sides of bridged traffic are the bridge, so its ports must
// be named instead.
var ErrBridgeDevice = errors.New("is a bridge: name its ports (the bridge is both the in and the out interface of bridged traffic)")

// resolvePorts finds each configured interface and whether it is a
// bridge port.
func resolvePorts(links []link, lan, wan []string) (lanP, wanP []Port, err error) {
	byName := map[string]link{}
	byIndex := map[uint32]link{}
	for _, l := range links {
		byName[l.name] = l
		byIndex[l.index] = l
	}
	res := func(side string, names []string) ([]Port, error) {
		var ps []Port
		for _, n := range names {
			l, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("--%s %s: no such interface in this network namespace", side, n)
			}
			if l.kind == "bridge" {
				return nil, fmt.Errorf("--%s %s %w", side, n, ErrBridgeDevice)
			}
			p := Port{Name: n, BridgePort: l.slave == "bridge"}
			if p.BridgePort {
				p.Bridge = byIndex[l.master].name
			}
			ps = append(ps, p)
		}
		return ps, nil
	}
	if lanP, err = res("lan", lan); err != nil {
		return nil, nil, err
	}
	if wanP, err = res("wan", wan); err != nil {
		return nil, nil, err
	}
	for _, a := range lanP {
		for _, b := range wanP {
			if a.Name == b.Name {
				return nil, nil, fmt.Errorf("interface %s is on both --lan and --wan", a.Name)
			}
		}
	}
	return lanP, wanP, nil
}

// buildSides maps the configured interfaces' indexes to their side.
func buildSides(links []link, lan, wan []string) *sideTable {
	t := &sideTable{}
	for _, l := range links {
		for _, n := range lan {
			if l.name == n {
				t.index = append(t.index, l.index)
				t.side = append(t.side, verdict.SideLAN)
			}
		}
		for _, n := range wan {
			if l.name == n {
				t.index = append(t.index, l.index)
				t.side = append(t.side, verdict.SideWAN)
			}
		}
	}
	return t
}
