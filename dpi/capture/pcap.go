package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"ips/dpi"
)

// pcapReader reads classic libpcap files. It accepts every 2.x minor
// version and both byte orders and timestamp resolutions, as libpcap does,
// and reuses one buffer for all packets.
type pcapReader struct {
	r       *bufio.Reader
	order   binary.ByteOrder
	nano    bool
	snaplen uint32
	link    dpi.LinkType
	hdr     [16]byte
	buf     []byte
}

const maxPacket = 256 << 10

func newPcapReader(r *bufio.Reader) (*pcapReader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", errShort(err))
	}
	p := &pcapReader{r: r, buf: make([]byte, 64<<10)}
	switch binary.LittleEndian.Uint32(h[:]) {
	case 0xa1b2c3d4:
		p.order = binary.LittleEndian
	case 0xa1b23c4d:
		p.order, p.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		p.order = binary.BigEndian
	case 0x4d3cb2a1:
		p.order, p.nano = binary.BigEndian, true
	default:
		return nil, errors.New("not a pcap or pcapng file (unknown magic number)")
	}
	if major := p.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("pcap version %d.%d is not supported", major, p.order.Uint16(h[6:]))
	}
	p.snaplen = p.order.Uint32(h[16:])
	// The upper bits of the link field may carry an FCS length.
	p.link = dpi.LinkType(p.order.Uint32(h[20:]) & 0x0fffffff)
	return p, nil
}

// next returns the next packet (valid until the following call) and its
// time in Unix nanoseconds.
func (p *pcapReader) next() ([]byte, int64, error) {
	if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		return nil, 0, fmt.Errorf("truncated capture: %w", io.ErrUnexpectedEOF)
	}
	sec := int64(p.order.Uint32(p.hdr[0:]))
	frac := int64(p.order.Uint32(p.hdr[4:]))
	incl := p.order.Uint32(p.hdr[8:])
	if incl > maxPacket {
		return nil, 0, fmt.Errorf("corrupt capture: packet record of %d bytes", incl)
	}
	if int(incl) > cap(p.buf) {
		p.buf = make([]byte, incl)
	}
	b := p.buf[:incl]
	if _, err := io.ReadFull(p.r, b); err != nil {
		return nil, 0, fmt.Errorf("truncated capture: %w", io.ErrUnexpectedEOF)
	}
	if !p.nano {
		frac *= 1000
	}
	return b, sec*1e9 + frac, nil
}
