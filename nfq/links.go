package nfq

// link is one network interface as rtnetlink describes it.
type link struct {
	index  uint32
	name   string
	master uint32 // ifindex of the master device (a bridge for a bridge port)
	kind   string // IFLA_INFO_KIND, e.g. "bridge", "veth"
	slave  string // IFLA_INFO_SLAVE_KIND: "bridge" for a bridge port
}

// rtnetlink constants (linux/rtnetlink.h, linux/if_link.h).
const (
	rtmNewLink      = 16
	rtmGetLink      = 18
	ifinfomsgLen    = 16
	iflaIfname      = 3
	iflaMaster      = 10
	iflaLinkinfo    = 18
	iflaInfoKind    = 1
	iflaInfoSlvKind = 4
)

// parseLink reads an RTM_NEWLINK body: struct ifinfomsg then attributes.
func parseLink(body []byte) (link, bool) {
	var l link
	if len(body) < ifinfomsgLen {
		return l, false
	}
	l.index = ne.Uint32(body[4:8])
	it := attrIter{b: body[ifinfomsgLen:]}
	for it.next() {
		switch it.typ {
		case iflaIfname:
			l.name = cstring(it.data)
		case iflaMaster:
			if len(it.data) >= 4 {
				l.master = ne.Uint32(it.data)
			}
		case iflaLinkinfo:
			in := attrIter{b: it.data}
			for in.next() {
				switch in.typ {
				case iflaInfoKind:
					l.kind = cstring(in.data)
				case iflaInfoSlvKind:
					l.slave = cstring(in.data)
				}
			}
		}
	}
	return l, l.name != ""
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
