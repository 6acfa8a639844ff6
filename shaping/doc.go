// Package shaping owns the tc state that makes a policy's shapers real:
// an HTB tree on the egress of every WAN port (uploads) and every LAN
// port (downloads), built and reconciled through rtnetlink with go-tc
// (extended acks on; nothing shells out to tc). It imports verdict only:
// the policy's shapers and pools arrive as a verdict.ShapePlan, and what
// the kernel's classification needs leaves as a verdict.Classification
// (the nfq package turns that into nftables maps).
//
// # The tree
//
// On each shaped port, as tc would build it:
//
//	tc qdisc replace dev PORT root handle 1: htb default fffe r2q 10
//	tc class add dev PORT parent 1:     classid 1:ffff htb rate LINE ceil LINE        # --wan-rate / --lan-rate
//	tc class add dev PORT parent 1:ffff classid 1:fffe htb rate LINE ceil LINE        # everything unshaped
//	tc class add dev PORT parent 1:ffff classid 1:c    htb rate R ceil C ...          # shaper class c
//	tc class add dev PORT parent 1:ffff classid 1:NNNN htb rate R ceil C ...          # (shaper, pool) or (shaper, host)
//	tc qdisc add dev PORT parent 1:NNNN fq_codel                                     # where the kernel has it
//
// LINE defaults to 100 Gbit/s, more than any port carries (sent as
// TCA_HTB_RATE64, since the 32-bit field stops at 4 GB/s), so that only
// shapers limit anything. A shaper's rate is guaranteed and its ceil the
// most it may borrow from the root. Each class gets burst and cburst of
// 10 ms at its rate and ceil (at least two frames), and an explicit
// quantum of a tenth of its rate per second, between two frames and
// 200,000 bytes (the kernel's rate/r2q default is tiny at low rates).
// The leaf is fq_codel when the kernel has it (probed once, under the
// default class); without it each class keeps the kernel's default pfifo,
// and then a shaped flow's packets of at most 128 bytes (pure TCP ACKs)
// go to the default class: otherwise a pool's download ACKs wait behind
// that pool's upload data in one FIFO and the download falls far below
// its rate.
//
// # Classes: per pool, all, host
//
// A shaper's "per" says how its rate is divided. "pool" (the default):
// one class per pool, so one subnet's flows never eat another's budget.
// "all": the shaper's own class 1:c, one bucket for everyone. "host": one
// class per LAN host address inside each pool. Flows of hosts in no pool
// use the shaper's own class. Pool and host classes are made when the
// first flow of that pool or host is decided into the shaper (Ensure; the
// daemon asks from its decided-flow hook, never blocking the queue) and
// removed after a minute without traffic (Expire), so a policy of
// thousands of pools costs classes only for the pools that shape. Until
// its class exists (a few milliseconds), a flow is shaped in the
// shaper's own class. Bounds: 16,384 pool classes and 4,096 host classes
// (Config.MaxPoolClasses, MaxHosts; beyond them flows share the shaper's
// own class); minors 1:1000–1:fffd, about 61,000 in all. Each class
// costs the kernel its HTB state and its leaf queue (a pfifo of the
// port's txqueuelen, or fq_codel's), a few KiB.
//
// # Classification: why maps, and why at egress
//
// The kernel here has no cls_fw (and no flower or basic), and HTB does
// not need one: it uses skb->priority directly when it names one of its
// classes. The decided flow's shaper class is in its ct mark; the forward
// chain (nfq, table inet ips) sets priority 1:c for shaper class c and
// copies the decision into the packet mark. The pool of the LAN host is
// added on the port's egress (nfq, table netdev ips): only there is the
// port known (the inet forward hook sees the bridge, not its ports), and
// the port gives the direction — a packet leaving by a WAN port is an
// upload, its source address the LAN host; by a LAN port a download, its
// destination. Two lookups whose cost does not grow with the number of
// pools or classes: the host map (address . mark → class, a hash), else
// the pool map (address range . mark → class, nft's pipapo set for
// concatenated intervals; the pools' prefixes are flattened to disjoint
// ranges by longest prefix, since interval sets refuse overlaps), else
// the priority from the forward chain stays. A rule per (shaper, pool)
// would cost a rule evaluation per pool per packet; the maps stay O(1)
// with thousands of pools. (A first design looked the pool up and then
// concatenated the result with the mark; the kernel takes that, but the
// nft tool aborts listing it, so every key is built from packet fields.)
//
// The mark carries only the shaper's class number (1–15 with the
// default mask 0x00ff0000, more with a wider one, at most 4,095 here):
// the (shaper, pool) and (shaper, host) classes live in the maps, so
// their number is not bounded by the mark. MAC pool entries cannot be
// matched on egress for routed ports and are not used: a host in a pool
// by MAC only is shaped in its shaper's own class.
//
// # Ownership, stop, crash
//
// The qdiscs are ours. At the first plan with a shaper the ports' root
// qdiscs are read: a port with a root qdisc of someone else's (any with
// a handle; the kernel's own default, noqueue, pfifo_fast or mq, has
// handle 0) is reported and left alone unless Config.TakeOver, which
// saves it and puts it back on stop. Before anything changes, what each
// port had is written to a state file (Config.StateDir, default
// /run/ips, one file per network namespace, written atomically and
// synced). Stop deletes our roots (the kernel attaches its default again)
// and restores what was taken over; after kill -9, "ips doctor --cleanup"
// does the same from the state file (Cleanup). A start after a crash
// finds its own HTB and keeps the state file's record of what was there
// before.
//
// # Reload
//
// Apply compares the plan with the classes it made: unchanged classes
// are not touched (their queues and counters go on); changed rates are
// changed in place (tc class change keeps the queue) and apply to
// running flows at once, spread over a few rtnetlink sockets; new
// shapers get classes; removed shapers, pools and hosts lose theirs. The
// new classification is committed (the nftables maps, in one
// transaction) after the classes it names exist and before any class is
// deleted; if anything fails, what was done is undone and the old state
// stays in force.
package shaping
