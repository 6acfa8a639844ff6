//go:build linux

package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// The kernel side of the tool: an NFQUEUE socket spoken in raw netlink
// (include/uapi/linux/netfilter/nfnetlink_queue.h), the nftables rules
// that feed it, and an AF_PACKET socket the crafted packets leave by (so
// they bypass this namespace's netfilter and are never queued again).

const (
	nfnlSubsysQueue = 3
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2
	nfqaPayload    = 10

	nfqaCfgCmd    = 1
	nfqaCfgParams = 2

	nfqnlCfgCmdBind = 1
	nfqnlCopyPacket = 2

	nfDrop   = 0
	nfAccept = 1
)

type queue struct {
	mu  sync.Mutex // verdicts come from the loop and from hold timers
	fd  int
	num uint16
	seq uint32
	buf []byte
}

func openQueue(num uint16) (*queue, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	q := &queue{fd: fd, num: num, buf: make([]byte, 1<<17)}
	// NFQNL_CFG_CMD_BIND: {u8 command; u8 pad; be16 pf}.
	if err := q.request(nfqnlMsgConfig, func(b []byte) []byte {
		return attr(b, nfqaCfgCmd, []byte{nfqnlCfgCmdBind, 0, 0, unix.AF_INET})
	}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind queue %d: %w", num, err)
	}
	// NFQA_CFG_PARAMS: {be32 copy_range; u8 copy_mode}: whole packets.
	if err := q.request(nfqnlMsgConfig, func(b []byte) []byte {
		return attr(b, nfqaCfgParams, []byte{0, 0, 0xff, 0xff, nfqnlCopyPacket})
	}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("queue %d copy mode: %w", num, err)
	}
	return q, nil
}

// message builds one nfnetlink message for the queue: nlmsghdr, nfgenmsg
// (family AF_UNSPEC, version 0, res_id = queue number), then attributes.
func (q *queue) message(typ uint16, flags uint16, attrs func([]byte) []byte) []byte {
	q.seq++
	b := make([]byte, 20, 64)
	binary.NativeEndian.PutUint16(b[4:6], nfnlSubsysQueue<<8|typ)
	binary.NativeEndian.PutUint16(b[6:8], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(b[8:12], q.seq)
	b[16] = unix.AF_UNSPEC
	binary.BigEndian.PutUint16(b[18:20], q.num)
	b = attrs(b)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	return b
}

func attr(b []byte, typ uint16, data []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:2], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:4], typ)
	b = append(append(b, h[:]...), data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// request sends a message with NLM_F_ACK and waits for its ack.
func (q *queue) request(typ uint16, attrs func([]byte) []byte) error {
	m := q.message(typ, unix.NLM_F_ACK, attrs)
	if err := unix.Sendto(q.fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(q.fd, q.buf, 0)
		if err != nil {
			return err
		}
		for b := q.buf[:n]; len(b) >= 16; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < 16 || l > len(b) {
				break
			}
			if binary.NativeEndian.Uint16(b[4:6]) == unix.NLMSG_ERROR && l >= 20 {
				if e := int32(binary.NativeEndian.Uint32(b[16:20])); e != 0 {
					return unix.Errno(-e)
				}
				return nil
			}
			b = b[(l+3)&^3:]
		}
	}
}

func (q *queue) verdict(id uint32, v uint32) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.message(nfqnlMsgVerdict, 0, func(b []byte) []byte {
		var d [8]byte
		binary.BigEndian.PutUint32(d[0:4], v)
		binary.BigEndian.PutUint32(d[4:8], id)
		return attr(b, nfqaVerdictHdr, d[:])
	})
	return unix.Sendto(q.fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// nfHold is fn's answer for a packet whose verdict it gives later
// (through q.verdict).
const nfHold = 0xffff

// serve reads queued packets forever and hands each to fn, which returns
// the verdict (or nfHold).
func (q *queue) serve(fn func(id uint32, pkt []byte) uint32) error {
	for {
		n, _, err := unix.Recvfrom(q.fd, q.buf, 0)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		for b := q.buf[:n]; len(b) >= 16; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < 16 || l > len(b) {
				break
			}
			if binary.NativeEndian.Uint16(b[4:6]) == nfnlSubsysQueue<<8|nfqnlMsgPacket && l >= 20 {
				var id uint32
				var payload []byte
				var haveID bool
				for a := b[20:l]; len(a) >= 4; {
					al := int(binary.NativeEndian.Uint16(a[0:2]))
					at := binary.NativeEndian.Uint16(a[2:4]) & 0x3fff
					if al < 4 || al > len(a) {
						break
					}
					switch at {
					case nfqaPacketHdr:
						if al >= 8 {
							id, haveID = binary.BigEndian.Uint32(a[4:8]), true
						}
					case nfqaPayload:
						payload = a[4:al]
					}
					a = a[min(len(a), (al+3)&^3):]
				}
				if haveID {
					if v := fn(id, payload); v != nfHold {
						if err := q.verdict(id, v); err != nil {
							return fmt.Errorf("verdict: %w", err)
						}
					}
				}
			}
			b = b[min(len(b), (l+3)&^3):]
		}
	}
}

