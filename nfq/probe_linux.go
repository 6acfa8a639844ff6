//go:build linux

package nfq

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"

	"ips/verdict"
)

// Probe is the result of one kernel capability check.
type Probe struct {
	Name string
	OK   bool
	// Required probes stop the daemon when they fail; the others only
	// change which path is used or are informational.
	Required bool
	Detail   string
	Fix      string // what to do when !OK
}

// Capabilities are the probe results and the queue path they select.
type Capabilities struct {
	Queue QueueImpl // 0 when neither path works
	// Physdev says the xt physdev match works in an inet table, so the
	// queue rule can name bridge ports itself.
	Physdev bool
	Probes  []Probe
}

// Failed returns the required probes that failed.
func (c *Capabilities) Failed() []Probe {
	var out []Probe
	for _, p := range c.Probes {
		if p.Required && !p.OK {
			out = append(out, p)
		}
	}
	return out
}

// ProbeOptions say what the configuration needs, so only relevant checks
// are required.
type ProbeOptions struct {
	Ports     []Port // resolved LAN and WAN interfaces
	QueueBase uint16
	Queues    uint16
	// BindQueues tries to bind each configured queue (and releases it),
	// reporting queues another process holds. ips doctor does; ips run
	// binds them for real instead.
	BindQueues bool
}

// probeRule adds a throwaway table with a rule made of exprs and deletes
// it again, in one transaction: the kernel validates the expressions
// (loading modules as needed) and nothing is left behind either way.
func probeRule(conn *nftables.Conn, exprs ...expr.Any) error {
	t := conn.AddTable(&nftables.Table{Name: fmt.Sprintf("ips_probe_%d", os.Getpid()), Family: nftables.TableFamilyINet})
	c := conn.AddChain(&nftables.Chain{Name: "probe", Table: t})
	conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: exprs})
	conn.DelTable(t)
	return conn.Flush()
}

// ProbeKernel checks what ips needs, in the calling thread's network
// namespace.
func ProbeKernel(conn *nftables.Conn, opt ProbeOptions) Capabilities {
	var c Capabilities
	add := func(p Probe) { c.Probes = append(c.Probes, p) }

	err := probeRule(conn, &expr.Counter{})
	add(Probe{Name: "nftables (inet family)", OK: err == nil, Required: true, Detail: errDetail(err, "tables can be created"),
		Fix: "need CONFIG_NF_TABLES and CONFIG_NF_TABLES_INET, and CAP_NET_ADMIN (run as root)"})
	if err != nil {
		return c
	}

	qerr := probeRule(conn, &expr.Queue{Num: opt.QueueBase, Total: max(opt.Queues, 1), Flag: expr.QueueFlagBypass})
	add(Probe{Name: "nft queue expression (nft_queue)", OK: qerr == nil, Detail: errDetail(qerr, "available"),
		Fix: "optional: CONFIG_NFT_QUEUE (modprobe nft_queue); the xt NFQUEUE target is used instead"})
	info := xt.Unknown(nfqueueTargetInfo(opt.QueueBase, max(opt.Queues, 1), true))
	cerr := probeRule(conn, &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info})
	add(Probe{Name: "xt NFQUEUE target via nft_compat", OK: cerr == nil, Detail: errDetail(cerr, "available"),
		Fix: "optional when nft_queue works: CONFIG_NFT_COMPAT and CONFIG_NETFILTER_XT_TARGET_NFQUEUE (modprobe nft_compat xt_NFQUEUE)"})
	switch {
	case qerr == nil:
		c.Queue = QueueNative
	case cerr == nil:
		c.Queue = QueueCompat
	}
	add(Probe{Name: "queue path", OK: c.Queue != 0, Required: true, Detail: "using " + c.Queue.String(),
		Fix: "neither nft_queue nor the xt NFQUEUE target works: modprobe nft_queue, or nft_compat and xt_NFQUEUE"})

	// Setting the ct mark needs conntrack loaded for the inet family.
	err = probeRule(conn,
		&expr.Immediate{Register: 1, Data: le32(0)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true})
	add(Probe{Name: "conntrack marks (nft ct mark set)", OK: err == nil, Required: true, Detail: errDetail(err, "available"),
		Fix: "need CONFIG_NF_CONNTRACK_MARK and nft_ct (modprobe nf_conntrack nft_ct)"})

	err = probeRule(conn, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	add(Probe{Name: "reject (nft_reject_inet)", OK: err == nil, Required: true, Detail: errDetail(err, "available"),
		Fix: "need CONFIG_NFT_REJECT and CONFIG_NFT_REJECT_INET (modprobe nft_reject_inet)"})

	err = probeCtnetlink()
	add(Probe{Name: "ctnetlink (ct mark updates on reload)", OK: err == nil, Required: true, Detail: errDetail(err, "available"),
		Fix: "need CONFIG_NF_CT_NETLINK (modprobe nf_conntrack_netlink)"})

	bridged, routed := false, false
	for _, p := range opt.Ports {
		if p.BridgePort {
			bridged = true
		} else {
			routed = true
		}
	}
	if bridged {
		pinfo := xt.Unknown(physdevInfo("ips0", "ips1"))
		err = probeRule(conn, &expr.Match{Name: "physdev", Rev: 0, Info: &pinfo})
		c.Physdev = err == nil
		detail := "available: the queue rule names the bridge ports"
		if err != nil {
			detail = "not in the inet family (" + err.Error() + "): the queue rule matches the bridge and ips passes flows that do not cross between a LAN and a WAN port after their first packet"
		}
		add(Probe{Name: "physdev match in inet via nft_compat (bridge ports)", OK: err == nil, Detail: detail,
			Fix: "optional: Linux 6.x registers xt_physdev for ip/ip6 only; nothing to do"})
		for _, name := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"} {
			v, err := readSysctl("net/bridge/" + name)
			ok := err == nil && v == "1"
			d := "= " + v
			if err != nil {
				d = "not present: br_netfilter is not loaded"
			}
			add(Probe{Name: "br_netfilter net.bridge." + name, OK: ok, Required: true, Detail: d,
				Fix: "modprobe br_netfilter && sysctl -w net.bridge." + name + "=1 (per network namespace: run it in the namespace of the bridge)"})
		}
	}
	if routed {
		v, err := readSysctl("net/ipv4/ip_forward")
		add(Probe{Name: "net.ipv4.ip_forward (routed interfaces)", OK: err == nil && v == "1", Detail: "= " + v,
			Fix: "sysctl -w net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1) if this host routes between the LAN and WAN"})
	}

	glue := probeGlueCT()
	add(Probe{Name: "netlink glue CT (NFQA_CT in verdicts)", OK: glue == nil, Detail: errDetail(glue, "present (not needed: ips saves decisions with NF_REPEAT and a mark rule)"),
		Fix: "informational: not needed"})

	if opt.BindQueues {
		for q := opt.QueueBase; q < opt.QueueBase+max(opt.Queues, 1); q++ {
			err := probeBind(q)
			add(Probe{Name: fmt.Sprintf("NFQUEUE %d bindable", q), OK: err == nil, Required: true, Detail: errDetail(err, "free"),
				Fix: "another process holds the queue (see /proc/net/netfilter/nfnetlink_queue), or CONFIG_NETFILTER_NETLINK_QUEUE is missing (modprobe nfnetlink_queue)"})
		}
	}
	return c
}

