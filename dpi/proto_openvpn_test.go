package dpi

import (
	"strings"
	"testing"
)

// OpenVPN packets (OpenVPN's ssl.h/reliable wire format): opcode<<3 |
// key_id, session id, [tls-auth: HMAC, packet id, timestamp], ack array
// (count, acked packet ids, remote session id when count > 0), message
// packet id, payload.
var (
	ovpnCliSID = []byte{0x33, 0x48, 0x57, 0x70, 0x3d, 0x96, 0xdb, 0x39}
	ovpnSrvSID = []byte{0xd3, 0x1c, 0x3a, 0x69, 0x64, 0x60, 0x2f, 0xa0}
)

func ovpnPkt(op byte, sid []byte, hmac int, acks []uint32, remote []byte, msgID uint32, payload []byte) []byte {
	b := cat([]byte{op << 3}, sid)
	if hmac > 0 {
		b = cat(b, fill(hmac, 0x77), u32(1), u32(0x57a1c15f))
	}
	b = append(b, byte(len(acks)))
	for _, a := range acks {
		b = cat(b, u32(a))
	}
	if len(acks) > 0 {
		b = cat(b, remote)
	}
	if op != ovpnAckV1 {
		b = cat(b, u32(msgID))
	}
	return cat(b, payload)
}

func ovpnTCP(b []byte) []byte { return cat(u16(uint16(len(b))), b) }

func TestOpenVPN(t *testing.T) {
	cliReset := ovpnPkt(ovpnHardResetClientV2, ovpnCliSID, 0, nil, nil, 0, nil)
	if len(cliReset) != 14 {
		t.Fatalf("client reset is %d bytes", len(cliReset))
	}
	srvReset := ovpnPkt(ovpnHardResetServerV2, ovpnSrvSID, 0, []uint32{0}, ovpnCliSID, 0, nil)
	srvWrongEcho := ovpnPkt(ovpnHardResetServerV2, ovpnSrvSID, 0, []uint32{0}, ovpnSrvSID, 0, nil)
	cliResetSHA1 := ovpnPkt(ovpnHardResetClientV2, ovpnCliSID, 20, nil, nil, 0, nil)
	srvResetSHA1 := ovpnPkt(ovpnHardResetServerV2, ovpnSrvSID, 20, []uint32{0}, ovpnCliSID, 0, nil)
	srvResetSHA512 := ovpnPkt(ovpnHardResetServerV2, ovpnSrvSID, 64, []uint32{0}, ovpnCliSID, 0, nil)
	cliResetSHA512 := ovpnPkt(ovpnHardResetClientV2, ovpnCliSID, 64, nil, nil, 0, nil)
	// tls-crypt: after the packet id and timestamp all is opaque.
	cryptCli := cat([]byte{ovpnHardResetClientV3 << 3}, ovpnCliSID, u32(1), u32(7), fill(300, 3))
	cryptSrv := cat([]byte{ovpnHardResetServerV2 << 3}, ovpnSrvSID, u32(1), u32(7), fill(60, 4))
	cryptCliCtl := cat([]byte{ovpnControlV1 << 3}, ovpnCliSID, u32(2), u32(7), fill(600, 5))
	ack := ovpnPkt(ovpnAckV1, ovpnCliSID, 0, []uint32{0}, ovpnSrvSID, 0, nil)
	ctl := ovpnPkt(ovpnControlV1, ovpnCliSID, 0, nil, nil, 1, fill(200, 0x16))

	cases := []struct {
		name  string
		proto uint8
		pkts  []pkt
		named bool
	}{
		{"resets, no tls-auth", IPProtoUDP, []pkt{c2s(cliReset), s2c(srvReset)}, true},
		{"resets, tls-auth SHA-1", IPProtoUDP, []pkt{c2s(cliResetSHA1), s2c(srvResetSHA1)}, true},
		{"resets, tls-auth SHA-512", IPProtoUDP, []pkt{c2s(cliResetSHA512), s2c(srvResetSHA512)}, true},
		{"server echoes another session", IPProtoUDP, []pkt{c2s(cliReset), s2c(srvWrongEcho)}, false},
		{"tls-crypt-v2: session ids repeat", IPProtoUDP, []pkt{c2s(cryptCli), s2c(cryptSrv), c2s(cryptCliCtl)}, true},
		{"one-way control traffic", IPProtoUDP, []pkt{c2s(cliReset), c2s(ack), c2s(ctl), c2s(ack)}, true},
		{"session id changes", IPProtoUDP, []pkt{c2s(cliReset), c2s(ovpnPkt(ovpnAckV1, ovpnSrvSID, 0, []uint32{0}, ovpnCliSID, 0, nil))}, false},
		{"first packet is not a reset", IPProtoUDP, []pkt{c2s(ctl), s2c(srvReset)}, false},
		{"key id set on a reset", IPProtoUDP, []pkt{c2s(cat([]byte{cliReset[0] | 1}, cliReset[1:])), s2c(srvReset)}, false},
		{"reset as large as a QUIC Initial", IPProtoUDP, []pkt{c2s(cat(cliReset, fill(1200, 0))), s2c(srvReset)}, false},
		{"TCP resets", IPProtoTCP, []pkt{c2s(ovpnTCP(cliReset)), s2c(ovpnTCP(srvReset))}, true},
		{"TCP length that does not fit", IPProtoTCP, []pkt{c2s(cat(u16(20), cliReset)), s2c(ovpnTCP(srvReset))}, false},
		{"TCP control packet split over segments", IPProtoTCP, []pkt{
			c2s(ovpnTCP(cryptCli)), s2c(ovpnTCP(cryptSrv)),
			c2s(ovpnTCP(cryptCliCtl)[:100]), c2s(ovpnTCP(cryptCliCtl)[100:]),
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := play(t, c.proto, "192.168.75.18:60201", "166.161.181.18:443", c.pkts...)
			if got := r.Master == ProtoOpenVPN; got != c.named {
				t.Errorf("named OpenVPN: %v, want %v (%s)", got, c.named, r.AppName())
			}
		})
	}

	// A catalog that places the server among a VPN provider's addresses
	// names the service, as nDPI's subclassification by IP does.
	b := NewCatalogBuilder(false)
	if err := b.AddRules("test", strings.NewReader("ip:217.138.197.0/24@NordVPN\n")); err != nil {
		t.Fatal(err)
	}
	s := newSim(t, IPProtoUDP, "192.168.12.156:37383", "217.138.197.43:1234")
	s.e.SetCatalog(b.Build())
	wantApp(t, s.play(c2s(cliReset), s2c(srvReset)), "OpenVPN.NordVPN")

	if n := allocsPerFlow(t, IPProtoUDP, "192.168.75.18:60201", "166.161.181.18:1194", c2s(cliReset), s2c(srvReset)); n != 0 {
		t.Errorf("%v allocs per flow", n)
	}
}

func FuzzOpenVPNEcho(f *testing.F) {
	f.Add(ovpnPkt(ovpnHardResetServerV2, ovpnSrvSID, 20, []uint32{0}, ovpnCliSID, 0, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sid [8]byte
		copy(sid[:], ovpnCliSID)
		ovpnEchoes(b, &sid)
	})
}