// installQueueRule creates table inet desync with the rule that queues
// the client's TCP segments and UDP datagrams from the suite's source
// ports:
//
//	table inet desync {
//		chain out {
//			type filter hook output priority filter; policy accept;
//			meta l4proto tcp tcp sport LO-HI queue num N
//			meta l4proto udp udp sport LO-HI queue num N
//		}
//	}
//
// No bypass: if the tool dies the suite's connections fail loudly
// instead of silently going out untouched. The queue statement is nft's
// own where the kernel has nft_queue, else the xt NFQUEUE target through
// nft_compat (what iptables-nft -j NFQUEUE installs).
func installQueueRule(num, lo, hi uint16) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tbl := &nftables.Table{Family: nftables.TableFamilyINet, Name: "desync"}
	c.DelTable(tbl)
	_ = c.Flush() // nothing to delete is fine
	c.AddTable(tbl)
	ch := c.AddChain(&nftables.Chain{Name: "out", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft table inet desync: %w", err)
	}
	match := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(lo), ToData: be16(hi)},
	}
	udp := append([]expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
	}, match[2:]...)
	add := func(stmt expr.Any) {
		for _, m := range [][]expr.Any{match, udp} {
			c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: append(m[:len(m):len(m)], stmt)})
		}
	}
	add(&expr.Queue{Num: num})
	if err := c.Flush(); err == nil {
		return nil
	}
	// struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total; __u16 flags; }, padded to 8.
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:2], num)
	binary.NativeEndian.PutUint16(info[2:4], 1)
	xi := xt.Unknown(info)
	add(&expr.Target{Name: "NFQUEUE", Rev: 3, Info: &xi})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft queue rule (neither nft_queue nor xt NFQUEUE): %w", err)
	}
	return nil
}

// installHops stands in for the routers between a gateway and a server on
// the Internet, which a bridge does not have: packets arriving with a TTL
// (hop limit) below `below` are dropped, as the hops on the way would have
// let them expire.
//
//	table inet hops {
//		chain pre {
//			type filter hook prerouting priority raw;
//			ip ttl < BELOW drop
//			ip6 hoplimit < BELOW drop
//		}
//	}
func installHops(below uint8) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "hops"})
	ch := c.AddChain(&nftables.Chain{Name: "pre", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
	for _, v := range []struct {
		proto byte
		off   uint32
	}{{unix.NFPROTO_IPV4, 8}, {unix.NFPROTO_IPV6, 7}} {
		c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{v.proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: v.off, Len: 1},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: []byte{below}},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft table inet hops: %w", err)
	}
	return nil
}

func removeQueueRule() {
	if c, err := nftables.New(); err == nil {
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "desync"})
		_ = c.Flush()
	}
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// sender writes whole IP packets out of one interface with AF_PACKET
// (SOCK_DGRAM: the kernel adds the Ethernet header for the given MAC).
// The checksums we wrote are what goes out: nothing on the way (veth,
// bridge) recomputes them.
type sender struct {
	fd      int
	ifindex int
	gw      net.HardwareAddr // next hop for every destination, if given
	macs    map[netip.Addr]net.HardwareAddr
}

func openSender(dev string, gw net.HardwareAddr) (*sender, error) {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	return &sender{fd: fd, ifindex: ifi.Index, gw: gw, macs: map[netip.Addr]net.HardwareAddr{}}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sender) send(pkt []byte) error {
	proto := uint16(unix.ETH_P_IP)
	var dst netip.Addr
	if pkt[0]>>4 == 6 {
		proto = unix.ETH_P_IPV6
		dst, _ = netip.AddrFromSlice(pkt[24:40])
	} else {
		dst, _ = netip.AddrFromSlice(pkt[16:20])
	}
	mac, err := s.mac(dst)
	if err != nil {
		return err
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: s.ifindex, Halen: 6}
	copy(sa.Addr[:], mac)
	return unix.Sendto(s.fd, pkt, 0, sa)
}

// mac is the next hop's address: -gw-mac when given, else the IPv4
// neighbour table (the harness installs static entries).
func (s *sender) mac(a netip.Addr) (net.HardwareAddr, error) {
	if s.gw != nil {
		return s.gw, nil
	}
	if m, ok := s.macs[a]; ok {
		return m, nil
	}
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) >= 4 && fl[0] == a.String() {
			m, err := net.ParseMAC(fl[3])
			if err == nil {
				s.macs[a] = m
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("no neighbour entry for %s (give -gw-mac)", a)
}
