package dpi

import "testing"

// Identification strings as RFC 4253 §4.2 has both sides send them:
// "SSH-protoversion-softwareversion SP comments CR LF".
func TestSSHBanners(t *testing.T) {
	s := newSim(t, IPProtoTCP, "10.0.0.1:50000", "192.0.2.22:22").handshake()
	f := s.send(ToServer, []byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"))
	r := &f.Result
	if r.State != Partial || r.Master != ProtoSSH || r.Hostname != "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5" {
		t.Fatalf("after the client's: %v %v %q", r.State, r.Master, r.Hostname)
	}
	if r.Pending != FieldRisks|FieldMeta {
		t.Errorf("pending %b", r.Pending)
	}
	f = s.send(ToClient, []byte("SSH-2.0-dropbear_2019.78\r\n"))
	r = &f.Result
	if r.State != Classified || r.Meta.ClientBanner != "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5" || r.Meta.ServerBanner != "SSH-2.0-dropbear_2019.78" {
		t.Fatalf("after the server's: %v %+v", r.State, *r.Meta)
	}
	if !r.Risks.Has(RiskSSHObsoleteServer) || r.Risks.Has(RiskSSHObsoleteClient) {
		t.Errorf("risks %v", r.Risks.AppendNames(nil))
	}
	if r.DPIPackets != 5 {
		t.Errorf("dpi packets %d, want 5", r.DPIPackets)
	}
}

func TestSSHServerFirstWithPreamble(t *testing.T) {
	// Servers may send other lines before their identification (§4.2).
	s := newSim(t, IPProtoTCP, "10.0.0.1:50000", "192.0.2.22:2222").handshake()
	f := s.send(ToClient, []byte("Authorized use only\r\nSSH-1.99-OpenSSH_5.3\r\n"))
	if r := f.Result; r.Master != ProtoSSH || r.Meta.ServerBanner != "SSH-1.99-OpenSSH_5.3" || !r.Risks.Has(RiskSSHObsoleteServer) {
		t.Fatalf("server first: %v %+v %v", r.Master, r.Meta, r.Risks.AppendNames(nil))
	}
	f = s.send(ToServer, []byte("SSH-2.0-PuTTY_Release_0.81\n")) // a bare LF
	if r := f.Result; r.State != Classified || r.Meta.ClientBanner != "SSH-2.0-PuTTY_Release_0.81" {
		t.Errorf("client second: %v %+v", r.State, r.Meta)
	}
}

func TestSSHNotSSH(t *testing.T) {
	for _, p := range []string{"SSH-\r\n", "SSH-2.0\r\n", "GET / HTTP/1.1\r\n\r\n", "Hello\r\nSSH-2.0-x\r\n"} {
		s := newSim(t, IPProtoTCP, "10.0.0.1:50000", "192.0.2.22:22").handshake()
		if f := s.send(ToServer, []byte(p)); f.Result.Master == ProtoSSH && f.Result.Confidence == ConfDPI {
			t.Errorf("%q taken for SSH", p)
		}
	}
}

func TestSSHObsolete(t *testing.T) {
	for banner, want := range map[string]bool{
		"SSH-2.0-OpenSSH_5.3":                      true,
		"SSH-2.0-OpenSSH_6.9p1":                    true,
		"SSH-2.0-OpenSSH_7.0":                      false,
		"SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.11": false,
		"SSH-2.0-APACHE-SSHD-2.5.0":                true,
		"SSH-2.0-APACHE-SSHD-2.5.1":                false,
		"SSH-2.0-paramiko_2.3.1":                   true,
		"SSH-2.0-FileZilla_3.66.1":                 false,
		"SSH-2.0-dropbear_2022.83":                 false,
		"SSH-1.5-1.2.27":                           true, // protocol 1
		"SSH-1.99-Cisco-1.25":                      false,
		"SSH-2.0-Go":                               false,
	} {
		if got := sshObsolete([]byte(banner)); got != want {
			t.Errorf("%s: obsolete %v", banner, got)
		}
	}
}

func TestSSHParsersAllocateNothing(t *testing.T) {
	b := []byte("Welcome\r\nSSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.11\r\n")
	if n := testing.AllocsPerRun(100, func() {
		l, _ := sshBanner(b, true)
		sshObsolete(l)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func FuzzSSHBanner(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"), true)
	f.Add([]byte("banner\r\nSSH-1.99-dropbear_2019.78\n"), true)
	f.Add([]byte("SSH-2.0-APACHE-SSHD-2.5.0"), false)
	f.Fuzz(func(t *testing.T, b []byte, server bool) {
		l, ok := sshBanner(b, server)
		// A banner is kept to the RFC's length and starts as one.
		if ok && (len(l) > maxSSHBanner-2 || string(l[:4]) != "SSH-") {
			t.Fatalf("banner %q", l)
		}
		sshObsolete(b)
		sshObsolete(l)
	})
}
