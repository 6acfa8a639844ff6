package dpi

// Tailscale's peer discovery ("disco") messages travel in the same UDP
// flows as its WireGuard packets. Each begins with the 6-byte magic
// "TS" and the speech-balloon emoji (54 53 F0 9F 92 AC), then the sender's
// 32-byte disco public key and a 24-byte nonce before the sealed body.

const tailscaleDiscoMagic = "TS\xf0\x9f\x92\xac"

func dissectTailscale(c *Ctx) Status {
	p := c.Payload
	if len(p) < 6+32+24 || !hasPrefix(p, tailscaleDiscoMagic) {
		return Exclude
	}
	c.Set(ProtoTailscale, 0)
	return Done
}
