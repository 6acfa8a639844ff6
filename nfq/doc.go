// Package nfq is everything ips does with the kernel on the packet path:
// the NFQUEUE sockets and their receive/verdict loop, our nftables table
// "inet ips", the kernel capability probes, and the ctnetlink mark updates
// of a reload. It imports verdict and no other package of ours.
//
// # Queues and workers
//
// One queue per worker, queues QueueBase..QueueBase+Queues-1. The queue
// rule balances without the fanout flag, so the kernel picks the queue by
// hashing the packet's addresses (ordered, so both directions agree) and
// its IP protocol, not its ports (xt_NFQUEUE and nft_queue share
// nfqueue_hash): a flow stays on one queue, and each worker's Decider
// keeps its flows without locks, but every flow of one host pair lands on
// the same queue, so one busy pair uses one worker whatever Queues is.
//
// The fast path is written on golang.org/x/sys: a blocking recvmmsg
// (MSG_WAITFORONE) of up to Batch NFQUEUE messages into buffers allocated
// once, parsed in place (no per-message structs), one Decide call per
// packet, and one write of all the batch's verdicts: individual
// NFQNL_MSG_VERDICTs (NF_REPEAT with a mark, or NF_DROP) first, then one
// NFQNL_MSG_VERDICT_BATCH accepting every other packet of the batch. Once
// warmed up it allocates nothing per packet (TestHandlerAllocs). Each
// worker keeps its OS thread and blocks in the kernel the way a C
// consumer does; a 100 ms receive timeout lets it see requests (revise,
// stop) and run the Decider's Expire about once a second.
//
// Queue settings: copy range 0xffff (a whole packet: DPI reassembles TLS
// and QUIC handshakes), NFQA_CFG_F_GSO (GSO super-packets are handed over
// whole instead of being segmented for us; they may exceed the MTU and
// carry no checksum yet: NFQA_SKB_CSUMNOTREADY), queue length 4096, and
// an 8 MiB receive buffer (SO_RCVBUFFORCE).
//
// Checksums: the kernel tells in NFQA_SKB_INFO whether a packet's
// transport checksum is not computed yet (NFQA_SKB_CSUMNOTREADY: the
// sender offloads it, as veth and virtio do; trusted) or not verified by
// anyone (NFQA_SKB_CSUM_NOTVERIFIED); neither means the kernel or the NIC
// verified it. The handler passes NOTVERIFIED on as
// verdict.Packet.ChecksumUnverified, so the DPI engine verifies those
// and does not inspect a TCP segment its receiver will drop.
//
// NETLINK_NO_ENOBUFS is not set. When the socket buffer is full the kernel
// applies the fail flag to the packet (accepted with NFQA_CFG_F_FAIL_OPEN,
// else dropped and counted in queue_user_dropped) whether or not we are
// told; leaving ENOBUFS on gives us an immediate, counted overload signal
// (QueueStats.ENOBUFS) at the cost of one failed receive, which the loop
// counts and continues after. It is never fatal. The kernel's own counters
// (queue_dropped: queue full; queue_user_dropped: socket full) are read
// from /proc/net/netfilter/nfnetlink_queue into QueueStats.Kernel.
//
// Two latency histograms: Latency, from a batch's receive to its verdicts
// written (our share), and Wait, from each packet's arrival on the gateway
// to its verdict (the whole delay the queue adds, waiting in the kernel
// queue included). Wait needs the packet's receive timestamp
// (Config.ArrivalStamps, off by default): the daemon then holds one socket
// with SO_TIMESTAMPNS, which makes the kernel stamp every packet on
// receive, system-wide, and hand the stamp over as NFQA_TIMESTAMP. That
// costs decided flows too: on a veth bridge a 100 MB download ran about a
// fifth slower with stamps on (TestDownloadOffload's bridge alone, 2.4–2.6
// against 1.9–2.1 GB/s).
//
// # Verdicts and the decision in conntrack
//
// An undecided packet gets NF_ACCEPT without a mark: the flow stays
// queued. A final decision gets NF_REPEAT with the packet mark set to the
// decision bits under the mask (verdict.MarkLayout.Apply, other bits
// kept). The packet re-enters our forward chain, whose first rule jumps
// to the save chain: it copies the bits into the ct mark (clearing our
// bits, then setting each one, because nft's bitwise operations take
// constants only) and drops or rejects the packet itself when the
// decision says so. Later packets of the flow match the ct mark rules
// before any queue rule and never reach user space. This works without
// CONFIG_NETFILTER_NETLINK_GLUE_CT (no NFQA_CT in verdicts).
//
// # The table
//
// Our own table "inet ips" (nothing else is touched): a base chain
// "forward" (filter hook forward, priority filter - 10, policy accept) and
// regular chains "save" and "shape". The table and chains are created
// once, at start, in one transaction that also deletes a table an earlier
// run left behind (so there is no moment without rules); while running,
// rules are only replaced, all in one batch, and every rule carries a
// userdata comment "ips:<purpose>" by which a housekeeping check finds
// rules someone removed and restores them. Each rule built in rules.go
// has its nft equivalent beside it. The rule that queues matches traffic
// crossing between the LAN and the WAN interfaces only: routed interfaces
// by iifname/oifname; bridge ports by the xt physdev match where nft_compat
// accepts it in the inet family, else (Linux 6.x registers xt_physdev for
// ip and ip6 only) by the bridge's name, the worker then passing for good,
// at their first packet, flows whose NFQUEUE-reported ports do not cross.
// The queue rule is nft's queue expression where the kernel has nft_queue,
// else the xt NFQUEUE target through nft_compat, exactly what
// "iptables-nft -j NFQUEUE --queue-balance A:B --queue-bypass" installs.
//
// # Shaping classification
//
// The shape chain's rules give a shaped flow's packets skb priority 1:c
// (the HTB class of shaper class c) and copy the decision into the packet
// mark. A second table of ours, "netdev ips" (ShapeTable, shaperules.go),
// has one egress chain per shaped port: leaving by a WAN port the LAN
// host is the source address, by a LAN port the destination, and maps
// keyed on that address and the mark give the class of the host's pool
// (or of the host itself, for per-host shapers). It is the netdev family
// because only an egress hook knows the bridge port, and it reads the
// packet mark because nft_ct refuses the netdev family. The shaping
// package says what goes in the maps (verdict.Classification); the table
// is replaced or refilled in one transaction, and removed on stop and by
// "ips doctor --cleanup".
//
// # The fail switch
//
// verdict.FailMode drives every layer:
//
//	                      fail-open                    fail-closed
//	queue rule            bypass (no listener:         no bypass (no listener:
//	                      accept)                      drop)
//	queue or socket full  NFQA_CFG_F_FAIL_OPEN:        dropped, counted by the
//	                      accepted uninspected         kernel
//	decider panics        NF_ACCEPT                    NF_DROP
//	stop (SIGTERM)        table removed, then the      table kept: undecided
//	                      queues drained and released  traffic dropped until ips
//	                                                   runs again
//	daemon killed         table stays, bypass lets     table stays, no bypass:
//	                      undecided traffic through    undecided traffic dropped
//
// Fail-closed really drops while the daemon is down because the table
// outlives the process (it is not an "owner" table tied to our netlink
// socket) and its queue rule has no bypass flag: with no listener bound
// the kernel drops what the rule queues. Decided flows keep their ct
// marks in both modes, so passing connections survive a crash and dropped
// ones stay dropped; the next start replaces the table atomically and
// keeps those marks. "ips doctor --cleanup" removes the table by hand.
//
// # Restart
//
// A start always replaces a table it finds (left by kill -9, a crash or a
// fail-closed stop) in the same transaction that creates its own, after
// its queues are bound, so there is no moment without rules and no moment
// with a queue rule and nobody listening. It then adopts the decided
// conntrack entries (see adoption in adopt_linux.go): their marks stay,
// the new rules keep them in the kernel, so they are never queued or
// inspected again; a reload leaves them as they are (no metadata to
// re-judge them) and reports how many are still alive.
//
// # Reload
//
// Daemon.Revise has each worker run its Decider's Revise between packets;
// the changed flows' ct marks are rewritten through ctnetlink
// (IPCTNL_MSG_CT_NEW on the original tuple with CTA_MARK and
// CTA_MARK_MASK = our mask, falling back to the reply tuple for
// destination-NATed flows): a final decision writes its bits (a new drop
// cuts the connection at its next packet), an undecided one clears them
// (the flow's next packet is queued and decided again).
package nfq
