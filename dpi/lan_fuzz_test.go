package dpi

import (
	"net/netip"
	"testing"
)

// lanFuzzEncode packs a conversation as the fuzz targets read it: each
// payload is a length byte (payloads are cut at 255 bytes) followed by the
// bytes; directions alternate, starting with the client.
func lanFuzzEncode(pkts []lanPkt) []byte {
	var out []byte
	for _, p := range pkts {
		b := p.b
		if len(b) > 255 {
			b = b[:255]
		}
		out = append(out, byte(len(b)))
		out = append(out, b...)
	}
	return out
}

// FuzzLANDissectors feeds arbitrary conversations to every dissector of
// the family, on TCP and UDP and on each of its hinted ports, and checks
// only that nothing panics and that a dissector that gave a final answer
// is not called again. The dissectors' state machines see whole
// sequences, not single packets.
func FuzzLANDissectors(f *testing.F) {
	for i, tc := range lanCases() {
		f.Add(uint8(i), uint16(0), tc.proto == IPProtoTCP, lanFuzzEncode(tc.pkts))
	}
	e := NewEngine(Config{MaxFlows: 16})
	var fl Flow
	var scr scratch
	var p Packet
	cli := netip.MustParseAddr("10.0.0.5")
	srv := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, sel uint8, portSel uint16, tcpFlow bool, data []byte) {
		d := &lanDissectors[int(sel)%len(lanDissectors)]
		l4, mask := uint8(IPProtoUDP), onUDP
		if tcpFlow {
			l4, mask = IPProtoTCP, onTCP
		}
		if d.l4&mask == 0 {
			return
		}
		ports := d.udpPorts
		if tcpFlow {
			ports = d.tcpPorts
		}
		sport := portSel
		if len(ports) > 0 && portSel < 0x8000 {
			sport = ports[int(portSel)%len(ports)]
		}
		const cport = 40000
		scr = scratch{}
		fl = Flow{s: &scr}
		fl.key = FlowKey{proto: l4, loPort: sport, hiPort: cport}
		fl.clientLo = false
		defer func() {
			e.freeMeta(&fl)
		}()
		c := &Ctx{e: e, Flow: &fl, Pkt: &p, s: &scr}
		dir := ToServer
		for len(data) > 0 {
			n := int(data[0])
			data = data[1:]
			if n > len(data) {
				n = len(data)
			}
			payload := data[:n]
			data = data[n:]
			p = Packet{Proto: l4, IPVersion: 4}
			if dir == ToServer {
				p.Src, p.Dst, p.SrcPort, p.DstPort = cli, srv, cport, sport
			} else {
				p.Src, p.Dst, p.SrcPort, p.DstPort = srv, cli, sport, cport
			}
			p.Payload = payload
			if len(payload) > 0 && scr.payloads[dir] < 0xffff {
				scr.payloads[dir]++
			}
			c.Dir, c.Payload = dir, payload
			if len(payload) > 0 {
				if st := d.fn(c); st == Exclude || st == Done {
					return
				}
			}
			dir = 1 - dir
		}
	})
}

// freeMeta hands a flow's metadata back to the engine (fuzz helper).
func (e *Engine) freeMeta(f *Flow) {
	if m := f.Result.Meta; m != nil {
		*m = Meta{}
		e.metaFree = append(e.metaFree, m)
		f.Result.Meta = nil
	}
}

// FuzzBER checks the BER element reader on arbitrary input and offsets.
func FuzzBER(f *testing.F) {
	for _, s := range [][]byte{snmpGet, snmpV3, krbASReq, ldapBind, c1222PDU, {0x30, 0x84, 0xff, 0xff, 0xff, 0xff}} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, off int) {
		tag, s, n, ok := berTLV(b, off)
		if ok && (s < off || s > len(b) || n < 0) {
			t.Fatalf("berTLV(%x, %d) = %x %d %d", b, off, tag, s, n)
		}
		if v, next, ok := berInt(b, off); ok && (next > len(b) || next <= off) {
			t.Fatalf("berInt = %d %d", v, next)
		}
	})
}

// FuzzNetBIOSName checks the first-level name decoder.
func FuzzNetBIOSName(f *testing.F) {
	f.Add(nbName("WORKSTATION", 0))
	f.Add(nbName("*", 0))
	f.Add([]byte{32})
	f.Fuzz(func(t *testing.T, b []byte) {
		var out [16]byte
		n, ok := netbiosDecodeName(b, &out)
		if n < 0 || n > 15 || (!ok && n != 0) {
			t.Fatalf("netbiosDecodeName = %d, %v", n, ok)
		}
	})
}

// FuzzFTPHostPort checks the PORT/PASV argument parser.
func FuzzFTPHostPort(f *testing.F) {
	f.Add([]byte("192,168,1,2,7,138)"))
	f.Add([]byte(" 10,0,0,1,4,1\r\n"))
	f.Add([]byte("1,2,3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, _, ok := ftpHostPort(b)
		if ok && !a.Is4() {
			t.Fatalf("ftpHostPort(%q) gave %v", b, a)
		}
		atou16(b, '|')
	})
}
