package dpi

import "ips/internal/ascii"

// Web Services Dynamic Discovery (WS-Discovery 1.1 §2.4): SOAP-over-UDP
// messages to port 3702 (multicast 239.255.255.250 or ff02::c), XML
// documents starting with a declaration or the SOAP envelope.
func dissectWSD(c *Ctx) Status {
	b := c.Payload
	if len(b) < 32 || !hasPort(c, 3702) {
		return Exclude
	}
	if !hasPrefix(b, "<?xml") && ascii.Index(b[:min(len(b), 64)], "envelope") < 0 {
		return Exclude
	}
	return lanDone(c, ProtoWSD)
}
