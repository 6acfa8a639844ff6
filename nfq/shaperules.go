package nfq

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"

	"ips/verdict"
)

// The classification table "netdev ips": one egress base chain per shaped
// port and the maps that give a shaped packet its tc class. It is a table
// of the netdev family because only an egress hook knows the port a
// bridged packet leaves by (the inet forward hook sees the bridge, not its
// ports), and the port says the direction: leaving by a WAN port is an
// upload (the LAN host is the source address), by a LAN port a download
// (the LAN host is the destination). The hook runs just before the port's
// qdisc, so the priority set here is what HTB reads.
//
// nft list table netdev ips (one WAN port wan0, one LAN port lan0):
//
//	table netdev ips {
//		map pools4 { type ipv4_addr . mark : classid; flags interval; } # pool's addresses . mark → (shaper, pool) class
//		map pools6 { type ipv6_addr . mark : classid; flags interval; }
//		map hosts4 { type ipv4_addr . mark : classid; }                 # per-host shapers
//		map hosts6 { type ipv6_addr . mark : classid; }
//		chain up-wan0 {
//			type filter hook egress device "wan0" priority 0; policy accept;
//			meta mark & 0x000f0000 != 0x00090000 accept
//			meta protocol ip meta priority set ip saddr . meta mark & 0x00ff0000 map @hosts4 accept
//			meta protocol ip meta priority set ip saddr . meta mark & 0x00ff0000 map @pools4 accept
//			meta protocol ip6 meta priority set ip6 saddr . meta mark & 0x00ff0000 map @hosts6 accept
//			meta protocol ip6 meta priority set ip6 saddr . meta mark & 0x00ff0000 map @pools6 accept
//		}
//		chain down-lan0 { ... the same with daddr ... }
//	}
//
// Each packet costs at most two lookups, a hash and (for the pools'
// address ranges, concatenated with the mark) a pipapo lookup, whose
// cost does not grow with the number of pools or classes. A
// packet no map knows keeps the priority the forward chain's shape rules
// gave it: the shaper's own class (1:class).
const (
	ShapeTableName = "ips"
	setPools4      = "pools4"
	setPools6      = "pools6"
	setHosts4      = "hosts4"
	setHosts6      = "hosts6"

	// 32-bit registers (NFT_REG32_00 …): concatenated keys are built in
	// consecutive ones.
	reg32_00 = 8
)

// shapeRule is one rule of a port's egress chain.
type shapeRule struct {
	tag   string
	nft   string
	exprs []expr.Any
}

// shapeChainRules builds the egress chain of one port. upload says the
// port is a WAN port (LAN host = source address).
func shapeChainRules(l verdict.MarkLayout, upload bool, small uint16, smallClass uint32) []shapeRule {
	am := l.ActionMask()
	shape := l.ActionValue(verdict.Shape)
	mask := l.Mask()
	var r []shapeRule
	add := func(tag, nft string, ex ...[]expr.Any) {
		r = append(r, shapeRule{tag: tagPrefix + tag, nft: nft, exprs: join(ex...)})
	}
	dir, off4, off6 := "daddr", uint32(16), uint32(24)
	if upload {
		dir, off4, off6 = "saddr", 12, 8
	}
	// Everything but a shaped flow leaves at once.
	// nft: meta mark & 0x000f0000 != 0x00090000 accept
	add("egress-unshaped", fmt.Sprintf("meta mark & %s != %s accept", hex32(am), hex32(shape)),
		loadMetaMark(am), one(&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: le32(shape)}, &expr.Verdict{Kind: expr.VerdictAccept}))
	if small > 0 {
		// Pure ACKs of shaped flows skip the FIFO of their class.
		// nft: meta length <= 128 meta priority set 1:fffe accept
		add("egress-small", fmt.Sprintf("meta length <= %d meta priority set %s accept", small, verdict.ClassIDString(smallClass)), []expr.Any{
			&expr.Meta{Key: expr.MetaKeyLEN, Register: 1},
			// An ordered compare is a byte compare: big-endian first.
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: binary.BigEndian.AppendUint32(nil, uint32(small))},
			&expr.Immediate{Register: 1, Data: le32(smallClass)},
			&expr.Meta{Key: expr.MetaKeyPRIORITY, SourceRegister: true, Register: 1},
			&expr.Verdict{Kind: expr.VerdictAccept},
		})
	}
	for _, fam := range []struct {
		name  string
		proto uint16
		off   uint32
		alen  uint32
		hosts string
		pools string
	}{{"ip", 0x0800, off4, 4, setHosts4, setPools4}, {"ip6", 0x86dd, off6, 16, setHosts6, setPools6}} {
		proto := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, fam.proto)},
		}
		markReg := reg32_00 + fam.alen/4
		addr := []expr.Any{&expr.Payload{DestRegister: reg32_00, Base: expr.PayloadBaseNetworkHeader, Offset: fam.off, Len: fam.alen}}
		mark := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: markReg},
			&expr.Bitwise{SourceRegister: markReg, DestRegister: markReg, Len: 4, Mask: le32(mask), Xor: le32(0)},
		}
		setPrio := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyPRIORITY, SourceRegister: true, Register: 1},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}
		// nft: meta protocol ip meta priority set ip saddr . meta mark & 0x00ff0000 map @hosts4 accept
		add("egress-host", fmt.Sprintf("meta protocol %s meta priority set %s %s . meta mark & %s map @%s accept", fam.name, fam.name, dir, hex32(mask), fam.hosts),
			proto, addr, mark, one(&expr.Lookup{SourceRegister: reg32_00, DestRegister: 1, IsDestRegSet: true, SetName: fam.hosts}), setPrio)
		// The pools' address ranges, each with the mark of a shaper that
		// has a class for the pool, in one map with interval keys.
		// nft: meta protocol ip meta priority set ip saddr . meta mark & 0x00ff0000 map @pools4 accept
		add("egress-pool", fmt.Sprintf("meta protocol %s meta priority set %s %s . meta mark & %s map @%s accept", fam.name, fam.name, dir, hex32(mask), fam.pools),
			proto, addr, mark, one(&expr.Lookup{SourceRegister: reg32_00, DestRegister: 1, IsDestRegSet: true, SetName: fam.pools}), setPrio)
	}
	return r
}

// shapeChainName is the egress chain of a port.
func shapeChainName(port string, upload bool) string {
	if upload {
		return "up-" + port
	}
	return "down-" + port
}
