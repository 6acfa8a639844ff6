package pools

import (
	"net/netip"
	"testing"
)

func TestParseMAC(t *testing.T) {
	want := MAC{0xe8, 0x06, 0x88, 0xff, 0xfe, 0xe4}
	for _, s := range []string{"e8:06:88:ff:fe:e4", "E8:06:88:FF:FE:E4", "e8-06-88-ff-fe-e4", "e806.88ff.fee4", "E80688FFFEE4", " e8:06:88:ff:fe:e4 "} {
		m, err := ParseMAC(s)
		if err != nil || m != want {
			t.Errorf("ParseMAC(%q) = %v, %v; want %v", s, m, err, want)
		}
	}
	for _, s := range []string{"", "e8:06:88:ff:fe", "e8:06:88:ff:fe:e4:00", "e8:06-88:ff:fe:e4", "g8:06:88:ff:fe:e4", "e806.88ff-fee4", "e8:06:88:ff:fe:e"} {
		if _, err := ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q): want an error", s)
		}
	}
	if got := want.String(); got != "e8:06:88:ff:fe:e4" {
		t.Errorf("String = %q", got)
	}
}

func TestParseMember(t *testing.T) {
	cases := map[string]string{
		"192.168.0.1/24":              "192.168.0.0/24", // host bits masked, as nProbe files write them
		"10.0.0.0/8":                  "10.0.0.0/8",
		"2a03:b0c0:2:d0::360:4001/48": "2a03:b0c0:2::/48",
		"192.168.1.100":               "192.168.1.100/32",
		"2001:db8::1":                 "2001:db8::1/128",
		"::ffff:10.1.2.3":             "10.1.2.3/32",
		"::ffff:10.1.2.0/120":         "10.1.2.0/24",
		"0.0.0.0/0":                   "0.0.0.0/0",
	}
	for in, want := range cases {
		p, err := ParseMember(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseMember(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, s := range []string{"", "10.0.0.0/33", "300.1.1.1", "fe80::1%eth0", "host.example", "10.0.0.0/"} {
		if _, err := ParseMember(s); err == nil {
			t.Errorf("ParseMember(%q): want an error", s)
		}
	}
}

func mustPrefix(s string) netip.Prefix {
	p, err := ParseMember(s)
	if err != nil {
		panic(err)
	}
	return p
}

func TestTableLongestPrefixAndMAC(t *testing.T) {
	mac := MAC{2, 0x81, 0x27, 0xb5, 0xf9, 0xf3}
	entries := []Entry{
		{Pool: 0, Prefix: mustPrefix("0.0.0.0/0")},
		{Pool: 1, Prefix: mustPrefix("10.0.0.0/8")},
		{Pool: 2, Prefix: mustPrefix("10.1.0.0/16")},
		{Pool: 3, Prefix: mustPrefix("10.1.2.3")},
		{Pool: 4, Prefix: mustPrefix("2001:db8::/32")},
		{Pool: 5, Prefix: mustPrefix("2001:db8:1::/48")},
		{Pool: 6, MAC: mac, IsMAC: true},
	}
	tab, conflicts := NewTable(entries)
	if len(conflicts) != 0 {
		t.Fatalf("conflicts %v", conflicts)
	}
	if !tab.HasMACs() || tab.Len() != 7 {
		t.Errorf("HasMACs %v Len %d", tab.HasMACs(), tab.Len())
	}
	cases := []struct {
		addr   string
		mac    *MAC
		want   int32
		wantOK bool
	}{
		{"10.9.9.9", nil, 1, true},
		{"10.1.9.9", nil, 2, true},
		{"10.1.2.3", nil, 3, true},
		{"10.1.2.4", nil, 2, true},
		{"192.0.2.1", nil, 0, true},
		{"::ffff:10.1.2.3", nil, 3, true},
		{"2001:db8:5::1", nil, 4, true},
		{"2001:db8:1::1", nil, 5, true},
		{"fe80::1", nil, -1, false},
		{"10.1.2.3", &mac, 6, true},             // a MAC beats even a host prefix
		{"fe80::1", &mac, 6, true},              // and needs no address match
		{"10.1.2.3", &MAC{1, 2, 3}, 3, true},    // an unknown MAC falls back to the address
		{"", &MAC{1, 2, 3, 4, 5, 6}, -1, false}, // no address, unknown MAC
	}
	for _, c := range cases {
		var a netip.Addr
		if c.addr != "" {
			a = netip.MustParseAddr(c.addr)
		}
		var m MAC
		if c.mac != nil {
			m = *c.mac
		}
		got, ok := tab.Lookup(a, m, c.mac != nil)
		if got != c.want || ok != c.wantOK {
			t.Errorf("Lookup(%s, %v) = %d, %v; want %d, %v", c.addr, c.mac, got, ok, c.want, c.wantOK)
		}
	}
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(netip.MustParseAddr("10.1.9.9"), mac, true) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

func TestTableConflicts(t *testing.T) {
	mac := MAC{1, 2, 3, 4, 5, 6}
	entries := []Entry{
		{Pool: 1, Prefix: mustPrefix("10.0.0.0/8")},
		{Pool: 2, Prefix: mustPrefix("10.0.0.1/8")}, // same prefix once masked, other pool
		{Pool: 1, Prefix: mustPrefix("10.0.0.0/8")}, // duplicate within the pool
		{Pool: 1, MAC: mac, IsMAC: true},
		{Pool: 3, MAC: mac, IsMAC: true},
		{Pool: 3, Prefix: mustPrefix("10.0.0.0/9")}, // overlapping but longer: fine
	}
	tab, conflicts := NewTable(entries)
	want := []Conflict{{0, 1, false}, {0, 2, true}, {3, 4, false}}
	if len(conflicts) != len(want) {
		t.Fatalf("conflicts %v, want %v", conflicts, want)
	}
	for i := range want {
		if conflicts[i] != want[i] {
			t.Errorf("conflict %d = %v, want %v", i, conflicts[i], want[i])
		}
	}
	// The first entry wins.
	if p, _ := tab.Lookup(netip.MustParseAddr("10.200.0.1"), MAC{}, false); p != 1 {
		t.Errorf("10.200.0.1 in pool %d, want 1", p)
	}
	if p, _ := tab.Lookup(netip.MustParseAddr("10.1.0.1"), MAC{}, false); p != 3 {
		t.Errorf("10.1.0.1 in pool %d, want 3", p)
	}
	if p, _ := tab.Lookup(netip.Addr{}, mac, true); p != 1 {
		t.Errorf("mac in pool %d, want 1", p)
	}
}
