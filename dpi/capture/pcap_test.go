package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ips/dpi"
)

// pcapFile builds a classic pcap (the libpcap file format: a 24-byte
// global header, then a 16-byte header per record).
func pcapFile(order binary.ByteOrder, magic uint32, minor uint16, link uint32, recs ...[]byte) []byte {
	h := make([]byte, 24)
	order.PutUint32(h, magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], minor)
	order.PutUint32(h[16:], 65535)
	order.PutUint32(h[20:], link)
	for i, r := range recs {
		rh := make([]byte, 16)
		order.PutUint32(rh, uint32(1700000000+i))
		order.PutUint32(rh[4:], 500)
		order.PutUint32(rh[8:], uint32(len(r)))
		order.PutUint32(rh[12:], uint32(len(r)))
		h = append(append(h, rh...), r...)
	}
	return h
}

func TestPcapVersionsAndOrders(t *testing.T) {
	for _, c := range []struct {
		order binary.ByteOrder
		magic uint32
		minor uint16
		nanos bool
	}{
		{binary.LittleEndian, 0xa1b2c3d4, 4, false},
		{binary.BigEndian, 0xa1b2c3d4, 4, false},
		{binary.LittleEndian, 0xa1b23c4d, 4, true},
		{binary.BigEndian, 0xa1b23c4d, 0, true}, // old minor versions read as libpcap reads them
	} {
		data := pcapFile(c.order, c.magic, c.minor, 101, []byte{0x45, 1, 2}, []byte{0x60})
		r, err := newPcapReader(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if r.link != dpi.LinkRaw {
			t.Errorf("link %d", r.link)
		}
		b, ts, err := r.next()
		want := int64(1700000000)*1e9 + 500*1000
		if c.nanos {
			want = int64(1700000000)*1e9 + 500
		}
		if err != nil || !bytes.Equal(b, []byte{0x45, 1, 2}) || ts != want {
			t.Errorf("%+v: %x %d %v", c, b, ts, err)
		}
		if b, _, err := r.next(); err != nil || len(b) != 1 {
			t.Errorf("second record: %x %v", b, err)
		}
		if _, _, err := r.next(); err != io.EOF {
			t.Errorf("end: %v", err)
		}
	}
}

func TestPcapDamage(t *testing.T) {
	data := pcapFile(binary.LittleEndian, 0xa1b2c3d4, 4, 1, make([]byte, 60))
	r, _ := newPcapReader(bufio.NewReader(bytes.NewReader(data[:len(data)-10])))
	if _, _, err := r.next(); err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut record: %v", err)
	}
	big := pcapFile(binary.LittleEndian, 0xa1b2c3d4, 4, 1)
	big = append(big, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0)
	r, _ = newPcapReader(bufio.NewReader(bytes.NewReader(big)))
	if _, _, err := r.next(); err == nil {
		t.Error("a 2 GB record was accepted")
	}
	if _, err := newPcapReader(bufio.NewReader(bytes.NewReader([]byte("GIF89a, not a capture at all")))); err == nil {
		t.Error("not a capture: accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "tiny.pcap")
	os.WriteFile(p, []byte{1, 2}, 0o644)
	if _, err := Open(p); err == nil {
		t.Error("a 2-byte file opened")
	}
}

func FuzzPcap(f *testing.F) {
	f.Add(pcapFile(binary.LittleEndian, 0xa1b2c3d4, 4, 1, make([]byte, 60)))
	f.Add(pcapFile(binary.BigEndian, 0xa1b23c4d, 4, 113, make([]byte, 20), []byte{1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newPcapReader(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		var p dpi.Packet
		for range 1000 {
			b, _, err := r.next()
			if err != nil {
				return
			}
			p.Decode(r.link, b)
		}
	})
}
