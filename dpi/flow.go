package dpi

import (
	"encoding/binary"
	"net/netip"
)

// State is a flow's classification state, as nDPI reports it.
type State uint8

const (
	// Inspecting: no classification yet.
	Inspecting State = iota
	// Partial: a classification exists, but later packets may refine it
	// (QUIC then QUIC.YouTube) or add facts such as certificate risks.
	Partial
	// Classified: final.
	Classified
	// GivenUp: the packet budget ran out without a classification; the
	// result is a guess from ports and addresses.
	GivenUp
)

var stateNames = [...]string{"inspecting", "partial", "classified", "given_up"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "inspecting"
}

// Final reports whether no later packet can change the result.
func (s State) Final() bool { return s >= Classified }

// Field names a part of a Result that later packets may still change.
type Field uint8

const (
	FieldApp      Field = 1 << iota // application or master protocol
	FieldHostname                   // requested server name
	FieldRisks                      // flow risks (certificate, …)
	FieldMeta                       // other metadata only
	// FieldDNSAnswer: the client's DNS query awaits its answer, which
	// may teach the engine's name cache (DNSCache) the addresses of the
	// name it asked for. Nothing in this flow's own Result that a policy
	// matches changes with it; a decider that hands the flow to the kernel
	// before the answer only stops the cache from learning.
	FieldDNSAnswer
)

// Confidence says how a classification was reached.
type Confidence uint8

const (
	ConfUnknown   Confidence = iota
	ConfDPI                  // payload inspection
	ConfPort                 // guessed from the port
	ConfIP                   // guessed from the address (catalog)
	ConfDNSCache             // hostname learned from an earlier DNS answer
	ConfPeerCache            // endpoint seen speaking the protocol before
)

var confNames = [...]string{"unknown", "dpi", "port", "ip", "dns_cache", "peer_cache"}

func (c Confidence) String() string {
	if int(c) < len(confNames) {
		return confNames[c]
	}
	return "unknown"
}

// Result is what the engine knows about a flow. Its strings are interned by
// the engine, so filling it in the steady state allocates nothing.
type Result struct {
	State      State
	Confidence Confidence
	// Guessed: classified by port or address after DPI gave up.
	Guessed bool
	// Pending lists what may still change while State is Partial.
	Pending Field
	Master  ProtoID
	App     ProtoID
	// Category is the flow's category: the application's, else the
	// master's, unless the catalog placed the host elsewhere.
	Category   CategoryID
	DPIPackets uint16
	Risks      RiskSet
	// Hostname is the requested server name: TLS/QUIC SNI, HTTP Host, DNS
	// query, or a name learned from DNS answers.
	Hostname  string
	ALPN      string
	JA4, JA3  string
	UserAgent string
	// TLS version (0x0304 for TLS 1.3, supported_versions aware) and the
	// cipher the server chose.
	TLSVersion uint16
	Cipher     uint16
	// Uninspectable: the engine could not see the stream as the
	// receiver reads it (bytes it accepted that could not be kept, a hole
	// still open when the budget ran out, a request larger than the
	// reassembly buffer; a dissector that cannot read the message that
	// would name the flow: Ctx.Uninspectable); RiskObfuscatedTraffic is
	// set with it, and the policy's on_uninspectable decides.
	Uninspectable bool
	// Meta holds less common metadata; nil until a dissector fills it.
	Meta *Meta
}

// AppName is nDPI's application_name: "MASTER.APP", "MASTER", "APP" or
// "Unknown".
func (r *Result) AppName() string {
	switch {
	case r.Master != 0 && r.App != 0 && r.Master != r.App:
		return r.Master.String() + "." + r.App.String()
	case r.Master != 0:
		return r.Master.String()
	case r.App != 0:
		return r.App.String()
	}
	return "Unknown"
}

// Protocol is the most specific protocol known: the application, else the
// master.
func (r *Result) Protocol() ProtoID {
	if r.App != 0 {
		return r.App
	}
	return r.Master
}

// Meta is the metadata most flows do not have. The engine recycles Meta
// values with their flows.
type Meta struct {
	// TLS server side (≤ 1.2, where the certificate is in clear).
	CertIssuer, CertSubject string
	CertNotBefore           int64 // Unix seconds
	CertNotAfter            int64
	CertSHA1                [20]byte
	HasCert                 bool
	JA3S                    string
	ServerALPN              string

	// HTTP.
	Method, URL, ContentType, Server string
	Status                           uint16

	// DNS: the first question and up to four address answers.
	QueryType  uint16
	RCode      uint8
	HasReply   bool
	Answers    [4]netip.Addr
	NumAnswers uint8

	// SSH banners ("SSH-2.0-OpenSSH_9.6").
	ClientBanner, ServerBanner string

	// DHCP: parameter request list as nDPI prints it, and the vendor class.
	DHCPFingerprint, DHCPClass string

	// BitTorrent info hash from the handshake.
	InfoHash    [20]byte
	HasInfoHash bool
}

