// Package capture reads pcap and pcapng files for offline replay through
// the DPI engine.
package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"ips/dpi"
)

// Reader yields the packets of one capture file.
type Reader struct {
	path string
	f    *os.File
	pcap *pcapReader
	ng   *pcapgo.NgReader
	link dpi.LinkType
	// link types of pcapng interfaces, by index
	ngLinks []dpi.LinkType
}

// Open opens a pcap or pcapng file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, f: f}
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a capture file: %w", path, errShort(err))
	}
	if binary.BigEndian.Uint32(magic) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{SkipUnknownVersion: true})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: pcapng: %w", path, err)
		}
		r.ng = ng
		r.link = dpi.LinkType(ng.LinkType())
	} else {
		pr, err := newPcapReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r.pcap = pr
		r.link = pr.link
		if !dpi.SupportedLink(r.link) {
			f.Close()
			return nil, fmt.Errorf("%s: link type %d is not supported (supported: Ethernet, Linux SLL/SLL2, raw IP, BSD null/loopback, PPP, Cisco HDLC, PPI)", path, r.link)
		}
	}
	return r, nil
}

func errShort(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Path is the file name.
func (r *Reader) Path() string { return r.path }

// LinkType is the file's (first interface's) link type.
func (r *Reader) LinkType() dpi.LinkType { return r.link }

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// Next returns the next packet. The data is only valid until the next
// call. At the end it returns io.EOF; a file cut short returns an error
// naming the file.
func (r *Reader) Next() (data []byte, link dpi.LinkType, ts int64, err error) {
	var ci gopacket.CaptureInfo
	if r.ng != nil {
		data, ci, err = r.ng.ZeroCopyReadPacketData()
		link = r.link
		if err == nil && ci.InterfaceIndex != 0 {
			link = r.ngLink(ci.InterfaceIndex)
		}
	} else {
		data, ts, err = r.pcap.next()
		link = r.link
		if err == nil {
			return data, link, ts, nil
		}
	}
	if err != nil {
		if err == io.EOF {
			return nil, 0, 0, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, 0, fmt.Errorf("%s: truncated capture: %w", r.path, err)
		}
		return nil, 0, 0, fmt.Errorf("%s: %w", r.path, err)
	}
	return data, link, ci.Timestamp.UnixNano(), nil
}

func (r *Reader) ngLink(i int) dpi.LinkType {
	for len(r.ngLinks) <= i {
		j := len(r.ngLinks)
		l := r.link
		if in, err := r.ng.Interface(j); err == nil {
			l = dpi.LinkType(in.LinkType)
		}
		r.ngLinks = append(r.ngLinks, l)
	}
	return r.ngLinks[i]
}

// Replay feeds every packet of the capture at path to the engine and
// returns the number of packets read. Packets that do not decode (not IP,
// cut short) are skipped and counted by the caller's engine stats only if
// they reached it. On a read error the packets read so far stay in the
// engine, so their flows are still reported; the caller flushes.
func Replay(path string, eng *dpi.Engine) (int, error) {
	r, err := Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var p dpi.Packet
	n := 0
	for {
		data, link, ts, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		if p.Decode(link, data) != nil {
			continue
		}
		eng.Process(&p, ts)
	}
}