func errDetail(err error, ok string) string {
	if err == nil {
		return ok
	}
	return err.Error()
}

// readSysctl reads a sysctl of the calling thread's network namespace.
func readSysctl(path string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func probeCtnetlink() error {
	s, err := openNetfilter(0)
	if err != nil {
		return err
	}
	defer s.close()
	var m msgBuf
	m.begin(subsysCtnetlink<<8|ipctnlMsgCtGetStats, nlmFRequest|nlmFAck, 1, 0, 0)
	m.end()
	return s.request(m.b, 1, nil)
}

// probeGlueCT asks a scratch queue for NFQA_CFG_F_CONNTRACK, which the
// kernel refuses without CONFIG_NETFILTER_NETLINK_GLUE_CT.
func probeGlueCT() error {
	s, err := openNetfilter(0)
	if err != nil {
		return err
	}
	defer s.close()
	const scratch = 65535
	var m msgBuf
	m.appendConfigCmd(scratch, 1, nfqnlCfgCmdBind)
	if err := s.request(m.b, 1, nil); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return errors.New("queue 65535 busy, not checked")
		}
		return err
	}
	m.reset()
	m.appendConfigFlags(scratch, 2, cfgFlagConntrack, cfgFlagConntrack)
	err = s.request(m.b, 1, nil)
	m.reset()
	m.appendConfigCmd(scratch, 3, nfqnlCfgCmdUnbind)
	_ = s.request(m.b, 1, nil)
	if err != nil {
		return fmt.Errorf("absent (%w)", err)
	}
	return nil
}

// ProbeBind binds queue num and releases it at once: nil when it is
// free (ips doctor probes the queues a running ips does not hold).
func ProbeBind(num uint16) error { return probeBind(num) }

func probeBind(num uint16) error {
	s, err := openNetfilter(0)
	if err != nil {
		return err
	}
	defer s.close()
	var m msgBuf
	// A rule left by an earlier run may queue packets to us meanwhile:
	// accept them rather than leave them to the unbind (which drops).
	accept := func(d []byte) {
		mm, _, ok := nextMsg(d)
		var p packetMsg
		if !ok || mm.typ != subsysQueue<<8|nfqnlMsgPacket || parsePacket(mm.body, &p) != nil {
			return
		}
		var v msgBuf
		v.appendVerdict(num, p.ID, nfAccept, 0, false)
		_ = s.write(v.b)
	}
	m.appendConfigCmd(num, 1, nfqnlCfgCmdBind)
	if err := s.request(m.b, 1, accept); err != nil {
		return err
	}
	m.reset()
	m.appendConfigCmd(num, 2, nfqnlCfgCmdUnbind)
	return s.request(m.b, 1, accept)
}

// failModeNote explains what the fail mode means for every layer, for
// logs and ips doctor.
func FailModeNote(m verdict.FailMode) string {
	if m == verdict.FailClosed {
		return "fail-closed: queue rule without bypass (no listener: undecided packets are dropped), " +
			"queue full: dropped, decider error: NF_DROP, stop: table kept so undecided traffic stays blocked"
	}
	return "fail-open: queue rule with bypass (no listener: accepted), queue or socket full: accepted " +
		"(NFQA_CFG_F_FAIL_OPEN), decider error: NF_ACCEPT, stop: table removed"
}