// Dir is a packet's direction within its flow.
type Dir uint8

const (
	// ToServer: sent by the flow's initiator.
	ToServer Dir = 0
	// ToClient: sent by the responder.
	ToClient Dir = 1
)

// FlowKey identifies a flow in both directions: the endpoint that sorts
// lower is always first.
type FlowKey struct {
	loAddr, hiAddr [16]byte
	loPort, hiPort uint16
	proto          uint8
	v6             bool
	vlan           uint16
}

// makeKey builds the canonical key of p and reports whether p's source is
// the key's low endpoint.
func makeKey(p *Packet) (k FlowKey, srcIsLo bool) {
	s, d := p.Src.As16(), p.Dst.As16()
	k.proto, k.vlan, k.v6 = p.Proto, p.VLAN, p.IPVersion == 6
	c := compare16(&s, &d)
	srcIsLo = c < 0 || (c == 0 && p.SrcPort <= p.DstPort)
	if srcIsLo {
		k.loAddr, k.hiAddr, k.loPort, k.hiPort = s, d, p.SrcPort, p.DstPort
	} else {
		k.loAddr, k.hiAddr, k.loPort, k.hiPort = d, s, p.DstPort, p.SrcPort
	}
	return k, srcIsLo
}

func compare16(a, b *[16]byte) int {
	x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if x == y {
		x, y = binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func addrOf(b *[16]byte, v6 bool) netip.Addr {
	a := netip.AddrFrom16(*b)
	if !v6 {
		return a.Unmap()
	}
	return a
}

// Flow is one bidirectional conversation. Flows live in the engine's table
// and are recycled; do not keep a *Flow after the packet call returns or
// after the end callback.
type Flow struct {
	key      FlowKey
	idx      uint32 // slot in the table
	prev     uint32 // idle list (1-based slot numbers, 0 = none)
	next     uint32
	clientLo bool // the client is the key's low endpoint
	flags    flowFlags

	// Per direction: [ToServer], [ToClient].
	Packets [2]uint32
	Bytes   [2]uint64
	// FirstSeen and LastSeen are Unix nanoseconds.
	FirstSeen, LastSeen int64
	// MAC is the source MAC of each direction's first packet, when the
	// link layer had one ([ToServer] is the client's).
	MAC    [2][6]byte
	HasMAC [2]bool

	Result Result

	s *scratch // inspection state; nil once the flow is final
}

type flowFlags uint8

const (
	flowSynSeen flowFlags = 1 << iota
	flowFinClient
	flowFinServer
	flowRst
	flowContinued // picked up mid-stream (no SYN seen)
	flowEnded
	flowListFinal // on the table's list of decided flows
)

// Slot is the flow's index in its table: stable for the flow's lifetime
// and reused after it ends, so callers can keep side tables of per-flow
// data in a slice.
func (f *Flow) Slot() uint32 { return f.idx }

// Proto is the flow's IP protocol.
func (f *Flow) Proto() uint8 { return f.key.proto }

// VLAN is the flow's VLAN id (0 when untagged).
func (f *Flow) VLAN() uint16 { return f.key.vlan }

// IPVersion is 4 or 6.
func (f *Flow) IPVersion() uint8 {
	if f.key.v6 {
		return 6
	}
	return 4
}

// Client is the initiator's address and port.
func (f *Flow) Client() netip.AddrPort {
	if f.clientLo {
		return netip.AddrPortFrom(addrOf(&f.key.loAddr, f.key.v6), f.key.loPort)
	}
	return netip.AddrPortFrom(addrOf(&f.key.hiAddr, f.key.v6), f.key.hiPort)
}

// Server is the responder's address and port.
func (f *Flow) Server() netip.AddrPort {
	if f.clientLo {
		return netip.AddrPortFrom(addrOf(&f.key.hiAddr, f.key.v6), f.key.hiPort)
	}
	return netip.AddrPortFrom(addrOf(&f.key.loAddr, f.key.v6), f.key.loPort)
}

// serverPort is the responder's port without building addresses.
func (f *Flow) serverPort() uint16 {
	if f.clientLo {
		return f.key.hiPort
	}
	return f.key.loPort
}

func (f *Flow) clientPort() uint16 {
	if f.clientLo {
		return f.key.loPort
	}
	return f.key.hiPort
}
