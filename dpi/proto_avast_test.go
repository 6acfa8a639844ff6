package dpi

import (
	"encoding/hex"
	"testing"
)

// A SecureDNS certificate query as Avast's client sends it: a standard
// query (RFC 1035 §4.1) for TXT 2.SeCURednS.aVasT.CoM (0x20 random case).
func avastSecureDNSQuery() []byte {
	b, _ := hex.DecodeString("48c40100000100000000000001320953654355526564" + "6e53056156617354" + "03436f4d" + "00" + "0010" + "0001")
	return b
}

func TestAvast(t *testing.T) {
	s := newSim(t, IPProtoUDP, "192.168.2.100:49152", "181.214.35.149:443")
	f := s.send(ToServer, avastSecureDNSQuery())
	if f.Result.App != 0 || f.Result.Master != ProtoAVASTSecureDNS || f.Result.State != Classified {
		t.Errorf("SecureDNS query: %+v", f.Result)
	}
	// The same query for another domain on port 443 is not Avast's.
	other := avastSecureDNSQuery()
	other[len(other)-10] = 'X' // "aVasX.CoM"
	s = newSim(t, IPProtoUDP, "192.168.2.100:49153", "181.214.35.149:443")
	if f := s.send(ToServer, other); f.Result.Master == ProtoAVASTSecureDNS {
		t.Errorf("another domain classified as %s", f.Result.AppName())
	}

	s = newSim(t, IPProtoTCP, "192.168.2.100:62741", "5.62.53.131:80")
	s.handshake()
	hello := append([]byte("NOSA\x00\x10\x01\x02"), make([]byte, 8)...)
	if f := s.send(ToServer, hello); f.Result.Master != ProtoAVAST {
		t.Errorf("NOSA message: %+v", f.Result)
	}
	s = newSim(t, IPProtoTCP, "192.168.2.100:62742", "5.62.53.131:80")
	s.handshake()
	bad := append([]byte("NOSA\x00\x40\x01\x02"), make([]byte, 8)...) // length beyond the segment
	if f := s.send(ToServer, bad); f.Result.Master == ProtoAVAST {
		t.Error("a NOSA header with a wrong length was accepted")
	}
}

func FuzzAvast(f *testing.F) {
	f.Add(avastSecureDNSQuery(), true)
	f.Add([]byte("NOSA\x00\x10\x01\x02\x00\x00\x00\x00\x00\x00\x00\x00"), false)
	f.Fuzz(func(t *testing.T, b []byte, udp bool) {
		proto := uint8(IPProtoTCP)
		if udp {
			proto = IPProtoUDP
		}
		s := newSim(t, proto, "10.0.0.1:40000", "10.0.0.2:443")
		s.send(ToServer, b)
		s.send(ToClient, b)
	})
}
