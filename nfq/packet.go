package nfq

// packetMsg is one queued packet as the kernel describes it
// (NFQNL_MSG_PACKET). Payload points into the receive buffer and is valid
// until the next receive.
type packetMsg struct {
	Queue   uint16 // nfgenmsg res_id
	ID      uint32
	HWProto uint16 // ethertype, host order
	Hook    uint8
	Mark    uint32

	InIf, OutIf, PhysIn, PhysOut uint32

	HWAddr [8]byte
	HWLen  uint16

	Payload []byte
	// CapLen is the packet's length when the copy range truncated it
	// (NFQA_CAP_LEN is only sent then), else 0.
	CapLen  uint32
	SkbInfo uint32 // NFQA_SKB_* flags (GSO, checksum not ready)
	// Arrival is the packet's receive timestamp (NFQA_TIMESTAMP), Unix
	// nanoseconds, or 0: the kernel sends it once some socket has asked
	// for receive timestamps (see enableArrivalStamps).
	Arrival int64
}

// parsePacket reads an NFQNL_MSG_PACKET body (after the nlmsghdr) in
// place. Attributes it does not know are skipped; attributes shorter than
// their type needs are ignored rather than trusted.
func parsePacket(body []byte, p *packetMsg) error {
	*p = packetMsg{}
	if len(body) < nfgenHdrLen {
		return errShort
	}
	p.Queue = be.Uint16(body[2:4])
	it := attrIter{b: body[nfgenHdrLen:]}
	seen := false
	for it.next() {
		d := it.data
		switch it.typ {
		case nfqaPacketHdr:
			// struct nfqnl_msg_packet_hdr { __be32 packet_id; __be16 hw_protocol; __u8 hook; } packed
			if len(d) < 7 {
				return errNoHeader
			}
			p.ID = be.Uint32(d[0:4])
			p.HWProto = be.Uint16(d[4:6])
			p.Hook = d[6]
			seen = true
		case nfqaMark:
			if len(d) >= 4 {
				p.Mark = be.Uint32(d)
			}
		case nfqaIfIndexIn:
			if len(d) >= 4 {
				p.InIf = be.Uint32(d)
			}
		case nfqaIfIndexOut:
			if len(d) >= 4 {
				p.OutIf = be.Uint32(d)
			}
		case nfqaIfIndexPhIn:
			if len(d) >= 4 {
				p.PhysIn = be.Uint32(d)
			}
		case nfqaIfIndexPhOut:
			if len(d) >= 4 {
				p.PhysOut = be.Uint32(d)
			}
		case nfqaHWAddr:
			// struct nfqnl_msg_packet_hw { __be16 hw_addrlen; __u16 _pad; __u8 hw_addr[8]; }
			if len(d) >= 12 {
				p.HWLen = min(be.Uint16(d[0:2]), 8)
				copy(p.HWAddr[:], d[4:12])
			}
		case nfqaPayload:
			p.Payload = d
		case nfqaCapLen:
			if len(d) >= 4 {
				p.CapLen = be.Uint32(d)
			}
		case nfqaSkbInfo:
			if len(d) >= 4 {
				p.SkbInfo = be.Uint32(d)
			}
		case nfqaTimestamp:
			// struct nfqnl_msg_packet_timestamp { __aligned_be64 sec; __aligned_be64 usec; }
			if len(d) >= 16 {
				sec, usec := be.Uint64(d[0:8]), be.Uint64(d[8:16])
				if sec < 1<<33 && usec < 1e6 {
					p.Arrival = int64(sec)*1e9 + int64(usec)*1e3
				}
			}
		}
	}
	if !seen {
		return errNoHeader
	}
	return nil
}

// appendVerdict appends an NFQNL_MSG_VERDICT for one packet; withMark adds
// NFQA_MARK, which replaces the whole packet mark (callers compute it
// under the mask so other bits survive).
func (m *msgBuf) appendVerdict(queue uint16, id, verdict uint32, mark uint32, withMark bool) {
	m.begin(subsysQueue<<8|nfqnlMsgVerdict, nlmFRequest, 0, 0, queue)
	// struct nfqnl_msg_verdict_hdr { __be32 verdict; __be32 id; }
	m.b = ne.AppendUint16(m.b, nlaHdrLen+8)
	m.b = ne.AppendUint16(m.b, nfqaVerdictHdr)
	m.b = be.AppendUint32(m.b, verdict)
	m.b = be.AppendUint32(m.b, id)
	if withMark {
		m.attrBE32(nfqaMark, mark)
	}
	m.end()
}

// appendBatchVerdict appends an NFQNL_MSG_VERDICT_BATCH: the verdict
// applies to every packet of the queue with an id up to and including id
// that has not had a verdict yet.
func (m *msgBuf) appendBatchVerdict(queue uint16, id, verdict uint32) {
	m.begin(subsysQueue<<8|nfqnlMsgVerdictBatch, nlmFRequest, 0, 0, queue)
	m.b = ne.AppendUint16(m.b, nlaHdrLen+8)
	m.b = ne.AppendUint16(m.b, nfqaVerdictHdr)
	m.b = be.AppendUint32(m.b, verdict)
	m.b = be.AppendUint32(m.b, id)
	m.end()
}

// queueConfig is what binding a queue sends (NFQNL_MSG_CONFIG).
type queueConfig struct {
	copyRange uint32
	maxLen    uint32
	flags     uint32 // cfgFlag*
	mask      uint32 // flags being set or cleared
}

func (m *msgBuf) appendConfigCmd(queue uint16, seq uint32, cmd uint8) {
	m.begin(subsysQueue<<8|nfqnlMsgConfig, nlmFRequest|nlmFAck, seq, 0, queue)
	// struct nfqnl_msg_config_cmd { __u8 command; __u8 _pad; __be16 pf; }
	m.attr(nfqaCfgCmd, []byte{cmd, 0, 0, 0})
	m.end()
}

func (m *msgBuf) appendConfigParams(queue uint16, seq uint32, c queueConfig) {
	m.begin(subsysQueue<<8|nfqnlMsgConfig, nlmFRequest|nlmFAck, seq, 0, queue)
	// struct nfqnl_msg_config_params { __be32 copy_range; __u8 copy_mode; } packed
	var params [5]byte
	be.PutUint32(params[0:4], c.copyRange)
	params[4] = nfqnlCopyPacket
	m.attr(nfqaCfgParams, params[:])
	m.attrBE32(nfqaCfgQueueMaxLen, c.maxLen)
	m.end()
}

func (m *msgBuf) appendConfigFlags(queue uint16, seq uint32, flags, mask uint32) {
	m.begin(subsysQueue<<8|nfqnlMsgConfig, nlmFRequest|nlmFAck, seq, 0, queue)
	m.attrBE32(nfqaCfgFlags, flags)
	m.attrBE32(nfqaCfgMask, mask)
	m.end()
}
